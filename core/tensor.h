// Tensor: a shape, a dtype (float32 or float64) and contiguous storage that views share,
// plus the autograd bookkeeping (requires_grad, the gradient slot, the node that made it).
// Not here: the ops (core/ops/*.h), the graph walk (core/autograd.h), the gradient's states (core/grad_slot.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/grad_slot.h"

namespace mtfn {

enum class DType : uint8_t { F32, F64 };

std::size_t dtype_size(DType d);
const char* dtype_name(DType d);  // "float32", "float64"
std::ostream& operator<<(std::ostream& os, DType d);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "(2, 3)"

// A 64-byte aligned, uninitialised buffer.
struct Storage {
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  std::size_t bytes = 0;
};

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation (no grad) ---
  static Tensor empty(Shape shape, DType dtype = DType::F32);  // uninitialised
  static Tensor zeros(Shape shape, DType dtype = DType::F32);
  static Tensor ones(Shape shape, DType dtype = DType::F32);
  static Tensor full(Shape shape, double value, DType dtype = DType::F32);
  static Tensor scalar(double value, DType dtype = DType::F32);  // shape ()
  static Tensor from_vector(const std::vector<double>& values, Shape shape, DType dtype = DType::F32);

  // --- what it is ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  std::string describe() const;  // "float32 (2, 3)"

  // --- data (contiguous, row-major) ---
  template <class T> T* data();
  template <class T> const T* data() const;
  void* raw_data();
  const void* raw_data() const;
  double item() const;                 // a one-element tensor's value
  double at(int64_t flat_index) const;  // any dtype, as double
  std::vector<double> to_vector() const;
  void fill(double value);

  // --- copies and views (none of these is recorded in the graph) ---
  Tensor clone() const;               // a new storage, same values, no grad
  Tensor to(DType dtype) const;       // a converted copy (or *this if already that dtype)
  Tensor detach() const;              // same storage, outside the graph
  Tensor view(Shape shape) const;     // same storage, another shape (element count must agree)
  Tensor narrow0(int64_t start, int64_t length) const;  // rows [start, start+length) of dim 0, shared
  void copy_from(const Tensor& src);  // values of src into this (same numel; dtype converted)

  // --- autograd ---
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);  // leaves only
  // The gradient: undefined until a backward reaches it. Although const, it MUTATES the gradient
  // slot: a gradient zeroed in place (nn::zero_grad) has its fill pending, and grad() does the fill
  // (a full pass over the memory) before returning it. Do not call it from two threads at once.
  Tensor grad() const;
  void set_grad(Tensor g);                    // g (same shape and dtype, or undefined) as the gradient
  void drop_grad();                           // no gradient any more (not a zeroing: nn::zero_grad zeroes)
  GradSlot& grad_slot() const;                // the gradient's owner, for what the three above do not say
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const;
  // Backward from a one-element tensor (dL/dself = 1).
  void backward(bool retain_graph = false) const;
  // Backward with an explicit output gradient of the same shape.
  void backward(const Tensor& grad_output, bool retain_graph = false) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl : std::enable_shared_from_this<TensorImpl> {
  Shape shape;
  DType dtype = DType::F32;
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  // autograd
  bool requires_grad = false;
  GradSlot grad;  // its state is private: use its API (grad_slot.h) or accumulate_grad / grad_buffer*
  std::shared_ptr<Node> grad_fn;
};

// Fixed dtype dispatch: runs BODY with `scalar_t` bound to float or double.
#define MTFN_DISPATCH(DTYPE, ...)                     \
  do {                                                \
    if ((DTYPE) == ::mtfn::DType::F32) {              \
      using scalar_t = float;                         \
      __VA_ARGS__;                                    \
    } else {                                          \
      using scalar_t = double;                        \
      __VA_ARGS__;                                    \
    }                                                 \
  } while (0)

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }

}  // namespace mtfn
