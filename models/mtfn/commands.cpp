// What the MTFN subcommands share: the one-line failure, the thread limit.
#include "models/mtfn/commands.h"

#include <cblas.h>

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

namespace mtfn::models {

void command_fail(const std::string& command, const std::string& message, int status) {
  std::string one_line = message;
  for (char& ch : one_line)
    if (ch == '\n') ch = ' ';
  std::cerr << "mtfn " << command << ": " << one_line << "\n";
  throw CLI::RuntimeError(status);
}

struct ThreadLimit::Impl {
  std::unique_ptr<tbb::global_control> tbb;
};

// Only oneTBB's loops are limited. OpenBLAS keeps its own thread count (OPENBLAS_NUM_THREADS, default
// all cores): its SkylakeX sgemm gives different last bits with a different thread count (measured:
// the LSTM's input-weight gradient), while our loops split work the same way whatever the threads,
// so results do not depend on --threads.
ThreadLimit::ThreadLimit(int threads, bool blas_too) {
  if (threads <= 0) return;
  impl_ = new Impl;
  impl_->tbb = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                     static_cast<size_t>(threads));
  if (blas_too) openblas_set_num_threads(threads);
}

ThreadLimit::~ThreadLimit() { delete impl_; }

}  // namespace mtfn::models
