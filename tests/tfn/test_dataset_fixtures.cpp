// The MOSI-like and SIMSv2-like pickle fixtures (tools/make_pickle_fixtures.py, real pickle and
// numpy) through the `mtfn` program: which dataset `mtfn inspect` says each looks like, TFN
// training on the MOSI-like one with MOSI's metric columns, and MTFN refused on it.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

fs::path pickle_fixture(const std::string& name) { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pickle" / name; }

fs::path scratch(const std::string& name) {
  const auto p = fs::path(MTFN_BINARY_DIR) / "test-scratch" / "tfn" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

int run_mtfn(const std::string& args, const fs::path& log) {
  const std::string cmd = (fs::path(MTFN_BINARY_DIR) / "mtfn").string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(dataset_fixtures)

BOOST_AUTO_TEST_CASE(inspect_says_which_dataset_each_looks_like) {
  const fs::path dir = scratch("inspect");
  BOOST_TEST_REQUIRE(run_mtfn("inspect " + pickle_fixture("mosi_like.pkl").string(), dir / "mosi.log") == 0);
  const std::string mosi = read_text(dir / "mosi.log");
  BOOST_TEST(contains(mosi, "train: 40 samples"));
  BOOST_TEST(contains(mosi, "text_bert"));
  BOOST_TEST(contains(mosi, "labels: M\n"));  // no unimodal labels
  BOOST_TEST(contains(mosi, "M [-3.00, 3.00]"));
  BOOST_TEST(contains(mosi, "looks like: mosi (no unimodal labels, audio 5 and vision 20 features (MOSI's))"), mosi);

  BOOST_TEST_REQUIRE(run_mtfn("inspect " + pickle_fixture("simsv2_like.pkl").string(), dir / "simsv2.log") == 0);
  const std::string simsv2 = read_text(dir / "simsv2.log");
  BOOST_TEST(contains(simsv2, "train: 2001 samples"));
  BOOST_TEST(contains(simsv2, "labels: M T A V"));
  BOOST_TEST(contains(simsv2, "looks like: simsv2 (unimodal labels and 2001 training samples"), simsv2);
}

BOOST_AUTO_TEST_CASE(tfn_trains_on_the_mosi_like_file_with_mosi_metrics) {
  const fs::path dir = scratch("train_mosi");
  std::ofstream(dir / "small.json") << R"({"hidden_dims": [8, 4, 8], "text_out": 6, "post_fusion_dim": 8})";
  // No --dataset: the file decides (MOSI's audio and vision widths), so MMSA's tfn/mosi entry applies.
  const std::string args = "train --model tfn --data " + pickle_fixture("mosi_like.pkl").string() + " --config " +
                           (dir / "small.json").string() + " --seeds 1111,1112 --max-epochs 2 --no-progress --out " +
                           (dir / "run").string();
  BOOST_TEST_REQUIRE(run_mtfn(args, dir / "train.log") == 0, read_text(dir / "train.log"));
  const std::string log = read_text(dir / "train.log");
  BOOST_TEST(contains(log, "looks like mosi"), log);
  const fs::path csv = dir / "run/normal/mosi.csv";
  BOOST_TEST_REQUIRE(fs::exists(csv));
  const std::string table = read_text(csv);
  BOOST_TEST(table.rfind("Model,Has0_acc_2,Has0_F1_score,Non0_acc_2,Non0_F1_score,Mult_acc_5,Mult_acc_7,MAE,Corr,Loss\ntfn,", 0) == 0,
             table);
  BOOST_TEST(!contains(table, "Mult_acc_3"));  // SIMS's columns are not there
}

BOOST_AUTO_TEST_CASE(mtfn_is_refused_on_the_mosi_like_file) {
  const fs::path dir = scratch("refuse_mtfn");
  const std::string args = "train --model mtfn --data " + pickle_fixture("mosi_like.pkl").string() +
                           " --max-epochs 1 --no-progress --out " + (dir / "run").string();
  BOOST_TEST(run_mtfn(args, dir / "train.log") == 2);
  const std::string log = read_text(dir / "train.log");
  BOOST_TEST(contains(log, "unimodal labels"), log);
  BOOST_TEST(contains(log, "use --model tfn"), log);
  BOOST_TEST(!fs::exists(dir / "run/normal/mosi.csv"));
}

BOOST_AUTO_TEST_SUITE_END()
