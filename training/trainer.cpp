// The training loop, checkpoints and resume, evaluation, and the results of a run.
//
// Resume: after every epoch the seed's state (model, optimizer, epoch, step, early-stopping state,
// history) goes to DIR/checkpoints/seed-<s>/last.safetensors through a temp file + rename; when the
// epoch is the best so far, best.safetensors becomes a hard link to that same file (no second write
// of the 558 MB model). Nothing random is kept in a generator: the shuffle
// is a function of (seed, epoch) and every dropout mask of (seed, step, row, column), so a run
// resumed from epoch e's checkpoint computes exactly what the uninterrupted run computed.
#include "training/trainer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <cblas.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "core/threads.h"
#include "data/batch.h"
#include "data/batching.h"
#include "distributed/process_group.h"
#include "nn/safetensors.h"
#include "optim/optimizer.h"
#include "training/console_text.h"
#include "training/data_parallel.h"
#include "training/evaluation.h"
#include "training/model_file.h"
#include "training/run_config.h"
#include "training/stop_request.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// `head` and then the metrics ("Corr 0.6623"), wrapped to 80 columns with an indent of 4.
std::string metrics_lines(const std::string& head, const MetricList& m) {
  std::vector<std::string> fields;
  for (const auto& [k, v] : m.items) fields.push_back(fmt::format("{} {:.4f}", k, v));
  return fmt::format("{}", fmt::join(wrap_fields(head, fields), "\n"));
}

// Lines to DIR/train.log (each behind a timestamp) and the console; a progress line on the console only.
class Logger {
 public:
  Logger(const fs::path& file, bool append, std::ostream* console, bool progress)
      : log_(file, append ? std::ios::app : std::ios::trunc), console_(console), progress_(progress && console) {}
  void line(const std::string& s) {
    clear_bar();
    log_only(s);
    if (console_) (*console_) << s << "\n" << std::flush;
  }
  void log_only(const std::string& s) {
    log_ << timestamped_lines(s, std::time(nullptr));
    log_.flush();
  }
  void bar(const Progress& p) {
    if (!progress_) return;
    const std::string s = progress_line(p);
    const size_t old = bar_len_;
    bar_len_ = s.size();
    (*console_) << "\r" << s << std::string(old > s.size() ? old - s.size() : 0, ' ') << std::flush;
  }

 private:
  void clear_bar() {
    if (progress_ && bar_len_) (*console_) << "\r" << std::string(bar_len_, ' ') << "\r";
    bar_len_ = 0;
  }
  std::ofstream log_;
  std::ostream* console_;
  bool progress_;
  size_t bar_len_ = 0;
};

// What the training of one seed carries from epoch to epoch (all of it in the checkpoint).
struct SeedState {
  int64_t epoch = 0;        // epochs finished
  uint64_t step = 0;        // training steps taken (keys the dropout masks)
  double best_valid = 1e8;  // MMSA starts from 1e8 ('min' key)
  int64_t best_epoch = 0;
  std::vector<EpochRecord> history;

  json to_json() const {
    json h = json::array();
    for (const EpochRecord& e : history) {
      SeedResult tmp;
      tmp.epochs = {e};
      h.push_back(seed_to_json(tmp)["epochs"][0]);
    }
    return {{"epoch", epoch}, {"step", step}, {"best_valid", best_valid}, {"best_epoch", best_epoch}, {"history", h}};
  }
  static SeedState from_json(const json& j) {
    SeedState s;
    s.epoch = j.at("epoch").get<int64_t>();
    s.step = j.at("step").get<uint64_t>();
    s.best_valid = j.at("best_valid").get<double>();
    s.best_epoch = j.at("best_epoch").get<int64_t>();
    json wrapped = {{"seed", 0}, {"best_epoch", 0}, {"test", json::object()}, {"epochs", j.at("history")}};
    s.history = seed_from_json(wrapped).epochs;
    return s;
  }
};

// MMSA's early-stopping test: an epoch counts as better when at least 1e-6 below the best so far.
bool improves(double valid_loss, double best_valid) { return valid_loss <= best_valid - 1e-6; }

