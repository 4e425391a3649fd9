// The report page (`mtfn report`, also made at the end of `train`) and DIR/epochs.jsonl: every
// number a figure draws, read back from its .dat file, equals results.json; two runs side by side;
// train without gnuplot still succeeds; the page renders in headless Chromium (skipped without it).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "png.h"

using namespace mtfn;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json read_json(const fs::path& p) { return json::parse(testing::read_text(p)); }

// A .dat file as gnuplot reads it: blocks (separated by two blank lines) of rows of fields;
// comment lines dropped.
std::vector<std::vector<std::vector<std::string>>> read_dat(const fs::path& p) {
  std::vector<std::vector<std::vector<std::string>>> blocks(1);
  std::istringstream in(testing::read_text(p));
  int blanks = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      if (++blanks == 2 && !blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    blanks = 0;
    if (line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<std::string> row;
    for (std::string f; fields >> f;) row.push_back(f);
    blocks.back().push_back(row);
  }
  return blocks;
}

// The same double, or both undefined (NaN in the .dat, null in results.json).
bool same(const std::string& drawn, const json& recorded) {
  const double d = std::strtod(drawn.c_str(), nullptr);
  if (recorded.is_null()) return std::isnan(d);
  return d == recorded.get<double>();
}

std::string tfn_config(const fs::path& dir) {
  const fs::path p = dir / "tfn.json";
  std::ofstream(p) << R"({"hidden_dims": [6, 3, 4], "text_out": 5, "post_fusion_dim": 6, "batch_size": 16})";
  return p.string();
}

const char* kArgs = " --synth-scale 0.05 --seeds 1111,1112 --max-epochs 6 --no-progress";

// Checks every .dat of run `prefix` in `out`/report against the run folder's results.json.
void check_run_figures(const fs::path& out, const fs::path& run, const std::string& prefix) {
  const json r = read_json(run / "results.json");
  const fs::path dir = out / "report";
  for (const json& s : r["seeds"]) {
    const std::string stem = fmt::format("{}-seed-{}", prefix, s["seed"].get<uint64_t>());
    const auto loss = read_dat(dir / (stem + "-loss.dat"));
    BOOST_TEST_REQUIRE(loss.size() == 2u);
    BOOST_TEST_REQUIRE(loss[0].size() == s["epochs"].size());
    const auto valid = read_dat(dir / (stem + "-valid.dat"))[0];
    BOOST_TEST_REQUIRE(valid.size() == s["epochs"].size());
    for (size_t e = 0; e < s["epochs"].size(); ++e) {
      const json& ep = s["epochs"][e];
      BOOST_TEST(same(loss[0][e][0], ep["epoch"]));
      BOOST_TEST(same(loss[0][e][1], ep["train_loss"]));
      BOOST_TEST(same(loss[0][e][2], ep["valid_loss"]));
      BOOST_TEST(same(valid[e][0], ep["epoch"]));
      size_t col = 1;
      for (auto it = ep["valid"].begin(); it != ep["valid"].end(); ++it) BOOST_TEST(same(valid[e][col++], it.value()));
      BOOST_TEST(valid[e].size() == col);
    }
    // The best epoch is marked at its own valid loss.
    const int64_t best = s["best_epoch"].get<int64_t>();
    BOOST_TEST(same(loss[1][0][0], s["best_epoch"]));
    BOOST_TEST(same(loss[1][0][1], s["epochs"][static_cast<size_t>(best - 1)]["valid_loss"]));
    for (const char* ext : {".svg", ".png"}) {
      BOOST_TEST(fs::file_size(dir / (stem + "-loss" + ext)) > 1000u);
      BOOST_TEST(fs::file_size(dir / (stem + "-valid" + ext)) > 1000u);
    }
    BOOST_TEST(testing::read_text(dir / (stem + "-loss.svg")).find("<svg") != std::string::npos);
    BOOST_TEST(testing::read_text(dir / (stem + "-loss.png")).rfind("\x89PNG", 0) == 0);
  }
  // Test metrics: mean, std, baseline and each seed, one row per metric.
  const auto test = read_dat(dir / (prefix + "-test.dat"))[0];
  BOOST_TEST_REQUIRE(test.size() == r["mean"].size());
  size_t row = 0;
  for (auto it = r["mean"].begin(); it != r["mean"].end(); ++it, ++row) {
    const std::string& m = it.key();
    BOOST_TEST(test[row][1] == m);
    BOOST_TEST(same(test[row][2], r["mean"][m]));
    BOOST_TEST(same(test[row][3], r["std"][m]));
    BOOST_TEST(same(test[row][4], r["baseline"].contains(m) ? r["baseline"][m] : json()));
    BOOST_TEST_REQUIRE(test[row].size() == 6 + r["seeds"].size());
    for (size_t k = 0; k < r["seeds"].size(); ++k) BOOST_TEST(same(test[row][6 + k], r["seeds"][k]["test"][m]));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(train_writes_the_page_and_epochs_jsonl_and_the_figures_draw_results_json) {
  const fs::path dir = testing::scratch("report_one");
  const fs::path run = dir / "run";
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + run.string() + " --config " + testing::small_config(dir).string() + kArgs,
                                       dir / "train.log") == 0);
  BOOST_TEST(testing::read_text(dir / "train.log").find("report: " + (run / "report.html").string()) != std::string::npos);
  check_run_figures(run, run, "run1");
  const json r = read_json(run / "results.json");
  const std::string page = testing::read_text(run / "report.html");
  for (const char* s : {"<img src=\"report/run1-seed-1111-loss.svg\"", "run1-test.svg", "MMSA published",
                        "81.09", "Mult_acc_2", "<th>learning_rate</th>", "synthetic"})
    BOOST_TEST(page.find(s) != std::string::npos, s);
  BOOST_TEST(page.find("<script") == std::string::npos);
  // The published figures are drawn too (column 5 of the test data), as fractions.
  BOOST_TEST(read_dat(run / "report/run1-test.dat")[0][0][5] == "0.8109");

  // epochs.jsonl: one line per epoch of each seed, the same numbers as results.json.
  std::istringstream lines(testing::read_text(run / "epochs.jsonl"));
  std::vector<json> epochs;
  for (std::string l; std::getline(lines, l);) epochs.push_back(json::parse(l));
  size_t i = 0;
  for (const json& s : r["seeds"]) {
    for (const json& e : s["epochs"]) {
      BOOST_TEST_REQUIRE(i < epochs.size());
      const json& j = epochs[i++];
      BOOST_TEST(j["seed"] == s["seed"]);
      for (const char* k : {"epoch", "train_loss", "valid_loss", "valid", "seconds"}) BOOST_TEST(j[k] == e[k], k);
      BOOST_TEST(j["best_epoch"].get<int64_t>() <= j["epoch"].get<int64_t>());
    }
    BOOST_TEST(epochs[i - 1]["best_epoch"] == s["best_epoch"]);
  }
  BOOST_TEST(i == epochs.size());

  // `mtfn report` again, elsewhere, gives the same data; a folder without results.json is bad input.
  BOOST_TEST_REQUIRE(testing::run_mtfn("report " + run.string() + " --out " + (dir / "again").string(), dir / "again.log") == 0);
  BOOST_TEST(testing::read_text(dir / "again/report/run1-test.dat") == testing::read_text(run / "report/run1-test.dat"));
  BOOST_TEST(testing::run_mtfn("report " + dir.string(), dir / "bad.log") == 2);

  // A results.json with a manifest: the page lists its keys.
  json with_manifest = r;
  with_manifest["manifest"] = {{"command", "mtfn train --out x"}, {"version", "9.9.9"}, {"data_sha256", "abc123"}};
  fs::create_directories(dir / "manifest");
  std::ofstream(dir / "manifest/results.json") << with_manifest.dump(1);
  BOOST_TEST_REQUIRE(testing::run_mtfn("report " + (dir / "manifest").string(), dir / "manifest.log") == 0);
  const std::string shown = testing::read_text(dir / "manifest/report.html");
  for (const char* s : {"manifest: command", "mtfn train --out x", "9.9.9", "manifest: data_sha256", "abc123"})
    BOOST_TEST(shown.find(s) != std::string::npos, s);

  // A new run in the folder removes the earlier run's page before training.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --overwrite --out " + run.string() + " --config " + testing::small_config(dir).string() +
                                           " --synth-scale 0.05 --seeds 1111 --max-epochs 2 --no-progress",
                                       dir / "again_train.log", "PATH=/nonexistent") == 0);
  BOOST_TEST(!fs::exists(run / "report.html"));
  BOOST_TEST(!fs::exists(run / "report"));
}

