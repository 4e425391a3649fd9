// The graph engine: a Node per op result that maps the result's gradient to its inputs'
// gradients, a depth-first topological sort and a reverse loop. Gradients accumulate.
// Not here: any op's maths (core/ops/*.cpp), which each op writes next to its forward.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"

namespace mtfn {

// One recorded op. `backward` receives dL/d(output) and ADDS each input's gradient
// into it with accumulate_grad (never overwrites: an input may feed several ops).
struct Node {
  const char* name = "";        // the op's name, for error messages
  std::vector<Tensor> inputs;   // the op's tensor inputs (kept alive for backward)
  std::function<void(const Tensor& grad_output)> backward;
  bool released = false;        // true once a backward without retain_graph ran through it
};

// Is the graph being recorded? (false inside a NoGradGuard)
// The flag is THREAD-LOCAL and starts true on every thread; oneTBB worker threads do not inherit
// the flag of the thread that started a parallel loop. An op called inside a parallel_for body
// therefore records (or not) according to whichever thread runs that iteration: under a NoGradGuard
// (evaluation, and every backward pass, which runs under one) the workers would still record nodes,
// unsynchronised and keeping inputs alive. Ops work on raw data inside parallel loops and call
// record() once, outside the loop, on the calling thread; if a loop body must call recording ops,
// read grad_enabled() before the loop and open a NoGradGuard inside the body when it was false.
bool grad_enabled();

// RAII scope in which ops record nothing (evaluation, optimiser updates). Its thread only (above).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True if recording is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records `out` as the result of op `name` on `inputs` if any of them requires grad.
// `backward` is called with dL/d(out) during Tensor::backward.
Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs,
              std::function<void(const Tensor& grad_output)> backward);

// The three functions below are what ops call; each is one call into x's gradient slot
// (core/grad_slot.h, which describes the states: shared, owned, pending zero).

// x.grad += g (g has x's shape and dtype, checked). Does nothing if x does not require grad.
// GradSlot::accumulate: the first gradient is kept without a copy.
void accumulate_grad(const Tensor& x, const Tensor& g);

// x's gradient buffer, allocated and zeroed on first use, for ops that add into it
// in place (e.g. a GEMM with beta = 1). Call only if x.requires_grad(). GradSlot::buffer_to_add_into.
Tensor grad_buffer(const Tensor& x);

// x's gradient buffer for an op whose backward writes every element of it: is_zero says whether its
// values are 0 (new, or zeroed by zero_grad, which leaves the fill pending), and then the buffer
// comes unfilled and the op must write it (a GEMM with beta = 0); otherwise it is grad_buffer(x)
// and the op adds (beta = 1). Backward still adds into gradients: this only skips adding to zeros.
// GradSlot::buffer_to_overwrite.
Tensor grad_buffer_unfilled(const Tensor& x, bool& is_zero);

// Called during a backward pass for each leaf that requires grad, as soon as its gradient
// is complete for this pass (every op that used it has run). Data-parallel training starts
// a gradient all-reduce from here while the rest of the backward pass goes on.
using GradReadyHook = std::function<void(const Tensor& leaf)>;

// The engine behind Tensor::backward; `on_leaf_ready` may be empty.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph,
                  const GradReadyHook& on_leaf_ready = {});

}  // namespace mtfn