// DIR/epochs.jsonl, for other tools: one JSON object per finished epoch of any seed, with the best
// epoch so far. Only epochs a checkpoint (or a finished seed) holds are in it: a line is appended
// after the epoch's checkpoint, and --resume rewrites a seed's lines from what it resumes from.
json epoch_line(uint64_t seed, const EpochRecord& e, int64_t best_epoch, double best_valid) {
  return {{"seed", seed},         {"epoch", e.epoch},     {"train_loss", e.train_loss},
          {"valid_loss", e.valid_loss}, {"valid", metrics_to_json(e.valid)}, {"seconds", e.seconds},
          {"best_epoch", best_epoch}, {"best_valid_loss", best_valid}};
}

void append_epoch_line(const fs::path& file, const json& line) {
  std::ofstream out(file, std::ios::app);
  out << line.dump() << "\n";
  if (!out.flush()) throw std::runtime_error(fmt::format("{}: write failed", file.string()));
}

// Replaces the lines of `seed` with its `history` (the best epoch so far replayed as training
// decided it), keeping every other seed's lines in their order.
void rewrite_epoch_lines(const fs::path& file, uint64_t seed, const std::vector<EpochRecord>& history) {
  std::string kept;
  if (std::ifstream in{file}) {
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {
        continue;  // a line torn by a kill mid-write
      }
      if (j.value("seed", uint64_t{0}) != seed) kept += line + "\n";
    }
  }
  double best_valid = 1e8;
  int64_t best_epoch = 0;
  for (const EpochRecord& e : history) {
    if (improves(e.valid_loss, best_valid)) {
      best_valid = e.valid_loss;
      best_epoch = e.epoch;
    }
    kept += epoch_line(seed, e, best_epoch, best_valid).dump() + "\n";
  }
  atomic_write_text(file, kept);
}

bool should_stop(const SeedState& s, int64_t early_stop, int64_t max_epochs) {
  if (s.epoch == 0) return false;
  return s.epoch - s.best_epoch >= early_stop || (max_epochs > 0 && s.epoch >= max_epochs);
}

// With a sharded fusion head every process writes its columns of the weight and of its Adam moments
// into the one file (data_parallel.h): the file is the same whatever the number of processes.
void save_checkpoint(const fs::path& path, const models::Model& model, const optim::Optimizer& opt, const SeedState& s,
                     uint64_t seed, const DataParallel& dp) {
  nn::TensorDict all;
  all.insert_all(model.module().state_dict(), "model.");
  all.insert_all(opt.state_dict(), "optim.");
  json meta = {{"format", "mtfn-checkpoint/1"},
               {"seed", seed},
               {"model", model.name()},
               {"config", model.config_json()},
               {"state", s.to_json()}};
  if (model.dtype() != DType::F32) meta["dtype"] = dtype_name(model.dtype());  // absent: float32 (model_file.h)
  std::vector<std::string> names;
  for (const nn::NamedTensor& e : all) names.push_back(e.name);
  nn::write_safetensors(path.string(), all, {{"trainer", meta.dump()}}, dp.file_shards(names, "model.", &opt, "optim."),
                        dp.write_group());
}

std::vector<std::string> entry_names(const nn::SafetensorsIndex& idx) {
  std::vector<std::string> names;
  for (const nn::SafetensorsEntry& e : idx.entries) names.push_back(e.name);
  return names;
}

