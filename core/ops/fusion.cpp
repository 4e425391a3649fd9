// Tensor fusion forward and backward.
//
// With a1 = [1;a], v1 = [1;v], t1 = [1;t] and z_ijk = a1_i v1_j t1_k, the chain rule gives
//   dL/da1_i = sum_jk g_ijk v1_j t1_k,  dL/dv1_j = sum_ik g_ijk a1_i t1_k,  dL/dt1_k = sum_ij g_ijk a1_i v1_j,
// and dL/da_i = dL/da1_{i+1} (the constant 1 has no gradient; it is what keeps the unimodal
// terms a, v, t and their pairwise products inside z). One pass over g does all three:
// for each (i, j), s_ij = <g_ij:, t1> feeds a and v, and g_ij: scaled by a1_i v1_j feeds t.
#include "core/ops/fusion.h"

#include <vector>

#include "core/autograd.h"
#include "core/ops/kernels.h"

namespace mtfn {

namespace {

template <class T>
void with_one(const T* x, int64_t n, std::vector<T>& x1) {  // x1 = [1; x]
  x1.resize(static_cast<size_t>(n + 1));
  x1[0] = T(1);
  for (int64_t i = 0; i < n; ++i) x1[static_cast<size_t>(i + 1)] = x[i];
}

// One batch row: z (A1*V1*T1) = a1 (x) v1 (x) t1.
template <class T>
void fusion_row_forward(const std::vector<T>& a1, const std::vector<T>& v1, const std::vector<T>& t1, T* z) {
  const size_t V1 = v1.size(), T1 = t1.size();
  for (size_t i = 0; i < a1.size(); ++i)
    for (size_t j = 0; j < V1; ++j) {
      const T av = a1[i] * v1[j];
      T* zr = z + (i * V1 + j) * T1;
      for (size_t k = 0; k < T1; ++k) zr[k] = av * t1[k];
    }
}

// One batch row of the backward pass; adds into ga (A), gv (V), gt (T).
template <class T>
void fusion_row_backward(const std::vector<T>& a1, const std::vector<T>& v1, const std::vector<T>& t1, const T* g,
                         T* ga, T* gv, T* gt) {
  const size_t A1 = a1.size(), V1 = v1.size(), T1 = t1.size();
  std::vector<double> da1(A1, 0.0), dv1(V1, 0.0), dt1(T1, 0.0);
  for (size_t i = 0; i < A1; ++i)
    for (size_t j = 0; j < V1; ++j) {
      const T* gr = g + (i * V1 + j) * T1;
      const double av = static_cast<double>(a1[i]) * v1[j];
      double s = 0;  // s_ij = sum_k g_ijk t1_k
      for (size_t k = 0; k < T1; ++k) {
        s += static_cast<double>(gr[k]) * t1[k];
        dt1[k] += av * gr[k];
      }
      da1[i] += s * v1[j];
      dv1[j] += s * a1[i];
    }
  if (ga) for (size_t i = 1; i < A1; ++i) ga[i - 1] += static_cast<T>(da1[i]);
  if (gv) for (size_t j = 1; j < V1; ++j) gv[j - 1] += static_cast<T>(dv1[j]);
  if (gt) for (size_t k = 1; k < T1; ++k) gt[k - 1] += static_cast<T>(dt1[k]);
}

}  // namespace

Tensor tensor_fusion(const Tensor& a, const Tensor& v, const Tensor& t) {
  kernels::check_same_dtype("tensor_fusion", a, v);
  kernels::check_same_dtype("tensor_fusion", a, t);
  if (a.dim() != 2 || v.dim() != 2 || t.dim() != 2 || a.size(0) != v.size(0) || a.size(0) != t.size(0))
    throw Error(fmt::format("tensor_fusion: expected a (B,A), v (B,V), t (B,T), got {}, {}, {}",
                            shape_str(a.shape()), shape_str(v.shape()), shape_str(t.shape())));
  const int64_t B = a.size(0), A = a.size(1), V = v.size(1), T = t.size(1);
  const int64_t width = (A + 1) * (V + 1) * (T + 1);
  Tensor z = Tensor::empty({B, width}, a.dtype());
  MTFN_DISPATCH(a.dtype(), {
    tbb::parallel_for(int64_t{0}, B, [&](int64_t b) {
      std::vector<scalar_t> a1, v1, t1;
      with_one(a.data<scalar_t>() + b * A, A, a1);
      with_one(v.data<scalar_t>() + b * V, V, v1);
      with_one(t.data<scalar_t>() + b * T, T, t1);
      fusion_row_forward(a1, v1, t1, z.data<scalar_t>() + b * width);
    });
  });
  // Backward needs a, v, t themselves (z is never saved: it is the big one).
  const Tensor sa = a.detach(), sv = v.detach(), st = t.detach();
  return record(z, "tensor_fusion", {a, v, t}, [a, v, t, sa, sv, st, B, A, V, T, width](const Tensor& gz) {
    MTFN_DISPATCH(gz.dtype(), {
      scalar_t* ga = a.requires_grad() ? grad_buffer(a).data<scalar_t>() : nullptr;
      scalar_t* gv = v.requires_grad() ? grad_buffer(v).data<scalar_t>() : nullptr;
      scalar_t* gt = t.requires_grad() ? grad_buffer(t).data<scalar_t>() : nullptr;
      tbb::parallel_for(int64_t{0}, B, [&](int64_t b) {  // rows are independent: no shared sums
        std::vector<scalar_t> a1, v1, t1;
        with_one(sa.data<scalar_t>() + b * A, A, a1);
        with_one(sv.data<scalar_t>() + b * V, V, v1);
        with_one(st.data<scalar_t>() + b * T, T, t1);
        fusion_row_backward(a1, v1, t1, gz.data<scalar_t>() + b * width, ga ? ga + b * A : nullptr,
                            gv ? gv + b * V : nullptr, gt ? gt + b * T : nullptr);
      });
    });
  });
}

template <class T>
void fusion_forward_reference(int64_t B, int64_t A, int64_t V, int64_t Tt, const T* a, const T* v, const T* t, T* z) {
  const int64_t width = (A + 1) * (V + 1) * (Tt + 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i <= A; ++i)
      for (int64_t j = 0; j <= V; ++j)
        for (int64_t k = 0; k <= Tt; ++k) {
          const T ai = i ? a[b * A + i - 1] : T(1);
          const T vj = j ? v[b * V + j - 1] : T(1);
          const T tk = k ? t[b * Tt + k - 1] : T(1);
          z[b * width + (i * (V + 1) + j) * (Tt + 1) + k] = ai * vj * tk;
        }
}

template <class T>
void fusion_backward_reference(int64_t B, int64_t A, int64_t V, int64_t Tt, const T* a, const T* v, const T* t,
                               const T* gz, T* ga, T* gv, T* gt) {
  const int64_t width = (A + 1) * (V + 1) * (Tt + 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i <= A; ++i)
      for (int64_t j = 0; j <= V; ++j)
        for (int64_t k = 0; k <= Tt; ++k) {
          const T ai = i ? a[b * A + i - 1] : T(1);
          const T vj = j ? v[b * V + j - 1] : T(1);
          const T tk = k ? t[b * Tt + k - 1] : T(1);
          const T g = gz[b * width + (i * (V + 1) + j) * (Tt + 1) + k];
          if (i) ga[b * A + i - 1] += g * vj * tk;
          if (j) gv[b * V + j - 1] += g * ai * tk;
          if (k) gt[b * Tt + k - 1] += g * ai * vj;
        }
}

template void fusion_forward_reference<float>(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                              const float*, float*);
template void fusion_forward_reference<double>(int64_t, int64_t, int64_t, int64_t, const double*, const double*,
                                               const double*, double*);
template void fusion_backward_reference<float>(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                               const float*, const float*, float*, float*, float*);
template void fusion_backward_reference<double>(int64_t, int64_t, int64_t, int64_t, const double*, const double*,
                                                const double*, const double*, double*, double*, double*);

}  // namespace mtfn
