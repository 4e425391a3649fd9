// `mtfn check-grads --reference FILE` (cli.md): the comparison itself is the model's
// (models/<name>/check_grads.h, chosen by the file's "model" metadata, absent = mtfn); this file
// prints its report and sets the exit status.
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "models/mtfn/check_grads.h"
#include "models/mtfn_attn/check_grads.h"
#include "models/tfn/check_grads.h"
#include "nn/safetensors.h"

namespace mtfn::cli {

using namespace mtfn::models;

void add_check_grads_command(CLI::App& app) {
  struct Options {
    std::string reference;
    double tolerance = 1e-9;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "check-grads",
      "Compare the model's forward, loss, gradients and Adam steps with a PyTorch reference file (float64)");
  cmd->add_option("--reference", opt->reference, "a reference file (tests/fixtures/reference/*.safetensors)")
      ->required();
  cmd->add_option("--tolerance", opt->tolerance, "largest relative error accepted")->capture_default_str();
  cmd->callback([opt] {
    const CheckReport r = read_input([&] {
      const std::string model = reference_model(nn::read_safetensors_index(opt->reference).metadata);
      if (model == "mtfn") return check_reference(opt->reference);
      if (model == "tfn") return check_tfn_reference(opt->reference);
      if (model == "mtfn_attn") return check_mtfn_attn_reference(opt->reference);
      throw InputError(
          fmt::format("{}: a reference file of model '{}' (known: mtfn, tfn, mtfn_attn)", opt->reference, model));
    });
    std::cout << fmt::format("check-grads {}: {}\n", opt->reference, r.description);
    for (const CheckGroup& g : r.groups)
      std::cout << fmt::format("  {:<14} max rel err {:9.2e}  ({} tensors; worst {})  {}\n", g.name, g.max_error,
                               g.tensors, g.worst, g.max_error <= opt->tolerance ? "ok" : "FAIL");
    if (!r.ok(opt->tolerance)) {
      std::cout << fmt::format("check-grads: FAILED (tolerance {:g})\n", opt->tolerance);
      throw CLI::RuntimeError(1);
    }
    std::cout << fmt::format("check-grads: all within {:g}\n", opt->tolerance);
  });
}

}  // namespace mtfn::cli
