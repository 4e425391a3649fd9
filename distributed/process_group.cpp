// ProcessGroup on MPI (when built with MTFN_WITH_MPI) or as a group of one (always possible).
// Every wait is MPI_Test in a loop with a deadline, so a dead or stuck peer turns into an abort
// with a message naming the collective, never into a silent hang. See docs/distributed.md.
#include "distributed/process_group.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include <fmt/format.h>

#include "core/tensor.h"

#if MTFN_WITH_MPI
#include <mpi.h>
#endif

namespace mtfn::distributed {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}
int env_int(const char* name, int fallback) {
  const char* v = env(name);
  return v ? std::atoi(v) : fallback;
}

// What the launcher told us: was this process started as one rank of an MPI job, and how many.
struct LauncherInfo {
  bool mpi_launched = false;  // an MPI launcher's wiring is present (PMI / PMIx / ORTE)
  int size = 1;               // 0: launched, size unknown until MPI_Init
  int slurm_tasks = 1;        // srun's task count for this step (even without MPI wiring)
};

LauncherInfo launcher_info() {
  LauncherInfo info;
  info.slurm_tasks = env_int("SLURM_STEP_NUM_TASKS", 1);
  if (env("OMPI_COMM_WORLD_SIZE")) {
    info = {true, env_int("OMPI_COMM_WORLD_SIZE", 1), info.slurm_tasks};
  } else if (env("PMI_SIZE")) {
    info = {true, env_int("PMI_SIZE", 1), info.slurm_tasks};
  } else if (env("PMIX_RANK")) {
    info = {true, info.slurm_tasks > 1 ? info.slurm_tasks : 0, info.slurm_tasks};
  }
  return info;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

}  // namespace

bool mpi_compiled() { return MTFN_WITH_MPI != 0; }

int launcher_world_size() {
  const LauncherInfo info = launcher_info();
  if (info.mpi_launched) return info.size > 0 ? info.size : 2;
  return info.slurm_tasks;
}

double default_timeout_seconds() {
  const char* v = env("MTFN_DIST_TIMEOUT");
  if (!v) return 600.0;
  const double s = std::atof(v);
  if (!(s > 0)) throw Error(fmt::format("MTFN_DIST_TIMEOUT={}: expected a positive number of seconds", v));
  return s;
}

// ---- requests

#if MTFN_WITH_MPI
struct PendingReduce::Impl {
  MPI_Request request = MPI_REQUEST_NULL;
};
struct ProcessGroup::Impl {
  MPI_Comm main = MPI_COMM_NULL;   // blocking collectives of the main thread
  MPI_Comm grads = MPI_COMM_NULL;  // gradient buckets, from distributed/buckets.h's thread
};
#else
struct PendingReduce::Impl {};
struct ProcessGroup::Impl {};
#endif