// The epoch a checkpoint file holds (-1 if it is not one).
int64_t checkpoint_epoch(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return -1;
  try {
    const nn::SafetensorsIndex idx = nn::read_safetensors_index(path.string());
    auto it = idx.metadata.find("trainer");
    if (it == idx.metadata.end()) return -1;
    return json::parse(it->second).at("state").at("epoch").get<int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

// best = the checkpoint `last` (a hard link, made under a temporary name and renamed into place;
// a copy where the file system has no hard links).
void link_best(const fs::path& last, const fs::path& best) {
  const fs::path tmp = best.string() + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(last, tmp, ec);
  if (ec) fs::copy_file(last, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, best);
}

// Each process reads its own columns of a sharded weight and of its optimizer state: a checkpoint made
// by any number of processes resumes on any number.
SeedState load_checkpoint(const fs::path& path, models::Model& model, optim::Optimizer& opt, uint64_t seed,
                          const DataParallel& dp) {
  const nn::SafetensorsIndex idx = nn::read_safetensors_index(path.string());
  auto it = idx.metadata.find("trainer");
  if (it == idx.metadata.end()) throw InputError(fmt::format("{}: not an mtfn checkpoint", path.string()));
  const json meta = json::parse(it->second);
  if (meta.at("seed").get<uint64_t>() != seed)
    throw InputError(fmt::format("{}: checkpoint of seed {}, expected {}", path.string(),
                                      meta.at("seed").get<uint64_t>(), seed));
  const nn::ColumnShards shards = dp.file_shards(entry_names(idx), "model.", &opt, "optim.");
  nn::load_module(idx, model.module(), "model.", true, shards);
  opt.load_state_dict(nn::read_entries(idx, "optim.", shards));
  return SeedState::from_json(meta.at("state"));
}

// A summary of the data, so that --resume refuses another file.
json data_fingerprint(const data::SimsDataset& ds) {
  double label_sum = 0;
  for (const data::SimsSplit* s : {&ds.train, &ds.valid, &ds.test})
    for (float v : s->label(data::Task::M)) label_sum += v;
  return {{"train", ds.train.size},
          {"valid", ds.valid.size},
          {"test", ds.test.size},
          {"dims", {ds.text_dim, ds.audio_dim, ds.vision_dim}},
          {"seq", ds.train.text.shape.size() > 1 ? ds.train.text.shape[1] : 0},
          {"label_sum", label_sum}};
}

}  // namespace

void check_ranks_per_seed(int ranks_per_seed, int processes) {
  if (ranks_per_seed < 0)
    throw InputError(fmt::format("--ranks-per-seed: expected 1 or more (0: all processes), got {}", ranks_per_seed));
  if (ranks_per_seed > 0 && processes % ranks_per_seed != 0)
    throw InputError(fmt::format("--ranks-per-seed {}: the job has {} process{}, not a multiple of {}", ranks_per_seed,
                                 processes, processes == 1 ? "" : "es", ranks_per_seed));
}

void append_to_log(const fs::path& out, const std::string& text) {
  std::ofstream(out / "train.log", std::ios::app) << timestamped_lines(text, std::time(nullptr));
}

RunFolderLock::RunFolderLock(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path file = dir / ".lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError(fmt::format("{}: cannot open the lock file {}", dir.string(), file.string()));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw InputError(fmt::format("{}: another run is using this folder (it holds {}); wait for it to end or use "
                                 "another --out",
                                 dir.string(), file.string()));
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

std::vector<std::string> earlier_run_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* name : {"run.json", "results.json", "train.log", "csv.done", "checkpoints", "seeds", "models"})
    if (fs::exists(dir / name, ec)) found.push_back(fs::is_directory(dir / name, ec) ? std::string(name) + "/" : name);
  return found;
}

void check_run_folder(const TrainOptions& opt) {
  std::error_code ec;
  if (fs::exists(opt.out, ec) && !fs::is_directory(opt.out, ec))
    throw InputError(fmt::format("--out: {} is a file, expected a folder", opt.out.string()));
  if (opt.overwrite) return;
  const std::vector<std::string> found = earlier_run_files(opt.out);
  if (found.empty()) return;
  if (opt.resume && fs::exists(opt.out / "run.json", ec)) return;
  const std::string what = fmt::format("{}", fmt::join(found, ", "));
  if (opt.resume)
    throw InputError(fmt::format("{} holds files of a run that cannot be resumed (no run.json: {}); --overwrite "
                                 "replaces it",
                                 opt.out.string(), what));
  throw InputError(fmt::format("{} already holds a run ({}): --resume continues it, --overwrite replaces it",
                               opt.out.string(), what));
}

std::unique_ptr<RunFolderLock> claim_run_folder(const TrainOptions& opt) {
  const bool root = !opt.group || opt.group->is_root();
  std::unique_ptr<RunFolderLock> lock;
  std::string error;
  if (root) {
    try {
      lock = std::make_unique<RunFolderLock>(opt.out);
    } catch (const InputError& e) {
      error = e.what();
    }
  }
  if (opt.group && opt.group->size() > 1) {
    // Every process learns rank 0's outcome, so that none waits for a run that will not start.
    const std::vector<uint64_t> ok = opt.group->allgather(error.empty() ? 1 : 0, "the lock of --out");
    if (ok[0] == 0 && !root)
      throw InputError(fmt::format("{}: rank 0 could not lock the folder", opt.out.string()));
  }
  if (!error.empty()) throw InputError(error);
  check_run_folder(opt);  // again, now that no other run can start in the folder
  return lock;
}

