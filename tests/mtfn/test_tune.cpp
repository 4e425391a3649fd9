// `mtfn tune`: the same draws for the same search seed, finished trials never run again, a search
// killed at any moment resumes to the same results, --jobs 2 equals one job, and `--best`'s command
// re-trains the best trial to the same numbers. Also `train --jobs`: seeds at once, the same results.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "training/tune.h"

using namespace mtfn;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// A small search space for TFN (each trial trains in well under a second).
fs::path small_tune_config(const fs::path& dir) {
  const fs::path p = dir / "tune_small.json";
  std::ofstream(p) << R"({"tfn": {"commonParams": {"early_stop": 8},
    "debugParams": {"d_paras": ["hidden_dims", "text_out", "post_fusion_dim", "learning_rate"],
                    "hidden_dims": [[8, 4, 8], [4, 4, 4]], "text_out": [4, 8], "post_fusion_dim": [4, 8],
                    "learning_rate": [0.001, 0.005]}}})";
  return p;
}

std::string tune_args(const fs::path& dir, const fs::path& out, const std::string& extra = "") {
  return "tune --model tfn --dataset mosi --synth-scale 0.03 --config " + small_tune_config(dir).string() +
         " --trials 5 --max-epochs 2 --out " + out.string() + extra;
}

// What a search found, trial by trial (draw, valid and test metrics), without paths or times.
json findings(const fs::path& out) {
  json f = json::array();
  const json doc = read_json(out / "tune.json");
  for (const json& t : doc["trials"])
    f.push_back({t["draw"], t.value("valid", json()), t.value("test", json()), t.value("same_draw_as", json())});
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tune)

BOOST_AUTO_TEST_CASE(draws_depend_on_the_search_seed_and_the_trial_only) {
  const fs::path dir = testing::scratch("tune_draws");
  const training::TuneSpace space = training::tune_space("tfn", "mosi", small_tune_config(dir).string());
  BOOST_TEST(space.names.size() == 4u);
  BOOST_TEST(space.base["batch_size"].get<int>() == 32);  // MMSA's tfn / mosi entry under the drawn keys
  int differ = 0;
  for (int64_t k = 0; k < 8; ++k) {
    BOOST_TEST(training::draw_trial(space, 7, k) == training::draw_trial(space, 7, k));
    differ += training::draw_trial(space, 7, k) != training::draw_trial(space, 8, k);
  }
  BOOST_TEST(differ > 0);
  // every drawn value is one of the candidates
  for (int64_t k = 0; k < 20; ++k) {
    const json d = training::draw_trial(space, 1, k);
    for (size_t i = 0; i < space.names.size(); ++i) {
      const auto& c = space.values[i];
      BOOST_TEST((std::find(c.begin(), c.end(), d[space.names[i]]) != c.end()));
    }
  }
  // the built-in copy of MMSA's config_tune.json
  const training::TuneSpace mtfn = training::tune_space("mtfn", "sims", "");
  BOOST_TEST(mtfn.names.size() == 18u);
  BOOST_TEST(mtfn.names.front() == "hidden_dims");
}

BOOST_AUTO_TEST_CASE(a_search_resumes_skips_finished_trials_and_jobs_do_not_change_it) {
  const fs::path dir = testing::scratch("tune_run"), log = dir / "log.txt";
  BOOST_REQUIRE_MESSAGE(testing::run_mtfn(tune_args(dir, dir / "a"), log) == 0, testing::read_text(log));
  const json a = findings(dir / "a");
  BOOST_TEST(a.size() == 5u);
  const std::string csv = testing::read_text(dir / "a" / "tune" / "mosi-tfn.csv");
  BOOST_TEST(csv.rfind("Trial,hidden_dims,text_out,post_fusion_dim,learning_rate,valid_Has0_acc_2,", 0) == 0, csv);
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 6);
  // the same command again: nothing left to run, the same findings
  BOOST_REQUIRE(testing::run_mtfn(tune_args(dir, dir / "a"), log) == 0);
  BOOST_TEST(testing::read_text(log).find("tune: 5 trials, 0 to run here") != std::string::npos, testing::read_text(log));
  BOOST_TEST(findings(dir / "a") == a);
  // two jobs at once: the same findings
  BOOST_REQUIRE(testing::run_mtfn(tune_args(dir, dir / "b", " --jobs 2"), log) == 0);
  BOOST_TEST(findings(dir / "b") == a);
  // killed (SIGKILL) at three moments, each time continued by the same command, then finished: the
  // same findings (the whole search takes about 0.3 s here, so each kill lands inside it)
  for (const char* after : {"0.1", "0.15", "0.2"})
    std::system(("timeout -s KILL " + std::string(after) + " " + testing::mtfn_program().string() + " " +
                 tune_args(dir, dir / "c") + " >/dev/null 2>&1")
                    .c_str());
  BOOST_REQUIRE(testing::run_mtfn(tune_args(dir, dir / "c"), log) == 0);
  BOOST_TEST(findings(dir / "c") == a);
}

