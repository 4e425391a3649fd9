// `mtfn tune`: MMSA's tune mode (training/tune.h), and `mtfn tune --best DIR`: the best trial of a
// search and the `mtfn train` command that re-trains it exactly.
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/threads.h"
#include "data/synth.h"
#include "distributed/process_group.h"
#include "models/mmsa_config.h"
#include "models/registry.h"
#include "training/run_config.h"
#include "training/tune.h"

namespace mtfn::cli {

using namespace mtfn::models;
using namespace mtfn::training;
using json = nlohmann::ordered_json;

namespace {

void print_best(const json& best) {
  std::cout << fmt::format("best trial: {} of the search (selected on {} Loss {}), draw {}\n", best["trial"].get<int64_t>(),
                           best["selected_on"].get<std::string>(), best[best["selected_on"].get<std::string>()]["Loss"].dump(),
                           best["draw"].dump());
  std::cout << "  valid:";
  for (auto it = best["valid"].begin(); it != best["valid"].end(); ++it) std::cout << " " << it.key() << " " << it.value().dump();
  std::cout << "\n  test: ";
  for (auto it = best["test"].begin(); it != best["test"].end(); ++it) std::cout << " " << it.key() << " " << it.value().dump();
  std::cout << "\n  re-train it: " << best["command"].get<std::string>() << "\n";
}

}  // namespace

void add_tune_command(CLI::App& app) {
  struct Options {
    std::string model = "mtfn", dataset, data, config, out, best, select_on = "valid";
    std::optional<double> synth_scale;
    int64_t trials = 50, max_epochs = 0;
    uint64_t search_seed = 1, seed = 1111;
    int jobs = 1, threads = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tune", "MMSA's tune mode: a seeded, resumable random search over config_tune.json");
  cmd->add_option("--model", opt->model, "mtfn, tfn or mtfn_attn")->capture_default_str();
  cmd->add_option("--dataset", opt->dataset, "sims, simsv2, mosi or mosei (default: inferred from --data)");
  cmd->add_option("--data", opt->data, "an MMSA feature file; none: a synthetic one in the dataset's layout");
  cmd->add_option("--synth-scale", opt->synth_scale, "without --data: split sizes relative to the dataset's (default 0.1)");
  cmd->add_option("--config", opt->config, "MMSA's config_tune.json (default: the built-in copy of MMSA's)");
  cmd->add_option("--trials", opt->trials, "trials of the search")->capture_default_str();
  cmd->add_option("--search-seed", opt->search_seed, "trial k of a search is always the same draw for a seed")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "the training seed of every trial (MMSA: seeds[0])")->capture_default_str();
  cmd->add_option("--max-epochs", opt->max_epochs, "at most N epochs a trial (0: early stopping only)")->capture_default_str();
  cmd->add_option("--select-on", opt->select_on,
                  "valid (default) or test (MMSA's choice, which overstates the result: docs/tune.md)")
      ->capture_default_str();
  cmd->add_option("--jobs", opt->jobs, "trials at once on this machine, oneTBB's threads split between them")
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads (0: all cores)");
  cmd->add_option("--out", opt->out, "the search's folder: trials/<k>/, tune.json, tune/<dataset>-<model>.csv");
  cmd->add_option("--best", opt->best, "print the best trial of the search in this folder and how to re-train it");
  cmd->callback([opt] {
    if (opt->select_on != "valid" && opt->select_on != "test")
      throw InputError(fmt::format("--select-on: expected valid or test, got '{}'", opt->select_on));
    if (!opt->best.empty()) {
      print_best(best_trial(opt->best, opt->select_on));
      return;
    }
    if (opt->out.empty()) throw InputError("--out: the search's folder is required (or --best DIR)");
    if (opt->trials < 1) throw InputError(fmt::format("--trials: expected 1 or more, got {}", opt->trials));
    if (opt->jobs < 1) throw InputError(fmt::format("--jobs: expected 1 or more, got {}", opt->jobs));
    if (opt->max_epochs < 0) throw InputError(fmt::format("--max-epochs: expected 0 or more, got {}", opt->max_epochs));
    if (opt->synth_scale && !opt->data.empty()) throw InputError("--synth-scale: only without --data");
    const ModelSpec& spec = find_model(opt->model);
    if (!opt->dataset.empty()) check_dataset_name(opt->dataset);
    const auto group = std::make_unique<distributed::ProcessGroup>();
    if (group->size() > 1 && opt->jobs > 1)
      throw InputError("--jobs: under mpirun / srun the ranks share the trials; give --jobs 1 (or more ranks)");
    ThreadLimit threads(opt->threads);
    TuneOptions t;
    data::SimsDataset ds;
    if (opt->data.empty()) {
      const std::string layout = opt->dataset.empty() ? "sims" : opt->dataset;
      const double scale = opt->synth_scale.value_or(0.1);
      ds = data::make_synth_dataset(read_input([&] { return data::SynthShape::of_dataset(layout, scale); }), 1);
      t.data_label = fmt::format("synthetic {} data (mtfn synth --dataset {} --scale {} --seed 1)", layout, layout, scale);
      t.data_args = fmt::format("--synth-scale {}", scale);
    } else {
      ds = read_input([&] { return data::load_sims_dataset(opt->data); });
      t.data_label = opt->data;
      t.data_args = "--data " + opt->data;
    }
    std::string why;
    t.dataset = opt->dataset.empty() ? infer_dataset(ds, &why) : opt->dataset;
    if (opt->dataset.empty() && group->is_root())
      std::cout << fmt::format("mtfn tune: --dataset not given: the data looks like {} ({})\n", t.dataset, why);
    if (spec.needs_unimodal_labels && !ds.has_label(data::Task::T))
      throw ConfigError(fmt::format("{} trains on the unimodal labels (T, A, V), which this {} file does not have: use "
                                    "--model tfn",
                                    spec.name, t.dataset));
    const TuneSpace space = tune_space(spec.name, t.dataset, opt->config);
    t.out = opt->out;
    t.search_seed = opt->search_seed;
    t.seeds = {opt->seed};
    t.trials = opt->trials;
    t.max_epochs = opt->max_epochs;
    t.select_on = opt->select_on;
    t.jobs = opt->jobs;
    t.group = group.get();
    t.console = group->is_root() || group->size() > 1 ? &std::cout : nullptr;
    run_tune(ds, spec, space, t);
    if (group->is_root()) {
      std::cout << fmt::format("tune: {} and {}\n", (t.out / "tune.json").string(),
                               (t.out / "tune" / fmt::format("{}-{}.csv", t.dataset, spec.name)).string());
      print_best(best_trial(t.out, t.select_on));
    }
  });
}

}  // namespace mtfn::cli
