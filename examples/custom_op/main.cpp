// Checks softplus's backward against central differences with the library's gradient checker
// (core/gradcheck.h), in float64, over several shapes, with the checker's default tolerances (those of the
// library's own op tests). Prints each check's one-line report; exits 1 if one fails or the forward is wrong.
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/gradcheck.h"
#include "core/ops/elementwise.h"
#include "softplus.h"

using mtfn::Tensor;

int main() {
  // Forward against the textbook formula, away from overflow.
  Tensor x = Tensor::from_vector({-30, -2, -0.5, 0, 0.5, 2, 30}, {7}, mtfn::DType::F64);
  Tensor y = example::softplus(x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double want = std::log(1 + std::exp(x.at(i)));
    if (std::abs(y.at(i) - want) > 1e-12 * std::max(1.0, want)) {
      std::printf("softplus(%g) = %.17g, expected %.17g\n", x.at(i), y.at(i), want);
      return 1;
    }
  }

  // Backward: every element of inputs of several shapes, including a scalar and size-1 dimensions.
  // softplus inside a product, so the incoming gradient is not just the checker's weights.
  int64_t checked = 0;
  bool ok = true;
  uint64_t seed = 1;
  for (mtfn::Shape shape : {mtfn::Shape{}, mtfn::Shape{7}, mtfn::Shape{3, 4}, mtfn::Shape{2, 1, 3}}) {
    Tensor a = mtfn::random_tensor(shape, seed++, -6.0, 6.0).set_requires_grad(true);  // float64 leaves
    Tensor b = mtfn::random_tensor(shape, seed++, -1.0, 1.0).set_requires_grad(true);
    const mtfn::GradcheckResult r = mtfn::gradcheck(
        "softplus", [](const std::vector<Tensor>& in) { return mtfn::mul(example::softplus(in[0]), in[1]); }, {a, b});
    std::printf("shape %-10s %s\n", mtfn::shape_str(shape).c_str(), r.describe().c_str());
    ok = ok && r.passed();
    checked += r.checked;
  }
  // Far in the left tail (x in [-40, -20]) the gradient sigmoid(x) is below 2.1e-9: still checked element by element.
  Tensor tail = mtfn::random_tensor({6}, seed++, -40.0, -20.0).set_requires_grad(true);
  const mtfn::GradcheckResult r =
      mtfn::gradcheck("softplus", [](const std::vector<Tensor>& in) { return example::softplus(in[0]); }, {tail});
  std::printf("tail       %s\n", r.describe().c_str());
  ok = ok && r.passed();
  checked += r.checked;
  std::printf("softplus: %lld elements checked\n", static_cast<long long>(checked));
  if (!ok) {
    std::printf("FAILED: the backward pass does not match central differences\n");
    return 1;
  }
  std::printf("OK\n");
  return 0;
}
