#include "training/train_seed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "core/errors.h"
#include "data/batch.h"
#include "data/batching.h"
#include "optim/optimizer.h"
#include "training/checkpoint.h"
#include "training/data_parallel.h"
#include "training/evaluation.h"
#include "training/model_file.h"
#include "training/stop_request.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool should_stop(const SeedState& s, int64_t early_stop, int64_t max_epochs) {
  if (s.epoch == 0) return false;
  return s.epoch - s.best_epoch >= early_stop || (max_epochs > 0 && s.epoch >= max_epochs);
}

// A safe point: nothing is being written. After SIGINT / SIGTERM (on any process of the group) the
// seed stops here; the last checkpoint (epoch `finished`) stays as it was, for --resume.
void stop_if_requested(const SeedContext& c, const std::string& tag, int64_t finished) {
  std::vector<double> v{static_cast<double>(stop_signal())};
  group_of(c.opt).allreduce_max(v, "a stop request");
  const int sig = static_cast<int>(v[0]);
  if (sig == 0) return;
  const std::string kept =
      finished > 0 ? fmt::format("the checkpoint of epoch {} is kept in {}", finished, c.opt.out.string())
                   : fmt::format("no epoch of it had finished; finished seeds are kept in {}", c.opt.out.string());
  const std::string message =
      fmt::format("{}: stopped by {}; {}", tag, sig == SIGINT ? "Ctrl-C (SIGINT)" : sig == SIGTERM ? "SIGTERM" : "a signal", kept);
  c.log.line(message);
  throw Interrupted(sig, message);
}

// A loss that is NaN or infinite ends the seed (and the run): nothing after it would mean anything.
void check_finite_loss(double loss, const std::string& what, const std::string& where,
                       const std::vector<Tensor>& outputs, const std::vector<std::string>& tasks) {
  if (std::isfinite(loss)) return;
  std::string bad;
  for (size_t t = 0; t < outputs.size() && t < tasks.size(); ++t) {
    const std::vector<double> v = outputs[t].to_vector();
    if (std::any_of(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }))
      bad += (bad.empty() ? "" : ", ") + tasks[t];
  }
  const std::string cause = outputs.empty() ? "a label or an output is not finite"
                            : bad.empty()    ? "the outputs are finite, so a label is not: check the data file"
                                             : "non-finite outputs: " + bad + "; a smaller learning_rate may help";
  throw std::runtime_error(fmt::format("{}: the {} is {} ({}); the seed is stopped and no results row is written",
                                       where, what, loss, cause));
}

// One seed's model, optimizer, processes and files while it trains.
struct Seed {
  const SeedContext& c;
  uint64_t seed;
  std::string tag;  // "seed 1111 (1/5)"
  fs::path dir, last, best;
  models::Model& model;
  DataParallel& dp;
  optim::Optimizer& optimizer;
  SeedState s;
};

// One epoch's training steps; the mean training loss.
double train_epoch(Seed& r, int64_t epoch, Clock::time_point t0, Progress& progress) {
  const SeedContext& c = r.c;
  const data::BatchSampler sampler(c.ds.train.size, c.settings.batch_size, r.seed, /*shuffle=*/true);
  const auto batches = sampler.epoch_batches(epoch);
  progress.total = static_cast<int64_t>(batches.size());
  r.model.module().train();
  double train_loss = 0;
  int64_t used = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    // BatchNorm cannot train on one sample (PyTorch refuses too); such a last batch is skipped.
    if (batches[i].size() < 2) continue;
    int64_t first_row = 0;  // this process's share of the batch (all of it on one process)
    const std::vector<int64_t> rows = r.dp.shard(batches[i], &first_row);
    const auto global_rows = static_cast<int64_t>(batches[i].size()), local_rows = static_cast<int64_t>(rows.size());
    const data::Batch b = data::make_batch(c.ds.train, rows, r.model.dtype());
    // The step.
    r.model.set_dropout_step(r.s.step, first_row);
    r.optimizer.zero_grad();
    const models::Forward f = r.model.forward(b);
    r.dp.backward(f.loss, local_rows, global_rows);
    r.optimizer.step();
    ++r.s.step;
    const double step_loss = r.dp.global_loss(f.loss.item(), local_rows, global_rows);
    check_finite_loss(step_loss, "training loss", fmt::format("{} epoch {} step {}", r.tag, epoch, i + 1), f.outputs,
                      r.model.task_names());
    train_loss += step_loss;
    ++used;
    progress.done = static_cast<int64_t>(i + 1);
    progress.sec_per_step = seconds_since(t0) / static_cast<double>(i + 1);
    c.log.bar(progress);
    stop_if_requested(c, r.tag, r.s.epoch);
  }
  return train_loss / static_cast<double>(std::max<int64_t>(used, 1));
}

