// reshape, transpose, concat, slice. All tensors are contiguous, so a dimension-wise
// copy is described by (outer, len, inner): outer blocks of len*inner elements.
#include "core/ops/shape.h"

#include <cstring>

#include "core/autograd.h"
#include "core/ops/kernels.h"

namespace mtfn {

namespace {

int64_t norm_dim(const char* op, int64_t d, int64_t rank) {
  const int64_t k = d < 0 ? d + rank : d;
  if (k < 0 || k >= rank) throw Error(fmt::format("{}: dimension {} out of range for rank {}", op, d, rank));
  return k;
}

// Products of the dimensions before and after `dim`.
void outer_inner(const Shape& s, int64_t dim, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= s[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(s.size()); ++d) inner *= s[d];
}

// Copies, for each of `outer` blocks, `count` elements from src (block stride src_len*inner,
// starting at src_start*inner) to dst (block stride dst_len*inner, starting at dst_start*inner).
// With add = true it adds instead of copying (used by backward passes).
void copy_blocks(const Tensor& src, int64_t src_len, int64_t src_start, Tensor& dst, int64_t dst_len,
                 int64_t dst_start, int64_t len, int64_t outer, int64_t inner, bool add) {
  MTFN_DISPATCH(src.dtype(), {
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* pd = dst.data<scalar_t>();
    const int64_t count = len * inner;
    for (int64_t o = 0; o < outer; ++o) {
      const scalar_t* s = ps + (o * src_len + src_start) * inner;
      scalar_t* d = pd + (o * dst_len + dst_start) * inner;
      if (add) {
        for (int64_t i = 0; i < count; ++i) d[i] += s[i];
      } else {
        std::memcpy(d, s, static_cast<size_t>(count) * sizeof(scalar_t));
      }
    }
  });
}

}  // namespace

// ---- reshape: a view;  dL/dx = reshape(dL/dy, x.shape)
Tensor reshape(const Tensor& x, Shape shape) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw Error(fmt::format("reshape: more than one -1 in {}", shape_str(shape)));
      infer = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  bool ok = true;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0 && static_cast<int64_t>(i) != infer) ok = false;
  if (ok && infer >= 0) {
    ok = known > 0 && x.numel() % known == 0;
    if (ok) shape[infer] = x.numel() / known;
  }
  if (!ok || shape_numel(shape) != x.numel())
    throw Error(fmt::format("reshape: cannot reshape {} to {}", x.describe(), shape_str(shape)));
  Tensor y = x.view(shape);
  return record(y, "reshape", {x}, [x](const Tensor& gy) { accumulate_grad(x, gy.view(x.shape())); });
}

// The raw transpose kernel: y[..i..j..] = x[..j..i..].
static Tensor transpose_raw(const Tensor& x, int64_t d0, int64_t d1) {
  Shape ys = x.shape();
  std::swap(ys[d0], ys[d1]);
  Tensor y = Tensor::empty(ys, x.dtype());
  const int64_t r = x.dim();
  std::vector<int64_t> xstride(r, 1);
  for (int64_t d = r - 2; d >= 0; --d) xstride[d] = xstride[d + 1] * x.shape()[d + 1];
  std::vector<int64_t> src_stride = xstride;  // stride in x of each y dimension
  std::swap(src_stride[d0], src_stride[d1]);
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    const int64_t n = y.numel();
    parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int64_t rem = i, off = 0;
        for (int64_t d = r - 1; d >= 0; --d) {
          off += (rem % ys[d]) * src_stride[d];
          rem /= ys[d];
        }
        py[i] = px[off];
      }
    });
  });
  return y;
}

// ---- transpose: swaps two dimensions;  dL/dx = transpose(dL/dy) with the same two dimensions
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  const int64_t d0 = norm_dim("transpose", dim0, x.dim()), d1 = norm_dim("transpose", dim1, x.dim());
  Tensor y = d0 == d1 ? x.clone() : transpose_raw(x, d0, d1);
  return record(y, "transpose", {x}, [x, d0, d1](const Tensor& gy) {
    accumulate_grad(x, d0 == d1 ? gy : transpose_raw(gy, d0, d1));
  });
}

// ---- concat: y = [x_0, x_1, ...] along dim;  dL/dx_k = the slice of dL/dy where x_k went
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw Error("concat: no tensors");
  const int64_t d = norm_dim("concat", dim, xs[0].dim());
  Shape ys = xs[0].shape();
  ys[d] = 0;
  for (const Tensor& x : xs) {
    kernels::check_same_dtype("concat", xs[0], x);
    bool ok = x.dim() == xs[0].dim();
    for (int64_t k = 0; ok && k < x.dim(); ++k)
      if (k != d && x.shape()[k] != xs[0].shape()[k]) ok = false;
    if (!ok)
      throw Error(fmt::format("concat: shapes {} and {} differ outside dimension {}", shape_str(xs[0].shape()),
                              shape_str(x.shape()), d));
    ys[d] += x.shape()[d];
  }
  Tensor y = Tensor::empty(ys, xs[0].dtype());
  int64_t outer, inner;
  outer_inner(ys, d, outer, inner);
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    copy_blocks(x, x.shape()[d], 0, y, ys[d], at, x.shape()[d], outer, inner, false);
    at += x.shape()[d];
  }
  return record(y, "concat", xs, [xs, d, starts, outer, inner, total = ys[d]](const Tensor& gy) {
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!xs[k].requires_grad()) continue;
      Tensor g = Tensor::empty(xs[k].shape(), gy.dtype());
      const int64_t len = xs[k].shape()[d];
      copy_blocks(gy, total, starts[k], g, len, 0, len, outer, inner, false);
      accumulate_grad(xs[k], g);
    }
  });
}

// ---- slice: y = x[start:end] along dim;  dL/dx = dL/dy placed at [start:end), zero elsewhere
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  const int64_t d = norm_dim("slice", dim, x.dim());
  const int64_t n = x.shape()[d];
  if (start < 0 || end > n || start > end)
    throw Error(fmt::format("slice: [{}, {}) out of range for dimension {} of {}", start, end, d, shape_str(x.shape())));
  Shape ys = x.shape();
  ys[d] = end - start;
  Tensor y = Tensor::empty(ys, x.dtype());
  int64_t outer, inner;
  outer_inner(ys, d, outer, inner);
  copy_blocks(x, n, start, y, ys[d], 0, ys[d], outer, inner, false);
  return record(y, "slice", {x}, [x, n, start, len = ys[d], outer, inner](const Tensor& gy) {
    Tensor g = grad_buffer(x);  // add straight into x's gradient: no full-size temporary
    copy_blocks(gy, len, 0, g, n, start, len, outer, inner, true);
  });
}

}  // namespace mtfn
