// `mtfn train`: the flags, checked, become a training::TrainJob (training/train_job.h, which loads the
// data and trains); this file sets up the process (MPI group, threads, signals) and prints the summary.
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
#include "training/seed_schedule.h"
#include "training/train_job.h"
#include "training/train_log.h"

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

struct TrainFlags {
  std::string data, config, mode, out = "runs/latest", model = "mtfn", dataset;
  std::optional<std::string> seeds;            // not given: MMSA's five (one without --data)
  std::optional<int64_t> max_epochs, batch_size;  // not given: see kNoDataMaxEpochs; the config's
  int threads = 0, blas_threads = 0, jobs = 1, ranks_per_seed = 0;
  std::string dist_mode = "sharded", dtype = "float32";
  bool resume = false, overwrite = false, keep_checkpoints = false, no_progress = false;
  std::optional<double> synth_scale;           // not given: kNoDataScale
};

// Every flag checked before anything is read or created; the job the flags ask for.
TrainJob job_of_flags(TrainFlags& f) {
  if (f.batch_size && *f.batch_size <= 0)
    throw ConfigError(fmt::format("--batch-size: expected a positive integer, got {}", *f.batch_size));
  if (f.max_epochs && *f.max_epochs < 0)
    throw ConfigError(fmt::format("--max-epochs: expected 0 (early stopping only) or more, got {}",
                                  *f.max_epochs));
  if (f.threads < 0) throw ConfigError("--threads: expected 0 or more");
  if (f.blas_threads < 0) throw ConfigError("--blas-threads: expected 0 or more");
  if (f.jobs < 1) throw ConfigError(fmt::format("--jobs: expected 1 or more, got {}", f.jobs));
  const DistMode dist_mode = parse_dist_mode(f.dist_mode);
  if (f.dtype != "float32" && f.dtype != "float64")
    throw ConfigError(fmt::format("--dtype: '{}' is not float32 or float64", f.dtype));
  if (f.synth_scale && !f.data.empty())
    throw ConfigError("--synth-scale: only without --data (it sizes the synthetic set)");
  const double synth_scale = f.synth_scale.value_or(kNoDataScale);
  if (!(synth_scale > 0 && synth_scale <= 1))
    throw ConfigError(fmt::format("--synth-scale: expected a number in (0, 1], got {}", synth_scale));
  std::error_code ec;
  if (!f.config.empty() && std::filesystem::is_directory(f.config, ec))
    throw ConfigError(fmt::format("--config: {} is a folder, expected a JSON file", f.config));
  const ModelSpec& spec = find_model(f.model);
  if (!f.dataset.empty()) models::check_dataset_name(f.dataset);
  if (!f.mode.empty()) parse_mode(f.mode);
  if (!f.config.empty()) models::read_json_file(f.config);  // unreadable or not JSON: before anything else
  std::string from_config;  // MMSA's run.py: no file given, the config's dataset_root_dir / featurePath
  if (f.data.empty() && !f.config.empty() && !f.synth_scale) {
    from_config = data_file_from_config(f.config, spec.name, f.dataset.empty() ? "sims" : f.dataset);
    if (!from_config.empty() && !std::filesystem::exists(from_config, ec))
      throw ConfigError(fmt::format("{}: featurePath names {}, which does not exist (give --data, or correct "
                                    "dataset_root_dir / featurePath)",
                                    f.config, from_config));
    f.data = from_config;
  }
  // The job: what to train on which data, into which folder, on which processes.
  TrainJob job;
  job.model = spec.name;
  job.dataset = f.dataset;
  job.data = f.data;
  job.synth_scale = synth_scale;
  job.config = f.config;
  if (!f.mode.empty()) job.mode = parse_mode(f.mode);
  job.batch_size = f.batch_size;
  TrainOptions& t = job.run;
  if (f.seeds) t.seeds = parse_seeds(*f.seeds);
  else if (f.data.empty()) t.seeds = kNoDataSeeds;
  t.max_epochs = f.max_epochs.value_or(f.data.empty() ? kNoDataMaxEpochs : 0);
  t.out = f.out;
  t.resume = f.resume;
  t.overwrite = f.overwrite;
  t.jobs = f.jobs;
  t.dist_mode = dist_mode;
  t.ranks_per_seed = f.ranks_per_seed;
  t.keep_checkpoints = f.keep_checkpoints;
  t.dtype = f.dtype == "float64" ? DType::F64 : DType::F32;
  t.progress = !f.no_progress && isatty(STDOUT_FILENO);
  if (!from_config.empty())
    job.notes.push_back(fmt::format("mtfn train: no --data: {} names {} (dataset_root_dir / featurePath)",
                                    f.config, from_config));
  if (f.data.empty() && !f.seeds)
    job.notes.push_back(fmt::format("mtfn train: no --data: a small synthetic set, 1 seed (MMSA runs 5: --seeds "
                                    "1111,1112,1113,1114,1115) and at most {} epochs (--max-epochs 0: early "
                                    "stopping only)",
                                    t.max_epochs));
  return job;
}

// The summary table and the files (console and train.log), then the report page.
void print_summary(const RunResults& r, const std::filesystem::path& out) {
  const std::string summary =
      "\n" + summary_table(r) +
      fmt::format("results: {}, {}; models: {}\n", (out / "results.json").string(),
                  (r.csv.empty() ? out / "normal" / (r.dataset + ".csv") : r.csv).string(), (out / "models").string());
  std::cout << summary;
  append_to_log(out, summary.substr(1, summary.size() - 2));  // the table and the files, without the blank line
  // The page is a view of results.json, already written: the run has succeeded whatever happens here.
  try {
    const std::string line = fmt::format("report: {}", report::write_report({out}, out).string());
    std::cout << line << "\n";
    append_to_log(out, line);
  } catch (const std::exception& e) {
    std::cerr << fmt::format("mtfn train: warning: no report page: {}; once that is fixed: mtfn report {}\n", e.what(),
                             out.string());
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto opt = std::make_shared<TrainFlags>();
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
    TrainJob job = job_of_flags(*opt);
    TrainOptions& t = job.run;
    // The process: under mpirun / srun one of N data-parallel processes (docs/distributed.md), else a
    // group of one; its threads; Ctrl-C and SIGTERM stop at the next safe point (training/stop_request.h).
    const auto group = std::make_unique<distributed::ProcessGroup>();
    check_ranks_per_seed(opt->ranks_per_seed, group->size());  // before --out is touched
    ThreadLimit threads(opt->threads);
    if (opt->blas_threads > 0) openblas_set_num_threads(opt->blas_threads);
    keep_freed_memory();
    t.group = group.get();
    t.console = group->is_root() ? &std::cout : nullptr;
    catch_stop_signals();
    const JobConsole console{[](const std::string& l) { std::cout << l << "\n"; },
                             [](const std::string& l) { std::cerr << l << "\n"; }};
    const RunResults r = run_train_job(job, console, [&](const std::string& data_label) {
      return train_manifest(opt->data, data_label, group->size());
    });
    if (group->is_root()) print_summary(r, t.out);
  });
}

}  // namespace mtfn::cli
