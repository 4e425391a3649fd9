// `mtfn train`: options, the data (a file, or a synthetic set when none is given), the run, and the
// printed summary. The work is in training/trainer.cpp.
#include <unistd.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "data/synth.h"
#include "distributed/process_group.h"
#include "cli/commands.h"
#include "core/threads.h"
#include "training/memory.h"
#include "models/mmsa_config.h"
#include "models/registry.h"
#include "training/run_config.h"
#include "training/trainer.h"

namespace mtfn::cli {

using namespace mtfn::models;
using namespace mtfn::training;

namespace {

// With no --data: a synthetic CH-SIMS-shaped set (train 137 / valid 46 / test 46 at 0.1), one seed
// and at most 12 epochs (3 steps each), so that the README's main job, with the full CH-SIMS model,
// ends within 5 minutes on 2 cores (docs/mtfn.md). Each can be changed with its option.
constexpr double kNoDataScale = 0.1;
const std::vector<uint64_t> kNoDataSeeds = {1111};
constexpr int64_t kNoDataMaxEpochs = 12;

std::vector<uint64_t> parse_seeds(const std::string& s) {
  std::vector<uint64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    uint64_t v = 0;
    try {
      v = std::stoull(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || item[0] == '-')
      throw ConfigError(fmt::format("--seeds: '{}' is not a list of non-negative integers", s));
    out.push_back(v);
  }
  if (out.empty()) throw ConfigError("--seeds: empty list");
  return out;
}

std::string summary_table(const RunResults& r) {
  std::vector<MetricList> tests;
  for (const SeedResult& s : r.seeds) tests.push_back(s.test);
  const SeedSummary sum = summarize_seeds(tests);
  std::string out = fmt::format("{:<14} {:>22} {:>22}\n", "test metric",
                                r.seeds.size() > 1 ? "mean ± std (x100)" : "(x100)",
                                r.mode == TrainMode::classification ? "majority class" : "train mean");
  for (const auto& [name, mean] : sum.mean.items) {
    const bool loss = name == "Loss";
    const double k = (name == "MAE" || loss) ? 1.0 : 100.0;  // MAE and Loss read better unscaled
    const int digits = k == 1.0 ? 4 : 2;
    const std::string ours = r.seeds.size() > 1
                                 ? fmt::format("{:.{}f} ± {:.{}f}", mean * k, digits, sum.std.get(name) * k, digits)
                                 : fmt::format("{:.{}f}", mean * k, digits);
    std::string base = "";
    if (r.baseline.has(name)) {
      const double b = r.baseline.get(name);
      base = std::isnan(b) ? "n/a (constant)" : fmt::format("{:.{}f}", b * k, digits);
    }
    out += fmt::format("{:<14} {:>22} {:>22}\n", name + ((name == "MAE" || loss) ? "" : " %"), ours, base);
  }
  return out;
}

}  // namespace

void add_train_command(CLI::App& app) {
  struct Options {
    std::string data, config, mode, seeds, out = "runs/latest", model = "mtfn", dataset;
    int64_t max_epochs = -1, batch_size = 0;
    int threads = 0;
    bool resume = false, keep_checkpoints = false, no_progress = false;
    double synth_scale = kNoDataScale;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("train", "Train MTFN as MMSA does (seeds, early stopping, results CSV)");
  cmd->add_option("--data", opt->data, "an MMSA feature file (unaligned_39.pkl); none: a synthetic CH-SIMS-shaped set");
  cmd->add_option("--model", opt->model, "mtfn or tfn (MMSA's names)")->capture_default_str();
  cmd->add_option("--dataset", opt->dataset,
                  "sims, simsv2, mosi or mosei: picks MMSA's config entry and the metrics (default: inferred from --data)");
  cmd->add_option("--config", opt->config, "JSON with MMSA's key names (flat, or MMSA's config_regression.json)");
  cmd->add_option("--mode", opt->mode, "regression or classification (overrides the config's train_mode)");
  cmd->add_option("--seeds", opt->seeds, "comma-separated seeds (default 1111,...,1115; 1111 without --data)");
  cmd->add_option("--max-epochs", opt->max_epochs,
                  "stop after N epochs at most (0: only early stopping, the default; 12 without --data)");
  cmd->add_option("--batch-size", opt->batch_size, "overrides the config's batch_size");
  cmd->add_option("--threads", opt->threads, "worker threads (0: all cores); results do not depend on it");
  cmd->add_option("--out", opt->out, "output folder: train.log, checkpoints, models, results")->capture_default_str();
  cmd->add_flag("--resume", opt->resume, "continue the run in --out from its last finished epoch");
  cmd->add_option("--synth-scale", opt->synth_scale, "without --data: split sizes relative to CH-SIMS")
      ->capture_default_str();
  cmd->add_flag("--keep-checkpoints", opt->keep_checkpoints, "keep each seed's last checkpoint (model + Adam state)");
  cmd->add_flag("--no-progress", opt->no_progress, "no progress bar even on a terminal");
  cmd->callback([opt] {
    // Under mpirun / srun: one of N data-parallel processes (docs/distributed.md); else a group of one.
    const auto group = std::make_unique<distributed::ProcessGroup>();
    ThreadLimit threads(opt->threads);
    keep_freed_memory();
    const ModelSpec& spec = find_model(opt->model);
    TrainOptions t;
    if (!opt->mode.empty()) parse_mode(opt->mode);
    if (opt->batch_size < 0) throw ConfigError("--batch-size: expected a positive integer");
    if (opt->max_epochs < -1) throw ConfigError("--max-epochs: expected 0 or more");
    if (opt->max_epochs == -1) opt->max_epochs = opt->data.empty() ? kNoDataMaxEpochs : 0;
    if (opt->threads < 0) throw ConfigError("--threads: expected 0 or more");
    if (!(opt->synth_scale > 0 && opt->synth_scale <= 1)) throw ConfigError("--synth-scale: expected (0, 1]");
    t.seeds = opt->seeds.empty() ? (opt->data.empty() ? kNoDataSeeds : t.seeds) : parse_seeds(opt->seeds);
    if (!opt->config.empty()) models::read_json_file(opt->config);  // a bad file fails before the data is read
    data::SimsDataset ds;
    if (opt->data.empty()) {  // a synthetic file in the dataset's layout (CH-SIMS's by default)
      const std::string layout = opt->dataset.empty() ? "sims" : opt->dataset;
      ds = data::make_synth_dataset(
          read_input([&] { return data::SynthShape::of_dataset(layout, opt->synth_scale); }), 1);
      const std::string shaped = layout == "sims" ? "CH-SIMS-shaped" : layout + "-shaped";
      const std::string flag = layout == "sims" ? "" : " --dataset " + layout;
      t.data_label = fmt::format("synthetic {} data (mtfn synth{} --scale {} --seed 1): train {} / valid {} / test {}",
                                 shaped, flag, opt->synth_scale, ds.train.size, ds.valid.size, ds.test.size);
    } else {
      ds = read_input([&] { return data::load_sims_dataset(opt->data); });
      t.data_label = opt->data;
    }
    // MMSA's entry for the model on the dataset (named, or inferred from the data), --config on top.
    RunConfig run = resolve_run(spec.name, opt->dataset.empty() && opt->data.empty() ? "sims" : opt->dataset,
                                opt->config, ds);
    nlohmann::ordered_json& cfg = run.config;
    if (!opt->mode.empty()) cfg["train_mode"] = mode_name(parse_mode(opt->mode));
    if (opt->batch_size > 0) cfg["batch_size"] = opt->batch_size;
    spec.check(cfg, opt->config.empty() ? "config" : opt->config);
    if (group->is_root()) {
      for (const std::string& w : run.warnings) std::cerr << "mtfn train: warning: " << w << "\n";
      if (!run.inferred.empty()) std::cout << "mtfn train: " << run.inferred << "\n";
    }
    const TrainSettings settings = train_settings(cfg);
    t.dataset = run.dataset;
    t.out = opt->out;
    t.max_epochs = opt->max_epochs;
    t.resume = opt->resume;
    t.keep_checkpoints = opt->keep_checkpoints;
    t.progress = !opt->no_progress && isatty(STDOUT_FILENO);
    t.console = group->is_root() ? &std::cout : nullptr;
    t.group = group.get();
    if (group->is_root())
      std::cout << fmt::format("mtfn train: {} on {} ({}), {} ({} mode), {} seed{} ({}), batch {}, lr {}, out {}\n",
                               spec.name, run.dataset, spec.title, t.data_label, mode_name(settings.train_mode), t.seeds.size(), t.seeds.size() == 1 ? "" : "s",
                               fmt::join(t.seeds, ","), settings.batch_size, settings.learning_rate, t.out.string());
    if (group->size() > 1 && group->is_root())
      std::cout << fmt::format("mtfn train: data-parallel over {} processes, each taking 1/{} of every batch\n",
                               group->size(), group->size());
    if (opt->data.empty() && opt->seeds.empty() && group->is_root())
      std::cout << fmt::format("mtfn train: no --data: a small synthetic set, 1 seed (MMSA runs 5: --seeds "
                               "1111,1112,1113,1114,1115) and at most {} epochs (--max-epochs 0: early stopping only)\n",
                               t.max_epochs);
    const RunResults r = train_seeds(ds, spec, cfg, t);
    if (!group->is_root()) return;
    std::cout << "\n" << summary_table(r);
    std::cout << fmt::format("results: {}, {}; models: {}\n", (t.out / "results.json").string(),
                             (t.out / "normal" / (r.dataset + ".csv")).string(), (t.out / "models").string());
  });
}

}  // namespace mtfn::cli
