// Tests of SimsDataset against what MMSA's own loader computes (numpy, written by
// tools/make_pickle_fixtures.py into expected.json) for every storage variant, and of the loading
// rules on hand-made arrays.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "data/pickle.h"
#include "data/sims_dataset.h"
#include "fixtures.h"

using namespace mtfn::data;
using namespace mtfn::data::testing;

namespace {

// float32 values compared exactly: our rules reproduce numpy's float32 arithmetic step by step.
void check_floats(const float* got, const nlohmann::json& want, const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    float w = static_cast<float>(want[i].get<double>());
    BOOST_TEST_REQUIRE(got[i] == w, what << "[" << i << "]: got " << got[i] << ", MMSA " << w);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sims_dataset)

BOOST_AUTO_TEST_CASE(every_variant_matches_mmsa) {
  const nlohmann::json all = read_json(fixture_dir() / "expected.json");
  BOOST_TEST(all.size() == 7u);
  for (auto& [file, exp] : all.items()) {
    BOOST_TEST_CONTEXT(file) {
      SimsDataset ds = load_sims_dataset(fixture_dir() / file);
      BOOST_TEST(ds.text_dim == exp["dims"][0].get<int64_t>());
      BOOST_TEST(ds.audio_dim == exp["dims"][1].get<int64_t>());
      BOOST_TEST(ds.vision_dim == exp["dims"][2].get<int64_t>());
      std::string present;
      for (Task t : kAllTasks)
        if (ds.has_label(t)) present += task_name(t);
      BOOST_TEST(present == exp["labels_present"].get<std::string>());
      for (auto& [name, s] : exp["splits"].items()) {
        const SimsSplit& split = ds.split(name);
        const std::string where = file + ":" + name;
        BOOST_TEST(split.size == s["n"].get<int64_t>());
        BOOST_TEST(split.text.shape == s["text_shape"].get<std::vector<int64_t>>());
        BOOST_TEST(split.text.size() == static_cast<int64_t>(s["text"].size()));
        check_floats(split.text.data(), s["text"], where + "/text");
        BOOST_TEST(split.audio.size() == static_cast<int64_t>(s["audio"].size()));
        check_floats(split.audio.data(), s["audio"], where + "/audio");
        BOOST_TEST(split.vision.size() == static_cast<int64_t>(s["vision"].size()));
        check_floats(split.vision.data(), s["vision"], where + "/vision");
        for (Task t : kAllTasks) {
          std::string key(task_name(t));
          if (s["labels"].contains(key)) {
            BOOST_TEST(split.label(t).size() == s["labels"][key].size());
            check_floats(split.label(t).data(), s["labels"][key], where + "/label_" + key);
          } else {
            BOOST_TEST(split.label(t).empty());
          }
        }
        BOOST_TEST(split.audio_lengths == s["audio_lengths"].get<std::vector<int64_t>>());
        BOOST_TEST(split.vision_lengths == s["vision_lengths"].get<std::vector<int64_t>>());
        BOOST_TEST(split.ids == s["id"].get<std::vector<std::string>>());
        BOOST_TEST(split.raw_texts == s["raw_text"].get<std::vector<std::string>>());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(mosi_like_file_has_only_m) {
  SimsDataset ds = load_sims_dataset(fixture_dir() / "p4_mosi_like.pkl");
  BOOST_TEST(ds.has_label(Task::M));
  BOOST_TEST(!ds.has_label(Task::T));
  BOOST_TEST(!ds.has_label(Task::A));
  BOOST_TEST(!ds.has_label(Task::V));
  BOOST_TEST(ds.text_dim == 7);
  BOOST_TEST(ds.audio_dim == 4);
  BOOST_TEST(ds.vision_dim == 6);
}

BOOST_AUTO_TEST_CASE(float32_text_is_not_copied) {
  PickleDocument doc = load_pickle(fixture_dir() / "p4_mosi_like.pkl");
  SimsDataset ds = sims_dataset_from_pickle(doc);
  const NdArray& text = doc.root().at("train").at("text").array();
  BOOST_TEST(ds.train.text.storage.get() == text.bytes.get());
}

BOOST_AUTO_TEST_CASE(loading_rules_on_a_hand_made_array) {
  // (N=1, T=3, D=4) float64: column 0 has -inf, column 1 has NaN, column 2 +inf, column 3 plain.
  NdArray a;
  a.dtype = {NpKind::float64, 8, false};
  a.shape = {1, 3, 4};
  a.has_state = true;
  a.bytes = std::make_shared<ByteBuffer>(12 * 8);
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const double v[12] = {-inf, 1, inf, 1, 3, nan, 1, 2, 0, 0, 1, 3};
  std::memcpy(a.bytes->data(), v, sizeof v);
  Float32Array audio = time_mean_to_float32(a, true, "t");
  BOOST_TEST(audio.shape == std::vector<int64_t>({1, 4}));
  BOOST_TEST(audio[0] == 1.0f);   // (0 + 3 + 0) / 3: -inf -> 0 first
  BOOST_TEST(audio[1] == 0.0f);   // NaN mean -> 0
  BOOST_TEST(std::isinf(audio[2]));  // +inf stays (MMSA only zeroes -inf)
  BOOST_TEST(audio[3] == 2.0f);
  Float32Array vision = time_mean_to_float32(a, false, "t");
  BOOST_TEST((std::isinf(vision[0]) && vision[0] < 0));  // vision keeps -inf: the mean is -inf, not NaN
  BOOST_TEST(vision[1] == 0.0f);
}

BOOST_AUTO_TEST_SUITE_END()
