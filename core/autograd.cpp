// The graph engine: topological sort by depth-first search, then a reverse loop that
// hands each node its output's gradient. See autograd.h.
#include "core/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

namespace mtfn {

namespace {
thread_local bool g_grad_enabled = true;  // per thread: oneTBB workers do not inherit it (autograd.h)
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs,
              std::function<void(const Tensor&)> backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
  return out;
}

static void check_grad_matches(const Tensor& x, const Tensor& g) {
  if (g.shape() != x.shape() || g.dtype() != x.dtype())
    throw Error(fmt::format("{}: gradient {} does not match tensor {}",
                            x.grad_fn() ? x.grad_fn()->name : "accumulate_grad", g.describe(), x.describe()));
}

void accumulate_grad(const Tensor& x, const Tensor& g) {
  if (!x.requires_grad()) return;
  check_grad_matches(x, g);
  x.impl()->grad.accumulate(g);
}

Tensor grad_buffer(const Tensor& x) { return x.impl()->grad.buffer_to_add_into(x.shape(), x.dtype()); }

Tensor grad_buffer_unfilled(const Tensor& x, bool& is_zero) {
  return x.impl()->grad.buffer_to_overwrite(x.shape(), x.dtype(), is_zero);
}

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph, const GradReadyHook& on_leaf_ready) {
  if (!root.requires_grad())
    throw Error(fmt::format("backward: output {} does not require grad (no input requires grad, or made under NoGradGuard)",
                            root.describe()));
  if (root.grad_fn() && root.grad_fn()->released)
    throw Error(fmt::format("backward: the graph behind {} ({}) was already released by an earlier backward; "
                            "pass retain_graph = true to the first one",
                            root.grad_fn()->name, root.describe()));

  // Depth-first post-order over tensors made by ops; iterative, so long chains
  // (an LSTM unrolled over many steps) cannot overflow the stack.
  std::vector<Tensor> order;  // owning: releasing a node may drop the last other reference
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack;
  if (root.grad_fn()) {
    stack.emplace_back(root.impl(), 0);
    seen.insert(root.impl());
  }
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    const auto& inputs = impl->grad_fn->inputs;
    if (next < inputs.size()) {
      const Tensor& in = inputs[next++];
      if (in.defined() && in.requires_grad() && in.grad_fn() && !seen.count(in.impl())) {
        if (in.grad_fn()->released)
          throw Error(fmt::format("backward: the graph behind {} ({}) was already released by an earlier backward",
                                  in.grad_fn()->name, in.describe()));
        seen.insert(in.impl());
        stack.emplace_back(in.impl(), 0);
      }
    } else {
      order.emplace_back(impl->shared_from_this());
      stack.pop_back();
    }
  }

  // For the hook: how many uses of each leaf are still to run.
  std::unordered_map<TensorImpl*, int> pending_uses;
  if (on_leaf_ready) {
    for (const Tensor& t : order)
      for (const Tensor& in : t.impl()->grad_fn->inputs)
        if (in.defined() && in.requires_grad() && !in.grad_fn()) ++pending_uses[in.impl()];
  }

  NoGradGuard no_grad;  // backward passes are not recorded (no higher-order gradients)
  accumulate_grad(root, grad_output);
  if (on_leaf_ready && !root.grad_fn()) on_leaf_ready(root);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    // A non-leaf's gradient is consumed here and not kept (as in PyTorch).
    const Tensor g = it->impl()->grad.take();
    Node& node = *it->grad_fn();
    if (g.defined()) node.backward(g);
    if (on_leaf_ready) {
      for (const Tensor& in : node.inputs) {
        auto use = pending_uses.find(in.impl());
        if (use != pending_uses.end() && --use->second == 0) on_leaf_ready(in);
      }
    }
    if (!retain_graph) {
      node.released = true;
      node.backward = nullptr;  // frees what the op saved for backward
      node.inputs.clear();
    }
  }
}

}  // namespace mtfn
