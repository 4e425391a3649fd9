// MTFN's configuration: MMSA's key names in a flat object or in MMSA's config_regression.json
// layout; unknown keys warn, wrong types or values fail naming the key.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "models/mmsa_config.h"
#include "models/mtfn/config.h"

using namespace mtfn::models;
using json = nlohmann::ordered_json;

namespace {

bool throws_naming(const json& j, const std::string& model, const std::string& dataset, const std::string& needle) {
  try {
    resolve_mmsa_config(j, model, dataset, "c.json");
  } catch (const ConfigError& e) {
    return std::string(e.what()).find(needle) != std::string::npos;
  }
  return false;
}

bool throws_naming(const json& j, const std::string& needle) {
  MtfnConfig cfg;
  std::vector<std::string> w;
  try {
    apply_config_json(cfg, resolve_mmsa_config(j, "mtfn", "sims", "c.json"), "c.json", w);
  } catch (const ConfigError& e) {
    return std::string(e.what()).find(needle) != std::string::npos;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults_are_mmsa_sims) {
  MtfnConfig c;
  BOOST_TEST(c.fusion_width() == 2179617);
  BOOST_TEST(c.batch_size == 64);
  BOOST_TEST(c.learning_rate == 0.005);
  BOOST_TEST(c.early_stop == 8);
  BOOST_TEST(c.output_dim() == 1);
}

BOOST_AUTO_TEST_CASE(flat_keys) {
  MtfnConfig c;
  std::vector<std::string> w;
  apply_config_json(c,
                    json::parse(R"({"hidden_dims": [8, 4, 6], "text_out": 5, "batch_size": 16, "M": 1, "A": 0.5,
                                    "train_mode": "classification", "num_classes": 3, "learning_rate": 0.001,
                                    "post_dropouts": [0, 0, 0, 0.5], "need_normalized": true})"),
                    "c.json", w);
  BOOST_TEST(w.empty());
  BOOST_TEST(c.hidden_dims[2] == 6);
  BOOST_TEST(c.text_out == 5);
  BOOST_TEST(c.batch_size == 16);
  BOOST_TEST(c.M == 1.0);
  BOOST_TEST(c.A == 0.5);
  BOOST_TEST(c.post_dropouts[3] == 0.5);
  BOOST_TEST((c.train_mode == TrainMode::classification));
  BOOST_TEST(c.output_dim() == 3);
  BOOST_TEST(c.fusion_width() == 5 * 7 * 6);
}

BOOST_AUTO_TEST_CASE(mmsa_file_layout) {
  // The shape of MMSA's config_regression.json: other models' entries are ignored.
  const json j = json::parse(R"({
    "datasetCommonParams": {"dataset_root_dir": "/x", "sims": {"unaligned": {"featurePath": "SIMS/Processed/unaligned_39.pkl",
       "seq_lens": [39, 400, 55], "feature_dims": [768, 33, 709], "train_samples": 1368, "num_classes": 3,
       "language": "cn", "KeyEval": "Loss", "missing_rate": [0.2, 0.2, 0.2], "missing_seed": [1111, 1111, 1111]}}},
    "tfn": {"commonParams": {"early_stop": 3}, "datasetParams": {"sims": {"batch_size": 32}}},
    "mtfn": {"commonParams": {"need_data_aligned": false, "need_model_aligned": false, "need_normalized": true,
                              "early_stop": 6},
             "datasetParams": {"sims": {"hidden_dims": [128, 16, 128], "text_out": 64, "post_fusion_dim": 32,
                                        "batch_size": 32, "learning_rate": 0.002, "weight_decay": 0.005}}}})");
  MtfnConfig c;
  std::vector<std::string> w;
  apply_config_json(c, resolve_mmsa_config(j, "mtfn", "sims", "config_regression.json"), "config_regression.json", w);
  BOOST_TEST(w.empty());
  BOOST_TEST(c.early_stop == 6);
  BOOST_TEST(c.batch_size == 32);
  BOOST_TEST(c.hidden_dims[0] == 128);
  BOOST_TEST(c.text_out == 64);
  BOOST_TEST(c.learning_rate == 0.002);
  // the mtfn entry on its own
  MtfnConfig d;
  apply_config_json(d, resolve_mmsa_config(j["mtfn"], "mtfn", "sims", "entry.json"), "entry.json", w);
  BOOST_TEST(d.post_fusion_dim == 32);
  // another dataset, or a file without the model, is refused naming what the file has
  BOOST_TEST(throws_naming(j, "mtfn", "mosi", "has no 'mosi' entry (it has sims)"));
  BOOST_TEST(throws_naming(json::parse(R"({"tfn": {"datasetParams": {"sims": {}}}, "lmf": {}})"), "mtfn", "sims",
                           "no 'mtfn' entry (the file has tfn, lmf)"));
}

