// Activations: relu, sigmoid, tanh, and softmax over the last dimension. Forward and backward side by
// side in the .cpp. Not here: log-softmax inside cross_entropy (loss.h).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "core/tensor.h"

namespace mtfn {

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// y_i = e^(x_i - max_j x_j) / sum_j e^(x_j - max_j x_j) along the last dimension: x (..., n) -> (..., n).
Tensor softmax(const Tensor& x);

// The row kernels of softmax, shared with the attention core (nn/attention.cpp): `rows` rows of n
// contiguous values each, rows split over threads, each row's sum accumulated in double.
//   forward:  y = softmax(x) row by row (the row maximum subtracted first: no exp overflows).
//   backward: gx = y * (gy - sum_j gy_j y_j), written (not added) row by row.
template <class S>
void softmax_rows_forward(int64_t rows, int64_t n, const S* x, S* y);
template <class S>
void softmax_rows_backward(int64_t rows, int64_t n, const S* y, const S* gy, S* gx);

// Numerically stable logistic function, shared with the fused ops (LSTM).
template <class T>
inline T sigmoid_scalar(T v) {
  // exp of a large positive argument overflows; use the form whose exp is <= 1.
  if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

// ---- float32 exp, sigmoid and tanh without branches or calls, so that a loop of them vectorises
// (-O3 -march=native: 16 lanes with AVX-512), for the LSTM's gates. Float64 keeps the exact std::
// functions (sigmoid_scalar, std::tanh): the gradient checks and the PyTorch parity tests run in it.
// Tested against float64 std::exp / std::tanh over [-200, 200] and at the edges
// (tests/core/test_kernels.cpp): relative error at most 8.2e-8 (exp), 1.9e-7 (sigmoid), 1.4e-7
// (tanh), subnormal results within an ulp; never inf or NaN for a finite or infinite argument.

// e^x: x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite: ln2 split in two so n ln2 is exact), e^r by
// Cephes expf's polynomial (relative error ~1e-7), 2^n built in the exponent bits as
// 2^(n/2) 2^(n - n/2) so that results near overflow and the subnormals below e^-87.3 come out right.
inline float exp_f32(float x) {
  x = x < -104.0f ? -104.0f : x;     // e^-104 rounds to 0 (NaN passes both and comes out NaN)
  x = x > 88.72283f ? 88.72283f : x;  // e^88.72283 ~ FLT_MAX
  // n = round(x / ln2): adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln2 = 0.693359375 - 2.12194440e-4
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;                                    // e^r
  const int32_t ni = static_cast<int32_t>(n), n1 = ni / 2, n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);       // 2^n1, n1 in [-75, 64]
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);       // 2^n2
  return p * s1 * s2;
}

// 1 / (1 + e^-x) from e = e^-|x| <= 1, which neither overflows nor cancels.
inline float sigmoid_f32(float x) {
  const float e = exp_f32(-std::fabs(x));
  const float s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;
}

// tanh |x| = (1 - e) / (1 + e) with e = e^-2|x|; below |x| = 0.625 that cancels, so there
// Cephes tanhf's odd polynomial x + x^3 P(x^2) instead. Both are computed, one is kept.
inline float tanh_f32(float x) {
  const float ax = std::fabs(x);
  const float e = exp_f32(-2.0f * ax);
  const float big = (1.0f - e) / (1.0f + e);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = ax + ax * z * p;
  return std::copysign(ax < 0.625f ? small : big, x);
}

}  // namespace mtfn