namespace {

struct SeedContext {
  const data::SimsDataset& ds;
  const models::ModelSpec& spec;
  const json& config;
  const models::TrainSettings& settings;
  const TrainOptions& opt;
  MetricKind kind;
  Logger& log;
};

// What the run's files take at most (bytes), from the model: a checkpoint holds the state_dict
// (parameters and buffers) and Adam's two moments of each parameter; a model file the state_dict.
// While a checkpoint is written, the previous one (last), the best one (when it is another epoch)
// and the new .tmp coexist; each seed leaves a model file; --keep-checkpoints keeps each seed's last
// and best checkpoints.
struct SpaceNeeded {
  uint64_t checkpoint = 0, model_file = 0, total = 0;
};
SpaceNeeded space_needed(const models::Model& model, size_t seeds, bool keep_checkpoints) {
  SpaceNeeded n;
  for (const nn::NamedTensor& e : model.module().state_dict())
    n.model_file += static_cast<uint64_t>(e.tensor.numel()) * dtype_size(e.tensor.dtype());
  uint64_t param_bytes = 0;
  for (const Tensor& p : model.module().parameters())
    param_bytes += static_cast<uint64_t>(p.numel()) * dtype_size(p.dtype());
  n.checkpoint = n.model_file + 2 * param_bytes;
  n.total = 3 * n.checkpoint + seeds * n.model_file + (keep_checkpoints ? 2 * (seeds - 1) * n.checkpoint : 0);
  return n;
}

// What the run's files take (lines for the log), after refusing (InputError) to start when --out's
// file system has less free space than that. Builds the model once to count its parameters.
std::string check_space(const TrainOptions& opt, const models::ModelSpec& spec, const json& config) {
  const SpaceNeeded n = space_needed(*spec.build(config, opt.seeds.at(0), opt.dtype), opt.seeds.size(),
                                     opt.keep_checkpoints);
  std::error_code ec;
  const fs::space_info sp = fs::space(opt.out, ec);
  const std::string free = ec ? "unknown" : format_bytes(sp.available);
  const std::string what = fmt::format("checkpoints of {} (model + 2 Adam moments; up to 3 at once) and {} model "
                                       "file{} of {}",
                                       format_bytes(n.checkpoint), opt.seeds.size(), opt.seeds.size() == 1 ? "" : "s",
                                       format_bytes(n.model_file));
  if (!ec && sp.available < n.total)
    throw InputError(fmt::format("--out: {} has {} free, the run needs up to {}: {}; free some space or use "
                                 "another --out",
                                 opt.out.string(), free, format_bytes(n.total), what));
  std::vector<std::string> words;
  std::istringstream in(fmt::format("up to {} in {} ({} free): {}", format_bytes(n.total), opt.out.string(), free, what));
  for (std::string w; in >> w;) words.push_back(w);
  return fmt::format("{}", fmt::join(wrap_fields("disk:", words), "\n"));
}

// A safe point: nothing is being written. After SIGINT / SIGTERM (on any process of the group) the
// seed stops here; the last checkpoint (epoch `finished`) stays as it was, for --resume.
void stop_if_requested(const SeedContext& c, const std::string& tag, int64_t finished) {
  int sig = stop_signal();
  if (c.opt.group && c.opt.group->size() > 1) {
    std::vector<double> v{static_cast<double>(sig)};
    c.opt.group->allreduce_max(v, "a stop request");
    sig = static_cast<int>(v[0]);
  }
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

SeedResult train_one_seed(const SeedContext& c, uint64_t seed, size_t seed_index) {
  const fs::path dir = c.opt.out / "checkpoints" / fmt::format("seed-{}", seed);
  const fs::path last = dir / "last.safetensors", best = dir / "best.safetensors";
  if (!c.opt.group || c.opt.group->is_root()) fs::create_directories(dir);
  const std::unique_ptr<models::Model> built = c.spec.build(c.config, seed, c.opt.dtype);
  models::Model& model = *built;
  // With several processes: rank 0's model, synced BatchNorm, buckets; a sharded fusion head keeps this
  // rank's columns from here on, so the optimizer and the checkpoint see the shard.
  DataParallel dp(c.opt.group, model, c.opt.dist_mode);
  const std::unique_ptr<optim::Optimizer> optimizer = model.make_optimizer();
  SeedState s;
  const std::string tag = fmt::format("seed {} ({}/{})", seed, seed_index + 1, c.opt.seeds.size());
  if (c.opt.resume && fs::exists(last)) {
    s = load_checkpoint(last, model, *optimizer, seed, dp);
    // Killed between writing an improving epoch's checkpoint and linking it as the best: link now.
    if ((!c.opt.group || c.opt.group->is_root()) && s.best_epoch == s.epoch && checkpoint_epoch(best) != s.epoch)
      link_best(last, best);
    c.log.line(fmt::format("{}: resumed after epoch {} (best epoch {}, valid loss {:.4f})", tag, s.epoch,
                           s.best_epoch, s.best_valid));
  }
  if (c.opt.resume && (!c.opt.group || c.opt.group->is_root()))
    rewrite_epoch_lines(c.opt.out / "epochs.jsonl", seed, s.history);
  dp.check_same(s.step, "training steps taken");
  const int64_t batch_size = c.settings.batch_size;
  const data::BatchSampler sampler(c.ds.train.size, batch_size, seed, /*shuffle=*/true);
  while (!should_stop(s, c.settings.early_stop, c.opt.max_epochs)) {
    const auto t0 = Clock::now();
    const int64_t epoch = s.epoch + 1;
    model.module().train();
    const auto batches = sampler.epoch_batches(epoch);
    Progress progress{.epoch = epoch, .total = static_cast<int64_t>(batches.size()), .max_epochs = c.opt.max_epochs};
    double train_loss = 0;
    int64_t used = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      // BatchNorm cannot train on one sample (PyTorch refuses too); such a last batch is skipped.
      if (batches[i].size() < 2) continue;
      int64_t first_row = 0;  // this process's share of the batch (all of it on one process)
      const std::vector<int64_t> rows = dp.shard(batches[i], &first_row);
      const auto global_rows = static_cast<int64_t>(batches[i].size()), local_rows = static_cast<int64_t>(rows.size());
      const data::Batch b = data::make_batch(c.ds.train, rows, model.dtype());
      model.set_dropout_step(s.step, first_row);
      optimizer->zero_grad();
      const models::Forward f = model.forward(b);
      dp.backward(f.loss, local_rows, global_rows);
      optimizer->step();
      ++s.step;
      const double step_loss = dp.global_loss(f.loss.item(), local_rows, global_rows);
      check_finite_loss(step_loss, "training loss", fmt::format("{} epoch {} step {}", tag, epoch, i + 1), f.outputs,
                        model.task_names());
      train_loss += step_loss;
      ++used;
      progress.done = static_cast<int64_t>(i + 1);
      progress.sec_per_step = seconds_since(t0) / static_cast<double>(i + 1);
      c.log.bar(progress);
      stop_if_requested(c, tag, s.epoch);
    }
    train_loss /= static_cast<double>(std::max<int64_t>(used, 1));
    progress.phase = Progress::Phase::validating;
    c.log.bar(progress);
    SplitEval valid = evaluate_split(model, c.ds.valid, c.kind, batch_size);
    valid.loss = dp.agree(valid.loss);  // every process takes rank 0's early-stopping decision
    check_finite_loss(valid.loss, "valid loss", fmt::format("{} epoch {} (valid)", tag, epoch), {}, {});
    stop_if_requested(c, tag, s.epoch);  // before the checkpoint is written
    dp.check_replicas(fmt::format("after epoch {}", epoch));
    s.epoch = epoch;
    const bool better = improves(valid.loss, s.best_valid);
    if (better) {
      s.best_valid = valid.loss;
      s.best_epoch = epoch;
    }
    s.history.push_back({epoch, train_loss, valid.loss, seconds_since(t0), valid.metrics});
    progress.phase = Progress::Phase::saving;
    c.log.bar(progress);
    if (dp.writes_model_files()) save_checkpoint(last, model, *optimizer, s, seed, dp);
    if (dp.is_root()) {
      if (better) link_best(last, best);  // MMSA saves the best model at its epoch
      append_epoch_line(c.opt.out / "epochs.jsonl", epoch_line(seed, s.history.back(), s.best_epoch, s.best_valid));
    }
    // Two lines or more within 80 columns: the losses and time, then the valid metrics, indented.
    c.log.line(fmt::format("{} epoch {}: train_loss {:.4f} valid_loss {:.4f}{} {:.1f} s", tag, epoch, train_loss,
                           valid.loss, better ? " *" : "  ", s.history.back().seconds));
    c.log.line(metrics_lines("    valid", valid.metrics));
  }
  // The best model (MMSA: saved at its epoch, reloaded for the test split). A run killed after
  // moving it to DIR/models finds it there.
  const fs::path final_model = c.opt.out / "models" / fmt::format("{}-{}.safetensors", model.name(), seed);
  dp.barrier("the best model's file");  // rank 0 has written it
  {
    const bool from_checkpoint = fs::exists(best);
    const nn::SafetensorsIndex idx = nn::read_safetensors_index(from_checkpoint ? best.string() : final_model.string());
    const std::string prefix = from_checkpoint ? "model." : "";
    nn::load_module(idx, model.module(), prefix, true, dp.file_shards(entry_names(idx), prefix));
  }
  const SplitEval test = evaluate_split(model, c.ds.test, c.kind, batch_size);
  SeedResult r;
  r.seed = seed;
  r.epochs = s.history;
  r.best_epoch = s.best_epoch;
  r.test = test.metrics;
  r.test.set("Loss", test.loss);
  // The seed is done: its best model stays, its result is recorded, its checkpoint can go.
  dp.barrier("the test evaluation");  // every process has read the best model
  if (dp.is_root()) fs::create_directories(c.opt.out / "models");
  dp.barrier("the models folder");
  if (fs::exists(best) && dp.writes_model_files()) {  // the model alone (558 MB), without the Adam state
    std::vector<std::string> names;
    for (const nn::NamedTensor& e : model.module().state_dict()) names.push_back(e.name);
    save_model_file(final_model, model, json{{"seed", seed}, {"epoch", s.best_epoch}}.dump(), dp.file_shards(names, ""),
                    dp.write_group());
  }
  dp.barrier("the model file");
  if (!dp.is_root()) return r;
  atomic_write_text(c.opt.out / "seeds" / fmt::format("{}.json", seed), seed_to_json(r).dump(1));
  if (!c.opt.keep_checkpoints) fs::remove_all(dir);
  c.log.line(metrics_lines(fmt::format("{}: best epoch {} of {}, test", tag, r.best_epoch, s.epoch), r.test));
  return r;
}

// opt.jobs processes, process j training the seeds i with i % jobs == j that have no seeds/<seed>.json.
void train_seeds_in_jobs(const SeedContext& c) {
  const int jobs = std::min<int>(c.opt.jobs, static_cast<int>(c.opt.seeds.size()));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<pid_t> children;
  for (int j = 0; j < jobs; ++j) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("--jobs: fork failed");
    if (pid > 0) {
      children.push_back(pid);
      continue;
    }
    int status = 0;
    try {
      ThreadLimit limit(static_cast<int>(std::max(1u, cores / static_cast<unsigned>(jobs))));
      openblas_set_num_threads(1);
      for (size_t i = static_cast<size_t>(j); i < c.opt.seeds.size(); i += static_cast<size_t>(jobs))
        if (!fs::exists(c.opt.out / "seeds" / fmt::format("{}.json", c.opt.seeds[i])))
          train_one_seed(c, c.opt.seeds[i], i);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mtfn train: job %d: %s\n", j + 1, e.what());
      status = 1;
    }
    std::fflush(nullptr);
    _exit(status);
  }
  int failed = 0;
  for (pid_t pid : children) {
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  if (failed)
    throw std::runtime_error(fmt::format("--jobs: {} of {} seed jobs failed (see above); --resume continues the run",
                                         failed, jobs));
}

// opt.group split into groups of opt.ranks_per_seed processes; group g trains the seeds i with
// i % groups == g that have no seeds/<seed>.json, each seed data-parallel over its group's processes.
// Each group's first process writes that seed's files (checkpoints, model, seeds/<seed>.json) and its
// lines to train.log; the seeds' results are read back by the caller as with --jobs.
void train_seeds_in_groups(const SeedContext& c) {
  distributed::ProcessGroup& world = *c.opt.group;
  const int k = c.opt.ranks_per_seed, groups = world.size() / k, g = world.group_index(k);
  const std::unique_ptr<distributed::ProcessGroup> mine = world.split(k);
  TrainOptions opt = c.opt;
  opt.group = mine.get();
  world.barrier("the log file");  // rank 0 has made train.log: the groups' first processes append to it
  const bool writes = mine->is_root() && !world.is_root();
  Logger group_log(writes ? opt.out / "train.log" : fs::path("/dev/null"), true, nullptr, false);
  const SeedContext gc{c.ds, c.spec, c.config, c.settings, opt, c.kind, world.is_root() ? c.log : group_log};
  if (world.is_root())
    c.log.line(fmt::format("{} groups of {} processes: the seeds train {} at a time", groups, k, groups));
  for (size_t i = static_cast<size_t>(g); i < opt.seeds.size(); i += static_cast<size_t>(groups))
    if (!fs::exists(opt.out / "seeds" / fmt::format("{}.json", opt.seeds[i]))) train_one_seed(gc, opt.seeds[i], i);
  world.barrier_unbounded("the seeds of every group");  // another group's seed may take hours
}

}  // namespace