PendingReduce::PendingReduce(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PendingReduce::PendingReduce() = default;
PendingReduce::PendingReduce(PendingReduce&&) noexcept = default;
PendingReduce& PendingReduce::operator=(PendingReduce&&) noexcept = default;
PendingReduce::~PendingReduce() = default;

bool PendingReduce::test() {
  if (!impl_) return true;
#if MTFN_WITH_MPI
  int done = 0;
  MPI_Test(&impl_->request, &done, MPI_STATUS_IGNORE);
  if (!done) return false;
#endif
  impl_.reset();
  return true;
}

// ---- the group

ProcessGroup::ProcessGroup(double timeout_seconds) : timeout_s_(timeout_seconds), host_(host_name()) {
  const LauncherInfo info = launcher_info();
  if (!info.mpi_launched) {
    if (info.slurm_tasks > 1)
      throw Error(fmt::format(
          "srun started {} tasks but none has MPI wiring (no PMI/PMIx environment): each would train alone. "
          "Launch with `srun --mpi=pmix ...` (or pmi2), or with mpirun",
          info.slurm_tasks));
    return;  // a group of one, no MPI
  }
#if MTFN_WITH_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  uses_mpi_ = owns_mpi_ = true;
  impl_ = std::make_unique<Impl>();
  MPI_Comm_dup(MPI_COMM_WORLD, &impl_->main);
  MPI_Comm_dup(MPI_COMM_WORLD, &impl_->grads);
  MPI_Comm_rank(impl_->main, &rank_);
  MPI_Comm_size(impl_->main, &size_);
  if (provided < MPI_THREAD_MULTIPLE)
    abort("this MPI library does not provide MPI_THREAD_MULTIPLE (needed to all-reduce gradients during the "
          "backward pass); use Open MPI >= 3 or MPICH built with thread support");
  if (info.size > 0 && info.size != size_)
    abort(fmt::format("the launcher started {} processes but MPI sees {}: the launcher and the MPI library do "
                      "not match (with Slurm use `srun --mpi=pmix`)",
                      info.size, size_));
#else
  if (info.size != 1)
    throw Error(fmt::format(
        "started as {} processes by an MPI launcher, but this build of mtfn has no MPI, so multi-process training "
        "is unavailable (install libopenmpi-dev and rebuild with -DMTFN_WITH_MPI=ON; or run one process)",
        info.size > 0 ? std::to_string(info.size) : std::string("several")));
#endif
}

ProcessGroup::ProcessGroup(Alone) : timeout_s_(default_timeout_seconds()), host_(host_name()) {}

ProcessGroup::~ProcessGroup() {
#if MTFN_WITH_MPI
  if (!uses_mpi_) return;
  // Leaving because of an exception on this rank alone would leave the others waiting in their
  // next collective: end the whole job now instead.
  if (std::uncaught_exceptions() > 0) abort("stopped by an error (see above)");
  barrier(owns_mpi_ ? "the end of the job" : "the end of a group");
  MPI_Comm_free(&impl_->grads);
  MPI_Comm_free(&impl_->main);
  if (owns_mpi_) MPI_Finalize();
#endif
}

ProcessGroup::ProcessGroup(const ProcessGroup& parent, int size)
    : timeout_s_(parent.timeout_s_), host_(parent.host_) {
#if MTFN_WITH_MPI
  if (!parent.uses_mpi_) return;
  const int color = parent.rank_ / size;
  MPI_Comm main = MPI_COMM_NULL, grads = MPI_COMM_NULL;
  MPI_Comm_split(parent.impl_->main, color, parent.rank_, &main);
  MPI_Comm_split(parent.impl_->grads, color, parent.rank_, &grads);
  int n = 1, r = 0;
  MPI_Comm_size(main, &n);
  MPI_Comm_rank(main, &r);
  if (n == 1) {  // a group of one: plain one-process training, no MPI calls
    MPI_Comm_free(&main);
    MPI_Comm_free(&grads);
    return;
  }
  uses_mpi_ = true;
  impl_ = std::make_unique<Impl>();
  impl_->main = main;
  impl_->grads = grads;
  rank_ = r;
  size_ = n;
#else
  (void)size;
#endif
}

std::unique_ptr<ProcessGroup> ProcessGroup::split(int size) const {
  if (size < 1) throw Error(fmt::format("a group of {} processes", size));
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(*this, size));
}

Traffic ProcessGroup::traffic() const { return {sent_.load(), received_.load()}; }

std::string ProcessGroup::where() const {
  return size_ == 1 ? std::string("") : fmt::format("rank {} of {} (host {})", rank_, size_, host_);
}

