// `mtfn train`: options, the data (a file, or a synthetic set when none is given), the run, and the
// printed summary. The work is in training/trainer.cpp.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "data/synth.h"
#include "distributed/process_group.h"
#include "cli/commands.h"
#include "cli/manifest.h"
#include "core/threads.h"
#include "report/report.h"
#include "training/memory.h"
#include "models/mmsa_config.h"
#include "models/registry.h"
#include "training/run_config.h"
#include "training/stop_request.h"
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
  if (out.empty()) throw ConfigError("--seeds: empty list (give one seed or more, e.g. --seeds 1111)");
  for (size_t i = 0; i < out.size(); ++i)
    if (std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(i), out[i]) != out.begin() + static_cast<std::ptrdiff_t>(i))
      throw ConfigError(fmt::format("--seeds: seed {} is given twice", out[i]));
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
    std::string data, config, mode, out = "runs/latest", model = "mtfn", dataset;
    std::optional<std::string> seeds;            // not given: MMSA's five (one without --data)
    std::optional<int64_t> max_epochs, batch_size;  // not given: see kNoDataMaxEpochs; the config's
    int threads = 0, blas_threads = 0, jobs = 1, ranks_per_seed = 0;
    std::string dist_mode = "sharded", dtype = "float32";
    bool resume = false, overwrite = false, keep_checkpoints = false, no_progress = false;
    std::optional<double> synth_scale;           // not given: kNoDataScale
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model as MMSA does (seeds, early stopping, results CSV)");
  cmd->add_option("--data", opt->data, "an MMSA feature file (unaligned_39.pkl); none: a synthetic CH-SIMS-shaped set");
  cmd->add_option("--model", opt->model, "mtfn or tfn (MMSA's names), or mtfn_attn (MTFN with an attention fusion, docs/attention.md)")->capture_default_str();
  cmd->add_option("--dataset", opt->dataset,
                  "sims, simsv2, mosi or mosei: picks MMSA's config entry and the metrics (default: inferred from --data)");
  cmd->add_option("--config", opt->config, "JSON with MMSA's key names (flat, or MMSA's config_regression.json)");
  cmd->add_option("--mode", opt->mode, "regression or classification (overrides the config's train_mode)");
  cmd->add_option("--seeds", opt->seeds, "comma-separated seeds (default 1111,...,1115; 1111 without --data)");
  cmd->add_option("--max-epochs", opt->max_epochs,
                  "stop after N epochs at most (0: only early stopping, the default; 12 without --data)");
  cmd->add_option("--batch-size", opt->batch_size, "overrides the config's batch_size");
  cmd->add_option("--threads", opt->threads, "worker threads (0: all cores); results do not depend on it");
  cmd->add_option("--jobs", opt->jobs,
                  "seeds trained at once, one process each (OpenBLAS on one thread in each: equal to --blas-threads 1)")
      ->capture_default_str();
  cmd->add_option("--dist-mode", opt->dist_mode,
                  "under mpirun / srun: sharded (the fusion head's weight split by columns across the processes, "
                  "the rest data-parallel) or plain (every process holds the whole model; for comparison)")
      ->capture_default_str();
  cmd->add_option("--ranks-per-seed", opt->ranks_per_seed,
                  "under mpirun / srun: processes per seed; N processes train N/K seeds at once (0: all train each seed)")
      ->capture_default_str();
  cmd->add_option("--blas-threads", opt->blas_threads,
                  "OpenBLAS's threads (0: all cores); the last bits of its GEMMs depend on it (mtfn tune uses 1)");
  cmd->add_option("--dtype", opt->dtype,
                  "float32, or float64 to check that two ways of training are the same computation (2x slower, 2x "
                  "the memory)")
      ->capture_default_str();
  cmd->add_option("--out", opt->out, "output folder: train.log, checkpoints, models, results")->capture_default_str();
  CLI::Option* resume = cmd->add_flag("--resume", opt->resume, "continue the run in --out from its last finished epoch");
  cmd->add_flag("--overwrite", opt->overwrite,
                "start over in an --out that holds a run: its checkpoints, seeds and log are removed (the results "
                "CSV keeps its rows)")
      ->excludes(resume);
  cmd->add_option("--synth-scale", opt->synth_scale,
                  fmt::format("without --data: split sizes relative to CH-SIMS (default {})", kNoDataScale));
  cmd->add_flag("--keep-checkpoints", opt->keep_checkpoints, "keep each seed's checkpoints (last and best: model + Adam state) after it ends");
  cmd->add_flag("--no-progress", opt->no_progress, "no progress bar even on a terminal");
  cmd->callback([opt] {
    // Every flag is checked before anything is read or created.
    if (opt->batch_size && *opt->batch_size <= 0)
      throw ConfigError(fmt::format("--batch-size: expected a positive integer, got {}", *opt->batch_size));
    if (opt->max_epochs && *opt->max_epochs < 0)
      throw ConfigError(fmt::format("--max-epochs: expected 0 (early stopping only) or more, got {}",
                                    *opt->max_epochs));
    if (opt->threads < 0) throw ConfigError("--threads: expected 0 or more");
    if (opt->blas_threads < 0) throw ConfigError("--blas-threads: expected 0 or more");
    if (opt->jobs < 1) throw ConfigError(fmt::format("--jobs: expected 1 or more, got {}", opt->jobs));
    const DistMode dist_mode = parse_dist_mode(opt->dist_mode);
    if (opt->dtype != "float32" && opt->dtype != "float64")
      throw ConfigError(fmt::format("--dtype: '{}' is not float32 or float64", opt->dtype));
    if (opt->synth_scale && !opt->data.empty())
      throw ConfigError("--synth-scale: only without --data (it sizes the synthetic set)");
    const double synth_scale = opt->synth_scale.value_or(kNoDataScale);
    if (!(synth_scale > 0 && synth_scale <= 1))
      throw ConfigError(fmt::format("--synth-scale: expected a number in (0, 1], got {}", synth_scale));
    std::error_code ec;
    if (!opt->config.empty() && std::filesystem::is_directory(opt->config, ec))
      throw ConfigError(fmt::format("--config: {} is a folder, expected a JSON file", opt->config));
    const ModelSpec& spec = find_model(opt->model);
    if (!opt->dataset.empty()) models::check_dataset_name(opt->dataset);
    if (!opt->mode.empty()) parse_mode(opt->mode);
    if (!opt->config.empty()) models::read_json_file(opt->config);  // unreadable or not JSON: before anything else
    std::string from_config;  // MMSA's run.py: no file given, the config's dataset_root_dir / featurePath
    if (opt->data.empty() && !opt->config.empty() && !opt->synth_scale) {
      from_config = data_file_from_config(opt->config, spec.name, opt->dataset.empty() ? "sims" : opt->dataset);
      if (!from_config.empty() && !std::filesystem::exists(from_config, ec))
        throw ConfigError(fmt::format("{}: featurePath names {}, which does not exist (give --data, or correct "
                                      "dataset_root_dir / featurePath)",
                                      opt->config, from_config));
      opt->data = from_config;
    }
    TrainOptions t;
    if (opt->seeds) t.seeds = parse_seeds(*opt->seeds);
    else if (opt->data.empty()) t.seeds = kNoDataSeeds;
    const int64_t max_epochs = opt->max_epochs.value_or(opt->data.empty() ? kNoDataMaxEpochs : 0);
    // Under mpirun / srun: one of N data-parallel processes (docs/distributed.md); else a group of one.
    const auto group = std::make_unique<distributed::ProcessGroup>();
    check_ranks_per_seed(opt->ranks_per_seed, group->size());  // before --out is touched
    ThreadLimit threads(opt->threads);
    if (opt->blas_threads > 0) openblas_set_num_threads(opt->blas_threads);
    keep_freed_memory();
    t.out = opt->out;
    t.resume = opt->resume;
    t.overwrite = opt->overwrite;
    t.group = group.get();
    check_run_folder(t);  // before reading the data: a folder holding a run is refused at once
    data::SimsDataset ds;
    if (opt->data.empty()) {  // a synthetic file in the dataset's layout (CH-SIMS's by default)
      const std::string layout = opt->dataset.empty() ? "sims" : opt->dataset;
      ds = data::make_synth_dataset(read_input([&] { return data::SynthShape::of_dataset(layout, synth_scale); }), 1);
      const std::string shaped = layout == "sims" ? "CH-SIMS-shaped" : layout + "-shaped";
      const std::string flag = layout == "sims" ? "" : " --dataset " + layout;
      t.data_label = fmt::format("synthetic {} data (mtfn synth{} --scale {} --seed 1): train {} / valid {} / test {}",
                                 shaped, flag, synth_scale, ds.train.size, ds.valid.size, ds.test.size);
    } else {
      ds = read_input([&] { return data::load_sims_dataset(opt->data); });
      t.data_label = opt->data;
    }
    // MMSA's entry for the model on the dataset (named, or inferred from the data), --config on top.
    RunConfig run = resolve_run(spec.name, opt->dataset.empty() && opt->data.empty() ? "sims" : opt->dataset,
                                opt->config, ds);
    nlohmann::ordered_json& cfg = run.config;
    if (!opt->mode.empty()) cfg["train_mode"] = mode_name(parse_mode(opt->mode));
    if (opt->batch_size) cfg["batch_size"] = *opt->batch_size;
    spec.check(cfg, opt->config.empty() ? "config" : opt->config);
    // What is printed before the run starts goes to train.log too (TrainOptions::printed_before).
    auto say = [&](std::ostream& to, const std::string& line) {
      to << line << "\n";
      t.printed_before.push_back(line);
    };
    if (group->is_root()) {
      for (const std::string& w : run.warnings) say(std::cerr, "mtfn train: warning: " + w);
      if (!run.inferred.empty()) say(std::cout, "mtfn train: " + run.inferred);
      if (opt->dtype == "float64") say(std::cout, "mtfn train: float64 parameters and computations (--dtype)");
    }
    const TrainSettings settings = train_settings(cfg);
    t.dataset = run.dataset;
    // One run per folder at a time, held until this command ends (rank 0 holds it for the group).
    const std::unique_ptr<RunFolderLock> lock = claim_run_folder(t);
    t.max_epochs = max_epochs;
    t.jobs = opt->jobs;
    t.dist_mode = dist_mode;
    t.ranks_per_seed = opt->ranks_per_seed;
    if (group->size() > 1 && opt->jobs > 1)
      throw ConfigError("--jobs: under mpirun / srun the ranks train each seed together; give --jobs 1");
    t.keep_checkpoints = opt->keep_checkpoints;
    t.dtype = opt->dtype == "float64" ? DType::F64 : DType::F32;
    t.progress = !opt->no_progress && isatty(STDOUT_FILENO);
    t.console = group->is_root() ? &std::cout : nullptr;
    t.group = group.get();
    if (group->is_root())
      say(std::cout, fmt::format("mtfn train: {} on {} ({}), {} ({} mode), {} seed{} ({}), batch {}, lr {}, out {}",
                               spec.name, run.dataset, spec.title, t.data_label, mode_name(settings.train_mode), t.seeds.size(), t.seeds.size() == 1 ? "" : "s",
                               fmt::join(t.seeds, ","), settings.batch_size, settings.learning_rate, t.out.string()));
    const int per_seed = opt->ranks_per_seed > 0 ? std::min(opt->ranks_per_seed, group->size()) : group->size();
    if (group->size() > 1 && group->is_root() && per_seed < group->size())
      say(std::cout, fmt::format("mtfn train: {} processes in {} groups of {}, each group training its own seeds",
                                 group->size(), group->size() / per_seed, per_seed));
    const bool sharded_head = dist_mode == DistMode::sharded && spec.fusion_head;
    if (per_seed > 1 && group->is_root())
      say(std::cout, fmt::format("mtfn train: {} over {} processes, each taking 1/{} of every batch{}",
                                 sharded_head ? "tensor-parallel fusion head" : "data-parallel", per_seed, per_seed,
                                 sharded_head ? fmt::format(" and 1/{} of the fusion head's weight", per_seed) : ""));
    if (!from_config.empty() && group->is_root())
      say(std::cout, fmt::format("mtfn train: no --data: {} names {} (dataset_root_dir / featurePath)", opt->config,
                                 from_config));
    if (opt->data.empty() && !opt->seeds && group->is_root())
      say(std::cout, fmt::format("mtfn train: no --data: a small synthetic set, 1 seed (MMSA runs 5: --seeds "
                                 "1111,1112,1113,1114,1115) and at most {} epochs (--max-epochs 0: early stopping "
                                 "only)",
                                 t.max_epochs));
    if (group->is_root()) t.manifest = train_manifest(opt->data, t.data_label, group->size());
    catch_stop_signals();  // Ctrl-C / SIGTERM: stop at the next safe point (training/stop_request.h)
    RunResults r;
    try {
      r = train_seeds(ds, spec, cfg, t);
    } catch (const std::exception& e) {  // the one line cli/run.cpp prints goes to the log too
      if (group->is_root() && std::filesystem::exists(t.out / "train.log"))
        append_to_log(t.out, std::string("mtfn train: ") + e.what());
      // With several processes the group must end all of them, with this rank's reason and exit status.
      if (group->size() > 1)
        group->abort(std::string("mtfn train: ") + e.what(), dynamic_cast<const InputError*>(&e) ? 2 : 1);
      throw;
    }
    if (!group->is_root()) return;
    const std::string summary =
        "\n" + summary_table(r) +
        fmt::format("results: {}, {}; models: {}\n", (t.out / "results.json").string(),
                    (r.csv.empty() ? t.out / "normal" / (r.dataset + ".csv") : r.csv).string(), (t.out / "models").string());
    std::cout << summary;
    append_to_log(t.out, summary.substr(1, summary.size() - 2));  // the table and the files, without the blank line
    // The page is a view of results.json, already written: the run has succeeded whatever happens here.
    try {
      const std::string line = fmt::format("report: {}", report::write_report({t.out}, t.out).string());
      std::cout << line << "\n";
      append_to_log(t.out, line);
    } catch (const std::exception& e) {
      std::cerr << fmt::format("mtfn train: warning: no report page: {}; once that is fixed: mtfn report {}\n", e.what(),
                               t.out.string());
    }
  });
}

}  // namespace mtfn::cli