BOOST_AUTO_TEST_CASE(best_prints_a_command_that_retrains_the_trial_exactly) {
  const fs::path dir = testing::scratch("tune_best"), log = dir / "log.txt";
  BOOST_REQUIRE(testing::run_mtfn(tune_args(dir, dir / "s"), log) == 0);
  BOOST_REQUIRE(testing::run_mtfn("tune --best " + (dir / "s").string(), log) == 0);
  const std::string out = testing::read_text(log);
  const auto at = out.find("re-train it: mtfn ");
  BOOST_REQUIRE(at != std::string::npos);
  std::string command = out.substr(at + std::string("re-train it: mtfn ").size());
  command = command.substr(0, command.find('\n'));
  BOOST_REQUIRE_MESSAGE(testing::run_mtfn(command, log) == 0, testing::read_text(log));
  // the best trial on valid, and the re-trained run's test metrics equal it
  json best;
  const json doc = read_json(dir / "s" / "tune.json");
  for (const json& t : doc["trials"])
    if (!t.contains("same_draw_as") && (best.is_null() || t["valid"]["Loss"] < best["valid"]["Loss"])) best = t;
  const fs::path retrained = dir / "s" / ("retrain-" + std::to_string(best["trial"].get<int64_t>()));
  BOOST_TEST(read_json(retrained / "results.json")["seeds"][0]["test"] == best["test"]);
  // --select-on test picks on the test split (MMSA's choice); a folder without a search is refused
  BOOST_REQUIRE(testing::run_mtfn("tune --best " + (dir / "s").string() + " --select-on test", log) == 0);
  BOOST_TEST(testing::read_text(log).find("selected on test Loss") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("tune --best " + dir.string(), log) == 2);
  BOOST_TEST(testing::read_text(log).find("no tune.json") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(train_jobs_train_seeds_at_once_with_the_same_results) {
  const fs::path dir = testing::scratch("train_jobs"), log = dir / "log.txt";
  BOOST_REQUIRE(testing::run_mtfn("synth --scale 0.03 --seed 5 --out " + (dir / "s.pkl").string(), log) == 0);
  const std::string args = "train --data " + (dir / "s.pkl").string() + " --config " +
                           testing::small_config(dir).string() + " --seeds 1,2,3 --max-epochs 3 --out ";
  BOOST_REQUIRE(testing::run_mtfn(args + (dir / "one").string() + " --blas-threads 1", log) == 0);
  BOOST_REQUIRE_MESSAGE(testing::run_mtfn(args + (dir / "jobs").string() + " --jobs 2", log) == 0, testing::read_text(log));
  json a = read_json(dir / "one" / "results.json"), b = read_json(dir / "jobs" / "results.json");
  BOOST_TEST(a["seeds"].size() == 3u);
  for (json* r : {&a, &b})  // wall times aside, every epoch's losses and metrics, each seed's test metrics
    for (json& seed : (*r)["seeds"])
      for (json& epoch : seed["epochs"]) epoch.erase("seconds");
  BOOST_TEST(a["seeds"] == b["seeds"]);
  BOOST_TEST(a["mean"] == b["mean"]);
}

BOOST_AUTO_TEST_SUITE_END()
