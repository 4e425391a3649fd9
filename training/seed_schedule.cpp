#include "training/seed_schedule.h"

#include <cblas.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/threads.h"

namespace mtfn::training {

namespace fs = std::filesystem;

void check_ranks_per_seed(int ranks_per_seed, int processes) {
  if (ranks_per_seed < 0)
    throw InputError(fmt::format("--ranks-per-seed: expected 1 or more (0: all processes), got {}", ranks_per_seed));
  if (ranks_per_seed > 0 && processes % ranks_per_seed != 0)
    throw InputError(fmt::format("--ranks-per-seed {}: the job has {} process{}, not a multiple of {}", ranks_per_seed,
                                 processes, processes == 1 ? "" : "es", ranks_per_seed));
}

int run_forked_jobs(int jobs, const std::string& command, const std::function<void(int job)>& work) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<pid_t> children;
  for (int j = 0; j < jobs; ++j) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(fmt::format("mtfn {}: fork failed", command));
    if (pid > 0) {
      children.push_back(pid);
      continue;
    }
    int status = 0;
    try {
      ThreadLimit limit(static_cast<int>(std::max(1u, cores / static_cast<unsigned>(jobs))));
      openblas_set_num_threads(1);
      work(j);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mtfn %s: job %d: %s\n", command.c_str(), j + 1, e.what());
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
  return failed;
}

namespace {

bool seed_done(const SeedContext& c, size_t i) {
  return fs::exists(c.opt.out / "seeds" / fmt::format("{}.json", c.opt.seeds[i]));
}

}  // namespace

void train_seeds_in_jobs(const SeedContext& c) {
  const int jobs = std::min<int>(c.opt.jobs, static_cast<int>(c.opt.seeds.size()));
  const int failed = run_forked_jobs(jobs, "train", [&](int j) {
    for (size_t i = static_cast<size_t>(j); i < c.opt.seeds.size(); i += static_cast<size_t>(jobs))
      if (!seed_done(c, i)) train_one_seed(c, c.opt.seeds[i], i);
  });
  if (failed)
    throw std::runtime_error(fmt::format("--jobs: {} of {} seed jobs failed (see above); --resume continues the run",
                                         failed, jobs));
}

void train_seeds_in_groups(const SeedContext& c) {
  distributed::ProcessGroup& world = group_of(c.opt);
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
    if (!seed_done(gc, i)) train_one_seed(gc, opt.seeds[i], i);
  world.barrier_unbounded("the seeds of every group");  // another group's seed may take hours
}

}  // namespace mtfn::training
