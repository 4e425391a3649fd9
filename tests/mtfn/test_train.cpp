// The model's names and shapes, and training end to end through the `mtfn` program on small
// synthetic data: same seed => same results, thread count changes nothing, a run killed with
// SIGKILL and resumed ends exactly as one never interrupted, test/predict reproduce the scores,
// classification mode, and exit statuses for bad input.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "models/mtfn/model.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json read_json(const fs::path& p) { return json::parse(testing::read_text(p)); }

// results.json without what legitimately differs between runs (wall times).
json without_times(json r) {
  for (auto& s : r["seeds"])
    for (auto& e : s["epochs"]) e.erase("seconds");
  return r;
}

const char* kTrainArgs = "--synth-scale 0.05 --seeds 1111,1112 --max-epochs 10 --no-progress";

}  // namespace

BOOST_AUTO_TEST_SUITE(train)

BOOST_AUTO_TEST_CASE(model_names_order_and_shapes) {
  MtfnConfig cfg;
  cfg.feature_dims = {12, 5, 7};
  cfg.hidden_dims = {8, 4, 6};
  cfg.text_out = 3;
  Mtfn m(cfg, 1);
  const auto names = m.state_dict();
  auto it = names.begin();
  BOOST_TEST(it->name == "output_range");
  ++it;
  BOOST_TEST(it->name == "output_shift");
  BOOST_TEST(m.parameter("audio_subnet.norm.weight").shape() == Shape({5}));
  BOOST_TEST(m.parameter("text_subnet.rnn.weight_ih_l0").shape() == Shape({32, 12}));
  BOOST_TEST(m.parameter("text_subnet.rnn.weight_hh_l0").shape() == Shape({32, 8}));
  BOOST_TEST(m.parameter("text_subnet.linear_1.weight").shape() == Shape({3, 8}));
  BOOST_TEST(m.parameter("post_fusion_layer_1.weight").shape() == Shape({64, 5 * 7 * 4}));
  BOOST_TEST(m.parameter("post_video_layer_3.weight").shape() == Shape({1, 8}));
  BOOST_TEST(names.contains("video_subnet.norm.num_batches_tracked"));
  BOOST_TEST(!m.output_range.requires_grad());
  // classification: 3 logits per head, no squashing
  cfg.train_mode = TrainMode::classification;
  Mtfn c(cfg, 1);
  BOOST_TEST(c.parameter("post_fusion_layer_3.weight").shape() == Shape({3, 64}));
  BOOST_TEST(c.parameter("post_audio_layer_3.bias").shape() == Shape({3}));
}

BOOST_AUTO_TEST_CASE(same_seed_same_results_whatever_the_threads) {
  const fs::path dir = testing::scratch("determinism");
  const std::string cfg = " --config " + testing::small_config(dir).string() + " " + kTrainArgs;
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --threads 2 --out " + (dir / "a").string() + cfg, dir / "a.log") == 0);
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --threads 1 --out " + (dir / "b").string() + cfg, dir / "b.log") == 0);
  const json a = without_times(read_json(dir / "a/results.json"));
  const json b = without_times(read_json(dir / "b/results.json"));
  BOOST_TEST(a["seeds"].size() == 2u);
  BOOST_TEST(a["seeds"][0]["epochs"].size() >= 2u);
  BOOST_TEST(a.dump() == b.dump());
  // The seeds differ from each other, and every file of the run is there.
  BOOST_TEST(a["seeds"][0]["test"].dump() != a["seeds"][1]["test"].dump());
  BOOST_TEST(fs::exists(dir / "a/normal/sims.csv"));
  BOOST_TEST(fs::exists(dir / "a/models/mtfn-1112.safetensors"));
  BOOST_TEST(testing::read_text(dir / "a/train.log").find("seed 1112 (2/2) epoch 1:") != std::string::npos);
  const std::string csv = testing::read_text(dir / "a/normal/sims.csv");
  BOOST_TEST(csv.rfind("Model,Mult_acc_2,Mult_acc_3,Mult_acc_5,F1_score,MAE,Corr,Loss\nmtfn,\"(", 0) == 0);
}

BOOST_AUTO_TEST_CASE(killed_run_resumes_to_the_same_results) {
  const fs::path dir = testing::scratch("resume");
  const std::string cfg = " --config " + testing::small_config(dir, R"(, "early_stop": 100)").string() + " " +
                          kTrainArgs;
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + (dir / "whole").string() + cfg, dir / "whole.log") == 0);

  // The same run, killed with SIGKILL as soon as a checkpoint of seed 1111 exists.
  const fs::path out = dir / "killed";
  const std::string cmd = testing::mtfn_program().string() + " train --out " + out.string() + cfg + " >" +
                          (dir / "killed.log").string() + " 2>&1";
  const pid_t pid = fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const fs::path ckpt = out / "checkpoints/seed-1111/last.safetensors";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST_REQUIRE(WIFSIGNALED(status));
  BOOST_TEST_REQUIRE(!fs::exists(out / "results.json"));  // it really died mid-run

  BOOST_TEST_REQUIRE(testing::run_mtfn("train --resume --out " + out.string() + cfg, dir / "resumed.log") == 0);
  BOOST_TEST(testing::read_text(dir / "resumed.log").find("resumed after epoch") != std::string::npos);
  const json whole = without_times(read_json(dir / "whole/results.json"));
  const json resumed = without_times(read_json(out / "results.json"));
  BOOST_TEST(whole["seeds"].dump() == resumed["seeds"].dump());
  BOOST_TEST(whole["mean"].dump() == resumed["mean"].dump());
  BOOST_TEST(whole["std"].dump() == resumed["std"].dump());

  // Resuming a finished run changes nothing and adds no second CSV row.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --resume --out " + out.string() + cfg, dir / "again.log") == 0);
  BOOST_TEST(without_times(read_json(out / "results.json")).dump() == resumed.dump());
  const std::string csv = testing::read_text(out / "normal/sims.csv");
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 2);

  // --resume with another configuration is refused (bad input: exit status 2).
  const std::string other = " --config " + testing::small_config(dir, R"(, "early_stop": 99)").string() + " " +
                            kTrainArgs;
  BOOST_TEST(testing::run_mtfn("train --resume --out " + out.string() + other, dir / "other.log") == 2);
}

BOOST_AUTO_TEST_CASE(test_and_predict_reproduce_the_scores) {
  const fs::path dir = testing::scratch("test_predict");
  const std::string cfg = " --config " + testing::small_config(dir).string() +
                          " --synth-scale 0.05 --seeds 1111 --max-epochs 3 --no-progress";
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + (dir / "run").string() + cfg, dir / "train.log") == 0);
  BOOST_TEST_REQUIRE(testing::run_mtfn("synth --scale 0.05 --seed 1 --out " + (dir / "s.pkl").string(),
                                       dir / "synth.log") == 0);
  const std::string model = (dir / "run/models/mtfn-1111.safetensors").string();
  BOOST_TEST_REQUIRE(testing::run_mtfn("test --checkpoint " + model + " --data " + (dir / "s.pkl").string(),
                                       dir / "test.log") == 0);
  const json r = read_json(dir / "run/results.json");
  const std::string printed = testing::read_text(dir / "test.log");
  for (const char* k : {"Mult_acc_2", "F1_score", "MAE", "Corr"})
    BOOST_TEST(printed.find(fmt::format("{:<14} {:.4f}", k, r["seeds"][0]["test"][k].get<double>())) !=
               std::string::npos);
  BOOST_TEST_REQUIRE(testing::run_mtfn("predict --checkpoint " + model + " --data " + (dir / "s.pkl").string() +
                                           " --out " + (dir / "p.csv").string(),
                                       dir / "predict.log") == 0);
  const std::string csv = testing::read_text(dir / "p.csv");
  BOOST_TEST(csv.rfind("id,M,T,A,V,label_M,label_T,label_A,label_V\n", 0) == 0);
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 1 + 23);
  // bad input: exit status 2 and one line on stderr
  BOOST_TEST(testing::run_mtfn("test --checkpoint " + model + " --data " + (dir / "none.pkl").string(),
                               dir / "bad.log") == 2);
  const std::string bad = testing::read_text(dir / "bad.log");
  BOOST_TEST(std::count(bad.begin(), bad.end(), '\n') == 1);
  BOOST_TEST(testing::run_mtfn("test --checkpoint " + (dir / "s.pkl").string() + " --data " + (dir / "s.pkl").string(),
                               dir / "bad2.log") == 2);
}

BOOST_AUTO_TEST_CASE(classification_mode_with_mmsa_batch_16) {
  const fs::path dir = testing::scratch("classification");
  const std::string cfg = " --config " + testing::small_config(dir, R"(, "train_mode": "classification", "num_classes": 3)").string() +
                          " --synth-scale 0.05 --seeds 1111 --max-epochs 3 --no-progress";
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + (dir / "run").string() + cfg, dir / "train.log") == 0);
  const json r = read_json(dir / "run/results.json");
  BOOST_TEST(r["mode"] == "classification");
  for (const char* k : {"Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Acc_3", "F1_score_3", "Loss"})
    BOOST_TEST(r["seeds"][0]["test"].contains(k));
  BOOST_TEST(testing::read_text(dir / "run/normal/sims.csv").rfind("Model,Has0_acc_2,", 0) == 0);
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2) {
  const fs::path dir = testing::scratch("bad_args");
  BOOST_TEST(testing::run_mtfn("train --data " + (dir / "missing.pkl").string() + " --out " + (dir / "o").string(),
                               dir / "1.log") == 2);
  std::ofstream(dir / "bad.json") << R"({"batch_size": "big"})";
  BOOST_TEST(testing::run_mtfn("train --config " + (dir / "bad.json").string() + " --out " + (dir / "o").string(),
                               dir / "2.log") == 2);
  BOOST_TEST(testing::read_text(dir / "2.log").find("batch_size") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("train --seeds 1,,2 --out " + (dir / "o").string(), dir / "3.log") == 2);
  BOOST_TEST(testing::run_mtfn("train --frobnicate", dir / "4.log") == 2);
  for (const char* sub : {"train", "test", "predict", "check-grads", "bench"})
    BOOST_TEST(testing::run_mtfn(std::string(sub) + " --help", dir / "help.log") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
