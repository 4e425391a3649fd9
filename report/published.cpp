// MMSA's published figures (docs/mtfn.md §6). Only those we have checked are listed.
#include "report/published.h"

#include <vector>

namespace mtfn::report {

namespace {

struct Entry {
  const char* model;
  const char* dataset;
  const char* mode;
  PublishedFigures figures;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = [] {
    std::vector<Entry> e;
    PublishedFigures mtfn_sims;
    mtfn_sims.source = "MMSA's published figures for MTFN on the real CH-SIMS (unaligned_39.pkl, 5 seeds)";
    for (const auto& [k, v] : std::vector<std::pair<const char*, double>>{{"Mult_acc_2", 0.8109},
                                                                         {"Mult_acc_3", 0.6880},
                                                                         {"Mult_acc_5", 0.4031},
                                                                         {"F1_score", 0.8101},
                                                                         {"MAE", 0.3954},
                                                                         {"Corr", 0.6658}})
      mtfn_sims.values.set(k, v);
    e.push_back({"mtfn", "sims", "regression", mtfn_sims});
    return e;
  }();
  return all;
}

}  // namespace

const PublishedFigures* find_published(const std::string& model, const std::string& dataset, const std::string& mode) {
  for (const Entry& e : entries())
    if (model == e.model && dataset == e.dataset && mode == e.mode) return &e.figures;
  return nullptr;
}

}  // namespace mtfn::report
