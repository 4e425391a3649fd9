// Tests of make_batch (dataset rows -> core Tensors) and of the `synth` / `inspect` subcommands
// (output, exit statuses).
#include <boost/test/unit_test.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "data/batch.h"
#include "cli/commands.h"
#include "data/synth.h"
#include "fixtures.h"

using namespace mtfn::data;
using namespace mtfn::data::testing;
using namespace mtfn::cli;

BOOST_AUTO_TEST_SUITE(batch_and_commands)

BOOST_AUTO_TEST_CASE(make_batch_gathers_rows) {
  SimsDataset ds = load_sims_dataset(fixture_dir() / "p4_fortran_bigendian.pkl");
  const int64_t idx[] = {2, 0};
  Batch b = make_batch(ds.train, idx);
  BOOST_TEST(b.size() == 2);
  BOOST_TEST((b.text.dtype() == mtfn::DType::F32));
  BOOST_TEST(b.text.shape() == mtfn::Shape({2, 4, 5}));
  BOOST_TEST(b.audio.shape() == mtfn::Shape({2, 3}));
  BOOST_TEST(b.vision.shape() == mtfn::Shape({2, 5}));
  BOOST_TEST(b.label_M.shape() == mtfn::Shape({2}));
  for (int64_t k = 0; k < 20; ++k) {
    BOOST_TEST_REQUIRE(b.text.data<float>()[k] == ds.train.text[2 * 20 + k]);
    BOOST_TEST_REQUIRE(b.text.data<float>()[20 + k] == ds.train.text[k]);
  }
  for (int64_t k = 0; k < 3; ++k) BOOST_TEST(b.audio.data<float>()[k] == ds.train.audio[2 * 3 + k]);
  for (int64_t k = 0; k < 5; ++k) BOOST_TEST(b.vision.data<float>()[5 + k] == ds.train.vision[k]);
  for (Task t : kAllTasks) {
    BOOST_TEST(b.label(t).data<float>()[0] == ds.train.label(t)[2]);
    BOOST_TEST(b.label(t).data<float>()[1] == ds.train.label(t)[0]);
  }
  Batch d = make_batch(ds.train, idx, mtfn::DType::F64);
  BOOST_TEST((d.audio.dtype() == mtfn::DType::F64));
  BOOST_TEST(d.audio.data<double>()[1] == static_cast<double>(ds.train.audio[2 * 3 + 1]));
  const int64_t bad[] = {0, 3};
  BOOST_CHECK_THROW(make_batch(ds.train, bad), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(make_batch_without_unimodal_labels) {
  SimsDataset ds = load_sims_dataset(fixture_dir() / "p4_mosi_like.pkl");
  const int64_t idx[] = {1};
  Batch b = make_batch(ds.test, idx);
  BOOST_TEST(b.label_M.defined());
  BOOST_TEST(!b.label_T.defined());
  BOOST_TEST(!b.label_A.defined());
  BOOST_TEST(!b.label_V.defined());
}

BOOST_AUTO_TEST_CASE(inspect_prints_keys_shapes_dtypes_counts_ranges) {
  std::string report = inspect_report((fixture_dir() / "p4_fortran_bigendian.pkl").string());
  BOOST_TEST(report.find("train: 3 samples") != std::string::npos);
  BOOST_TEST(report.find("valid: 2 samples") != std::string::npos);
  BOOST_TEST(report.find(">float64   (3, 4, 5)") != std::string::npos);  // big-endian vision
  BOOST_TEST(report.find("list[str]  (3,)") != std::string::npos);       // ids as a list
  BOOST_TEST(report.find("labels:  M [") != std::string::npos);
  BOOST_TEST(report.find("labels: M T A V") != std::string::npos);
  BOOST_CHECK_THROW(inspect_report((fixture_dir() / "broken/os_system.pkl").string()), PickleError);
}

namespace {

// Runs `mtfn <args>` on an app with the data commands; returns the exit status the program gives.
int run(std::vector<std::string> args, std::string* err = nullptr) {
  CLI::App app("mtfn");
  add_synth_command(app);
  add_inspect_command(app);
  app.require_subcommand(1);
  std::vector<const char*> argv = {"mtfn"};
  for (auto& a : args) argv.push_back(a.c_str());
  std::stringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  const int status = mtfn::cli::run(app, static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(old);
  if (err) *err = captured.str();
  return status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(commands_exit_statuses) {
  auto out = std::filesystem::temp_directory_path() / "mtfn_test_cmd_synth.pkl";
  BOOST_TEST(run({"synth", "--out", out.string(), "--scale", "0.005", "--seed", "4"}) == 0);
  SimsDataset ds = load_sims_dataset(out);
  BOOST_TEST(ds.train.size == 7);
  BOOST_TEST(run({"inspect", out.string()}) == 0);
  std::filesystem::remove(out);

  std::string err;
  BOOST_TEST(run({"inspect", (fixture_dir() / "broken/huge_shape_100gb.pkl").string()}, &err) == 2);
  BOOST_TEST(err.find("mtfn inspect: ") == 0);
  BOOST_TEST(err.find("needs 80000000000000 bytes") != std::string::npos);
  BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1);  // one line
  BOOST_TEST(run({"inspect", "/nonexistent.pkl"}) == 2);
  BOOST_TEST(run({"synth", "--out", out.string(), "--scale", "-1"}) == 2);
  BOOST_TEST(run({"synth", "--out", "/nonexistent-dir/x.pkl", "--scale", "0.001"}) == 1);
  BOOST_TEST(run({"synth"}) != 0);  // --out is required
}

BOOST_AUTO_TEST_SUITE_END()