// After an epoch's steps: the valid split, early stopping's state, the checkpoint, the epoch's lines.
void end_epoch(Seed& r, int64_t epoch, double train_loss, Clock::time_point t0, Progress& progress) {
  const SeedContext& c = r.c;
  progress.phase = Progress::Phase::validating;
  c.log.bar(progress);
  SplitEval valid = evaluate_split(r.model, c.ds.valid, c.kind, c.settings.batch_size);
  valid.loss = r.dp.agree(valid.loss);  // every process takes rank 0's early-stopping decision
  check_finite_loss(valid.loss, "valid loss", fmt::format("{} epoch {} (valid)", r.tag, epoch), {}, {});
  stop_if_requested(c, r.tag, r.s.epoch);  // before the checkpoint is written
  r.dp.check_replicas(fmt::format("after epoch {}", epoch));
  SeedState& s = r.s;
  s.epoch = epoch;
  const bool better = improves(valid.loss, s.best_valid);
  if (better) {
    s.best_valid = valid.loss;
    s.best_epoch = epoch;
  }
  s.history.push_back({epoch, train_loss, valid.loss, seconds_since(t0), valid.metrics});
  progress.phase = Progress::Phase::saving;
  c.log.bar(progress);
  if (r.dp.writes_model_files()) save_checkpoint(r.last, r.model, r.optimizer, s, r.seed, r.dp);
  if (r.dp.is_root()) {
    if (better) link_best(r.last, r.best);  // MMSA saves the best model at its epoch
    append_epoch_line(c.opt.out / "epochs.jsonl", epoch_line(r.seed, s.history.back(), s.best_epoch, s.best_valid));
  }
  // Two lines or more within 80 columns: the losses and time, then the valid metrics, indented.
  c.log.line(fmt::format("{} epoch {}: train_loss {:.4f} valid_loss {:.4f}{} {:.1f} s", r.tag, epoch, train_loss,
                         valid.loss, better ? " *" : "  ", s.history.back().seconds));
  c.log.line(metrics_lines("    valid", valid.metrics));
}

// The best model (MMSA: saved at its epoch, reloaded for the test split) scored on the test split and
// kept in DIR/models; the seed's result recorded, its checkpoints removed (unless kept). A run killed
// after moving the best model to DIR/models finds it there.
SeedResult test_best_model(Seed& r) {
  const SeedContext& c = r.c;
  const fs::path final_model = c.opt.out / "models" / fmt::format("{}-{}.safetensors", r.model.name(), r.seed);
  r.dp.barrier("the best model's file");  // rank 0 has written it
  {
    const bool from_checkpoint = fs::exists(r.best);
    const nn::SafetensorsIndex idx = nn::read_safetensors_index(from_checkpoint ? r.best.string() : final_model.string());
    const std::string prefix = from_checkpoint ? "model." : "";
    nn::load_module(idx, r.model.module(), prefix, true, r.dp.file_shards(entry_names(idx), prefix));
  }
  const SplitEval test = evaluate_split(r.model, c.ds.test, c.kind, c.settings.batch_size);
  SeedResult result{.seed = r.seed, .epochs = r.s.history, .best_epoch = r.s.best_epoch, .test = test.metrics};
  result.test.set("Loss", test.loss);
  r.dp.barrier("the test evaluation");  // every process has read the best model
  if (r.dp.is_root()) fs::create_directories(c.opt.out / "models");
  r.dp.barrier("the models folder");
  if (fs::exists(r.best) && r.dp.writes_model_files()) {  // the model alone (558 MB), without the Adam state
    std::vector<std::string> names;
    for (const nn::NamedTensor& e : r.model.module().state_dict()) names.push_back(e.name);
    save_model_file(final_model, r.model, json{{"seed", r.seed}, {"epoch", r.s.best_epoch}}.dump(),
                    r.dp.file_shards(names, ""), r.dp.write_group());
  }
  r.dp.barrier("the model file");
  if (!r.dp.is_root()) return result;
  atomic_write_text(c.opt.out / "seeds" / fmt::format("{}.json", r.seed), seed_to_json(result).dump(1));
  if (!c.opt.keep_checkpoints) fs::remove_all(r.dir);
  c.log.line(metrics_lines(fmt::format("{}: best epoch {} of {}, test", r.tag, result.best_epoch, r.s.epoch), result.test));
  return result;
}

// Continues from the seed's last checkpoint (--resume): model, optimizer and state.
void resume_seed(Seed& r) {
  const SeedContext& c = r.c;
  r.s = load_checkpoint(r.last, r.model, r.optimizer, r.seed, r.dp);
  // Killed between writing an improving epoch's checkpoint and linking it as the best: link now.
  if (r.dp.is_root() && r.s.best_epoch == r.s.epoch && checkpoint_epoch(r.best) != r.s.epoch) link_best(r.last, r.best);
  c.log.line(fmt::format("{}: resumed after epoch {} (best epoch {}, valid loss {:.4f})", r.tag, r.s.epoch,
                         r.s.best_epoch, r.s.best_valid));
}

}  // namespace

SeedResult train_one_seed(const SeedContext& c, uint64_t seed, size_t seed_index) {
  const fs::path dir = c.opt.out / "checkpoints" / fmt::format("seed-{}", seed);
  if (group_of(c.opt).is_root()) fs::create_directories(dir);
  const std::unique_ptr<models::Model> model = c.spec.build(c.config, seed, c.opt.dtype);
  // With several processes: rank 0's model, synced BatchNorm, buckets; a sharded fusion head keeps this
  // rank's columns from here on, so the optimizer and the checkpoint see the shard.
  DataParallel dp(&group_of(c.opt), *model, c.opt.dist_mode);
  const std::unique_ptr<optim::Optimizer> optimizer = model->make_optimizer();
  Seed r{c, seed, fmt::format("seed {} ({}/{})", seed, seed_index + 1, c.opt.seeds.size()), dir,
         dir / "last.safetensors", dir / "best.safetensors", *model, dp, *optimizer, {}};
  if (c.opt.resume && fs::exists(r.last)) resume_seed(r);
  if (c.opt.resume && dp.is_root()) rewrite_epoch_lines(c.opt.out / "epochs.jsonl", seed, r.s.history);
  dp.check_same(r.s.step, "training steps taken");
  while (!should_stop(r.s, c.settings.early_stop, c.opt.max_epochs)) {
    const auto t0 = Clock::now();
    const int64_t epoch = r.s.epoch + 1;
    Progress progress{.epoch = epoch, .max_epochs = c.opt.max_epochs};
    const double train_loss = train_epoch(r, epoch, t0, progress);
    end_epoch(r, epoch, train_loss, t0, progress);
  }
  return test_best_model(r);
}

}  // namespace mtfn::training
