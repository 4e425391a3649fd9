// MMSA's published test figures (its results table, real data, 5 seeds), set beside a run of the
// same model, dataset and mode. Not our measurements.
#pragma once

#include <string>

#include "training/metrics.h"

namespace mtfn::report {

struct PublishedFigures {
  std::string source;           // what the figures are, for the page
  training::MetricList values;  // as fractions, as results.json holds ours (MAE as it is)
};

// The figures for (model, dataset, mode) when MMSA published them, else nullptr.
const PublishedFigures* find_published(const std::string& model, const std::string& dataset, const std::string& mode);

}  // namespace mtfn::report
