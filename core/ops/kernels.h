// Loop helpers the op files share: elementwise maps over one or two same-shaped tensors,
// and the broadcasting plan of numpy's rules. Internal to core/ops; no autograd here.
#pragma once

#include <fmt/format.h>

#include "core/parallel.h"
#include "core/tensor.h"

namespace mtfn::kernels {

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: dtype mismatch {} vs {}", op, a.describe(), b.describe()));
}
inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_same_dtype(op, a, b);
  if (a.shape() != b.shape())
    throw Error(fmt::format("{}: shape mismatch {} vs {}", op, shape_str(a.shape()), shape_str(b.shape())));
}

// out[i] = f(x[i]) in x's dtype.
template <class F>
Tensor map1(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = f(px[i]);
    });
  });
  return out;
}

// out[i] = f(x[i], y[i]) for same-shaped x, y.
template <class F>
Tensor map2(const char* op, const Tensor& x, const Tensor& y, F f) {
  check_same_shape(op, x, y);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* py = y.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = f(px[i], py[i]);
    });
  });
  return out;
}

// out[i] = f(x[i], y[i], z[i]) for same-shaped x, y, z.
template <class F>
Tensor map3(const char* op, const Tensor& x, const Tensor& y, const Tensor& z, F f) {
  check_same_shape(op, x, y);
  check_same_shape(op, x, z);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* py = y.data<scalar_t>();
    const scalar_t* pz = z.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = f(px[i], py[i], pz[i]);
    });
  });
  return out;
}

// How two shapes broadcast (numpy rules): the output shape and, for each input, the
// element stride of every output dimension (0 where the input is broadcast).
struct Broadcast {
  Shape out;
  std::vector<int64_t> stride_a, stride_b;
  int64_t inner = 1;  // length of the last output dimension
  int64_t rows = 0;   // numel(out) / inner

  Broadcast(const char* op, const Shape& a, const Shape& b) {
    const size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    stride_a.assign(r, 0);
    stride_b.assign(r, 0);
    int64_t sa = 1, sb = 1;
    for (size_t k = 0; k < r; ++k) {
      const size_t d = r - 1 - k;
      const int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
      const int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
      if (da != db && da != 1 && db != 1)
        throw Error(fmt::format("{}: shapes {} and {} cannot be broadcast", op, shape_str(a), shape_str(b)));
      out[d] = da == 1 ? db : da;
      stride_a[d] = da == 1 ? 0 : sa;
      stride_b[d] = db == 1 ? 0 : sb;
      sa *= da;
      sb *= db;
    }
    inner = r ? out[r - 1] : 1;
    const int64_t n = shape_numel(out);
    rows = inner ? n / inner : 0;
  }
  // Element offsets in a and b of the first element of output row `row`.
  void offsets(int64_t row, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (size_t k = out.size(); k-- > 1;) {
      const size_t d = k - 1;
      const int64_t i = row % out[d];
      row /= out[d];
      oa += i * stride_a[d];
      ob += i * stride_b[d];
    }
  }
};

// out = f(a, b) with broadcasting.
template <class F>
Tensor broadcast2(const char* op, const Tensor& a, const Tensor& b, F f) {
  check_same_dtype(op, a, b);
  if (a.shape() == b.shape()) return map2(op, a, b, f);
  const Broadcast bc(op, a.shape(), b.shape());
  Tensor out = Tensor::empty(bc.out, a.dtype());
  MTFN_DISPATCH(a.dtype(), {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t inner = bc.inner;
    const int64_t ia = bc.stride_a.empty() ? 0 : bc.stride_a.back();
    const int64_t ib = bc.stride_b.empty() ? 0 : bc.stride_b.back();
    const int64_t grain_rows = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
    parallel_for(bc.rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        int64_t oa, ob;
        bc.offsets(r, oa, ob);
        scalar_t* o = po + r * inner;
        for (int64_t k = 0; k < inner; ++k) o[k] = f(pa[oa + k * ia], pb[ob + k * ib]);
      }
    }, grain_rows);
  });
  return out;
}

}  // namespace mtfn::kernels
