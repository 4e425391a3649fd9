#include "training/train_job.h"

#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/errors.h"
#include "data/synth.h"
#include "models/mmsa_config.h"
#include "training/run_config.h"
#include "training/run_folder.h"
#include "training/train_log.h"
#include "training/trainer.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;

namespace {

// The data: the file, or a synthetic set in the dataset's layout (CH-SIMS's by default); sets the label.
data::SimsDataset load_job_data(TrainJob& job) {
  if (!job.data.empty()) {
    job.run.data_label = job.data;
    return read_input([&] { return data::load_sims_dataset(job.data); });
  }
  const std::string layout = job.dataset.empty() ? "sims" : job.dataset;
  data::SimsDataset ds =
      data::make_synth_dataset(read_input([&] { return data::SynthShape::of_dataset(layout, job.synth_scale); }), 1);
  const std::string shaped = layout == "sims" ? "CH-SIMS-shaped" : layout + "-shaped";
  const std::string flag = layout == "sims" ? "" : " --dataset " + layout;
  job.run.data_label = fmt::format("synthetic {} data (mtfn synth{} --scale {} --seed 1): train {} / valid {} / test {}",
                                   shaped, flag, job.synth_scale, ds.train.size, ds.valid.size, ds.test.size);
  return ds;
}

// The lines before training: warnings, what was inferred, what will run on how many processes.
void say_start(TrainJob& job, const RunConfig& run, const models::TrainSettings& settings, const JobConsole& console) {
  TrainOptions& t = job.run;
  distributed::ProcessGroup& group = group_of(t);
  if (!group.is_root()) return;
  auto info = [&](const std::string& line) {
    console.info(line);
    t.printed_before.push_back(line);
  };
  for (const std::string& w : run.warnings) {
    console.warning("mtfn train: warning: " + w);
    t.printed_before.push_back("mtfn train: warning: " + w);
  }
  if (!run.inferred.empty()) info("mtfn train: " + run.inferred);
  if (t.dtype == DType::F64) info("mtfn train: float64 parameters and computations (--dtype)");
  info(fmt::format("mtfn train: {} on {} ({}), {} ({} mode), {} seed{} ({}), batch {}, lr {}, out {}", run.spec->name,
                   run.dataset, run.spec->title, t.data_label, models::mode_name(settings.train_mode), t.seeds.size(),
                   t.seeds.size() == 1 ? "" : "s", fmt::join(t.seeds, ","), settings.batch_size,
                   settings.learning_rate, t.out.string()));
  const int per_seed = t.ranks_per_seed > 0 ? std::min(t.ranks_per_seed, group.size()) : group.size();
  if (group.size() > 1 && per_seed < group.size())
    info(fmt::format("mtfn train: {} processes in {} groups of {}, each group training its own seeds", group.size(),
                     group.size() / per_seed, per_seed));
  const bool sharded_head = t.dist_mode == DistMode::sharded && run.spec->fusion_head;
  if (per_seed > 1)
    info(fmt::format("mtfn train: {} over {} processes, each taking 1/{} of every batch{}",
                     sharded_head ? "tensor-parallel fusion head" : "data-parallel", per_seed, per_seed,
                     sharded_head ? fmt::format(" and 1/{} of the fusion head's weight", per_seed) : ""));
  for (const std::string& line : job.notes) info(line);
}

}  // namespace

RunResults run_train_job(TrainJob job, const JobConsole& console, const std::function<json(const std::string&)>& manifest) {
  TrainOptions& t = job.run;
  distributed::ProcessGroup& group = group_of(t);
  if (group.size() > 1 && t.jobs > 1)
    throw InputError("--jobs: under mpirun / srun the ranks train each seed together; give --jobs 1");
  check_run_folder(t);  // before reading the data: a folder holding a run is refused at once
  const data::SimsDataset ds = load_job_data(job);
  // MMSA's entry for the model on the dataset (named, or inferred from the data), the config file on top.
  RunConfig run = resolve_run(job.model, job.dataset.empty() && job.data.empty() ? "sims" : job.dataset, job.config, ds);
  json& cfg = run.config;
  if (job.mode) cfg["train_mode"] = models::mode_name(*job.mode);
  if (job.batch_size) cfg["batch_size"] = *job.batch_size;
  run.spec->check(cfg, job.config.empty() ? "config" : job.config);
  const models::TrainSettings settings = models::train_settings(cfg);
  t.dataset = run.dataset;
  // One run per folder at a time, held until the job ends (rank 0 holds it for the group).
  const std::unique_ptr<RunFolderLock> lock = claim_run_folder(t);
  say_start(job, run, settings, console);
  if (group.is_root()) t.manifest = manifest(t.data_label);
  try {
    return train_seeds(ds, *run.spec, cfg, t);
  } catch (const std::exception& e) {  // the one line the caller prints goes to the run's log too
    if (group.is_root() && std::filesystem::exists(t.out / "train.log"))
      append_to_log(t.out, std::string("mtfn train: ") + e.what());
    // With several processes the group must end all of them, with this rank's reason and exit status.
    if (group.size() > 1) group.abort(std::string("mtfn train: ") + e.what(), dynamic_cast<const InputError*>(&e) ? 2 : 1);
    throw;
  }
}

}  // namespace mtfn::training
