// The MTFN subcommands of the `mtfn` program (spec cli.md): train, test, predict, check-grads, bench.
// Each registers itself on the main CLI11 app. Errors: a one-line message on stderr, then
// CLI::RuntimeError(2) for bad arguments or files, CLI::RuntimeError(1) for failures during work.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace mtfn::models {

void add_train_command(CLI::App& app);
void add_test_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_check_grads_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_convert_command(CLI::App& app);  // convert_command.cpp: .pth -> safetensors

// Prints "mtfn <command>: <message>" on stderr and throws CLI::RuntimeError(status).
[[noreturn]] void command_fail(const std::string& command, const std::string& message, int status);

}  // namespace mtfn::models
