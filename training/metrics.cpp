// MMSA's metrics, written from mtfn.md §4-§5 and MMSA's utils/metricsTop.py behaviour.
#include "training/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace mtfn::training {

void MetricList::set(const std::string& name, double value) {
  for (auto& [k, v] : items)
    if (k == name) {
      v = value;
      return;
    }
  items.emplace_back(name, value);
}

double MetricList::get(const std::string& name) const {
  for (const auto& [k, v] : items)
    if (k == name) return v;
  throw std::out_of_range("metric " + name + " not present");
}

bool MetricList::has(const std::string& name) const {
  for (const auto& [k, v] : items)
    if (k == name) return true;
  return false;
}

double py_round(double x, int digits) {
  if (!std::isfinite(x)) return x;
  // printf rounds the exact binary value, ties to even, as Python's round does.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return std::strtod(buf, nullptr);
}

std::string py_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", x);  // shortest round-trip digits, as Python's repr
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

float clip(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Index i of the bucket (edges[i], edges[i+1]] holding x; -1 if none (MMSA then keeps x itself).
int bucket(float x, std::span<const float> edges) {
  for (size_t i = 0; i + 1 < edges.size(); ++i)
    if (x > edges[i] && x <= edges[i + 1]) return static_cast<int>(i);
  return -1;
}

double accuracy(std::span<const int> a, std::span<const int> b) {
  if (a.empty()) return kNaN;
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

double mean_abs_error(std::span<const float> p, std::span<const float> t) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += std::fabs(static_cast<double>(p[i]) - static_cast<double>(t[i]));
  return p.empty() ? kNaN : s / static_cast<double>(p.size());
}

// np.corrcoef(p, t)[0][1], in float64 from the float32 values; NaN when a side is constant.
double pearson(std::span<const float> p, std::span<const float> t) {
  const auto n = static_cast<double>(p.size());
  if (p.size() < 2) return kNaN;
  double mp = 0, mt = 0;
  for (size_t i = 0; i < p.size(); ++i) mp += p[i], mt += t[i];
  mp /= n, mt /= n;
  double spt = 0, spp = 0, stt = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double dp = p[i] - mp, dt = t[i] - mt;
    spt += dp * dt, spp += dp * dp, stt += dt * dt;
  }
  if (spp == 0 || stt == 0) return kNaN;
  return std::clamp(spt / std::sqrt(spp * stt), -1.0, 1.0);
}

void check_sizes(const char* what, size_t a, size_t b) {
  if (a != b) throw std::invalid_argument(fmt::format("{}: {} predictions for {} labels", what, a, b));
}

}  // namespace

double weighted_f1(std::span<const int> y_true, std::span<const int> y_pred) {
  check_sizes("weighted_f1", y_pred.size(), y_true.size());
  if (y_true.empty()) return kNaN;
  std::set<int> labels(y_true.begin(), y_true.end());
  labels.insert(y_pred.begin(), y_pred.end());
  double total = 0;
  for (int c : labels) {
    int64_t tp = 0, fp = 0, fn = 0, support = 0;
    for (size_t i = 0; i < y_true.size(); ++i) {
      const bool t = y_true[i] == c, p = y_pred[i] == c;
      tp += t && p, fp += p && !t, fn += t && !p, support += t;
    }
    const int64_t denom = 2 * tp + fp + fn;
    const double f1 = denom == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(denom);
    total += f1 * static_cast<double>(support);
  }
  return total / static_cast<double>(y_true.size());
}

MetricList sims_regression_metrics(std::span<const float> pred, std::span<const float> label) {
  check_sizes("sims_regression_metrics", pred.size(), label.size());
  const size_t n = pred.size();
  std::vector<float> p(n), t(n);
  for (size_t i = 0; i < n; ++i) p[i] = clip(pred[i], -1.f, 1.f), t[i] = clip(label[i], -1.f, 1.f);
  // MMSA's bucket edges, compared in float32 (numpy casts the Python float to the array's float32).
  const float e2[] = {-1.01f, 0.0f, 1.01f};
  const float e3[] = {-1.01f, -0.1f, 0.1f, 1.01f};
  const float e5[] = {-1.01f, -0.7f, -0.1f, 0.1f, 0.7f, 1.01f};
  std::vector<int> p2(n), t2(n), p3(n), t3(n), p5(n), t5(n);
  for (size_t i = 0; i < n; ++i) {
    p2[i] = bucket(p[i], e2), t2[i] = bucket(t[i], e2);
    p3[i] = bucket(p[i], e3), t3[i] = bucket(t[i], e3);
    p5[i] = bucket(p[i], e5), t5[i] = bucket(t[i], e5);
  }
  MetricList m;  // each rounded to 4 places, as MMSA's __eval_sims_regression
  m.set("Mult_acc_2", py_round(accuracy(p2, t2), 4));
  m.set("Mult_acc_3", py_round(accuracy(p3, t3), 4));
  m.set("Mult_acc_5", py_round(accuracy(p5, t5), 4));
  m.set("F1_score", py_round(weighted_f1(t2, p2), 4));
  m.set("MAE", py_round(mean_abs_error(p, t), 4));
  m.set("Corr", py_round(pearson(p, t), 4));
  return m;
}

