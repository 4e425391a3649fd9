// `mtfn convert --in X.pth --out X.safetensors`: a PyTorch checkpoint (MMSA's mtfn-sims.pth or tfn-sims.pth) to our
// model file (the state_dict under PyTorch's names, "Model." removed, plus the inferred config), so
// that `mtfn test` / `predict` / anything reading model files can use it. With --raw, any state_dict:
// every tensor as saved, no MTFN checks. The other way is tools/safetensors_to_torch.py.
#include <cctype>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/pth.h"
#include "cli/commands.h"
#include "models/pth.h"
#include "training/model_file.h"
#include "nn/safetensors.h"

namespace mtfn::cli {

using namespace mtfn::models;

namespace {
// [12, 5, 7] from a JSON list of integers.
std::string json_list(const nlohmann::ordered_json& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x.dump();
  return "[" + s + "]";
}
}  // namespace

void add_convert_command(CLI::App& app) {
  struct Options {
    std::string in, out;
    bool raw = false, overwrite = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a PyTorch .pth checkpoint (e.g. MMSA's) to a safetensors model file");
  cmd->add_option("--in", opt->in, "a torch.save(state_dict) file, zip or legacy format")->required();
  cmd->add_option("--out", opt->out, "the safetensors file to write (a new file, or --overwrite)")->required();
  cmd->add_flag("--overwrite", opt->overwrite, "replace --out if it exists");
  cmd->add_flag("--raw", opt->raw, "any state_dict: write every tensor as saved (no MTFN checks, no config)");
  cmd->callback([opt] {
    check_output_file(opt->out, {{"--in", opt->in}}, opt->overwrite);
    std::unique_ptr<data::PthReader> reader;
    std::unique_ptr<Model> model;
    nn::TensorDict raw;
    read_input([&] {
      reader = std::make_unique<data::PthReader>(opt->in);
      if (opt->raw) {
        for (const data::PthEntry& e : reader->entries())
          raw.insert(e.name, reader->read(e), e.dtype == data::PthDType::int64);
      } else {
        model = load_pth(*reader);
      }
    });
    const std::string prefix = pth_prefix(*reader);
    if (opt->raw) {
      nn::write_safetensors(opt->out, raw, {{"converted_from", opt->in}});
    } else {
      training::save_model_file(opt->out, *model, nlohmann::json{{"converted_from", opt->in}}.dump());
    }
    if (opt->raw) {
      std::cout << fmt::format("wrote {}: {} tensors as saved ({} format)\n", opt->out, raw.size(), reader->format());
      return;
    }
    const nlohmann::ordered_json c = model->config_json();
    std::string title = model->name();
    for (char& ch : title) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::cout << fmt::format(
        "wrote {}: {} {} ({} tensors, {} parameters; feature_dims {}, hidden_dims {}, text_out {}) from {} ({} format{})\n",
        opt->out, title, mode_name(model->settings().train_mode), model->module().state_dict().size(),
        model->module().num_parameters(), json_list(c["feature_dims"]), json_list(c["hidden_dims"]),
        c["text_out"].dump(), opt->in, reader->format(), prefix.empty() ? "" : ", prefix 'Model.' removed");
  });
}

}  // namespace mtfn::cli
