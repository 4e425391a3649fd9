// What a run records about how it was made (results.json and run.json, key "manifest"): the command
// line, the program's version, the data file (path, size, SHA-256), the libraries' thread settings,
// the host and the times. Not the run's identity that --resume compares (training/trainer.cpp).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace mtfn::cli {

// `a` as a POSIX shell reads it back: unchanged when it holds only safe characters, else in single
// quotes ("it's" -> 'it'\''s'; "" -> '').
std::string shell_quote(const std::string& a);

// argv joined with spaces, each argument shell-quoted; kept by run() for the manifest.
std::string join_command_line(int argc, const char* const* argv);
void remember_command_line(int argc, const char* const* argv);
const std::string& remembered_command_line();

// "0.2.0 (git 1a2b3c4-dirty)": PROJECT_VERSION and `git describe --always --dirty` at configure time
// ("unknown" outside a git checkout).
std::string program_version();

// The SHA-256 of a file's bytes, as 64 lowercase hex digits (OpenSSL's libcrypto); InputError if
// it cannot be read.
std::string sha256_file(const std::string& path);
// The SHA-256 of `bytes` (the same digest, for tests against FIPS 180-4's vectors).
std::string sha256_hex(const std::string& bytes);

// The manifest of a `train` starting now; `data_path` empty for synthetic data (then `data_label`
// describes it). "end_time" is added by the trainer when the run ends.
nlohmann::ordered_json train_manifest(const std::string& data_path, const std::string& data_label, int mpi_ranks);

}  // namespace mtfn::cli