BOOST_AUTO_TEST_CASE(two_runs_side_by_side) {
  const fs::path dir = testing::scratch("report_two");
  const fs::path a = dir / "mtfn", b = dir / "tfn";
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + a.string() + " --config " + testing::small_config(dir).string() + kArgs,
                                       dir / "a.log") == 0);
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --model tfn --out " + b.string() + " --config " + tfn_config(dir) + kArgs,
                                       dir / "b.log") == 0);
  BOOST_TEST(testing::run_mtfn("report " + a.string() + " " + b.string(), dir / "no_out.log") == 2);
  const fs::path out = dir / "both";
  BOOST_TEST_REQUIRE(testing::run_mtfn("report " + a.string() + " " + b.string() + " --out " + out.string(), dir / "r.log") == 0);
  check_run_figures(out, a, "run1");
  check_run_figures(out, b, "run2");
  // compare.dat: per metric, mean and std of each run, then MMSA's published MTFN figures.
  const json ra = read_json(a / "results.json"), rb = read_json(b / "results.json");
  const auto cmp = read_dat(out / "report/compare.dat")[0];
  BOOST_TEST_REQUIRE(cmp.size() == ra["mean"].size());
  size_t row = 0;
  for (auto it = ra["mean"].begin(); it != ra["mean"].end(); ++it, ++row) {
    BOOST_TEST(same(cmp[row][2], ra["mean"][it.key()]));
    BOOST_TEST(same(cmp[row][3], ra["std"][it.key()]));
    BOOST_TEST(same(cmp[row][4], rb["mean"][it.key()]));
    BOOST_TEST(same(cmp[row][5], rb["std"][it.key()]));
  }
  BOOST_TEST(cmp[0][6] == "0.8109");
  const std::string page = testing::read_text(out / "report.html");
  for (const std::string& s : {"mtfn (" + a.string() + ")", "tfn (" + b.string() + ")", std::string("compare.svg"),
                               std::string("run2-seed-1112-valid.svg")})
    BOOST_TEST(page.find(s) != std::string::npos, s);
  BOOST_TEST(fs::file_size(out / "report/compare.png") > 1000u);
}

