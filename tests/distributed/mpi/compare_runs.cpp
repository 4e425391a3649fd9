// compare_runs DIR_A DIR_B TOL [TOL_TENSORS]: do two `mtfn train --keep-checkpoints` runs agree? Every epoch's
// train loss within TOL (relative), the same valid losses (MMSA rounds them to 4 places) and best
// epochs, the model's final parameters (all of them as one vector) within TOL in norm, |a - b| / |b|,
// and every tensor of the last checkpoint (parameters, BatchNorm statistics, Adam's moments) within
// TOL_TENSORS (default TOL; inf: no bound per tensor, for float32 runs, see mtfn_data_parallel.sh) in
// norm; with TOL 0, the same test metrics too. Exit 0 if so; prints the
// largest errors.
//
// Why in norm and not element by element: two runs that add the same numbers in another order
// (two processes, or another thread count) differ by float32 rounding in every gradient. Adam's step
// lr * m / sqrt(v) is normalised, so where an element's gradient cancels down to rounding level the
// step itself differs; among the 139.5 M fusion weights a few such elements differ by up to ~1e-2 of
// the tensor's largest value, while the tensor as a whole agrees to ~1e-7 (both figures are printed).
#include <algorithm>
#include <cmath>
#include <vector>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Diff {
  double norm = INFINITY;  // |a - b| / |b| (2-norms)
  double max = INFINITY;   // max |a_i - b_i| / max |b_i|
  double dd = 0, bb = 0;   // |a - b|^2, |b|^2
};

static Diff diff(const mtfn::Tensor& a, const mtfn::Tensor& b) {
  if (a.shape() != b.shape()) return {};
  const mtfn::Tensor x = a.to(mtfn::DType::F64), y = b.to(mtfn::DType::F64);
  const double *pa = x.data<double>(), *pb = y.data<double>();
  double dd = 0, bb = 0, dmax = 0, bmax = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = pa[i] - pb[i];
    dd += d * d, bb += pb[i] * pb[i];
    dmax = std::max(dmax, std::abs(d)), bmax = std::max(bmax, std::abs(pb[i]));
  }
  return {bb > 0 ? std::sqrt(dd / bb) : std::sqrt(dd), bmax > 0 ? dmax / bmax : dmax, dd, bb};
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: compare_runs DIR_A DIR_B TOL [TOL_TENSORS]\n");
    return 2;
  }
  const fs::path a = argv[1], b = argv[2];
  const double tol = std::atof(argv[3]), tol_tensors = argc == 5 ? std::atof(argv[4]) : tol;
  bool ok = true;
  try {
    json ra, rb;
    std::ifstream(a / "results.json") >> ra;
    std::ifstream(b / "results.json") >> rb;
    double worst_loss = 0;
    if (ra["seeds"].size() != rb["seeds"].size()) ok = false;
    for (size_t s = 0; ok && s < ra["seeds"].size(); ++s) {
      const json &sa = ra["seeds"][s], &sb = rb["seeds"][s];
      if (sa["best_epoch"] != sb["best_epoch"] || sa["epochs"].size() != sb["epochs"].size()) {
        std::printf("seed %zu: best epoch or epoch count differ\n", s);
        ok = false;
        break;
      }
      for (size_t e = 0; e < sa["epochs"].size(); ++e) {
        const double la = sa["epochs"][e]["train_loss"], lb = sb["epochs"][e]["train_loss"];
        const double va = sa["epochs"][e]["valid_loss"], vb = sb["epochs"][e]["valid_loss"];
        worst_loss = std::max(worst_loss, std::abs(la - lb) / std::abs(lb));
        std::printf("seed %s epoch %zu: train_loss %.9f vs %.9f, valid_loss %.4f vs %.4f\n",
                    sa["seed"].dump().c_str(), e + 1, la, lb, va, vb);
        if (std::abs(va - vb) > 1.5e-4) ok = false;
      }
      // With tolerance 0 the runs must be the same computation: the test metrics too, exactly.
      if (tol == 0 && sa["test"] != sb["test"]) {
        std::printf("seed %s: test metrics differ: %s vs %s\n", sa["seed"].dump().c_str(), sa["test"].dump().c_str(),
                    sb["test"].dump().c_str());
        ok = false;
      }
      const fs::path ca = a / "checkpoints" / ("seed-" + sa["seed"].dump()) / "last.safetensors";
      const fs::path cb = b / "checkpoints" / ("seed-" + sb["seed"].dump()) / "last.safetensors";
      const mtfn::nn::SafetensorsFile fa = mtfn::nn::read_safetensors(ca.string());
      const mtfn::nn::SafetensorsFile fb = mtfn::nn::read_safetensors(cb.string());
      double worst = 0, worst_max = 0;
      std::string where, where_max;
      std::vector<std::pair<double, std::string>> by_norm;
      double model_dd = 0, model_bb = 0;
      for (const auto& e : fa.tensors) {
        const mtfn::nn::NamedTensor* o = fb.tensors.find(e.name);
        const Diff d = o ? diff(e.tensor, o->tensor) : Diff{};
        by_norm.emplace_back(d.norm, e.name);
        if (e.name.rfind("model.", 0) == 0) model_dd += d.dd, model_bb += d.bb;
        if (!(d.norm <= worst)) worst = d.norm, where = e.name;
        if (!(d.max <= worst_max)) worst_max = d.max, where_max = e.name;
      }
      std::printf("seed %s: %zu checkpoint tensors; largest difference in norm %.3g (%s); element by element "
                  "%.3g of the tensor's scale (%s)\n",
                  sa["seed"].dump().c_str(), fa.tensors.size(), worst, where.c_str(), worst_max, where_max.c_str());
      const double model_norm = std::sqrt(model_dd / model_bb);
      std::printf("seed %s: the model's parameters and buffers as one vector differ by %.3g in norm (tolerance %g)\n",
                  sa["seed"].dump().c_str(), model_norm, tol);
      if (!(model_norm <= tol)) ok = false;
      std::sort(by_norm.rbegin(), by_norm.rend());
      for (size_t i = 0; i < std::min<size_t>(6, by_norm.size()); ++i)
        std::printf("  %-48s %.3g in norm (tolerance %g)\n", by_norm[i].second.c_str(), by_norm[i].first, tol_tensors);
      if (!(worst <= tol_tensors) || fa.tensors.size() != fb.tensors.size()) ok = false;
    }
    std::printf("largest train-loss relative difference %.3g (tolerance %g)\n", worst_loss, tol);
    if (!(worst_loss <= tol)) ok = false;
  } catch (const std::exception& e) {
    std::printf("compare_runs: %s\n", e.what());
    return 1;
  }
  std::printf(ok ? "compare_runs: the runs agree\n" : "compare_runs: the runs DIFFER\n");
  return ok ? 0 : 1;
}
