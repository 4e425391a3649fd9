// Filling tensors from the counter-based generator. See random.h.
#include "nn/random.h"

#include "core/parallel.h"

namespace mtfn::nn {

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  const uint64_t key = gen.next_key();
  MTFN_DISPATCH(t.dtype(), {
    scalar_t* p = t.data<scalar_t>();
    parallel_for(t.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = static_cast<scalar_t>(lo + (hi - lo) * unit_double(stream_bits(key, static_cast<uint64_t>(i))));
    });
  });
}

}  // namespace mtfn::nn