void ProcessGroup::abort(std::string_view message, int code) const {
  const std::string w = where();
  std::fprintf(stderr, "mtfn: %s%s%.*s\n", w.c_str(), w.empty() ? "" : ": ", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
#if MTFN_WITH_MPI
  if (uses_mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

template <class Done>
void ProcessGroup::watched_wait(Done done, std::string_view what, bool bounded) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (uint64_t spin = 0;; ++spin) {
    if (done()) return;
    // Yield rather than sleep: a collective between healthy ranks completes in microseconds to
    // seconds, and on an oversubscribed node the peer needs this core.
    std::this_thread::yield();
    if ((spin & 1023) == 1023) {
      const double waited = std::chrono::duration<double>(clock::now() - start).count();
      if (bounded && waited > timeout_s_)
        abort(fmt::format("no progress for {:.0f} s in {}: another rank has died or hangs. Stopping the job; "
                          "`mtfn train --resume` continues from the last checkpoint (the wait limit is "
                          "$MTFN_DIST_TIMEOUT seconds)",
                          waited, what));
      if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(waited > 10 ? 5000 : 50));
    }
  }
}

#if MTFN_WITH_MPI
namespace {
void check_count(int64_t n, std::string_view what) {
  if (n > INT32_MAX) throw Error(fmt::format("{}: {} elements in one MPI call (at most 2^31 - 1)", what, n));
}
}  // namespace
#endif

// A ring all-reduce of `bytes` over N ranks sends and receives 2 bytes (N-1)/N on each rank.
void ProcessGroup::count_allreduce(double bytes) {
  const double moved = 2.0 * bytes * (size_ - 1) / size_;
  sent_.fetch_add(moved);
  received_.fetch_add(moved);
}

void ProcessGroup::allreduce_sum(std::span<double> values, std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_ || values.empty()) return;
  count_allreduce(static_cast<double>(values.size_bytes()));
  check_count(static_cast<int64_t>(values.size()), what);
  MPI_Request req;
  MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

void ProcessGroup::allreduce_sum(std::span<float> values, std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_ || values.empty()) return;
  count_allreduce(static_cast<double>(values.size_bytes()));
  check_count(static_cast<int64_t>(values.size()), what);
  MPI_Request req;
  MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM, impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

void ProcessGroup::allreduce_max(std::span<double> values, std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_ || values.empty()) return;
  count_allreduce(static_cast<double>(values.size_bytes()));
  check_count(static_cast<int64_t>(values.size()), what);
  MPI_Request req;
  MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX, impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

void ProcessGroup::broadcast(void* data, int64_t bytes, int root, std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_ || bytes == 0) return;
  // In pieces of at most 1 GiB (MPI counts are int).
  auto* p = static_cast<char*>(data);
  for (int64_t off = 0; off < bytes; off += int64_t{1} << 30) {
    const int n = static_cast<int>(std::min<int64_t>(bytes - off, int64_t{1} << 30));
    MPI_Request req;
    (rank_ == root ? sent_ : received_).fetch_add(n);
    MPI_Ibcast(p + off, n, MPI_BYTE, root, impl_->main, &req);
    watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
  }
#endif
}

std::vector<uint64_t> ProcessGroup::allgather(uint64_t value, std::string_view what) {
  std::vector<uint64_t> out(static_cast<size_t>(size_), value);
#if MTFN_WITH_MPI
  if (!uses_mpi_) return out;
  MPI_Request req;
  sent_.fetch_add(8.0 * (size_ - 1));
  received_.fetch_add(8.0 * (size_ - 1));
  MPI_Iallgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
  return out;
}

void ProcessGroup::barrier_unbounded(std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_) return;
  MPI_Request req;
  MPI_Ibarrier(impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what, false);
#endif
}