BOOST_AUTO_TEST_CASE(builtin_copy_is_mmsas_file) {
  // spec tfn-and-datasets.md §2: the entries as MMSA's config_regression.json holds them
  const json& b = builtin_mmsa_config();
  const json sims = resolve_mmsa_config(b, "mtfn", "sims", "built-in");
  BOOST_TEST(sims["batch_size"].get<int>() == 64);
  BOOST_TEST(sims["learning_rate"].get<double>() == 0.005);
  BOOST_TEST(sims["feature_dims"].dump() == "[768,33,709]");
  BOOST_TEST(sims["early_stop"].get<int>() == 8);
  const json v2 = resolve_mmsa_config(b, "mtfn", "simsv2", "built-in");
  BOOST_TEST(v2["hidden_dims"].dump() == "[64,16,64]");
  BOOST_TEST(v2["post_audio_dim"].get<int>() == 5);
  BOOST_TEST(v2["V"].get<double>() == 0.8);
  const json mosei = resolve_mmsa_config(b, "tfn", "mosei", "built-in");
  BOOST_TEST(mosei["text_out"].get<int>() == 128);
  BOOST_TEST(mosei["post_fusion_dim"].get<int>() == 16);
  BOOST_TEST(mosei["batch_size"].get<int>() == 128);
  BOOST_TEST(mosei["feature_dims"].dump() == "[768,74,35]");
  BOOST_TEST(resolve_mmsa_config(b, "tfn", "mosi", "built-in")["seq_lens"].dump() == "[50,500,375]");
  BOOST_TEST(resolve_mmsa_config(b, "tfn", "mosi", "built-in", /*aligned=*/true)["seq_lens"].dump() == "[50,50,50]");
  // MTFN has no MOSI/MOSEI entry in MMSA (it needs the unimodal labels)
  BOOST_TEST(throws_naming(b, "mtfn", "mosi", "has no 'mosi' entry"));
}

BOOST_AUTO_TEST_CASE(unknown_key_warns) {
  MtfnConfig c;
  std::vector<std::string> w;
  apply_config_json(c, json::parse(R"({"batch_size": 8, "hiden_dims": [1, 2, 3]})"), "c.json", w);
  BOOST_TEST_REQUIRE(w.size() == 1u);
  BOOST_TEST(w[0].find("hiden_dims") != std::string::npos);
  BOOST_TEST(c.batch_size == 8);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_values_name_the_key) {
  BOOST_TEST(throws_naming(json::parse(R"({"batch_size": "64"})"), "batch_size"));
  BOOST_TEST(throws_naming(json::parse(R"({"batch_size": 0})"), "batch_size"));
  BOOST_TEST(throws_naming(json::parse(R"({"batch_size": 6.5})"), "batch_size"));
  BOOST_TEST(throws_naming(json::parse(R"({"hidden_dims": [1, 2]})"), "hidden_dims"));
  BOOST_TEST(throws_naming(json::parse(R"({"hidden_dims": [1, -2, 3]})"), "hidden_dims[1]"));
  BOOST_TEST(throws_naming(json::parse(R"({"dropouts": [0.2, 1.0, 0.2]})"), "dropouts[1]"));
  BOOST_TEST(throws_naming(json::parse(R"({"learning_rate": -1})"), "learning_rate"));
  BOOST_TEST(throws_naming(json::parse(R"({"train_mode": "ranking"})"), "train_mode"));
  BOOST_TEST(throws_naming(json::parse(R"({"train_mode": "classification", "num_classes": 2})"), "num_classes"));
  BOOST_TEST(throws_naming(json::parse(R"({"KeyEval": "Mult_acc_2"})"), "KeyEval"));
  BOOST_TEST(throws_naming(json::parse(R"([1, 2])"), "c.json"));
  BOOST_TEST(throws_naming(json::parse(R"({"mtfn": {"datasetParams": {"sims": {"V": "x"}}}})"), "V"));
}

BOOST_AUTO_TEST_CASE(json_round_trip) {
  MtfnConfig c;
  c.hidden_dims = {4, 3, 2};
  c.train_mode = TrainMode::classification;
  const MtfnConfig d = config_from_json(config_to_json(c), "x");
  BOOST_TEST(config_to_json(d).dump() == config_to_json(c).dump());
}

BOOST_AUTO_TEST_SUITE_END()
