// The file a subcommand writes (predict --out, convert --out): never one of its inputs, and never a
// file that exists unless the user said --overwrite. Not the run folder of `train` (training/run_folder.h).
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"

namespace mtfn::cli {

namespace fs = std::filesystem;

void check_output_file(const std::string& out, const std::vector<std::pair<std::string, std::string>>& inputs,
                       bool overwrite) {
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(out, ec);
  for (const auto& [flag, in] : inputs) {
    std::error_code e1, e2;
    const bool same = (!ec && fs::weakly_canonical(in, e1) == target && !e1) ||
                      (fs::exists(out, e2) && fs::exists(in, e2) && fs::equivalent(out, in, e2) && !e2);
    if (same) throw InputError(fmt::format("--out: {} is the {} file; write to another file", out, flag));
  }
  if (fs::is_directory(out, ec)) throw InputError(fmt::format("--out: {} is a folder, expected a file name", out));
  if (!overwrite && fs::exists(out, ec))
    throw InputError(fmt::format("--out: {} exists; --overwrite replaces it", out));
}

}  // namespace mtfn::cli
