// What the subcommands share: the one-line failure.
#include "cli/commands.h"

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

namespace mtfn::models {

void command_fail(const std::string& command, const std::string& message, int status) {
  std::string one_line = message;
  for (char& ch : one_line)
    if (ch == '\n') ch = ' ';
  std::cerr << "mtfn " << command << ": " << one_line << "\n";
  throw CLI::RuntimeError(status);
}

}  // namespace mtfn::models
