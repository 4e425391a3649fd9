// GradSlot: a tensor's gradient and its bookkeeping (aliasing, the pending zero), the one owner of
// that state. TensorImpl holds one; ops reach it through accumulate_grad / grad_buffer* (autograd.h).
// Not here: which gradient an op computes (core/ops), the graph walk (core/autograd.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace mtfn {

class Tensor;
struct TensorImpl;
enum class DType : uint8_t;              // defined in core/tensor.h
using Shape = std::vector<int64_t>;       // the same alias as core/tensor.h's

// The states of a slot (the gradient's shape and dtype are its tensor's, checked by the callers):
//   none          no gradient yet (or dropped): defined() is false, get() is undefined.
//   shared        the gradient is a tensor taken without a copy (accumulate's first gradient); it may
//                 alias another tensor's gradient or an op's output, so it is copied before anything
//                 is added into it in place, and zero_in_place() drops it instead of zeroing it.
//   owned         the gradient owns its memory: ops add into it in place.
//   pending zero  owned, its values are 0 in meaning but the memory was not filled (zero_in_place()).
//                 Zeroing every step would cost a pass over each gradient: 558 MB for MTFN's fusion
//                 head weight. The fill happens at the first read or add (get(), accumulate(),
//                 buffer_to_add_into(), take()); buffer_to_overwrite() skips it for an op that writes
//                 every element anyway. A handle to the gradient taken before zero_in_place() sees the
//                 old values until someone reads the slot again.
// Not thread-safe: one backward pass at a time writes a tensor's slot.
class GradSlot {
 public:
  // --- reading ---
  bool defined() const { return grad_ != nullptr; }  // false when none; no fill
  bool pending_zero() const { return pending_zero_; }
  Tensor get();  // the gradient (undefined when none); fills a pending zero first, hence not const

  // --- adding (what a backward pass does) ---
  // gradient += g. The first gradient is taken as it is, without a copy (shared); the first in-place
  // add after that copies it (owned).
  void accumulate(const Tensor& g);
  // The owned, filled buffer an op adds into in place (a GEMM with beta = 1): zeros when none.
  Tensor buffer_to_add_into(const Shape& shape, DType dtype);
  // For an op that writes every element: is_zero says whether the values are 0 in meaning (none, or
  // pending zero); then the buffer comes unfilled and the op must write it (beta = 0), and the slot
  // is owned. Otherwise it is buffer_to_add_into() and the op adds (beta = 1).
  Tensor buffer_to_overwrite(const Shape& shape, DType dtype, bool& is_zero);

  // --- resetting ---
  void zero_in_place();  // owned: keep the memory, leave the fill pending; shared: drop(); none: nothing
  void drop();           // none
  Tensor take();         // the gradient (a pending zero filled), leaving the slot none
  void set(Tensor g);    // g as the owned gradient (undefined g: none)

 private:
  void fill_pending_zero();  // the one place a pending zero is filled

  std::shared_ptr<TensorImpl> grad_;  // a Tensor's handle (Tensor is not complete here)
  bool shared_ = false;
  bool pending_zero_ = false;
};

}  // namespace mtfn
