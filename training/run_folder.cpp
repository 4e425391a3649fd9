#include "training/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/errors.h"
#include "training/console_text.h"
#include "training/results.h"
#include "training/root_decides.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

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
  std::unique_ptr<RunFolderLock> lock;
  root_decides(group_of(opt), "the lock of --out", fmt::format("{}: rank 0 could not lock the folder", opt.out.string()),
               [&] { lock = std::make_unique<RunFolderLock>(opt.out); });
  check_run_folder(opt);  // again, now that no other run can start in the folder
  return lock;
}

namespace {

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

// check_space on rank 0: builds the model once to count its parameters.
std::string space_of_run(const TrainOptions& opt, const models::ModelSpec& spec, const json& config) {
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

json read_run_file(const fs::path& run_file) {
  std::ifstream in(run_file);
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    throw InputError(fmt::format("{}: unreadable; cannot resume", run_file.string()));
  }
}

}  // namespace

std::string check_space(const TrainOptions& opt, const models::ModelSpec& spec, const json& config) {
  std::string space;
  root_decides(group_of(opt), "the disk space of --out",
               fmt::format("{}: rank 0 found too little free space", opt.out.string()),
               [&] { space = space_of_run(opt, spec, config); });
  return space;
}

RunFile open_run(const data::SimsDataset& ds, const models::ModelSpec& spec, const json& config,
                 const TrainOptions& opt, bool found) {
  const bool root = group_of(opt).is_root();  // only rank 0 writes files
  RunFile run;
  // Runs made before models, datasets and dtypes were named (no such key) are MTFN on sims in float32.
  run.identity = {{"config", config}, {"data", data_fingerprint(ds)}, {"seeds", opt.seeds}, {"max_epochs", opt.max_epochs}};
  if (spec.name != "mtfn") run.identity["model"] = spec.name;
  if (opt.dataset != "sims") run.identity["dataset"] = opt.dataset;
  if (opt.dtype != DType::F32) run.identity["dtype"] = dtype_name(opt.dtype);
  const fs::path run_file = opt.out / "run.json";
  if (found) {
    const json before = read_run_file(run_file);
    for (const char* k : {"model", "dataset", "dtype", "config", "data", "seeds", "max_epochs"})
      if (before.value(k, json()) != run.identity.value(k, json()))
        throw InputError(fmt::format("--resume: {} was trained with another {} (see {}); use another --out",
                                     opt.out.string(), k, run_file.string()));
    run.resuming = true;
    // This invocation's manifest; those of the earlier ones (the run's interrupted parts) are kept.
    json earlier = before.value("earlier_manifests", json::array());
    if (before.contains("manifest")) earlier.push_back(before["manifest"]);
    if (!earlier.empty()) run.identity["earlier_manifests"] = earlier;
  } else if (root) {
    // A new run in this folder: what an earlier run left there is not ours to continue.
    fs::remove_all(opt.out / "checkpoints");
    fs::remove_all(opt.out / "seeds");
    fs::remove(opt.out / "csv.done");
    fs::remove(opt.out / "epochs.jsonl");
    fs::remove(opt.out / "report.html");  // the page of the earlier run (report/, made after a run ends)
    fs::remove_all(opt.out / "report");
  }
  run.identity["manifest"] = opt.manifest;
  if (root) atomic_write_text(run_file, run.identity.dump(1));
  return run;
}

void close_run(RunFile& run, const TrainOptions& opt) {
  run.identity["manifest"]["end_time"] = iso8601_local(std::time(nullptr));
  if (group_of(opt).is_root()) atomic_write_text(opt.out / "run.json", run.identity.dump(1));
}

}  // namespace mtfn::training
