#include "core/threads.h"

#include <cblas.h>

#include <tbb/global_control.h>

namespace mtfn {

struct ThreadLimit::Impl {
  explicit Impl(int threads) : tbb(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads)) {}
  tbb::global_control tbb;
};

ThreadLimit::ThreadLimit(int threads, bool blas_too) {
  if (threads <= 0) return;
  impl_ = std::make_unique<Impl>(threads);
  if (blas_too) openblas_set_num_threads(threads);
}

ThreadLimit::~ThreadLimit() = default;

}  // namespace mtfn
