// The gradient slot's state changes. See grad_slot.h for the states.
// Not here: the checks that a gradient matches its tensor (accumulate_grad, Tensor::set_grad).
#include "core/grad_slot.h"

#include "core/ops/elementwise.h"
#include "core/tensor.h"

namespace mtfn {

void GradSlot::fill_pending_zero() {
  if (!pending_zero_) return;
  Tensor(grad_).fill(0.0);
  pending_zero_ = false;
}

Tensor GradSlot::get() {
  fill_pending_zero();
  return Tensor(grad_);
}

void GradSlot::accumulate(const Tensor& g) {
  fill_pending_zero();
  if (!grad_) {
    // Take g as it is, without a copy; it may alias another gradient, so remember
    // to copy before the first in-place addition.
    grad_ = g.impl_ptr();
    shared_ = true;
    return;
  }
  if (shared_) {
    grad_ = Tensor(grad_).clone().impl_ptr();
    shared_ = false;
  }
  Tensor owned(grad_);
  add_into(owned, g);
}

Tensor GradSlot::buffer_to_add_into(const Shape& shape, DType dtype) {
  fill_pending_zero();
  if (!grad_)
    grad_ = Tensor::zeros(shape, dtype).impl_ptr();
  else if (shared_)
    grad_ = Tensor(grad_).clone().impl_ptr();
  shared_ = false;
  return Tensor(grad_);
}

Tensor GradSlot::buffer_to_overwrite(const Shape& shape, DType dtype, bool& is_zero) {
  is_zero = !grad_ || pending_zero_;
  if (!is_zero) return buffer_to_add_into(shape, dtype);
  if (!grad_) grad_ = Tensor::empty(shape, dtype).impl_ptr();
  shared_ = false;
  pending_zero_ = false;  // the caller writes every element
  return Tensor(grad_);
}

void GradSlot::zero_in_place() {
  if (!grad_) return;
  if (shared_)
    drop();  // filling it would zero the tensor it aliases too
  else
    pending_zero_ = true;
}

void GradSlot::drop() {
  grad_.reset();
  shared_ = false;
  pending_zero_ = false;
}

Tensor GradSlot::take() {
  fill_pending_zero();
  Tensor g(std::move(grad_));
  drop();
  return g;
}

void GradSlot::set(Tensor g) {
  grad_ = g.impl_ptr();
  shared_ = false;
  pending_zero_ = false;
}

}  // namespace mtfn
