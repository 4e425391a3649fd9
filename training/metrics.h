// MMSA's evaluation metrics for MTFN (mtfn.md §4 regression on CH-SIMS, §5 classification), and
// the seed summary (mean and population standard deviation, x100, rounded as MMSA's run.py).
// Inputs are float32, as in MMSA: thresholds are compared in float32 (a label 0.1f is in
// (-0.1, 0.1]). Not the loss (model.h) nor the files the results go to (results.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "data/sims_dataset.h"

namespace mtfn::training {

// Named values in a fixed order (MMSA's dict order), e.g. {"Mult_acc_2", 0.81}, ...
struct MetricList {
  std::vector<std::pair<std::string, double>> items;
  void set(const std::string& name, double value);
  double get(const std::string& name) const;  // throws std::out_of_range if absent
  bool has(const std::string& name) const;
};

// Regression on CH-SIMS (MMSA __eval_sims_regression): clip both to [-1, 1]; Mult_acc_2, Mult_acc_3,
// Mult_acc_5 (bucket accuracies), F1_score (weighted F1 of the two Mult_acc_2 buckets), MAE, Corr
// (Pearson; NaN when either side is constant). Each rounded to 4 places, as MMSA (metricsTop.py) does.
MetricList sims_regression_metrics(std::span<const float> pred, std::span<const float> label);

// Regression on MOSI/MOSEI-layout files (MMSA __eval_mosei_regression; labels in [-3, 3]):
// Has0_acc_2, Has0_F1_score (>= 0 vs < 0), Non0_acc_2, Non0_F1_score (> 0 vs < 0, label-0 samples
// left out), Mult_acc_5, Mult_acc_7 (clip to [-2,2] / [-3,3], then round), MAE, Corr; rounded to 4.
MetricList mosi_regression_metrics(std::span<const float> pred, std::span<const float> label);

using data::label_class;  // data/sims_dataset.h

// Classification (MMSA __eval_mosi_classification, which sims uses): logits (N, 3) row-major,
// classes 0/1/2. Has0_acc_2, Has0_F1_score, Non0_acc_2, Non0_F1_score (with MMSA's quirk: the 0/1
// prediction against the raw 0/2 class), Acc_3, F1_score_3; each rounded to 4 places as MMSA.
MetricList classification_metrics(std::span<const float> logits, int64_t num_classes, std::span<const int> label);

// sklearn f1_score(average='weighted'): per label present in either, 2tp / (2tp + fp + fn) (0 when
// undefined), weighted by its support in y_true. NaN for empty input.
double weighted_f1(std::span<const int> y_true, std::span<const int> y_pred);

// Python's round(x, digits): the double's exact value rounded to nearest, ties to even.
double py_round(double x, int digits);

// Python's repr of a float ("81.09", "0.0", "nan"), as pandas writes numbers into MMSA's CSV.
std::string py_float_repr(double x);

// Over seeds: mean and population standard deviation (numpy's np.mean, np.std), as fractions.
struct SeedSummary {
  MetricList mean, std;
};
SeedSummary summarize_seeds(const std::vector<MetricList>& per_seed);
// MMSA's CSV cell for one metric: "(round(mean*100, 2), round(std*100, 2))".
std::string mmsa_csv_cell(double mean, double std);

}  // namespace mtfn::training