MetricList mosi_regression_metrics(std::span<const float> pred, std::span<const float> label) {
  check_sizes("mosi_regression_metrics", pred.size(), label.size());
  const size_t n = pred.size();
  std::vector<int> p7(n), t7(n), p5(n), t5(n), has0_p(n), has0_t(n), non0_p, non0_t;
  for (size_t i = 0; i < n; ++i) {
    // np.round: half to even, as std::nearbyint in the default rounding mode
    p7[i] = static_cast<int>(std::nearbyint(clip(pred[i], -3.f, 3.f)));
    t7[i] = static_cast<int>(std::nearbyint(clip(label[i], -3.f, 3.f)));
    p5[i] = static_cast<int>(std::nearbyint(clip(pred[i], -2.f, 2.f)));
    t5[i] = static_cast<int>(std::nearbyint(clip(label[i], -2.f, 2.f)));
    has0_p[i] = pred[i] >= 0, has0_t[i] = label[i] >= 0;
    if (label[i] != 0) non0_p.push_back(pred[i] > 0), non0_t.push_back(label[i] > 0);
  }
  MetricList m;
  m.set("Has0_acc_2", py_round(accuracy(has0_p, has0_t), 4));
  m.set("Has0_F1_score", py_round(weighted_f1(has0_t, has0_p), 4));
  m.set("Non0_acc_2", py_round(accuracy(non0_p, non0_t), 4));
  m.set("Non0_F1_score", py_round(weighted_f1(non0_t, non0_p), 4));
  m.set("Mult_acc_5", py_round(accuracy(p5, t5), 4));
  m.set("Mult_acc_7", py_round(accuracy(p7, t7), 4));
  m.set("MAE", py_round(mean_abs_error(pred, label), 4));  // MMSA: unclipped here
  m.set("Corr", py_round(pearson(pred, label), 4));
  return m;
}

MetricList classification_metrics(std::span<const float> logits, int64_t num_classes, std::span<const int> label) {
  if (num_classes != 3) throw std::invalid_argument("classification_metrics: needs 3 classes");
  check_sizes("classification_metrics", logits.size() / 3, label.size());
  const size_t n = label.size();
  std::vector<int> pred3(n), pred2(n), true2(n), non0_pred, non0_true;
  for (size_t i = 0; i < n; ++i) {
    const float* l = logits.data() + 3 * i;
    pred3[i] = static_cast<int>(std::max_element(l, l + 3) - l);  // first maximum, as np.argmax
    pred2[i] = l[2] > l[0] ? 1 : 0;                                // argmax of [logit 0, logit 2]
    true2[i] = label[i] <= 1 ? 0 : 1;
    if (label[i] != 1) {
      // MMSA's quirk: the 0/1 prediction is compared with the raw class 0/2, so a positive
      // sample is never counted right.
      non0_pred.push_back(pred2[i]);
      non0_true.push_back(label[i]);
    }
  }
  MetricList m;
  m.set("Has0_acc_2", py_round(accuracy(pred2, true2), 4));
  m.set("Has0_F1_score", py_round(weighted_f1(true2, pred2), 4));
  m.set("Non0_acc_2", py_round(accuracy(non0_pred, non0_true), 4));
  m.set("Non0_F1_score", py_round(weighted_f1(non0_true, non0_pred), 4));
  m.set("Acc_3", py_round(accuracy(pred3, label), 4));
  m.set("F1_score_3", py_round(weighted_f1(label, pred3), 4));
  return m;
}

SeedSummary summarize_seeds(const std::vector<MetricList>& per_seed) {
  SeedSummary s;
  if (per_seed.empty()) return s;
  for (const auto& [name, _] : per_seed.front().items) {
    double mean = 0;
    for (const auto& r : per_seed) mean += r.get(name);
    mean /= static_cast<double>(per_seed.size());
    double var = 0;
    for (const auto& r : per_seed) var += (r.get(name) - mean) * (r.get(name) - mean);
    var /= static_cast<double>(per_seed.size());  // np.std: population (ddof = 0)
    s.mean.set(name, mean);
    s.std.set(name, std::sqrt(var));
  }
  return s;
}

std::string mmsa_csv_cell(double mean, double std) {
  return fmt::format("({}, {})", py_float_repr(py_round(mean * 100, 2)), py_float_repr(py_round(std * 100, 2)));
}

}  // namespace mtfn::training
