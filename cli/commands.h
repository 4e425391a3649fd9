// The subcommands of the `mtfn` program (spec cli.md), each registering itself on the CLI11 app
// from its own file; main.cpp lists them. Errors: a subcommand throws; main.cpp alone turns the
// exception into one line on stderr and the exit status (InputError 2, anything else 1).
#pragma once

#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/errors.h"

namespace CLI {
class App;
}

namespace mtfn::cli {

void add_synth_command(CLI::App& app);    // data_commands.cpp
void add_inspect_command(CLI::App& app);  // data_commands.cpp
void add_train_command(CLI::App& app);
void add_test_command(CLI::App& app);     // test_command.cpp
void add_predict_command(CLI::App& app);  // test_command.cpp
void add_check_grads_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_convert_command(CLI::App& app);  // .pth -> safetensors
void add_tune_command(CLI::App& app);
void add_report_command(CLI::App& app);

// Parses argv and runs the chosen subcommand of `app`; returns the exit status, having printed any
// error as one line "mtfn <command>: <message>" on stderr: 0 done, 1 a failure during work, 2 bad
// arguments or bad input (InputError). The one place where exceptions become exit statuses.
int run(CLI::App& app, int argc, const char* const* argv);

// What `mtfn inspect FILE` prints, as a string (for tests); throws PickleError on a bad file.
std::string inspect_report(const std::string& path);

// Refuses (InputError) to write `out` when it is one of `inputs` ({flag, path}: the same file, by
// path or by link), a folder, or an existing file without `overwrite`. Looks only (output_file.cpp).
void check_output_file(const std::string& out, const std::vector<std::pair<std::string, std::string>>& inputs,
                       bool overwrite);

// read_input (bad input from a reader of the user's files): core/errors.h.

}  // namespace mtfn::cli