RunResults train_seeds(const data::SimsDataset& ds, const models::ModelSpec& spec, const json& config,
                       const TrainOptions& opt) {
  spec.check(config, "config");
  check_ranks_per_seed(opt.ranks_per_seed, opt.group ? opt.group->size() : 1);
  const models::TrainSettings settings = models::train_settings(config);
  check_run_folder(opt);
  fs::create_directories(opt.out);
  // A run made before models were named (no "model" key) is an MTFN run.
  json identity = {{"config", config}, {"data", data_fingerprint(ds)}, {"seeds", opt.seeds}, {"max_epochs", opt.max_epochs}};
  if (spec.name != "mtfn") identity["model"] = spec.name;  // runs made before models and datasets were named:
  if (opt.dataset != "sims") identity["dataset"] = opt.dataset;  // MTFN on sims
  if (opt.dtype != DType::F32) identity["dtype"] = dtype_name(opt.dtype);  // and float32
  const fs::path run_file = opt.out / "run.json";
  const bool root = !opt.group || opt.group->is_root();  // only rank 0 writes files
  const bool found_run = opt.resume && fs::exists(run_file);
  // Before anything is written: a file system without room for the checkpoints is refused.
  std::string space, no_space;
  if (root) {
    try {
      space = check_space(opt, spec, config);
    } catch (const InputError& e) {
      no_space = e.what();
    }
  }
  if (opt.group && opt.group->size() > 1) {  // every process learns rank 0's outcome, as for the lock
    const std::vector<uint64_t> ok = opt.group->allgather(no_space.empty() ? 1 : 0, "the disk space of --out");
    if (ok[0] == 0 && !root) throw InputError(fmt::format("{}: rank 0 found too little free space", opt.out.string()));
  }
  if (!no_space.empty()) throw InputError(no_space);
  if (opt.group) opt.group->barrier("the start of the run");  // all have looked before rank 0 writes
  bool resuming = false;
  if (found_run) {
    std::ifstream in(run_file);
    json before;
    try {
      before = json::parse(in);
    } catch (const json::exception&) {
      throw InputError(fmt::format("{}: unreadable; cannot resume", run_file.string()));
    }
    // The identity only: the manifest (host, times, command) may differ for the same run.
    for (const char* k : {"model", "dataset", "dtype", "config", "data", "seeds", "max_epochs"})
      if (before.value(k, json()) != identity.value(k, json()))
        throw InputError(fmt::format("--resume: {} was trained with another {} (see {}); use another --out",
                                          opt.out.string(), k, run_file.string()));
    resuming = true;
    // This invocation's manifest; those of the earlier ones (the run's interrupted parts) are kept.
    json earlier = before.value("earlier_manifests", json::array());
    if (before.contains("manifest")) earlier.push_back(before["manifest"]);
    if (!earlier.empty()) identity["earlier_manifests"] = earlier;
    identity["manifest"] = opt.manifest;
    if (root) atomic_write_text(run_file, identity.dump(1));
  } else if (root) {
    // A new run in this folder: what an earlier run left there is not ours to continue.
    fs::remove_all(opt.out / "checkpoints");
    fs::remove_all(opt.out / "seeds");
    fs::remove(opt.out / "csv.done");
    fs::remove(opt.out / "epochs.jsonl");
    fs::remove(opt.out / "report.html");  // the page of the earlier run (report/, made after a run ends)
    fs::remove_all(opt.out / "report");
    identity["manifest"] = opt.manifest;
    atomic_write_text(run_file, identity.dump(1));
  }
  Logger log(root ? opt.out / "train.log" : fs::path("/dev/null"), resuming, root ? opt.console : nullptr,
             opt.progress);
  for (const std::string& l : opt.printed_before) log.log_only(l);  // what the command printed first
  if (root) log.line(space);
  if (opt.resume && !resuming) log.line(fmt::format("--resume: nothing to resume in {}; starting", opt.out.string()));
  const MetricKind kind = metric_kind_of_dataset(opt.dataset);
  RunResults results;
  results.data = opt.data_label;
  results.dataset = opt.dataset;
  results.model = spec.name;
  results.mode = settings.train_mode;
  results.config = config;
  results.baseline = baseline_metrics(ds, ds.test, settings, kind);
  SeedContext ctx{ds, spec, config, settings, opt, kind, log};
  const bool in_groups = opt.group && opt.ranks_per_seed > 0 && opt.ranks_per_seed < opt.group->size();
  const bool in_jobs = (opt.jobs > 1 && !(opt.group && opt.group->size() > 1)) || in_groups;
  if (in_groups) train_seeds_in_groups(ctx);  // each seed leaves seeds/<seed>.json, read below
  else if (in_jobs) train_seeds_in_jobs(ctx);
  for (size_t i = 0; i < opt.seeds.size(); ++i) {
    const uint64_t seed = opt.seeds[i];
    const fs::path done = opt.out / "seeds" / fmt::format("{}.json", seed);
    if ((resuming || in_jobs) && fs::exists(done)) {
      std::ifstream in(done);
      results.seeds.push_back(seed_from_json(json::parse(in)));
      if (root) rewrite_epoch_lines(opt.out / "epochs.jsonl", seed, results.seeds.back().epochs);
      log.line(metrics_lines(fmt::format("seed {} ({}/{}): finished earlier, test", seed, i + 1, opt.seeds.size()),
                             results.seeds.back().test));
      if (!opt.keep_checkpoints && root) fs::remove_all(opt.out / "checkpoints" / fmt::format("seed-{}", seed));
      continue;
    }
    results.seeds.push_back(train_one_seed(ctx, seed, i));
  }
  if (!root) return results;
  std::error_code ec;
  fs::remove(opt.out / "checkpoints", ec);  // only if empty: every seed's checkpoints went with it
  identity["manifest"]["end_time"] = iso8601_local(std::time(nullptr));
  atomic_write_text(run_file, identity.dump(1));
  json results_file = results_to_json(results);
  results_file["manifest"] = identity["manifest"];
  atomic_write_text(opt.out / "results.json", results_file.dump(1) + "\n");
  if (!fs::exists(opt.out / "csv.done")) {  // a resumed run that had already finished adds no second row
    results.csv = append_mmsa_csv(opt.out, results);
    const fs::path usual = opt.out / "normal" / (results.dataset + ".csv");
    if (results.csv != usual)
      log.line(fmt::format("{} has other columns (a run in another mode); kept as it is, this run's row is in {}",
                           usual.string(), results.csv.string()));
    atomic_write_text(opt.out / "csv.done", "");
  }
  return results;
}

}  // namespace mtfn::training
