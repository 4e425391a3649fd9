// The `mtfn` program: one binary, one subcommand per job (spec/cli.md).
// Each subcommand registers itself from its own file; this file only lists them.
// Exit status: 0 done, 1 a failure during work, 2 bad arguments or bad input files.
#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <CLI/CLI.hpp>

#include "cli/data_commands.h"
#include "cli/commands.h"

namespace {

// OpenBLAS picks its kernels when it loads, from the CPU model. A model it does not know (this
// machine's Xeon, in Debian's OpenBLAS 0.3.21) gets the generic "Prescott" SSE3 kernels: GEMMs
// 3-4x slower. If so, and the CPU has AVX-512 or AVX2, name the kernels in OPENBLAS_CORETYPE and
// start the program again (once: the variable is then set). OPENBLAS_CORETYPE set by the user wins.
void use_fast_openblas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const char* core = openblas_get_corename();
  if (!core || strcasecmp(core, "prescott") != 0) return;
  __builtin_cpu_init();
  const char* want = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                    : nullptr;
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with the slow kernels
}

}  // namespace

int main(int argc, char** argv) {
  use_fast_openblas_kernels(argv);
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
