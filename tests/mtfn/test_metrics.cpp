// MMSA's metrics on hand-computed cases (mtfn.md §4, §5): bucket boundaries, the Non0 quirk,
// weighted F1, Python rounding and the seed summary.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "training/metrics.h"

using namespace mtfn::training;

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(label_class_boundaries_in_float32) {
  BOOST_TEST(label_class(-1.0f) == 0);
  BOOST_TEST(label_class(-0.7f) == 0);
  BOOST_TEST(label_class(-0.1f) == 0);  // <= -0.1 is negative
  BOOST_TEST(label_class(-0.09999f) == 1);
  BOOST_TEST(label_class(0.0f) == 1);
  BOOST_TEST(label_class(0.1f) == 1);  // (-0.1, 0.1] is neutral
  BOOST_TEST(label_class(0.10001f) == 2);
  BOOST_TEST(label_class(0.7f) == 2);
  // 0.1 computed in float32 as a mean of five annotations is still the float32 0.1
  BOOST_TEST(label_class((0.2f + 0.2f + 0.0f + 0.0f + 0.1f * 0) / 4.0f) == 1);
}

BOOST_AUTO_TEST_CASE(sims_regression_hand_computed) {
  //                             0     1    2    3     4    5     6     7      8
  const std::vector<float> pred{-0.1f, 0.1f, 0.f, -0.7f, 0.7f, 1.5f, -2.0f, 0.15f, -0.75f};
  const std::vector<float> lab{-0.1f, 0.1f, 0.f, -0.7f, 0.7f, 1.0f, -1.0f, -0.05f, -0.5f};
  // 2 classes {[-1,0], (0,1]}: p 0 1 0 0 1 1 0 1 0, t 0 1 0 0 1 1 0 0 0 -> 8/9
  // 3 classes: p 0 1 1 0 2 2 0 2 0, t 0 1 1 0 2 2 0 1 0 -> 8/9
  // 5 classes: p 1 2 2 0 3 4 0 3 0, t 1 2 2 0 3 4 0 2 1 -> 7/9
  const MetricList m = sims_regression_metrics(pred, lab);
  BOOST_TEST(m.items.size() == 6u);
  BOOST_TEST(m.items[0].first == "Mult_acc_2");
  // every value rounded to 4 places, as MMSA's __eval_sims_regression
  BOOST_TEST(m.get("Mult_acc_2") == 0.8889);  // 8/9
  BOOST_TEST(m.get("Mult_acc_3") == 0.8889);  // 8/9
  BOOST_TEST(m.get("Mult_acc_5") == 0.7778);  // 7/9
  // F1: class 0 support 6, tp 5 fp 0 fn 1 -> 10/11; class 1 support 3, tp 3 fp 1 -> 6/7: 0.891775...
  BOOST_TEST(m.get("F1_score") == 0.8918);
  // MAE after clipping: only samples 7 (0.2) and 8 (0.25) differ: 0.45 / 9 = 0.05
  BOOST_TEST(m.get("MAE") == 0.05);
  // Pearson of the clipped values (numpy: 0.9860337706678426)
  BOOST_TEST(m.get("Corr") == 0.986);
}

BOOST_AUTO_TEST_CASE(sims_regression_constant_prediction_has_nan_corr) {
  const std::vector<float> pred(4, 0.2f);
  const std::vector<float> lab{-0.4f, 0.0f, 0.4f, 0.8f};
  const MetricList m = sims_regression_metrics(pred, lab);
  BOOST_TEST(std::isnan(m.get("Corr")));
  BOOST_TEST(m.get("Mult_acc_2") == 0.5);
}

