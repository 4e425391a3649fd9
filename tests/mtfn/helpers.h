// Helpers of the mtfn tests: paths, running the `mtfn` program as a subprocess, a small config.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace mtfn::testing {

inline std::filesystem::path source_dir() { return MTFN_SOURCE_DIR; }
inline std::filesystem::path mtfn_program() { return std::filesystem::path(MTFN_BINARY_DIR) / "mtfn"; }

// A fresh scratch folder under the build tree.
inline std::filesystem::path scratch(const std::string& name) {
  const auto p = std::filesystem::path(MTFN_BINARY_DIR) / "test-scratch" / "mtfn" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

// Runs `mtfn <args>` (through the shell), output to `log`; returns the exit status. `env`: shell
// assignments before the program ("PATH=/nonexistent").
inline int run_mtfn(const std::string& args, const std::filesystem::path& log, const std::string& env = "") {
  const std::string cmd = (env.empty() ? "" : env + " ") + mtfn_program().string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A small MTFN (fusion width 9*5*9 = 405) that trains in milliseconds per step.
inline std::filesystem::path small_config(const std::filesystem::path& dir, const std::string& extra = "") {
  const auto p = dir / "small.json";
  std::ofstream(p) << R"({"hidden_dims": [8, 4, 8], "text_out": 8, "post_fusion_dim": 8, "post_text_dim": 8,
                          "post_audio_dim": 4, "post_video_dim": 4, "batch_size": 16)"
                   << extra << "}";
  return p;
}

}  // namespace mtfn::testing
