// Tensor creation, data access, copies and views. See tensor.h.
#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <ostream>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/blas_kernels.h"
#include "core/parallel.h"

namespace mtfn {

namespace {
// Before main, in every program that uses a Tensor: from a static library the linker takes an object
// file only when something references it, and every such program references this file. glibc passes
// a constructor the program's own argc, argv and envp, which the re-exec reuses (other C libraries
// pass nothing: there the choice is left to the user's OPENBLAS_CORETYPE).
__attribute__((constructor)) void choose_openblas_kernels(int /*argc*/, char** argv, char** /*envp*/) {
#ifdef __GLIBC__
  use_fast_openblas_kernels(argv);
#endif
}
}  // namespace

std::size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }
const char* dtype_name(DType d) { return d == DType::F32 ? "float32" : "float64"; }
std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error(fmt::format("negative dimension in shape {}", shape_str(s)));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

Storage::Storage(std::size_t n) : bytes(n) {
  const std::size_t rounded = ((n + 63) / 64) * 64;
  data = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!data) throw Error(fmt::format("out of memory allocating {} bytes", n));
}
Storage::~Storage() { std::free(data); }

// --- creation ---
Tensor Tensor::empty(Shape shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  const int64_t n = shape_numel(shape);
  impl->shape = std::move(shape);
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(n) * dtype_size(dtype));
  return Tensor(std::move(impl));
}
Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.raw_data(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype));
  return t;
}
Tensor Tensor::ones(Shape shape, DType dtype) { return full(std::move(shape), 1.0, dtype); }
Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  t.fill(value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }
Tensor Tensor::from_vector(const std::vector<double>& values, Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(fmt::format("from_vector: {} values for shape {}", values.size(), shape_str(t.shape())));
  MTFN_DISPATCH(dtype, {
    scalar_t* p = t.data<scalar_t>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<scalar_t>(values[i]);
  });
  return t;
}

// --- what it is ---
const Shape& Tensor::shape() const {
  if (!impl_) throw Error("use of an undefined tensor");
  return impl_->shape;
}
int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  const int64_t k = d < 0 ? d + n : d;
  if (k < 0 || k >= n) throw Error(fmt::format("dimension {} out of range for shape {}", d, shape_str(shape())));
  return impl_->shape[static_cast<size_t>(k)];
}
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const {
  if (!impl_) throw Error("use of an undefined tensor");
  return impl_->dtype;
}
std::string Tensor::describe() const {
  if (!impl_) return "undefined";
  return fmt::format("{} {}", dtype_name(impl_->dtype), shape_str(impl_->shape));
}

// --- data ---
template <class T> T* Tensor::data() {
  if (dtype() != dtype_of<T>())
    throw Error(fmt::format("data<{}>() on a {} tensor", dtype_name(dtype_of<T>()), describe()));
  return static_cast<T*>(impl_->storage->data) + impl_->offset;
}
template <class T> const T* Tensor::data() const { return const_cast<Tensor*>(this)->data<T>(); }
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;

void* Tensor::raw_data() {
  shape();
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(impl_->dtype));
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

double Tensor::at(int64_t i) const {
  if (i < 0 || i >= numel()) throw Error(fmt::format("index {} out of range for {}", i, describe()));
  double v = 0;
  MTFN_DISPATCH(dtype(), v = static_cast<double>(data<scalar_t>()[i]));
  return v;
}
double Tensor::item() const {
  if (numel() != 1) throw Error(fmt::format("item() of a tensor with {} elements {}", numel(), describe()));
  return at(0);
}
std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(static_cast<size_t>(numel()));
  MTFN_DISPATCH(dtype(), {
    const scalar_t* p = data<scalar_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  });
  return out;
}
void Tensor::fill(double value) {
  MTFN_DISPATCH(dtype(), {
    scalar_t* p = data<scalar_t>();
    const scalar_t v = static_cast<scalar_t>(value);
    parallel_for(numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = v;
    });
  });
}

// --- copies and views ---
Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype());
  std::memcpy(t.raw_data(), raw_data(), static_cast<size_t>(numel()) * dtype_size(dtype()));
  return t;
}
Tensor Tensor::to(DType d) const {
  if (d == dtype()) return *this;
  Tensor t = empty(shape(), d);
  t.copy_from(*this);
  return t;
}
Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape();
  impl->dtype = impl_->dtype;
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  return Tensor(std::move(impl));
}
Tensor Tensor::view(Shape s) const {
  if (shape_numel(s) != numel())
    throw Error(fmt::format("view: cannot view {} as {}", describe(), shape_str(s)));
  Tensor t = detach();
  t.impl_->shape = std::move(s);
  return t;
}
Tensor Tensor::narrow0(int64_t start, int64_t length) const {
  if (dim() < 1 || start < 0 || length < 0 || start + length > size(0))
    throw Error(fmt::format("narrow0: rows [{}, {}) out of range for {}", start, start + length, describe()));
  Tensor t = detach();
  t.impl_->shape[0] = length;
  t.impl_->offset += start * (size(0) ? numel() / size(0) : 0);
  return t;
}
void Tensor::copy_from(const Tensor& src) {
  if (src.numel() != numel())
    throw Error(fmt::format("copy_from: {} into {}", src.describe(), describe()));
  if (src.dtype() == dtype()) {
    std::memcpy(raw_data(), src.raw_data(), static_cast<size_t>(numel()) * dtype_size(dtype()));
    return;
  }
  MTFN_DISPATCH(dtype(), {
    scalar_t* d = data<scalar_t>();
    const int64_t n = numel();
    if (src.dtype() == DType::F32) {
      const float* s = src.data<float>();
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<scalar_t>(s[i]);
    } else {
      const double* s = src.data<double>();
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<scalar_t>(s[i]);
    }
  });
}

// --- autograd ---
bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool on) {
  if (!is_leaf()) throw Error("set_requires_grad: only leaf tensors can change requires_grad");
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const { return impl_ ? impl_->grad.get() : Tensor(); }
void Tensor::set_grad(Tensor g) {
  if (g.defined() && (g.shape() != shape() || g.dtype() != dtype()))
    throw Error(fmt::format("set_grad: gradient {} for tensor {}", g.describe(), describe()));
  impl_->grad.set(std::move(g));
}
void Tensor::drop_grad() {
  if (impl_) impl_->grad.drop();
}
GradSlot& Tensor::grad_slot() const {
  shape();  // throws on an undefined tensor
  return impl_->grad;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  shape();
  return impl_->grad_fn;
}
bool Tensor::is_leaf() const { return impl_ && !impl_->grad_fn; }

void Tensor::backward(bool retain_graph) const {
  if (numel() != 1)
    throw Error(fmt::format("backward: output {} is not a scalar; pass an output gradient", describe()));
  run_backward(*this, Tensor::ones(shape(), dtype()), retain_graph);
}
void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  if (!grad_output.defined() || grad_output.shape() != shape() || grad_output.dtype() != dtype())
    throw Error(fmt::format("backward: output gradient {} does not match output {}", grad_output.describe(), describe()));
  run_backward(*this, grad_output, retain_graph);
}

}  // namespace mtfn
