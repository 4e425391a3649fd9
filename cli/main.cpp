// The `mtfn` program: one binary, one subcommand per job (spec/cli.md). Each subcommand registers
// itself from its own file; this file lists them. Exit statuses: cli::run (run.cpp).
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"mtfn: train, evaluate and study MTFN (multi-task tensor fusion network) on CPUs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print the help of every subcommand");
  app.set_version_flag("--version", "mtfn " MTFN_VERSION);

  namespace cli = mtfn::cli;
  cli::add_synth_command(app);
  cli::add_inspect_command(app);
  cli::add_train_command(app);
  cli::add_test_command(app);
  cli::add_predict_command(app);
  cli::add_check_grads_command(app);
  cli::add_bench_command(app);
  cli::add_convert_command(app);
  cli::add_tune_command(app);
  cli::add_report_command(app);

  return mtfn::cli::run(app, argc, argv);
}