BOOST_AUTO_TEST_CASE(train_succeeds_without_gnuplot_and_says_how_to_get_the_page) {
  const fs::path dir = testing::scratch("report_no_gnuplot");
  const fs::path run = dir / "run";
  // No PATH: gnuplot cannot be found (the program itself is named by its full path).
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + run.string() + " --config " + testing::small_config(dir).string() +
                                           " --synth-scale 0.05 --seeds 1111 --max-epochs 2 --no-progress",
                                       dir / "train.log", "PATH=/nonexistent") == 0);
  const std::string log = testing::read_text(dir / "train.log");
  BOOST_TEST(log.find("gnuplot-nox") != std::string::npos);
  BOOST_TEST(log.find("mtfn report " + run.string()) != std::string::npos);
  BOOST_TEST(fs::exists(run / "results.json"));
  BOOST_TEST(!fs::exists(run / "report.html"));
  BOOST_TEST(testing::run_mtfn("report " + run.string(), dir / "report.log", "PATH=/nonexistent") == 1);
}

BOOST_AUTO_TEST_CASE(page_renders_in_headless_chromium) {
  if (!fs::exists("/usr/bin/chromium")) {
    BOOST_TEST_MESSAGE("SKIPPED: /usr/bin/chromium is absent (bash scripts/install-deps.sh installs it)");
    return;
  }
  const fs::path dir = testing::scratch("report_chromium");
  const fs::path run = dir / "run";
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + run.string() + " --config " + testing::small_config(dir).string() + kArgs,
                                       dir / "train.log") == 0);
  const fs::path shot = dir / "page.png";
  const std::string cmd = fmt::format(
      "HOME={0} /usr/bin/chromium --headless --no-sandbox --disable-gpu --screenshot={1} --window-size=1200,3000 "
      "file://{2} >{0}/chromium.log 2>&1",
      dir.string(), shot.string(), fs::absolute(run / "report.html").string());
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0);
  const testing::Image img = testing::read_png(shot);
  BOOST_TEST(img.width == 1200);
  BOOST_TEST(img.height == 3000);
  std::set<uint32_t> colours;
  size_t not_white = 0;
  for (uint32_t px : img.rgb) {
    colours.insert(px);
    not_white += px != 0xffffff;
  }
  // Text, tables and the figures' lines in several colours: far from a blank page.
  BOOST_TEST(colours.size() > 200u);
  BOOST_TEST(not_white > img.rgb.size() / 20);
  // The curves' own colours (train loss blue, valid loss red) are on the page, so the SVGs were drawn.
  BOOST_TEST(colours.contains(0x1f77b4));
  BOOST_TEST(colours.contains(0xd62728));
}

BOOST_AUTO_TEST_SUITE_END()
