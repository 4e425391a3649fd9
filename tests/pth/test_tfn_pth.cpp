// TFN from PyTorch checkpoints (models/tfn/pth_checkpoint.h, models/pth.h): told from MTFN by its
// weight names, the configuration inferred from the shapes, predictions equal to PyTorch's (within
// 1e-5, float32) on sims_small.pkl, and `mtfn convert` / `test` / `predict` on a TFN .pth.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/batch.h"
#include "data/pth.h"
#include "data/sims_dataset.h"
#include "models/pth.h"
#include "models/tfn/pth_checkpoint.h"
#include "nn/safetensors.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;

namespace {

fs::path dir() { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pth"; }
fs::path scratch() {
  const auto p = fs::path(MTFN_BINARY_DIR) / "test-scratch" / "tfn_pth";
  fs::remove_all(p);  // convert and predict never overwrite an existing file: start empty
  fs::create_directories(p);
  return p;
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
int run_mtfn(const std::string& args, const fs::path& log) {
  const std::string cmd = (fs::path(MTFN_BINARY_DIR) / "mtfn").string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The model's eval-mode M on the test split of sims_small.pkl against tfn_predictions.json.
void check_predictions(Model& model, const std::string& key) {
  const auto want = nlohmann::json::parse(slurp(dir() / "tfn_predictions.json"));
  const data::SimsDataset ds = data::load_sims_dataset(dir() / "sims_small.pkl");
  const data::SimsSplit& test = ds.split("test");
  std::vector<int64_t> rows(static_cast<size_t>(test.size));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  const data::Batch b = data::make_batch(test, rows, DType::F32);
  model.module().eval();
  const Forward out = model.forward(b);
  BOOST_REQUIRE(out.outputs.size() == 1u);
  const auto expect = want[key]["M"].get<std::vector<std::vector<double>>>();
  const Tensor& got = out.outputs[0];
  BOOST_REQUIRE(got.size(0) == static_cast<int64_t>(expect.size()));
  double worst = 0;
  for (size_t i = 0; i < expect.size(); ++i)
    for (size_t c = 0; c < expect[i].size(); ++c)
      worst = std::max(worst, std::abs(got.at(static_cast<int64_t>(i * expect[i].size() + c)) - expect[i][c]));
  BOOST_TEST_MESSAGE(key << ": largest difference from PyTorch " << worst);
  // Our float32 forward against PyTorch's float32 forward of the same model: the same sums in other
  // orders. The widest sum is the fusion head's F = (3+1)(5+1)(4+1) = 120 columns; with the
  // probabilistic rounding bound sqrt(n) u sum|terms| (Higham and Mary 2019) for each of the ~6 layers
  // in sequence and sum|terms| <= ~1.3 per output here: 6 * sqrt(120) * 6.0e-8 * 1.3 = 5.1e-6 < 1e-5,
  // absolute. Measured: 3e-8.
  BOOST_TEST(worst <= 1e-5);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tfn_pth)

BOOST_AUTO_TEST_CASE(told_from_mtfn_by_names_and_config_from_shapes) {
  data::PthReader r(dir() / "tfn_small.pth");
  BOOST_TEST(pth_prefix(r) == "Model.");
  BOOST_TEST(pth_model_name(r, "Model.") == "tfn");
  data::PthReader m(dir() / "mtfn_small.pth");
  BOOST_TEST(pth_model_name(m, "Model.") == "mtfn");
  const TfnConfig c = infer_tfn_config(r, "Model.");
  BOOST_TEST((c.feature_dims == std::array<int64_t, 3>{12, 5, 7}));
  BOOST_TEST((c.hidden_dims == std::array<int64_t, 3>{6, 3, 5}));
  BOOST_TEST(c.text_out == 4);
  BOOST_TEST(c.post_fusion_dim == 5);
  BOOST_TEST((c.train_mode == TrainMode::regression));
  data::PthReader cls(dir() / "tfn_small_cls.pth");
  BOOST_TEST(pth_prefix(cls) == "");
  const TfnConfig k = infer_tfn_config(cls, "");
  BOOST_TEST((k.train_mode == TrainMode::classification));
  BOOST_TEST(k.num_classes == 3);
}

BOOST_AUTO_TEST_CASE(predictions_equal_pytorch) {
  const auto reg = load_pth(dir() / "tfn_small.pth");
  BOOST_TEST(reg->name() == "tfn");
  check_predictions(*reg, "tfn_small.pth");
  check_predictions(*load_pth(dir() / "tfn_small_cls.pth"), "tfn_small_cls.pth");  // float64 -> float32
  BOOST_TEST(load_pth(dir() / "mtfn_small.pth")->name() == "mtfn");
}

BOOST_AUTO_TEST_CASE(state_loaded_exactly) {
  data::PthReader r(dir() / "tfn_small.pth");
  auto model = load_tfn_pth(r);
  BOOST_TEST(model->state_dict().size() == 36u);
  for (const nn::NamedTensor& t : model->state_dict()) {
    BOOST_TEST_CONTEXT(t.name) {
      const Tensor want = r.read(*r.find("Model." + t.name));
      BOOST_TEST(t.tensor.to_vector() == want.to_vector(), boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(convert_test_predict_commands) {
  const fs::path s = scratch(), log = s / "log.txt";
  const std::string pth = (dir() / "tfn_small.pth").string(), data = (dir() / "sims_small.pkl").string();
  BOOST_REQUIRE(run_mtfn("convert --in " + pth + " --out " + (s / "tfn.safetensors").string(), log) == 0);
  BOOST_TEST(slurp(log).find("TFN regression (36 tensors") != std::string::npos, slurp(log));
  BOOST_REQUIRE(run_mtfn("test --checkpoint " + pth + " --data " + data, log) == 0);
  std::string a = slurp(log);
  BOOST_REQUIRE(run_mtfn("test --checkpoint " + (s / "tfn.safetensors").string() + " --data " + data, log) == 0);
  std::string b = slurp(log);
  a = a.substr(a.find('\n'));
  b = b.substr(b.find('\n'));
  BOOST_TEST(a == b);
  BOOST_TEST(a.find("Mult_acc_2") != std::string::npos);

  BOOST_REQUIRE(run_mtfn("predict --checkpoint " + pth + " --data " + data + " --out " + (s / "p.csv").string(), log) == 0);
  const auto want = nlohmann::json::parse(slurp(dir() / "tfn_predictions.json"));
  std::istringstream csv(slurp(s / "p.csv"));
  std::string line;
  std::getline(csv, line);
  BOOST_TEST(line == "id,M,label_M");
  size_t rows = 0;
  for (size_t i = 0; std::getline(csv, line); ++i, ++rows) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    BOOST_REQUIRE(cells.size() == 3u);
    BOOST_TEST(cells[0] == want["ids"][i].get<std::string>());
    BOOST_TEST(std::abs(std::stod(cells[1]) - want["tfn_small.pth"]["M"][i][0].get<double>()) <= 1e-5);  // as above
  }
  BOOST_TEST(rows == want["ids"].size());
}

BOOST_AUTO_TEST_SUITE_END()
