// How many threads the library's loops use: ThreadLimit caps oneTBB (and, if asked, OpenBLAS) for
// the life of the object. Not here: how loops are split (core/parallel.h).
#pragma once

#include <memory>

namespace mtfn {

// Limits oneTBB's worker threads for the life of the object (0 = all cores). OpenBLAS's own thread
// count is left alone unless `blas_too` (benchmarks): its SkylakeX sgemm gives different last bits
// with a different thread count (measured: the LSTM's input-weight gradient), while our loops split
// work the same way whatever the threads, so training results do not depend on --threads.
// openblas_set_num_threads is process-wide and is not restored by the destructor.
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads, bool blas_too = false);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtfn
