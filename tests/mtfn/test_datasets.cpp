// --model and --dataset through the program: the dataset inferred from a file and said in one line,
// MMSA's config entry for the pair, the metric columns of the results CSV, MMSA's switches honoured
// or refused, and the data file a config names (featurePath).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helpers.h"

using namespace mtfn;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// A small TFN / MTFN configuration (flat), written to dir/name.
fs::path write_file(const fs::path& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets)

BOOST_AUTO_TEST_CASE(tfn_on_a_mosi_file_is_scored_with_mosis_metrics) {
  const fs::path dir = testing::scratch("datasets_mosi"), log = dir / "log.txt";
  BOOST_REQUIRE(testing::run_mtfn("synth --dataset mosi --scale 0.03 --seed 2 --out " + (dir / "mosi.pkl").string(), log) == 0);
  const fs::path cfg = write_file(dir, "tfn.json", R"({"hidden_dims": [8, 4, 8], "text_out": 8, "post_fusion_dim": 8})");
  const std::string args = "train --model tfn --data " + (dir / "mosi.pkl").string() + " --config " + cfg.string() +
                           " --seeds 1111 --max-epochs 2 --out " + (dir / "run").string();
  BOOST_REQUIRE_MESSAGE(testing::run_mtfn(args, log) == 0, testing::read_text(log));
  const std::string out = testing::read_text(log);
  // the dataset was not given: inferred, and said so
  BOOST_TEST(out.find("--dataset not given: the data looks like mosi (no unimodal labels, audio 5 and vision 20") !=
                 std::string::npos,
             out);
  // MMSA's tfn / mosi entry under the file's keys: batch_size 32, learning_rate 0.001
  const json r = read_json(dir / "run" / "results.json");
  BOOST_TEST(r["model"].get<std::string>() == "tfn");
  BOOST_TEST(r["dataset"].get<std::string>() == "mosi");
  BOOST_TEST(r["config"]["batch_size"].get<int>() == 32);
  BOOST_TEST(r["config"]["learning_rate"].get<double>() == 0.001);
  BOOST_TEST(r["config"]["hidden_dims"].dump() == "[8,4,8]");
  BOOST_TEST(r["config"]["feature_dims"].dump() == "[768,5,20]");
  const std::string csv = testing::read_text(dir / "run" / "normal" / "mosi.csv");
  BOOST_TEST(first_line(csv) == "Model,Has0_acc_2,Has0_F1_score,Non0_acc_2,Non0_F1_score,Mult_acc_5,Mult_acc_7,MAE,Corr,Loss");
  BOOST_TEST(csv.find("\ntfn,") != std::string::npos, csv);
  BOOST_TEST(fs::exists(dir / "run" / "models" / "tfn-1111.safetensors"));
  BOOST_TEST(!fs::exists(dir / "run" / "checkpoints"));  // each seed's went when it ended, and then the folder
}

BOOST_AUTO_TEST_CASE(mtfn_needs_unimodal_labels_and_mmsa_has_no_mosi_entry_for_it) {
  const fs::path dir = testing::scratch("datasets_refuse"), log = dir / "log.txt";
  BOOST_REQUIRE(testing::run_mtfn("synth --dataset mosi --scale 0.01 --out " + (dir / "mosi.pkl").string(), log) == 0);
  BOOST_TEST(testing::run_mtfn("train --data " + (dir / "mosi.pkl").string() + " --out " + (dir / "a").string(), log) == 2);
  BOOST_TEST(testing::read_text(log) ==
             "mtfn train: mtfn trains on the unimodal labels (T, A, V) of CH-SIMS files, which this mosi file does not "
             "have: use --model tfn\n");
  BOOST_TEST(!fs::exists(dir / "a"));
  BOOST_TEST(testing::run_mtfn("train --dataset mosei --out " + (dir / "b").string(), log) == 2);
  BOOST_TEST(testing::read_text(log).find("mosei file does not have: use --model tfn") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("train --dataset imdb --out " + (dir / "c").string(), log) == 2);
  BOOST_TEST(testing::read_text(log).find("--dataset: unknown dataset 'imdb' (known: sims, simsv2, mosi, mosei)") !=
             std::string::npos);
  BOOST_TEST(testing::run_mtfn("train --model lmf --out " + (dir / "d").string(), log) == 2);
  BOOST_TEST(testing::read_text(log).find("--model: unknown model 'lmf' (known: mtfn, tfn, mtfn_attn)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(mmsa_switches_are_honoured_or_refused_naming_the_key) {
  const fs::path dir = testing::scratch("datasets_switches"), log = dir / "log.txt";
  const std::pair<std::string, std::string> refused[] = {
      {R"({"KeyEval": "Mult_acc_2"})", "KeyEval: \"Mult_acc_2\" (MMSA then keeps the epoch that maximises"},
      {R"({"use_bert": true})", "use_bert: true (MMSA then reads text_bert"},
      {R"({"need_normalized": false})", "need_normalized: false (MMSA then keeps the audio and vision sequences"},
      {R"({"need_model_aligned": true})", "need_model_aligned: true"},
      {R"({"tfn": {"commonParams": {}, "datasetParams": {"sims": {}}}})", "no 'mtfn' entry (the file has tfn)"},
  };
  int k = 0;
  for (const auto& [text, message] : refused) {
    const fs::path cfg = write_file(dir, fmt::format("c{}.json", k), text);
    const fs::path out = dir / fmt::format("run{}", k++);
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(testing::run_mtfn("train --config " + cfg.string() + " --out " + out.string(), log) == 2);
      const std::string err = testing::read_text(log);
      BOOST_TEST(err.find(message) != std::string::npos, err);
      BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1);
      BOOST_TEST(!fs::exists(out));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_config_names_the_data_file_when_data_is_not_given) {
  const fs::path dir = testing::scratch("datasets_featurepath"), log = dir / "log.txt";
  BOOST_REQUIRE(testing::run_mtfn("synth --scale 0.02 --seed 3 --out " + (dir / "feat.pkl").string(), log) == 0);
  // MMSA's whole-file layout: dataset_root_dir / featurePath, and the mtfn entry with a small model
  const fs::path cfg = write_file(dir, "config_regression.json", R"({
    "datasetCommonParams": {"dataset_root_dir": ")" + dir.string() + R"(",
                            "sims": {"unaligned": {"featurePath": "feat.pkl", "KeyEval": "Loss"}}},
    "mtfn": {"commonParams": {"early_stop": 8},
             "datasetParams": {"sims": {"hidden_dims": [8, 4, 8], "text_out": 8, "post_fusion_dim": 8,
                                        "post_text_dim": 8, "post_audio_dim": 4, "post_video_dim": 4,
                                        "batch_size": 16}}}})");
  BOOST_REQUIRE_MESSAGE(testing::run_mtfn("train --config " + cfg.string() + " --seeds 1111 --max-epochs 1 --out " +
                                              (dir / "run").string(),
                                          log) == 0,
                        testing::read_text(log));
  BOOST_TEST(testing::read_text(log).find("no --data: " + cfg.string() + " names " + (dir / "feat.pkl").string()) !=
             std::string::npos);
  BOOST_TEST(read_json(dir / "run" / "results.json")["data"].get<std::string>() == (dir / "feat.pkl").string());
  // a featurePath that does not exist is refused, naming it
  const fs::path bad = write_file(dir, "bad.json", R"({"datasetCommonParams": {"sims": {"featurePath": "/nonexistent/x.pkl"}},
    "mtfn": {"commonParams": {}, "datasetParams": {"sims": {}}}})");
  BOOST_TEST(testing::run_mtfn("train --config " + bad.string() + " --out " + (dir / "run2").string(), log) == 2);
  BOOST_TEST(testing::read_text(log).find("featurePath names /nonexistent/x.pkl, which does not exist") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
