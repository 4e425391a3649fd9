// The random search of MMSA's tune mode, seeded and resumable. Each trial is an ordinary training run
// in DIR/trials/<k>/ (run.json, checkpoints, results.json), so a killed search resumes each trial
// from its last epoch and a finished trial is never run again.
#include "training/tune.h"

#include <cblas.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "core/threads.h"
#include "data/batching.h"
#include "distributed/process_group.h"
#include "models/mmsa_config.h"
#include "training/run_config.h"
#include "training/run_folder.h"
#include "training/seed_schedule.h"
#include "training/trainer.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

TuneSpace tune_space(const std::string& model, const std::string& dataset, const std::string& tune_file) {
  const std::string where = tune_file.empty() ? "built-in MMSA tune config" : tune_file;
  json file = tune_file.empty() ? models::builtin_mmsa_tune_config() : models::read_json_file(tune_file);
  if (!file.is_object() || !file.contains(model) || !file[model].is_object())
    throw models::ConfigError(fmt::format("{}: no '{}' entry", where, model));
  json& entry = file[model];
  if (!entry.contains("debugParams") || !entry["debugParams"].is_object())
    throw models::ConfigError(fmt::format("{}: {}: no debugParams (the values to search)", where, model));
  const json debug = entry["debugParams"];
  entry.erase("debugParams");
  TuneSpace space;
  if (!debug.contains("d_paras") || !debug["d_paras"].is_array() || debug["d_paras"].empty())
    throw models::ConfigError(fmt::format("{}: {}.debugParams.d_paras: expected a list of parameter names", where, model));
  for (const json& name : debug["d_paras"]) {
    if (!name.is_string())
      throw models::ConfigError(fmt::format("{}: {}.debugParams.d_paras: {} is not a name", where, model, name.dump()));
    const std::string n = name.get<std::string>();
    if (!debug.contains(n) || !debug[n].is_array() || debug[n].empty())
      throw models::ConfigError(
          fmt::format("{}: {}.debugParams.{}: expected a non-empty list of candidate values", where, model, n));
    space.names.push_back(n);
    space.values.emplace_back(debug[n].begin(), debug[n].end());
  }
  // MMSA's regression entry for the pair, then the tune entry's commonParams (and datasetCommonParams).
  space.base = models::resolve_mmsa_config(models::builtin_mmsa_config(), model, dataset, "built-in MMSA config");
  const json common = models::resolve_mmsa_config(file, model, dataset, where);
  for (auto it = common.begin(); it != common.end(); ++it) space.base[it.key()] = it.value();
  check_mmsa_switches(space.base, where);
  return space;
}

json draw_trial(const TuneSpace& space, uint64_t search_seed, int64_t k) {
  uint64_t state = data::splitmix64(data::splitmix64(search_seed) ^ static_cast<uint64_t>(k));
  json draw = json::object();
  for (size_t i = 0; i < space.names.size(); ++i) {
    state = data::splitmix64(state);
    draw[space.names[i]] = space.values[i][state % space.values[i].size()];
  }
  return draw;
}

