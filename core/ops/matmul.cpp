// matmul and linear. With C = A B:  dL/dA = dL/dC B^T,  dL/dB = A^T dL/dC.
// Backward passes add straight into the inputs' gradient buffers (beta = 1), so a large
// weight gradient is never allocated twice.
#include "core/ops/matmul.h"

#include <cblas.h>

#include "core/autograd.h"
#include "core/ops/kernels.h"

namespace mtfn {

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                  const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

SerialBlas::SerialBlas() : previous_(openblas_get_num_threads()) {
  if (previous_ != 1) openblas_set_num_threads(1);
}
SerialBlas::~SerialBlas() {
  if (previous_ != 1) openblas_set_num_threads(previous_);
}

template <class T>
void gemm_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                    int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = ta ? a[p * lda + i] : a[i * lda + p];
        const T bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        acc += static_cast<double>(av) * bv;
      }
      c[i * ldc + j] = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : beta * c[i * ldc + j]));
    }
}
template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

// ---- matmul
Tensor matmul(const Tensor& a, const Tensor& b) {
  kernels::check_same_dtype("matmul", a, b);
  const bool batched = a.dim() == 3;
  const bool shared_b = batched && b.dim() == 2;
  const bool ok = (a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0)) ||
                  (batched && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1)) ||
                  (shared_b && a.size(2) == b.size(0));
  if (!ok)
    throw Error(fmt::format("matmul: shapes {} and {} do not multiply", shape_str(a.shape()), shape_str(b.shape())));
  // A batch of (M,K) @ (K,N); a shared 2-D right factor folds the batch into M.
  const int64_t nb = batched && !shared_b ? a.size(0) : 1;
  const int64_t m = batched && !shared_b ? a.size(1) : a.numel() / a.size(-1);
  const int64_t k = a.size(-1), n = b.size(-1);
  Shape ys = a.shape();
  ys.back() = n;
  Tensor y = Tensor::empty(ys, a.dtype());
  MTFN_DISPATCH(a.dtype(), {
    for (int64_t i = 0; i < nb; ++i)
      gemm<scalar_t>(false, false, m, n, k, 1, a.data<scalar_t>() + i * m * k, k, b.data<scalar_t>() + i * k * n, n,
                     0, y.data<scalar_t>() + i * m * n, n);
  });
  const Tensor sa = a.detach(), sb = b.detach();
  return record(y, "matmul", {a, b}, [a, b, sa, sb, nb, m, n, k](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      const scalar_t* g = gy.data<scalar_t>();
      if (a.requires_grad()) {  // dA (M,K) += dC (M,N) B^T
        scalar_t* ga = grad_buffer(a).data<scalar_t>();
        for (int64_t i = 0; i < nb; ++i)
          gemm<scalar_t>(false, true, m, k, n, 1, g + i * m * n, n, sb.data<scalar_t>() + i * k * n, n, 1,
                         ga + i * m * k, k);
      }
      if (b.requires_grad()) {  // dB (K,N) += A^T (K,M) dC (M,N)
        scalar_t* gb = grad_buffer(b).data<scalar_t>();
        for (int64_t i = 0; i < nb; ++i)
          gemm<scalar_t>(true, false, k, n, m, 1, sa.data<scalar_t>() + i * m * k, k, g + i * m * n, n, 1,
                         gb + i * k * n, n);
      }
    });
  });
}

// ---- linear: y = x W^T + b, x seen as (N, in) with N = every leading dimension.
//   dL/dx = dL/dy W,  dL/dW = dL/dy^T x,  dL/db = sum over rows of dL/dy
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  kernels::check_same_dtype("linear", x, weight);
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw Error(fmt::format("linear: input {} does not fit weight {}", shape_str(x.shape()), shape_str(weight.shape())));
  const int64_t in = weight.size(1), out = weight.size(0);
  if (bias.defined()) {
    kernels::check_same_dtype("linear", x, bias);
    if (bias.shape() != Shape{out})
      throw Error(fmt::format("linear: bias {} does not fit weight {}", shape_str(bias.shape()), shape_str(weight.shape())));
  }
  const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
  Shape ys = x.shape();
  ys.back() = out;
  Tensor y = Tensor::empty(ys, x.dtype());
  MTFN_DISPATCH(x.dtype(), {
    scalar_t* py = y.data<scalar_t>();
    scalar_t beta = 0;
    if (bias.defined()) {  // start from the bias in every row, then add x W^T
      const scalar_t* pb = bias.data<scalar_t>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) py[r * out + j] = pb[j];
      beta = 1;
    }
    gemm<scalar_t>(false, true, rows, out, in, 1, x.data<scalar_t>(), in, weight.data<scalar_t>(), in, beta, py, out);
  });
  const Tensor sx = x.detach(), sw = weight.detach();
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record(y, "linear", inputs, [x, weight, bias, sx, sw, rows, in, out](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      const scalar_t* g = gy.data<scalar_t>();
      if (x.requires_grad())  // dx (N,in) += dy (N,out) W (out,in)
        gemm<scalar_t>(false, false, rows, in, out, 1, g, out, sw.data<scalar_t>(), in, 1,
                       grad_buffer(x).data<scalar_t>(), in);
      if (weight.requires_grad())  // dW (out,in) += dy^T (out,N) x (N,in)
        gemm<scalar_t>(true, false, out, in, rows, 1, g, out, sx.data<scalar_t>(), in, 1,
                       grad_buffer(weight).data<scalar_t>(), in);
      if (bias.defined() && bias.requires_grad()) {  // db (out) += column sums of dy, rows in order
        scalar_t* gb = grad_buffer(bias).data<scalar_t>();
        for (int64_t j = 0; j < out; ++j) {
          double acc = 0;
          for (int64_t r = 0; r < rows; ++r) acc += g[r * out + j];
          gb[j] += static_cast<scalar_t>(acc);
        }
      }
    });
  });
}

}  // namespace mtfn
