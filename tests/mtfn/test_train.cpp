// The model's names and shapes, and training end to end through the `mtfn` program on small
// synthetic data: same seed => same results, thread count changes nothing, a run killed with
// SIGKILL and resumed ends exactly as one never interrupted, test/predict reproduce the scores,
// classification mode, and exit statuses for bad input.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/synth.h"
#include "helpers.h"
#include "models/mtfn/model.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json read_json(const fs::path& p) { return json::parse(testing::read_text(p)); }

// results.json without what legitimately differs between runs (wall times, and the manifest: the
// command line, thread counts, start and end times).
json without_times(json r) {
  r.erase("manifest");
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
  // epochs.jsonl: each epoch once, as in the uninterrupted run (wall times aside).
  auto epoch_lines = [](const fs::path& file) {
    std::string out;
    std::istringstream in(testing::read_text(file));
    for (std::string l; std::getline(in, l);) {
      json j = json::parse(l);
      j.erase("seconds");
      out += j.dump() + "\n";
    }
    return out;
  };
  BOOST_TEST(!epoch_lines(dir / "whole/epochs.jsonl").empty());
  BOOST_TEST(epoch_lines(dir / "whole/epochs.jsonl") == epoch_lines(out / "epochs.jsonl"));

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
  for (const char* sub : {"train", "test", "predict", "check-grads", "bench", "report"})
    BOOST_TEST(testing::run_mtfn(std::string(sub) + " --help", dir / "help.log") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// Issue "Never lose a user's work": what a run, predict or convert may not destroy.
namespace {

// Every file under `dir` (relative path -> bytes), to show that a refused command changed nothing.
std::map<std::string, std::string> folder_bytes(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = testing::read_text(e.path());
  return out;
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

const char* kQuickArgs = " --synth-scale 0.05 --seeds 1111 --max-epochs 2 --no-progress";

}  // namespace

BOOST_AUTO_TEST_SUITE(never_lose_work)

BOOST_AUTO_TEST_CASE(train_refuses_a_folder_holding_a_run_unless_resume_or_overwrite) {
  const fs::path dir = testing::scratch("refuse_run");
  const fs::path out = dir / "run";
  const std::string cfg = " --config " + testing::small_config(dir).string() + kQuickArgs;
  // An absent folder and an empty one are fine.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + out.string() + cfg, dir / "first.log") == 0);
  fs::create_directories(dir / "empty");
  BOOST_TEST(testing::run_mtfn("train --out " + (dir / "empty").string() + cfg, dir / "empty.log") == 0);
  BOOST_TEST(fs::exists(dir / "empty/results.json"));

  const auto before = folder_bytes(out);
  BOOST_TEST_REQUIRE(before.count("results.json") == 1u);
  BOOST_TEST(testing::run_mtfn("train --out " + out.string() + cfg, dir / "again.log") == 2);
  const std::string msg = testing::read_text(dir / "again.log");
  BOOST_TEST(count_lines(msg) == 1u, msg);
  BOOST_TEST(msg.find(out.string()) != std::string::npos, msg);
  BOOST_TEST(msg.find("--resume continues it") != std::string::npos, msg);
  BOOST_TEST(msg.find("--overwrite replaces it") != std::string::npos, msg);
  BOOST_TEST((folder_bytes(out) == before));

  // Only a train.log left (the run died before anything else): still a run, still refused.
  fs::create_directories(dir / "log_only");
  std::ofstream(dir / "log_only/train.log") << "seed 1111 (1/1) epoch 1: ...\n";
  BOOST_TEST(testing::run_mtfn("train --out " + (dir / "log_only").string() + cfg, dir / "log_only.log") == 2);
  BOOST_TEST(testing::read_text(dir / "log_only/train.log") == "seed 1111 (1/1) epoch 1: ...\n");
  // --resume and --overwrite together make no sense.
  BOOST_TEST(testing::run_mtfn("train --resume --overwrite --out " + out.string() + cfg, dir / "both.log") == 2);
  BOOST_TEST((folder_bytes(out) == before));

  // --overwrite replaces the run; the results CSV keeps the earlier run's row.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --overwrite --out " + out.string() + cfg, dir / "overwrite.log") == 0);
  BOOST_TEST(count_lines(testing::read_text(out / "normal/sims.csv")) == 3u);
  BOOST_TEST(testing::read_text(out / "train.log").find("seed 1111 (1/1) epoch 1:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_run_per_folder_at_a_time) {
  const fs::path dir = testing::scratch("lock");
  const fs::path out = dir / "run";
  const std::string cfg = " --config " + testing::small_config(dir).string() + kQuickArgs;
  fs::create_directories(out);
  // Another run holds the folder's lock (here: this test process).
  const int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  BOOST_TEST(testing::run_mtfn("train --out " + out.string() + cfg, dir / "locked.log") == 2);
  const std::string msg = testing::read_text(dir / "locked.log");
  BOOST_TEST(count_lines(msg) == 1u, msg);
  BOOST_TEST(msg.find(out.string()) != std::string::npos, msg);
  BOOST_TEST(msg.find("another run is using this folder") != std::string::npos, msg);
  BOOST_TEST((folder_bytes(out) == std::map<std::string, std::string>{{".lock", ""}}));
  // Released (as the kernel does when a run dies): the next run goes ahead.
  ::close(fd);
  BOOST_TEST(testing::run_mtfn("train --out " + out.string() + cfg, dir / "free.log") == 0);
  BOOST_TEST(fs::exists(out / "results.json"));
}

BOOST_AUTO_TEST_CASE(predict_and_convert_never_overwrite_an_input_or_an_existing_file) {
  const fs::path dir = testing::scratch("outputs");
  const fs::path fixtures = testing::source_dir() / "tests/fixtures/pth";
  fs::copy_file(fixtures / "mtfn_small.pth", dir / "m.pth");
  fs::copy_file(fixtures / "sims_small.pkl", dir / "d.pkl");
  const std::string pth_bytes = testing::read_text(dir / "m.pth"), data_bytes = testing::read_text(dir / "d.pkl");
  const std::string m = (dir / "m.pth").string(), d = (dir / "d.pkl").string();
  fs::create_directories(dir / "sub");
  const std::string predict = "predict --checkpoint " + m + " --data " + d + " --out ";

  // --out naming an input, directly or by another path to it: refused, the input untouched.
  BOOST_TEST(testing::run_mtfn(predict + d, dir / "1.log") == 2);
  BOOST_TEST(testing::read_text(dir / "1.log").find("is the --data file") != std::string::npos);
  BOOST_TEST(testing::run_mtfn(predict + (dir / "sub/../m.pth").string() + " --overwrite", dir / "2.log") == 2);
  BOOST_TEST(testing::read_text(dir / "2.log").find("is the --checkpoint file") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("convert --in " + m + " --out " + m + " --overwrite", dir / "3.log") == 2);
  BOOST_TEST(testing::read_text(dir / "3.log").find("is the --in file") != std::string::npos);
  BOOST_TEST(testing::read_text(dir / "m.pth") == pth_bytes);
  BOOST_TEST(testing::read_text(dir / "d.pkl") == data_bytes);

  // An existing file is replaced only with --overwrite.
  std::ofstream(dir / "p.csv") << "my notes\n";
  BOOST_TEST(testing::run_mtfn(predict + (dir / "p.csv").string(), dir / "4.log") == 2);
  const std::string msg = testing::read_text(dir / "4.log");
  BOOST_TEST(count_lines(msg) == 1u, msg);
  BOOST_TEST(msg.find("exists; --overwrite replaces it") != std::string::npos, msg);
  BOOST_TEST(testing::read_text(dir / "p.csv") == "my notes\n");
  BOOST_TEST(testing::run_mtfn(predict + (dir / "p.csv").string() + " --overwrite", dir / "5.log") == 0);
  BOOST_TEST(testing::read_text(dir / "p.csv").rfind("id,M,T,A,V,label_M,", 0) == 0);

  std::ofstream(dir / "m.safetensors") << "keep";
  BOOST_TEST(testing::run_mtfn("convert --in " + m + " --out " + (dir / "m.safetensors").string(), dir / "6.log") == 2);
  BOOST_TEST(testing::read_text(dir / "m.safetensors") == "keep");
  BOOST_TEST(testing::run_mtfn("convert --in " + m + " --out " + (dir / "m.safetensors").string() + " --overwrite",
                               dir / "7.log") == 0);
  BOOST_TEST(fs::file_size(dir / "m.safetensors") > 100u);
  BOOST_TEST(testing::read_text(dir / "m.pth") == pth_bytes);
}

BOOST_AUTO_TEST_CASE(results_csv_with_other_columns_is_kept) {
  const fs::path dir = testing::scratch("csv_kept");
  const fs::path out = dir / "run";
  fs::create_directories(out / "normal");
  const std::string earlier = "Model,Has0_acc_2,Loss\nmtfn,\"(70.0, 1.0)\",\"(50.0, 2.0)\"\n";
  std::ofstream(out / "normal/sims.csv") << earlier;
  const std::string cfg = " --config " + testing::small_config(dir).string() + kQuickArgs;
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + out.string() + cfg, dir / "train.log") == 0);
  BOOST_TEST(testing::read_text(out / "normal/sims.csv") == earlier);
  const std::string csv = testing::read_text(out / "normal/sims-regression.csv");
  BOOST_TEST(csv.rfind("Model,Mult_acc_2,Mult_acc_3,Mult_acc_5,F1_score,MAE,Corr,Loss\nmtfn,\"(", 0) == 0);
  BOOST_TEST(count_lines(csv) == 2u);
  const std::string printed = testing::read_text(dir / "train.log");
  BOOST_TEST(printed.find((out / "normal/sims-regression.csv").string()) != std::string::npos, printed);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_flag_and_create_nothing) {
  const fs::path dir = testing::scratch("bad_values");
  const fs::path out = dir / "never";
  std::ofstream(dir / "huge_lr.json") << R"({"learning_rate": 1e30})";
  fs::create_directories(dir / "a_folder");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--batch-size 0", "--batch-size: expected a positive integer, got 0"},
      {"--max-epochs -1", "--max-epochs: expected 0"},
      {"--seeds ''", "--seeds: empty list"},
      {"--seeds 1,1", "--seeds: seed 1 is given twice"},
      {"--data " + (dir / "x.pkl").string() + " --synth-scale 0.5", "--synth-scale: only without --data"},
      {"--config " + (dir / "a_folder").string(), "--config: " + (dir / "a_folder").string() + " is a folder"},
      {"--config " + (dir / "huge_lr.json").string(), "learning_rate: expected a learning rate in (0, 10], got 1e+30"},
  };
  for (const auto& [args, expected] : cases) {
    BOOST_TEST(testing::run_mtfn("train " + args + " --out " + out.string(), dir / "bad.log") == 2, args);
    const std::string msg = testing::read_text(dir / "bad.log");
    BOOST_TEST(count_lines(msg) == 1u, msg);
    BOOST_TEST(msg.find(expected) != std::string::npos, msg);
    BOOST_TEST(!fs::exists(out), args);
  }
  // No subcommand, or an unknown one: the list of subcommands.
  for (const char* args : {"", "frobnicate"}) {
    BOOST_TEST(testing::run_mtfn(args, dir / "none.log") == 2);
    const std::string msg = testing::read_text(dir / "none.log");
    BOOST_TEST(msg.find("synth, inspect, train, test, predict, check-grads, bench, convert") != std::string::npos, msg);
  }
  BOOST_TEST(testing::read_text(dir / "none.log").find("mtfn: unknown subcommand 'frobnicate'; ") == 0u);
  BOOST_TEST(testing::run_mtfn("--version", dir / "version.log") == 0);
  BOOST_TEST(testing::read_text(dir / "version.log") == "mtfn 0.2.0\n");
}

BOOST_AUTO_TEST_CASE(sigterm_stops_at_a_safe_point_and_resume_continues) {
  const fs::path dir = testing::scratch("sigterm");
  const fs::path out = dir / "run";
  const std::string cfg = " --config " + testing::small_config(dir, R"(, "early_stop": 1000)").string() +
                          " --synth-scale 0.05 --seeds 1111,1112 --max-epochs 150 --no-progress";
  const fs::path log = dir / "stopped.log";
  const std::string cmd = testing::mtfn_program().string() + " train --out " + out.string() + cfg + " >" +
                          log.string() + " 2>&1";
  const pid_t pid = fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (testing::read_text(log).find("seed 1111 (1/2) epoch 1:") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 143);
  const std::string msg = testing::read_text(log);
  BOOST_TEST(msg.find("stopped by SIGTERM") != std::string::npos, msg);
  BOOST_TEST(msg.find("to continue: mtfn train --out " + out.string()) != std::string::npos, msg);
  BOOST_TEST(msg.find(" --resume\n") != std::string::npos, msg);
  BOOST_TEST(!fs::exists(out / "results.json"));
  for (const auto& e : fs::recursive_directory_iterator(out))
    BOOST_TEST(e.path().extension() != ".tmp", e.path().string());
  BOOST_TEST(fs::exists(out / "checkpoints/seed-1111/last.safetensors"));

  BOOST_TEST_REQUIRE(testing::run_mtfn("train --resume --out " + out.string() + cfg, dir / "resumed.log") == 0);
  BOOST_TEST(testing::read_text(dir / "resumed.log").find("seed 1111 (1/2): resumed after epoch") != std::string::npos);
  BOOST_TEST(read_json(out / "results.json")["seeds"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_non_finite_loss_stops_the_seed_and_writes_no_results) {
  const fs::path dir = testing::scratch("nan_loss");
  // A small synthetic file whose first training sample has a NaN label: the training loss of the
  // batch that holds it is NaN. (A NaN feature would not do: ReLU turns NaN into 0 here.)
  const data::SynthShape shape = data::SynthShape::at_scale(0.05);
  std::string bytes = data::synth_pickle_bytes(shape, 1);
  const float label = data::make_synth_dataset(shape, 1).train.label(data::Task::M)[0];
  // train is the first split; its M labels follow the key "regression_labels" as raw float64
  size_t at = bytes.find("regression_labels");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  for (double v = 0; at + 8 <= bytes.size(); ++at) {
    std::memcpy(&v, bytes.data() + at, 8);
    if (std::abs(v - label) < 1e-6) break;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bytes.replace(at, 8, std::string(reinterpret_cast<const char*>(&nan), 8));
  std::ofstream(dir / "nan.pkl", std::ios::binary) << bytes;
  BOOST_TEST_REQUIRE(std::isnan(data::load_sims_dataset(dir / "nan.pkl").train.label(data::Task::M)[0]));

  const fs::path out = dir / "run";
  BOOST_TEST(testing::run_mtfn("train --data " + (dir / "nan.pkl").string() + " --config " +
                                   testing::small_config(dir).string() + " --seeds 1111 --max-epochs 2 --no-progress" +
                                   " --out " + out.string(),
                               dir / "train.log") == 1);
  const std::string msg = testing::read_text(dir / "train.log");
  BOOST_TEST(msg.find("mtfn train: seed 1111 (1/1) epoch 1 step ") != std::string::npos, msg);
  BOOST_TEST(msg.find("the training loss is nan") != std::string::npos, msg);
  BOOST_TEST(msg.find("no results row is written") != std::string::npos, msg);
  BOOST_TEST(!fs::exists(out / "results.json"));
  BOOST_TEST(!fs::exists(out / "normal"));
  BOOST_TEST(!fs::exists(out / "seeds/1111.json"));
}

BOOST_AUTO_TEST_SUITE_END()
