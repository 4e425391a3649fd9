// Which process trains which seed, when several seeds train at once: `--jobs J` (J forked processes on
// one machine, each with its share of the cores) and `--ranks-per-seed K` (the N processes of an MPI job
// in N/K groups, each group training its own seeds). Each seed leaves DIR/seeds/<seed>.json, which the
// run reads back (trainer.cpp).
#pragma once

#include <functional>
#include <string>

#include "training/train_seed.h"

namespace mtfn::training {

// Refuses (InputError naming --ranks-per-seed) a group size that is negative or does not divide the
// job's `processes`.
void check_ranks_per_seed(int ranks_per_seed, int processes);

// `jobs` forked processes, job j running work(j) on its share of the cores (oneTBB) with OpenBLAS on
// one thread; a job that throws prints "mtfn <command>: job <j+1>: <error>" and fails. Waits for all;
// the number that failed. (Seed jobs here; mtfn tune's trial jobs.)
int run_forked_jobs(int jobs, const std::string& command, const std::function<void(int job)>& work);

// opt.jobs processes, process j training the seeds i with i % jobs == j that have no seeds/<seed>.json.
void train_seeds_in_jobs(const SeedContext& c);

// opt.group split into groups of opt.ranks_per_seed processes; group g trains the seeds i with
// i % groups == g that have no seeds/<seed>.json, each seed data-parallel over its group's processes.
// Each group's first process writes that seed's files (checkpoints, model, seeds/<seed>.json) and its
// lines to train.log.
void train_seeds_in_groups(const SeedContext& c);

}  // namespace mtfn::training
