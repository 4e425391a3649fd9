// What a training run is asked to do beyond the model and its configuration: the run folder, the
// seeds, resume or overwrite, the processes, the dtype. Filled by `mtfn train` (cli/train_command.cpp),
// `mtfn tune` (one per trial) and library callers; read by trainer.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "distributed/process_group.h"
#include "training/data_parallel.h"

namespace mtfn::training {

struct TrainOptions {
  std::filesystem::path out;     // DIR: logs, checkpoints, results
  std::string data_label;        // what results.json calls the data
  std::string dataset = "sims";  // MMSA's name: picks the metrics and names the results CSV
  std::vector<uint64_t> seeds{1111, 1112, 1113, 1114, 1115};
  int64_t max_epochs = 0;        // 0: until early stopping
  bool resume = false;
  bool overwrite = false;        // replace a run already in `out` (without it, train refuses such a folder)
  bool progress = false;         // a progress bar within each epoch (for a terminal)
  bool keep_checkpoints = false; // keep each seed's last checkpoint (model + optimizer) after it ends
  std::ostream* console = nullptr;  // where lines go besides DIR/train.log (nullptr: only the log)
  std::vector<std::string> printed_before;  // what the command printed before the run: train.log starts with it
  // How the run was made (command, version, data file's SHA-256, host, ...: cli/manifest.h): kept in
  // run.json and results.json under "manifest", never compared by --resume; "end_time" is added here.
  nlohmann::ordered_json manifest = nlohmann::ordered_json::object();
  // The processes that train together (data-parallel, training/data_parallel.h); nullptr: this process
  // alone (group_of gives a group of one).
  distributed::ProcessGroup* group = nullptr;
  DistMode dist_mode = DistMode::sharded;      // with several processes: a sharded fusion head, or plain
  // With a group: how many of its processes train one seed; the group is split into groups of that many
  // which train different seeds at once (seed i by group i mod groups). 0: all of them train each seed.
  int ranks_per_seed = 0;
  // Seeds trained at once, one process each (one process: the seeds one after the other). oneTBB's
  // threads are split between them and OpenBLAS runs on one thread in each, so the results equal a
  // one-process run with OpenBLAS on one thread (`train --blas-threads 1`).
  int jobs = 1;
  // The dtype of the parameters, the batches and every computation. float64 is for checking that two
  // ways of training are the same computation (tests/distributed/mpi/mtfn_data_parallel.sh: sharded vs
  // one process within 1e-10, where float32's rounding would hide a small error); a float64 run is a run of its
  // own (--resume refuses the other dtype) and its model files hold float64 tensors.
  DType dtype = DType::F32;
};

// `group`, or a group of this process alone (it never touches MPI): code given an optional group never
// asks whether there is one.
inline distributed::ProcessGroup& group_or_alone(distributed::ProcessGroup* group) {
  static distributed::ProcessGroup alone{distributed::ProcessGroup::Alone{}};
  return group ? *group : alone;
}
inline distributed::ProcessGroup& group_of(const TrainOptions& opt) { return group_or_alone(opt.group); }

}  // namespace mtfn::training
