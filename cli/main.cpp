// The `mtfn` program: one binary, one subcommand per job (spec/cli.md).
// Each subcommand registers itself from its own file; this file only lists them.
// Exit status: 0 done, 1 a failure during work, 2 bad arguments or bad input files.
#include <CLI/CLI.hpp>

#include "cli/data_commands.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"mtfn: train, evaluate and study MTFN (multi-task tensor fusion network) on CPUs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print the help of every subcommand");

  mtfn::data::add_synth_command(app);
  mtfn::data::add_inspect_command(app);
  mtfn::models::add_train_command(app);
  mtfn::models::add_test_command(app);
  mtfn::models::add_predict_command(app);
  mtfn::models::add_check_grads_command(app);
  mtfn::models::add_bench_command(app);
  mtfn::models::add_convert_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    // A subcommand failed; it has already printed its one-line error.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // Bad arguments: one line on stderr, exit status 2 (spec/cli.md).
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "mtfn: " << e.what() << "\n";
    return e.get_exit_code() == 1 ? 1 : 2;
  }
  return 0;
}
