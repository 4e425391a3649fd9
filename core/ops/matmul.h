// Matrix products through cblas: matmul (2-D, and batched 3-D) and linear (x W^T + b,
// the Linear layer's op, which multiplies by W transposed without copying it).
#pragma once

#include "core/tensor.h"

namespace mtfn {

// (M,K) @ (K,N) -> (M,N); (B,M,K) @ (B,K,N) -> (B,M,N); (B,M,K) @ (K,N) -> (B,M,N).
Tensor matmul(const Tensor& a, const Tensor& b);

// x (..., in), weight (out, in), bias (out) or undefined -> (..., out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// C = alpha * op(A) op(B) + beta * C for row-major matrices; op = transpose if the flag is set.
// The thin typed wrapper over cblas_sgemm / cblas_dgemm that every op here uses.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// While it lives, every OpenBLAS call runs on its calling thread alone (the thread count before is
// restored after). For GEMMs issued from inside oneTBB loops, which already use every core: an OpenBLAS
// thread team per TBB worker would put several busy threads on each core.
// PROCESS-WIDE: openblas_set_num_threads is one global setting, not a per-thread one. While a
// SerialBlas lives, every OpenBLAS call from ANY thread runs serial, not only the calls in its scope.
// Two threads holding one each (not nested on one thread) race: the second saves the 1 the first set,
// and when the first ends it restores the old count while the second is still inside its scope, whose
// GEMMs then start thread teams again (oversubscription); and OpenBLAS does not promise that changing
// the count is safe while another thread is inside a call. Open one around the whole parallel
// loop, on the thread that starts it (as nn/fusion_linear.cpp does), never inside the loop body.
class SerialBlas {
 public:
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int previous_;
};

// The plain triple loop that gemm must agree with (tests compare the two).
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace mtfn
