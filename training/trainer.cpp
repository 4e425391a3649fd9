#include "training/trainer.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "training/evaluation.h"
#include "training/run_config.h"
#include "training/run_folder.h"
#include "training/seed_schedule.h"
#include "training/train_log.h"
#include "training/train_seed.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// A seed that an earlier invocation (or a seed job, or a group) finished: its result from
// DIR/seeds/<seed>.json, its epochs.jsonl lines as it left them, its checkpoints gone.
SeedResult finished_seed(const SeedContext& c, size_t i, const fs::path& done) {
  std::ifstream in(done);
  SeedResult r = seed_from_json(json::parse(in));
  const bool root = group_of(c.opt).is_root();
  if (root) rewrite_epoch_lines(c.opt.out / "epochs.jsonl", r.seed, r.epochs);
  c.log.line(metrics_lines(fmt::format("seed {} ({}/{}): finished earlier, test", r.seed, i + 1, c.opt.seeds.size()),
                           r.test));
  if (!c.opt.keep_checkpoints && root) fs::remove_all(c.opt.out / "checkpoints" / fmt::format("seed-{}", r.seed));
  return r;
}

// Rank 0, at the end: run.json's end time, results.json, and the row of MMSA's CSV (once per run).
void write_results(RunResults& results, RunFile& run, const TrainOptions& opt, Logger& log) {
  std::error_code ec;
  fs::remove(opt.out / "checkpoints", ec);  // only if empty: every seed's checkpoints went with it
  close_run(run, opt);
  json results_file = results_to_json(results);
  results_file["manifest"] = run.identity["manifest"];
  atomic_write_text(opt.out / "results.json", results_file.dump(1) + "\n");
  if (fs::exists(opt.out / "csv.done")) return;  // a resumed run that had already finished adds no second row
  results.csv = append_mmsa_csv(opt.out, results);
  const fs::path usual = opt.out / "normal" / (results.dataset + ".csv");
  if (results.csv != usual)
    log.line(fmt::format("{} has other columns (a run in another mode); kept as it is, this run's row is in {}",
                         usual.string(), results.csv.string()));
  atomic_write_text(opt.out / "csv.done", "");
}

}  // namespace

RunResults train_seeds(const data::SimsDataset& ds, const models::ModelSpec& spec, const json& config,
                       const TrainOptions& opt) {
  // The run folder: refused if it holds another run, room for the checkpoints, run.json.
  spec.check(config, "config");
  distributed::ProcessGroup& group = group_of(opt);
  check_ranks_per_seed(opt.ranks_per_seed, group.size());
  const models::TrainSettings settings = models::train_settings(config);
  check_run_folder(opt);
  fs::create_directories(opt.out);
  const bool found = opt.resume && fs::exists(opt.out / "run.json");  // every process looks before rank 0 writes
  const std::string space = check_space(opt, spec, config);  // before anything is written
  group.barrier("the start of the run");
  RunFile run = open_run(ds, spec, config, opt, found);
  const bool root = group.is_root();  // only rank 0 writes the run's files
  Logger log(root ? opt.out / "train.log" : fs::path("/dev/null"), run.resuming, root ? opt.console : nullptr,
             opt.progress);
  for (const std::string& l : opt.printed_before) log.log_only(l);  // what the command printed first
  if (root) log.line(space);
  if (opt.resume && !run.resuming) log.line(fmt::format("--resume: nothing to resume in {}; starting", opt.out.string()));

  // The seeds: several at once (--jobs, --ranks-per-seed), each leaving seeds/<seed>.json, or one after the other.
  const MetricKind kind = metric_kind_of_dataset(opt.dataset);
  RunResults results{.data = opt.data_label, .dataset = opt.dataset, .model = spec.name, .mode = settings.train_mode,
                     .config = config, .baseline = baseline_metrics(ds, ds.test, settings, kind)};
  const SeedContext ctx{ds, spec, config, settings, opt, kind, log};
  const bool in_groups = opt.ranks_per_seed > 0 && opt.ranks_per_seed < group.size();
  const bool in_jobs = (opt.jobs > 1 && group.size() == 1) || in_groups;
  if (in_groups) train_seeds_in_groups(ctx);
  else if (in_jobs) train_seeds_in_jobs(ctx);
  for (size_t i = 0; i < opt.seeds.size(); ++i) {
    const fs::path done = opt.out / "seeds" / fmt::format("{}.json", opt.seeds[i]);
    const bool finished = (run.resuming || in_jobs) && fs::exists(done);
    results.seeds.push_back(finished ? finished_seed(ctx, i, done) : train_one_seed(ctx, opt.seeds[i], i));
  }
  if (root) write_results(results, run, opt, log);
  return results;
}

}  // namespace mtfn::training
