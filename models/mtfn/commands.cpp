// What the MTFN subcommands share: the one-line failure, the thread limit.
#include "models/mtfn/commands.h"

#include <cblas.h>

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

namespace mtfn::models {

void command_fail(const std::string& command, const std::string& message, int status) {
  std::string one_line = message;
  for (char& ch : one_line)
    if (ch == '\n') ch = ' ';
  std::cerr << "mtfn " << command << ": " << one_line << "\n";
  throw CLI::RuntimeError(status);
}

struct ThreadLimit::Impl {
  std::unique_ptr<tbb::global_control> tbb;
};

ThreadLimit::ThreadLimit(int threads) {
  if (threads <= 0) return;
  impl_ = new Impl;
  impl_->tbb = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                     static_cast<size_t>(threads));
  openblas_set_num_threads(threads);
}

ThreadLimit::~ThreadLimit() { delete impl_; }

}  // namespace mtfn::models