namespace {

fs::path trial_dir(const fs::path& out, int64_t k) { return out / "trials" / fmt::format("{}", k + 1); }

json read_json_file_plain(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// Trial k's whole configuration: the base, the draw, the data's feature widths; checked by the model.
json trial_config(const data::SimsDataset& ds, const models::ModelSpec& spec, const TuneSpace& space, const json& draw,
                  int64_t k) {
  json flat = space.base;
  for (auto it = draw.begin(); it != draw.end(); ++it) flat[it.key()] = it.value();
  flat["feature_dims"] = {ds.text_dim, ds.audio_dim, ds.vision_dim};
  std::vector<std::string> warnings;
  json config = spec.configure(flat, fmt::format("trial {}", k + 1), warnings);
  spec.check(config, fmt::format("trial {}", k + 1));
  return config;
}

// Trains trial k to its end (or resumes it), one seed, into DIR/trials/<k+1>/.
void run_trial(const data::SimsDataset& ds, const models::ModelSpec& spec, const json& config, const TuneOptions& opt,
               int64_t k) {
  TrainOptions t;
  t.out = trial_dir(opt.out, k);
  t.data_label = opt.data_label;
  t.dataset = opt.dataset;
  t.seeds = {opt.seeds.front()};
  t.max_epochs = opt.max_epochs;
  t.resume = fs::exists(t.out / "run.json");
  t.overwrite = !t.resume && !earlier_run_files(t.out).empty();  // a trial killed before its run.json
  RunFolderLock lock(t.out);
  atomic_write_text(t.out / "config.json", config.dump(1) + "\n");
  train_seeds(ds, spec, config, t);
}

// One row of tune.json: the draw and what the trial's run left.
json trial_record(const TuneOptions& opt, int64_t k, const json& draw, const json& config) {
  json rec = {{"trial", k + 1}, {"draw", draw}, {"dir", trial_dir(opt.out, k).string()}};
  const fs::path results = trial_dir(opt.out, k) / "results.json";
  if (!fs::exists(results)) {
    rec["finished"] = false;
    return rec;
  }
  const json r = read_json_file_plain(results);
  const json& seed = r.at("seeds").at(0);
  const int64_t best = seed.at("best_epoch").get<int64_t>();
  json valid = json::object();
  double seconds = 0;
  for (const json& e : seed.at("epochs")) {
    seconds += e.value("seconds", 0.0);
    if (e.at("epoch").get<int64_t>() == best) {
      valid = e.value("valid", json::object());
      valid["Loss"] = e.at("valid_loss");
    }
  }
  rec["finished"] = true;
  rec["seed"] = seed.at("seed");
  rec["best_epoch"] = best;
  rec["valid"] = valid;
  rec["test"] = seed.at("test");
  rec["seconds"] = seconds;
  rec["config"] = config;
  rec["checkpoint"] = (trial_dir(opt.out, k) / "models" / fmt::format("{}-{}.safetensors", r.value("model", "mtfn"),
                                                                     seed.at("seed").get<uint64_t>()))
                          .string();
  return rec;
}

double loss_of(const json& rec, const std::string& split) {
  if (!rec.value("finished", false) || !rec.contains(split) || !rec[split].contains("Loss") ||
      !rec[split]["Loss"].is_number())
    return std::numeric_limits<double>::infinity();
  return rec[split]["Loss"].get<double>();
}

// A CSV cell: the value's JSON text, quoted (quotes doubled) when it holds a comma or a quote.
std::string cell(const json& v) {
  const std::string s = v.dump();
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + '"';
}

}  // namespace

namespace {

// The search's trials: each one's draw and configuration; a draw equal to an earlier trial's is not
// trained again (MMSA skips it too): duplicate_of[k] is that trial, or -1.
struct Trials {
  std::vector<json> draws, configs;
  std::vector<int64_t> duplicate_of;
};
Trials draw_trials(const data::SimsDataset& ds, const models::ModelSpec& spec, const TuneSpace& space,
                   const TuneOptions& opt) {
  Trials t;
  for (int64_t k = 0; k < opt.trials; ++k) {
    t.draws.push_back(draw_trial(space, opt.search_seed, k));
    t.configs.push_back(trial_config(ds, spec, space, t.draws.back(), k));
    int64_t dup = -1;
    for (int64_t j = 0; j < k && dup < 0; ++j)
      if (t.draws[static_cast<size_t>(j)] == t.draws.back()) dup = j;
    t.duplicate_of.push_back(dup);
  }
  return t;
}

// This process's unfinished trials (every ranks-th from its rank), run one after the other or in jobs.
void run_my_trials(const data::SimsDataset& ds, const models::ModelSpec& spec, const TuneOptions& opt,
                   const Trials& trials, int rank, int ranks) {
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < opt.trials; ++k)
    if (trials.duplicate_of[static_cast<size_t>(k)] < 0 && k % ranks == rank &&
        !fs::exists(trial_dir(opt.out, k) / "results.json"))
      mine.push_back(k);
  auto say = [&](const std::string& s) {
    if (opt.console) (*opt.console) << s << "\n" << std::flush;
  };
  say(fmt::format("tune: {} trials, {} to run here{}", opt.trials, mine.size(),
                  ranks > 1 ? fmt::format(" (rank {} of {})", rank, ranks) : ""));
  const int jobs = std::max(1, std::min<int>(opt.jobs, static_cast<int>(mine.size())));
  auto run = [&](size_t i, const std::string& job) {
    const int64_t k = mine[i];
    say(fmt::format("tune: trial {} of {}{}: {}", k + 1, opt.trials, job, trials.draws[static_cast<size_t>(k)].dump()));
    run_trial(ds, spec, trials.configs[static_cast<size_t>(k)], opt, k);
  };
  if (jobs <= 1) {
    for (size_t i = 0; i < mine.size(); ++i) run(i, "");
    return;
  }
  // One process per job, each taking every jobs-th trial; the cores are split between them.
  const int failed = run_forked_jobs(jobs, "tune", [&](int j) {
    for (size_t i = static_cast<size_t>(j); i < mine.size(); i += static_cast<size_t>(jobs))
      run(i, fmt::format(" (job {})", j + 1));
  });
  if (failed) throw std::runtime_error(fmt::format("tune: {} of {} jobs failed (see above); rerun to resume", failed, jobs));
}

// MMSA's tune CSV: one row a trial, the drawn values, then the metrics.
std::string tune_csv(const json& doc, const TuneSpace& space) {
  std::vector<std::string> metric_names;
  for (const json& rec : doc["trials"])
    if (rec.value("finished", false)) {
      for (const char* split : {"valid", "test"})
        for (auto it = rec[split].begin(); it != rec[split].end(); ++it) {
          const std::string n = std::string(split) + "_" + it.key();
          if (std::find(metric_names.begin(), metric_names.end(), n) == metric_names.end()) metric_names.push_back(n);
        }
      break;
    }
  std::string csv = "Trial";
  for (const std::string& n : space.names) csv += "," + n;
  for (const std::string& n : metric_names) csv += "," + n;
  csv += "\n";
  for (const json& rec : doc["trials"]) {
    csv += fmt::format("{}", rec["trial"].get<int64_t>());
    for (const std::string& n : space.names) csv.append(",").append(cell(rec["draw"][n]));
    for (const std::string& n : metric_names) {
      const std::string split = n.substr(0, n.find('_')), metric = n.substr(n.find('_') + 1);
      csv.append(",").append(rec.contains(split) && rec[split].contains(metric) ? cell(rec[split][metric]) : "");
    }
    csv += "\n";
  }
  return csv;
}

}  // namespace

