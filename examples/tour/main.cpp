// A tour of the autograd engine on one tiny graph, in the spirit of llm.c's doc/layernorm:
//
//   a = W x + b        x (D), W (H,D), b (H)        core/ops/shape.cpp reshape, core/ops/matmul.cpp linear
//   h = tanh(a)        (H)                          core/ops/activation.cpp
//   y = sum(h * h)     ()                           core/ops/elementwise.cpp, core/ops/reduce.cpp
//
// It runs the forward pass (recording a graph), y.backward() (walking it back), prints each gradient next
// to the same gradient derived by hand and to central differences, then prints where to read next.
// Exits 1 if any of them disagree. Not here: how to write a new op (examples/custom_op).
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/autograd.h"
#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "core/tensor.h"

using mtfn::DType;
using mtfn::Tensor;

namespace {

constexpr int64_t D = 3, H = 4;  // input features, hidden units

// y = sum(tanh(W x + b)^2), with x as one row (1, D) so that linear computes x W^T + b.
Tensor forward(const Tensor& x, const Tensor& w, const Tensor& b) {
  // reshape, not Tensor::view: view() gives a detached handle (outside the graph), reshape is an op.
  Tensor a = mtfn::linear(mtfn::reshape(x, {1, D}), w, b);  // (1,H) pre-activation
  Tensor h = mtfn::tanh(a);                       // (1,H)
  return mtfn::sum(mtfn::mul(h, h));              // () a scalar: backward() needs no seed gradient
}

// Central difference of y with respect to every element of t, the others held: (y(t+s) - y(t-s)) / 2s.
std::vector<double> central_differences(Tensor& t, const std::function<double()>& y) {
  std::vector<double> out;
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double saved = p[i], s = 1e-6;
    p[i] = saved + s;
    const double up = y();
    p[i] = saved - s;
    const double down = y();
    p[i] = saved;
    out.push_back((up - down) / (2 * s));
  }
  return out;
}

int g_failed = 0;

void show(const char* name, const Tensor& grad, const std::vector<double>& by_hand, const std::vector<double>& numeric) {
  std::printf("\n%s  (%s)\n  %-4s %14s %14s %14s\n", name, grad.describe().c_str(), "i", "backward()", "by hand",
              "central diff");
  for (int64_t i = 0; i < grad.numel(); ++i) {
    const double g = grad.at(i);
    const bool ok = std::abs(g - by_hand[i]) <= 1e-12 * (1 + std::abs(g)) &&
                    std::abs(g - numeric[i]) <= 1e-8 + 1e-6 * std::abs(numeric[i]);
    if (!ok) ++g_failed;
    std::printf("  %-4lld %14.10f %14.10f %14.10f%s\n", static_cast<long long>(i), g, by_hand[i], numeric[i],
                ok ? "" : "  <- MISMATCH");
  }
}

}  // namespace

int main() {
  // Float64 leaves that require grad: the graph records every op on them.
  Tensor x = Tensor::from_vector({0.5, -1.0, 2.0}, {D}, DType::F64).set_requires_grad(true);
  Tensor w = Tensor::from_vector({0.1, 0.2, -0.3, -0.4, 0.5, 0.1, 0.3, -0.2, 0.2, 0.05, 0.1, -0.15}, {H, D},
                                 DType::F64)
                 .set_requires_grad(true);
  Tensor b = Tensor::from_vector({0.1, -0.2, 0.0, 0.3}, {H}, DType::F64).set_requires_grad(true);

  // 1. Forward: each op computes its result and record()s a Node (its name, its inputs, a backward lambda).
  Tensor y = forward(x, w, b);
  std::printf("y = sum(tanh(W x + b)^2) = %.12f\n", y.item());
  std::printf("y was made by op \"%s\"; its input was made by \"%s\"\n", y.grad_fn()->name,
              y.grad_fn()->inputs[0].grad_fn()->name);

  // 2. Backward: a depth-first topological sort from y, then each node's lambda in reverse order, each
  //    ADDING dL/d(input) into the input's gradient slot. Leaves keep their gradients.
  y.backward();

  // 3. The same gradients by hand, from the chain rule written in the ops' comments:
  //    dy/dh = 2h;  dh/da = 1 - h^2  (tanh's backward uses y, not a);  so g = dy/da = 2h(1 - h^2), and
  //    dy/db = g,  dy/dW = g x^T (an outer product),  dy/dx = W^T g.
  std::vector<double> g(H), gb(H), gw(H * D), gx(D, 0.0);
  for (int64_t j = 0; j < H; ++j) {
    double a = b.at(j);
    for (int64_t k = 0; k < D; ++k) a += w.at(j * D + k) * x.at(k);
    const double h = std::tanh(a);
    g[j] = 2 * h * (1 - h * h);
    gb[j] = g[j];
    for (int64_t k = 0; k < D; ++k) {
      gw[j * D + k] = g[j] * x.at(k);
      gx[k] += w.at(j * D + k) * g[j];
    }
  }

  // 4. Central differences: move one element by +-s, run the forward again outside the graph.
  auto y_value = [&] {
    mtfn::NoGradGuard no_graph;  // nothing recorded: plain evaluation
    return forward(x, w, b).item();
  };
  show("dy/dx", x.grad(), gx, central_differences(x, y_value));
  show("dy/dW", w.grad(), gw, central_differences(w, y_value));
  show("dy/db", b.grad(), gb, central_differences(b, y_value));

  std::printf(
      "\nReading order through the engine (the source tree's core/; the headers are also installed under include/mtfn/):\n"
      "  1. core/tensor.h            Tensor: shape, dtype, shared storage, views, and the autograd fields\n"
      "  2. core/grad_slot.h         GradSlot: a tensor's gradient, shared / owned / pending zero\n"
      "  3. core/autograd.h/.cpp     Node, record(), accumulate_grad(), run_backward(): sort and reverse loop\n"
      "  4. core/ops/elementwise.cpp add, mul, exp: each forward with its backward under it (sum_to for "
      "broadcasting)\n"
      "  5. core/ops/activation.cpp  tanh: dL/dx = dL/dy * (1 - y^2), saving y\n"
      "  6. core/ops/reduce.cpp      sum (backward: expand_to) and sum_to\n"
      "  7. core/ops/matmul.cpp      linear: GEMMs adding into grad_buffer (beta = 1)\n"
      "  8. core/gradcheck.h/.cpp    the checker every op's test uses\n"
      "  9. docs/autograd.md         the same, in prose, and the checklist for adding an op\n");

  if (g_failed) {
    std::printf("\nFAILED: %d gradient entries disagree\n", g_failed);
    return 1;
  }
  std::printf("\nOK: backward(), the chain rule by hand and central differences agree\n");
  return 0;
}
