// sum and mean: forward, then backward (the gradient of a sum is the output gradient
// copied back over every summed position).
#include "core/ops/reduce.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/ops/kernels.h"

namespace mtfn {

namespace {

// Sorted, unique, non-negative dims; empty input = all dims.
std::vector<int64_t> normalise_dims(const char* op, const Tensor& x, std::vector<int64_t> dims) {
  const int64_t r = x.dim();
  if (dims.empty()) {
    for (int64_t d = 0; d < r; ++d) dims.push_back(d);
    return dims;
  }
  for (int64_t& d : dims) {
    const int64_t k = d < 0 ? d + r : d;
    if (k < 0 || k >= r)
      throw Error(fmt::format("{}: dimension {} out of range for shape {}", op, d, shape_str(x.shape())));
    d = k;
  }
  std::sort(dims.begin(), dims.end());
  if (std::adjacent_find(dims.begin(), dims.end()) != dims.end())
    throw Error(fmt::format("{}: repeated dimension for shape {}", op, shape_str(x.shape())));
  return dims;
}

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(s[static_cast<size_t>(d)]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// The sum kernel, not recorded. dims normalised.
Tensor sum_raw(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const Shape& s = x.shape();
  const int64_t r = x.dim();
  Tensor out = Tensor::empty(reduced_shape(s, dims, keepdim), x.dtype());
  // Input strides, then split dims into kept (outer) and reduced (inner) lists.
  std::vector<int64_t> stride(static_cast<size_t>(r), 1);
  for (int64_t d = r - 2; d >= 0; --d) stride[d] = stride[d + 1] * s[d + 1];
  std::vector<int64_t> kept_size, kept_stride, red_size, red_stride;
  for (int64_t d = 0; d < r; ++d) {
    if (std::binary_search(dims.begin(), dims.end(), d)) {
      red_size.push_back(s[d]);
      red_stride.push_back(stride[d]);
    } else {
      kept_size.push_back(s[d]);
      kept_stride.push_back(stride[d]);
    }
  }
  const int64_t n_out = out.numel();
  const int64_t n_red = shape_numel(red_size);
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    if (n_out == 1 && kept_size.empty()) {
      // Everything: fixed chunks added in order.
      const double total = parallel_sum(x.numel(), [&](int64_t b, int64_t e) {
        double acc = 0;
        for (int64_t i = b; i < e; ++i) acc += px[i];
        return acc;
      });
      po[0] = static_cast<scalar_t>(total);
    } else {
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n_red, 1));
      parallel_for(n_out, [&](int64_t o0, int64_t o1) {
        std::vector<int64_t> idx(red_size.size());
        for (int64_t o = o0; o < o1; ++o) {
          int64_t base = 0, rem = o;
          for (size_t k = kept_size.size(); k-- > 0;) {
            base += (rem % kept_size[k]) * kept_stride[k];
            rem /= kept_size[k];
          }
          double acc = 0;
          std::fill(idx.begin(), idx.end(), 0);
          int64_t off = base;
          for (int64_t j = 0; j < n_red; ++j) {
            acc += px[off];
            // odometer over the reduced dims, last fastest
            for (size_t k = red_size.size(); k-- > 0;) {
              off += red_stride[k];
              if (++idx[k] < red_size[k]) break;
              off -= red_stride[k] * red_size[k];
              idx[k] = 0;
            }
          }
          po[o] = static_cast<scalar_t>(acc);
        }
      }, grain);
    }
  });
  return out;
}

}  // namespace

Tensor expand_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const kernels::Broadcast bc("expand_to", x.shape(), shape);
  if (bc.out != shape)
    throw Error(fmt::format("expand_to: {} cannot be broadcast to {}", shape_str(x.shape()), shape_str(shape)));
  Tensor out = Tensor::empty(shape, x.dtype());
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t inner = bc.inner;
    const int64_t step = bc.stride_a.empty() ? 0 : bc.stride_a.back();
    parallel_for(bc.rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        int64_t oa, ob;
        bc.offsets(r, oa, ob);
        for (int64_t k = 0; k < inner; ++k) po[r * inner + k] = px[oa + k * step];
      }
    }, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)));
  });
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0) throw Error(fmt::format("sum_to: {} cannot be summed to {}", shape_str(g.shape()), shape_str(shape)));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[d - lead] == 1 && g.shape()[d] != 1) dims.push_back(d);
    else if (shape[d - lead] != g.shape()[d])
      throw Error(fmt::format("sum_to: {} cannot be summed to {}", shape_str(g.shape()), shape_str(shape)));
  }
  return sum_raw(g, dims, true).view(shape);
}

// ---- sum: y = sum_{i in dims} x_i;  dL/dx_i = dL/dy (broadcast back over the summed dims)
Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalise_dims("sum", x, std::move(dims));
  Tensor y = sum_raw(x, dims, keepdim);
  const Shape keep_shape = reduced_shape(x.shape(), dims, true);
  return record(y, "sum", {x}, [x, keep_shape](const Tensor& gy) {
    accumulate_grad(x, expand_to(gy.view(keep_shape), x.shape()));
  });
}

// ---- mean: y = sum(x) / n;  dL/dx_i = dL/dy / n
Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalise_dims("mean", x, std::move(dims));
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  Tensor y = sum_raw(x, dims, keepdim);
  const double inv = n ? 1.0 / static_cast<double>(n) : 0.0;
  y = kernels::map1(y, [inv](auto v) { return static_cast<decltype(v)>(v * inv); });
  const Shape keep_shape = reduced_shape(x.shape(), dims, true);
  return record(y, "mean", {x}, [x, keep_shape, inv](const Tensor& gy) {
    Tensor g = expand_to(gy.view(keep_shape), x.shape());
    accumulate_grad(x, kernels::map1(g, [inv](auto v) { return static_cast<decltype(v)>(v * inv); }));
  });
}

}  // namespace mtfn