json run_tune(const data::SimsDataset& ds, const models::ModelSpec& spec, const TuneSpace& space,
              const TuneOptions& opt) {
  distributed::ProcessGroup& group = group_or_alone(opt.group);
  // OpenBLAS on one thread in every trial: its GEMMs' last bits depend on its thread count, so this
  // keeps a trial's numbers the same whether it runs alone, beside others (--jobs) or on a rank.
  openblas_set_num_threads(1);
  const Trials trials = draw_trials(ds, spec, space, opt);
  if (group.is_root()) fs::create_directories(opt.out);
  run_my_trials(ds, spec, opt, trials, group.rank(), group.size());
  group.barrier("the end of every rank's trials");
  json doc = {{"model", spec.name},       {"dataset", opt.dataset},       {"data", opt.data_label},
              {"data_args", opt.data_args}, {"search_seed", opt.search_seed}, {"seeds", opt.seeds},
              {"max_epochs", opt.max_epochs}, {"select_on", opt.select_on},   {"d_paras", space.names},
              {"trials", json::array()}};
  for (int64_t k = 0; k < opt.trials; ++k) {
    const int64_t dup = trials.duplicate_of[static_cast<size_t>(k)];
    json rec = trial_record(opt, dup >= 0 ? dup : k, trials.draws[static_cast<size_t>(k)],
                            trials.configs[static_cast<size_t>(k)]);
    rec["trial"] = k + 1;
    if (dup >= 0) rec["same_draw_as"] = dup + 1;
    doc["trials"].push_back(rec);
  }
  if (!group.is_root()) return doc;
  atomic_write_text(opt.out / "tune.json", doc.dump(1) + "\n");
  atomic_write_text(opt.out / "tune" / fmt::format("{}-{}.csv", opt.dataset, spec.name), tune_csv(doc, space));
  return doc;
}

json best_trial(const fs::path& dir, const std::string& select_on) {
  const fs::path file = dir / "tune.json";
  if (!fs::exists(file)) throw InputError(fmt::format("{}: no tune.json: not a finished search (run mtfn tune)", dir.string()));
  json doc;
  try {
    doc = read_json_file_plain(file);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: unreadable: {}", file.string(), e.what()));
  }
  const json* best = nullptr;
  for (const json& rec : doc.at("trials"))
    if (!rec.contains("same_draw_as") && std::isfinite(loss_of(rec, select_on)) &&
        (!best || loss_of(rec, select_on) < loss_of(*best, select_on)))
      best = &rec;
  if (!best) throw InputError(fmt::format("{}: no finished trial yet", file.string()));
  json out = *best;
  out["selected_on"] = select_on;
  out["command"] = fmt::format("mtfn train --model {} --dataset {} {} --config {} --seeds {} --max-epochs {} "
                               "--blas-threads 1 --out {}",
                               doc.at("model").get<std::string>(), doc.at("dataset").get<std::string>(),
                               doc.at("data_args").get<std::string>(),
                               (fs::path(best->at("dir").get<std::string>()) / "config.json").string(),
                               best->at("seed").get<uint64_t>(), doc.at("max_epochs").get<int64_t>(),
                               (dir / fmt::format("retrain-{}", best->at("trial").get<int64_t>())).string());
  return out;
}

}  // namespace mtfn::training