void ProcessGroup::barrier(std::string_view what) {
#if MTFN_WITH_MPI
  if (!uses_mpi_) return;
  MPI_Request req;
  MPI_Ibarrier(impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

namespace {
// counts -> MPI's int counts and displacements, checked; the total.
struct Layout {
  std::vector<int> counts, offsets;
  int64_t total = 0;
};
Layout layout_of(const std::vector<int64_t>& counts, int size, std::string_view what) {
  if (static_cast<int>(counts.size()) != size)
    throw Error(fmt::format("{}: {} counts for {} ranks", what, counts.size(), size));
  Layout l;
  for (int64_t c : counts) {
    if (c < 0 || l.total + c > INT32_MAX) throw Error(fmt::format("{}: more than 2^31 - 1 elements in one MPI call", what));
    l.counts.push_back(static_cast<int>(c));
    l.offsets.push_back(static_cast<int>(l.total));
    l.total += c;
  }
  return l;
}
}  // namespace

#if MTFN_WITH_MPI
namespace {
template <class S> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
}  // namespace
#endif

template <class S>
void ProcessGroup::allgather_of(std::span<const S> mine, std::span<S> out, const std::vector<int64_t>& counts,
                                std::string_view what) {
  const Layout l = layout_of(counts, size_, what);
  if (static_cast<int64_t>(mine.size()) != counts[static_cast<size_t>(rank_)] || static_cast<int64_t>(out.size()) != l.total)
    throw Error(fmt::format("{}: {} and {} values do not fit the counts", what, mine.size(), out.size()));
  if (!uses_mpi_) {
    std::copy(mine.begin(), mine.end(), out.begin());
    return;
  }
#if MTFN_WITH_MPI
  const int next = (rank_ + 1) % size_;
  constexpr double bytes = sizeof(S);
  sent_.fetch_add(bytes * static_cast<double>(l.total - counts[static_cast<size_t>(next)]));
  received_.fetch_add(bytes * static_cast<double>(l.total - counts[static_cast<size_t>(rank_)]));
  MPI_Request req;
  MPI_Iallgatherv(mine.data(), static_cast<int>(mine.size()), mpi_type<S>(), out.data(), l.counts.data(),
                  l.offsets.data(), mpi_type<S>(), impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

template <class S>
void ProcessGroup::reduce_scatter_sum_of(std::span<const S> all, std::span<S> out, const std::vector<int64_t>& counts,
                                         std::string_view what) {
  const Layout l = layout_of(counts, size_, what);
  if (static_cast<int64_t>(all.size()) != l.total || static_cast<int64_t>(out.size()) != counts[static_cast<size_t>(rank_)])
    throw Error(fmt::format("{}: {} and {} values do not fit the counts", what, all.size(), out.size()));
  if (!uses_mpi_) {
    std::copy(all.begin(), all.end(), out.begin());
    return;
  }
#if MTFN_WITH_MPI
  const int prev = (rank_ + size_ - 1) % size_;
  constexpr double bytes = sizeof(S);
  sent_.fetch_add(bytes * static_cast<double>(l.total - counts[static_cast<size_t>(rank_)]));
  received_.fetch_add(bytes * static_cast<double>(l.total - counts[static_cast<size_t>(prev)]));
  MPI_Request req;
  MPI_Ireduce_scatter(all.data(), out.data(), l.counts.data(), mpi_type<S>(), MPI_SUM, impl_->main, &req);
  watched_wait([&] { int f = 0; MPI_Test(&req, &f, MPI_STATUS_IGNORE); return f != 0; }, what);
#endif
}

void ProcessGroup::allgather(std::span<const float> mine, std::span<float> out, const std::vector<int64_t>& counts,
                             std::string_view what) {
  allgather_of(mine, out, counts, what);
}
void ProcessGroup::allgather(std::span<const double> mine, std::span<double> out, const std::vector<int64_t>& counts,
                             std::string_view what) {
  allgather_of(mine, out, counts, what);
}
void ProcessGroup::reduce_scatter_sum(std::span<const float> all, std::span<float> out,
                                      const std::vector<int64_t>& counts, std::string_view what) {
  reduce_scatter_sum_of(all, out, counts, what);
}
void ProcessGroup::reduce_scatter_sum(std::span<const double> all, std::span<double> out,
                                      const std::vector<int64_t>& counts, std::string_view what) {
  reduce_scatter_sum_of(all, out, counts, what);
}

#if MTFN_WITH_MPI
namespace {
PendingReduce start_reduce(MPI_Comm comm, void* data, int64_t n, MPI_Datatype type) {
  check_count(n, "gradient bucket");
  auto impl = std::make_unique<PendingReduce::Impl>();
  MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, MPI_SUM, comm, &impl->request);
  return PendingReduce(std::move(impl));
}
}  // namespace
#endif

PendingReduce ProcessGroup::start_gradient_reduce(std::span<float> data) {
#if MTFN_WITH_MPI
  if (uses_mpi_ && !data.empty()) {
    count_allreduce(static_cast<double>(data.size_bytes()));
    return start_reduce(impl_->grads, data.data(), std::ssize(data), MPI_FLOAT);
  }
#endif
  return {};
}

PendingReduce ProcessGroup::start_gradient_reduce(std::span<double> data) {
#if MTFN_WITH_MPI
  if (uses_mpi_ && !data.empty()) {
    count_allreduce(static_cast<double>(data.size_bytes()));
    return start_reduce(impl_->grads, data.data(), std::ssize(data), MPI_DOUBLE);
  }
#endif
  return {};
}

void ProcessGroup::wait(PendingReduce& r, std::string_view what) {
  watched_wait([&] { return r.test(); }, what);
}

}  // namespace mtfn::distributed
