// ProcessGroup: the N processes of a data-parallel job (MPI ranks), and the few collectives
// training needs: sum all-reduce, broadcast, all-gather of a word, barrier. Every blocking wait
// is watched: if another rank dies or hangs, this rank aborts the whole job with a clear message
// instead of waiting forever. Not here: gradients (distributed/buckets.h), BatchNorm (distributed/sync_batch_norm.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtfn::distributed {

// True if this build has MPI (CMake option MTFN_WITH_MPI).
bool mpi_compiled();

// How many processes the launcher (mpirun, srun, ...) says this job has, from its environment
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE, SLURM_NTASKS with PMI); 1 if not launched by one.
int launcher_world_size();

// Seconds a blocking collective may wait before the job is declared dead: $MTFN_DIST_TIMEOUT,
// else 600 (a step of the full model takes about a second; an epoch's evaluation a few).
double default_timeout_seconds();

// A started all-reduce (distributed/buckets.h runs several at once). Move-only.
class PendingReduce {
 public:
  PendingReduce();
  PendingReduce(PendingReduce&&) noexcept;
  PendingReduce& operator=(PendingReduce&&) noexcept;
  ~PendingReduce();
  bool active() const { return impl_ != nullptr; }
  bool test();  // true once complete (then the handle is empty)

  struct Impl;
  explicit PendingReduce(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Bytes this rank moved, counted at the MPI calls: what a bandwidth-optimal (ring) algorithm sends and
// receives for each collective on this rank (an all-reduce of n bytes over N ranks: 2 n (N-1)/N each way;
// an all-gather: the other ranks' parts in, all but the next rank's part out; a reduce-scatter the
// converse). The MPI library's own algorithm may move a little more; the wire adds headers.
struct Traffic {
  double sent = 0, received = 0;
  Traffic operator-(const Traffic& o) const { return {sent - o.sent, received - o.received}; }
};

class ProcessGroup {
 public:
  // Joins the job. Launched by mpirun / srun with N > 1 processes: initialises MPI (thread level
  // MULTIPLE, so the gradient thread of distributed/buckets.h can communicate while the main thread
  // computes); without a launcher: a group of one that never touches MPI. A build without MPI
  // launched as N > 1 processes throws Error saying MPI is unavailable (each process would
  // otherwise silently train alone). `timeout_seconds` bounds every wait (see above).
  explicit ProcessGroup(double timeout_seconds = default_timeout_seconds());
  // This process alone, whatever launched it; never touches MPI (a seed job of --jobs, a library
  // caller training in one process). Its collectives return this process's own values.
  struct Alone {};
  explicit ProcessGroup(Alone);
  ~ProcessGroup();  // MPI_Finalize after a barrier
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }  // rank 0 writes logs, checkpoints and results
  bool uses_mpi() const { return uses_mpi_; }
  double timeout_seconds() const { return timeout_s_; }
  // "rank 1 of 4 (host node07)": for messages.
  std::string where() const;

  // ---- blocking collectives on the main channel. Every rank must call the same ones in the same
  // order; `what` names the call in the timeout message ("BatchNorm statistics", ...).
  void allreduce_sum(std::span<double> values, std::string_view what);  // in place
  void allreduce_sum(std::span<float> values, std::string_view what);   // in place
  void allreduce_max(std::span<double> values, std::string_view what);  // in place
  void broadcast(void* data, int64_t bytes, int root, std::string_view what);
  std::vector<uint64_t> allgather(uint64_t value, std::string_view what);  // [rank] = value
  void barrier(std::string_view what);
  // A barrier without the timeout, for a wait whose length is the other ranks' work (groups of
  // --ranks-per-seed waiting for each other's seeds): a rank that dies still ends the job (the launcher
  // notices), one that hangs without dying is not detected here.
  void barrier_unbounded(std::string_view what);
  // Rank r's `mine` (counts[r] values) into out[offset_r, offset_r + counts[r]), offsets in rank order.
  void allgather(std::span<const float> mine, std::span<float> out, const std::vector<int64_t>& counts,
                 std::string_view what);
  void allgather(std::span<const double> mine, std::span<double> out, const std::vector<int64_t>& counts,
                 std::string_view what);
  // out (counts[rank] values) = the sum over ranks of their `all`'s part [offset_rank, offset_rank + counts[rank]).
  void reduce_scatter_sum(std::span<const float> all, std::span<float> out, const std::vector<int64_t>& counts,
                          std::string_view what);
  void reduce_scatter_sum(std::span<const double> all, std::span<double> out, const std::vector<int64_t>& counts,
                          std::string_view what);

  // Groups of `size` consecutive ranks (the last may be smaller if size does not divide N): the group
  // this rank belongs to, with its own communicators. Every rank must call it. A group of one touches no MPI.
  std::unique_ptr<ProcessGroup> split(int size) const;
  int group_index(int size) const { return rank_ / size; }  // which group of `split(size)` this rank joins

  // This rank's traffic since the group was made (both channels).
  Traffic traffic() const;

  // ---- the gradient channel: a separate communicator, so that bucket all-reduces (started from
  // distributed/buckets.h's thread) never interleave with the main channel's collectives. In place, sum.
  PendingReduce start_gradient_reduce(std::span<float> data);
  PendingReduce start_gradient_reduce(std::span<double> data);
  // Waits for `r`, aborting the job after the timeout; `what` names it in the message.
  void wait(PendingReduce& r, std::string_view what);

  // Ends every process of the job with exit status `code` after printing `message` (prefixed with
  // where()). With one process: prints and exits.
  [[noreturn]] void abort(std::string_view message, int code = 1) const;

  struct Impl;

 private:
  // Polls `done` until true or until the timeout, then aborts naming `what`.
  template <class Done>
  void watched_wait(Done done, std::string_view what, bool bounded = true);

  template <class S>  // float or double: the two overloads of allgather and reduce_scatter_sum
  void allgather_of(std::span<const S> mine, std::span<S> out, const std::vector<int64_t>& counts, std::string_view what);
  template <class S>
  void reduce_scatter_sum_of(std::span<const S> all, std::span<S> out, const std::vector<int64_t>& counts,
                             std::string_view what);
  ProcessGroup(const ProcessGroup& parent, int size);  // split()
  void count_allreduce(double bytes);                   // Traffic of one all-reduce of `bytes`

  int rank_ = 0, size_ = 1;
  bool uses_mpi_ = false;
  bool owns_mpi_ = false;  // the world group initialises and finalises MPI; split groups only free their communicators
  mutable std::atomic<double> sent_{0}, received_{0};  // Traffic (the gradient thread adds too)
  double timeout_s_;
  std::string host_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtfn::distributed