BOOST_AUTO_TEST_CASE(classification_non0_quirk) {
  const std::vector<int> cls{0, 2, 1, 0, 2};
  const std::vector<float> logits{2, 0, 1,  //
                                  0, 0, 3,  //
                                  0, 5, 0,  //
                                  1, 0, 2,  //
                                  3, 0, 1};
  const MetricList m = classification_metrics(logits, 3, cls);
  BOOST_TEST(m.items[0].first == "Has0_acc_2");
  BOOST_TEST(m.get("Acc_3") == 0.6);
  BOOST_TEST(m.get("F1_score_3") == 0.6);
  BOOST_TEST(m.get("Has0_acc_2") == 0.6);
  BOOST_TEST(m.get("Has0_F1_score") == 0.6);
  // Non0: samples 0, 1, 3, 4; prediction 0 1 1 0 against raw classes 0 2 0 2: only sample 0 counts
  BOOST_TEST(m.get("Non0_acc_2") == 0.25);
  BOOST_TEST(m.get("Non0_F1_score") == 0.25);
}

BOOST_AUTO_TEST_CASE(classification_rounds_to_4_places) {
  const std::vector<int> cls{0, 1, 2};
  const std::vector<float> logits{1, 0, 0, 0, 1, 0, 1, 0, 0};
  const MetricList m = classification_metrics(logits, 3, cls);
  BOOST_TEST(m.get("Acc_3") == 0.6667);
}

BOOST_AUTO_TEST_CASE(weighted_f1_like_sklearn) {
  const std::vector<int> t{0, 0, 1, 1}, p{0, 0, 0, 0};
  // class 0: tp 2 fp 2 -> 2*2/(4+2) = 2/3, support 2; class 1: 0
  BOOST_TEST(weighted_f1(t, p) == (2 * 2.0 / 3) / 4, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(mosi_regression_metrics_hand_computed) {
  const std::vector<float> pred{-2.6f, 0.4f, 1.6f, -0.2f};
  const std::vector<float> lab{-3.0f, 0.0f, 2.2f, 0.6f};
  const MetricList m = mosi_regression_metrics(pred, lab);
  // Has0 (>= 0): p 0 1 1 0, t 0 1 1 1 -> 0.75; Non0 drops sample 1: p 0 1 0, t 0 1 1 -> 2/3
  BOOST_TEST(m.get("Has0_acc_2") == 0.75);
  BOOST_TEST(m.get("Non0_acc_2") == 0.6667);
  // 7 classes: round(clip 3): p -3 0 2 -0, t -3 0 2 1 -> 0.75; 5: p -2 0 2 -0, t -2 0 2 1 -> 0.75
  BOOST_TEST(m.get("Mult_acc_7") == 0.75);
  BOOST_TEST(m.get("Mult_acc_5") == 0.75);
  BOOST_TEST(m.get("MAE") == py_round((0.4 + 0.4 + 0.6 + 0.8) / 4, 4), boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(python_rounding_and_repr) {
  BOOST_TEST(py_round(0.125, 2) == 0.12);  // an exact tie: to even
  BOOST_TEST(py_round(0.375, 2) == 0.38);
  BOOST_TEST(py_round(2.675, 2) == 2.67);  // 2.675 is 2.67499999... in binary
  BOOST_TEST(py_round(0.39544, 4) == 0.3954);
  BOOST_TEST(py_float_repr(81.09) == "81.09");
  BOOST_TEST(py_float_repr(100.0) == "100.0");
  BOOST_TEST(py_float_repr(0.0) == "0.0");
  BOOST_TEST(py_float_repr(std::nan("")) == "nan");
}

BOOST_AUTO_TEST_CASE(seed_summary_population_std) {
  MetricList a, b;
  a.set("MAE", 0.4);
  b.set("MAE", 0.5);
  const SeedSummary s = summarize_seeds({a, b});
  BOOST_TEST(s.mean.get("MAE") == 0.45, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(s.std.get("MAE") == 0.05, boost::test_tools::tolerance(1e-12));  // np.std, ddof 0
  BOOST_TEST(mmsa_csv_cell(0.81094, 0.005) == "(81.09, 0.5)");
  BOOST_TEST(mmsa_csv_cell(1.0, 0.0) == "(100.0, 0.0)");
}

BOOST_AUTO_TEST_SUITE_END()
