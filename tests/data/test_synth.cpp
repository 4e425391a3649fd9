// Tests of the synthetic CH-SIMS generator: shapes and storage as MMSA's, determinism, the -inf /
// NaN cells, labels on the grid, and that each label is learnable from its modality.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "data/pickle.h"
#include "data/synth.h"
#include "fixtures.h"

using namespace mtfn::data;
using namespace mtfn::data::testing;

namespace {

SynthShape small_shape() {
  SynthShape s;  // small feature sizes keep the test fast; split sizes as at scale 0.1
  s.train = 137, s.valid = 46, s.test = 46;
  s.text_len = 12, s.text_dim = 24, s.audio_len = 40, s.audio_dim = 33, s.vision_len = 11, s.vision_dim = 30;
  return s;
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size(), my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Features per sample (N, D) -> a one-shot linear score: w = sum_i (y_i - mean y) x_i on train,
// applied to another split; returns corr(score, label) there.
double one_shot_corr(const std::vector<std::vector<double>>& xtr, const std::vector<float>& ytr,
                     const std::vector<std::vector<double>>& xte, const std::vector<float>& yte) {
  const size_t D = xtr[0].size();
  double my = std::accumulate(ytr.begin(), ytr.end(), 0.0) / ytr.size();
  std::vector<double> mean(D, 0.0), w(D, 0.0);
  for (auto& x : xtr)
    for (size_t d = 0; d < D; ++d) mean[d] += x[d] / xtr.size();
  for (size_t i = 0; i < xtr.size(); ++i)
    for (size_t d = 0; d < D; ++d) w[d] += (ytr[i] - my) * (xtr[i][d] - mean[d]);
  std::vector<double> score, label;
  for (size_t i = 0; i < xte.size(); ++i) {
    double s = 0;
    for (size_t d = 0; d < D; ++d) s += w[d] * (xte[i][d] - mean[d]);
    score.push_back(s);
    label.push_back(yte[i]);
  }
  return correlation(score, label);
}

std::vector<std::vector<double>> rows(const Float32Array& a) {  // (N, D)
  std::vector<std::vector<double>> out(a.shape[0], std::vector<double>(a.shape[1]));
  for (int64_t i = 0; i < a.shape[0]; ++i)
    for (int64_t d = 0; d < a.shape[1]; ++d) out[i][d] = a[i * a.shape[1] + d];
  return out;
}

std::vector<std::vector<double>> text_last_valid_step(const SimsSplit& s) {  // what an LSTM's state can hold
  const int64_t T = s.text.shape[1], D = s.text.shape[2];
  std::vector<std::vector<double>> out(s.size, std::vector<double>(D, 0.0));
  for (int64_t i = 0; i < s.size; ++i)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) out[i][d] += s.text[(i * T + t) * D + d];
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(synth)

BOOST_AUTO_TEST_CASE(sizes_at_scale) {
  SynthShape s = SynthShape::at_scale(0.1);
  BOOST_TEST(s.train == 137);
  BOOST_TEST(s.valid == 46);
  BOOST_TEST(s.test == 46);
  SynthShape full = SynthShape::at_scale(1.0);
  BOOST_TEST(full.train == 1368);
  BOOST_TEST(full.valid == 456);
  BOOST_TEST(full.test == 457);
  BOOST_TEST(SynthShape::at_scale(1e-6).train == 1);
  BOOST_CHECK_THROW(SynthShape::at_scale(0), std::invalid_argument);
  BOOST_CHECK_THROW(SynthShape::at_scale(-1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(layout_and_storage_as_mmsa) {
  SynthShape shape = SynthShape::at_scale(0.01);  // full feature shapes, 14 / 5 / 5 samples
  std::string bytes = synth_pickle_bytes(shape, 3);
  BOOST_TEST(static_cast<unsigned char>(bytes[0]) == 0x80);
  BOOST_TEST(bytes[1] == 4);  // protocol 4
  PickleDocument doc = load_pickle_bytes(as_bytes(bytes), "synth.pkl");
  PyRef train = doc.root().at("train");
  BOOST_TEST(train.at("text").array().dtype.name() == "float32");
  BOOST_TEST(train.at("text").array().shape_string() == "(14, 39, 768)");
  BOOST_TEST(train.at("audio").array().dtype.name() == "float64");
  BOOST_TEST(train.at("audio").array().shape_string() == "(14, 400, 33)");
  BOOST_TEST(train.at("vision").array().dtype.name() == "float64");
  BOOST_TEST(train.at("vision").array().shape_string() == "(14, 55, 709)");
  BOOST_TEST(train.at("text_bert").array().shape_string() == "(14, 3, 39)");
  BOOST_TEST(train.at("id").array().dtype.kind == NpKind::unicode);
  BOOST_TEST(train.at("id").array().element_as_string(0) == "video_0001$_$0001");
  BOOST_TEST(train.at("raw_text").array().element_as_string(0).ends_with("。"));
  BOOST_TEST(train.at("annotations").kind() == PyKind::list);
  for (const char* key : {"audio_lengths", "vision_lengths", "classification_labels", "regression_labels",
                          "regression_labels_T", "regression_labels_A", "regression_labels_V"})
    BOOST_TEST(train.at(key).array().shape_string() == "(14,)", key);
}

BOOST_AUTO_TEST_CASE(deterministic_in_seed) {
  SynthShape shape = small_shape();
  shape.train = 5, shape.valid = 2, shape.test = 2;
  BOOST_TEST(synth_pickle_bytes(shape, 9) == synth_pickle_bytes(shape, 9));
  BOOST_TEST(synth_pickle_bytes(shape, 9) != synth_pickle_bytes(shape, 10));
}

BOOST_AUTO_TEST_CASE(file_matches_memory) {
  SynthShape shape = small_shape();
  shape.train = 4, shape.valid = 2, shape.test = 3;
  auto path = std::filesystem::temp_directory_path() / "mtfn_test_synth.pkl";
  write_synth_pickle(path, shape, 5);
  BOOST_TEST(read_file(path) == synth_pickle_bytes(shape, 5));
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(neg_inf_and_nan_are_there_and_cleaned) {
  SynthShape shape = small_shape();
  std::string bytes = synth_pickle_bytes(shape, 1);
  PickleDocument doc = load_pickle_bytes(as_bytes(bytes), "synth.pkl");
  const NdArray& audio = doc.root().at("train").at("audio").array();
  const NdArray& vision = doc.root().at("train").at("vision").array();
  int neg_inf = 0, nan = 0;
  for (int64_t i = 0; i < audio.count(); ++i) neg_inf += std::isinf(audio.element_as_double(i));
  for (int64_t i = 0; i < vision.count(); ++i) nan += std::isnan(vision.element_as_double(i));
  BOOST_TEST(neg_inf > 0);
  BOOST_TEST(nan > 0);
  SimsDataset ds = sims_dataset_from_pickle(doc);
  for (const SimsSplit* s : {&ds.train, &ds.valid, &ds.test}) {
    for (int64_t i = 0; i < s->audio.size(); ++i) BOOST_TEST_REQUIRE(std::isfinite(s->audio[i]));
    for (int64_t i = 0; i < s->vision.size(); ++i) BOOST_TEST_REQUIRE(std::isfinite(s->vision[i]));
  }
}

BOOST_AUTO_TEST_CASE(labels_on_the_grid_and_learnable) {
  SimsDataset ds = make_synth_dataset(small_shape(), 1111);
  for (Task t : kAllTasks) BOOST_TEST(ds.has_label(t));
  for (const SimsSplit* s : {&ds.train, &ds.valid, &ds.test})
    for (Task t : kAllTasks)
      for (float y : s->label(t)) {
        BOOST_TEST_REQUIRE(std::abs(y) <= 1.0f);
        // k / 5 rounded to float32, times 5: within 2 u |k| <= 6e-7 of the integer k (|k| <= 5).
        BOOST_TEST_REQUIRE(std::abs(y * 5 - std::round(y * 5)) < 1e-5, y);
      }
  // each unimodal label is predictable from its own modality, on held-out samples
  double ct = one_shot_corr(text_last_valid_step(ds.train), ds.train.label(Task::T), text_last_valid_step(ds.valid), ds.valid.label(Task::T));
  double ca = one_shot_corr(rows(ds.train.audio), ds.train.label(Task::A), rows(ds.valid.audio), ds.valid.label(Task::A));
  double cv = one_shot_corr(rows(ds.train.vision), ds.train.label(Task::V), rows(ds.valid.vision), ds.valid.label(Task::V));
  BOOST_TEST_MESSAGE("held-out correlation T " << ct << " A " << ca << " V " << cv);
  BOOST_TEST(ct > 0.8);
  BOOST_TEST(ca > 0.8);
  BOOST_TEST(cv > 0.8);
  // M depends on all three: each modality alone explains part of it, the three together more
  auto joined = [](const SimsSplit& s) {
    auto t = text_last_valid_step(s), a = rows(s.audio), v = rows(s.vision);
    for (size_t i = 0; i < t.size(); ++i) {
      t[i].insert(t[i].end(), a[i].begin(), a[i].end());
      t[i].insert(t[i].end(), v[i].begin(), v[i].end());
    }
    return t;
  };
  double cm = one_shot_corr(joined(ds.train), ds.train.label(Task::M), joined(ds.valid), ds.valid.label(Task::M));
  BOOST_TEST_MESSAGE("held-out correlation M " << cm);
  BOOST_TEST(cm > 0.6);
  // and the unimodal labels differ from M (T/A/V lean on their own modality)
  int differ = 0;
  for (int64_t i = 0; i < ds.train.size; ++i) differ += ds.train.label(Task::A)[i] != ds.train.label(Task::M)[i];
  BOOST_TEST(differ > ds.train.size / 3);
}

BOOST_AUTO_TEST_SUITE_END()
