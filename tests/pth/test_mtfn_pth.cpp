// MTFN from PyTorch checkpoints (models/mtfn/pth_checkpoint.h) and the commands that take them:
// the configuration inferred from the shapes, predictions equal to PyTorch's (within 1e-5, float32)
// on a small feature file, strict loading, and `mtfn convert` / `test` / `predict` on .pth files.
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
#include "models/mtfn/pth_checkpoint.h"
#include "nn/safetensors.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;

namespace {

fs::path dir() { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pth"; }
fs::path scratch() {
  // Fresh each time: convert and predict refuse to replace a file without --overwrite.
  const auto p = fs::path(MTFN_BINARY_DIR) / "test-scratch" / "pth";
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// `mtfn <args>` with stdout and stderr into `log`; the exit status.
int run_mtfn(const std::string& args, const fs::path& log) {
  const std::string cmd = (fs::path(MTFN_BINARY_DIR) / "mtfn").string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The model's eval-mode outputs on the test split of sims_small.pkl against predictions.json.
void check_predictions(Mtfn& model, const std::string& key) {
  const auto want = nlohmann::json::parse(slurp(dir() / "predictions.json"));
  const data::SimsDataset ds = data::load_sims_dataset(dir() / "sims_small.pkl");
  const data::SimsSplit& test = ds.split("test");
  std::vector<int64_t> rows(static_cast<size_t>(test.size));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  const data::Batch b = data::make_batch(test, rows, DType::F32);
  model.eval();
  const MtfnOutput out = model.forward(b.text, b.audio, b.vision);
  const char* tasks = "MTAV";
  double worst = 0;
  for (int t = 0; t < 4; ++t) {
    const auto expect = want[key][std::string(1, tasks[t])].get<std::vector<std::vector<double>>>();
    const Tensor& got = out.task(t);
    BOOST_REQUIRE(got.size(0) == static_cast<int64_t>(expect.size()));
    for (size_t i = 0; i < expect.size(); ++i)
      for (size_t c = 0; c < expect[i].size(); ++c)
        worst = std::max(worst, std::abs(got.at(static_cast<int64_t>(i * expect[i].size() + c)) - expect[i][c]));
  }
  BOOST_TEST_MESSAGE(key << ": largest difference from PyTorch " << worst);
  // Our float32 forward against PyTorch's float32 forward of the same model: the same sums in other
  // orders. The widest sum is the fusion head's F = (4+1)(8+1)(8+1) = 405 columns; with the
  // probabilistic rounding bound sqrt(n) u sum|terms| (Higham and Mary 2019) for each of the ~6 layers
  // in sequence and sum|terms| <= ~1.3 per output here: 6 * sqrt(405) * 6.0e-8 * 1.3 = 9.4e-6 < 1e-5,
  // absolute. Measured: 2.4e-7.
  BOOST_TEST(worst <= 1e-5);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mtfn_pth)

BOOST_AUTO_TEST_CASE(config_from_shapes) {
  data::PthReader r(dir() / "mtfn_small.pth");
  BOOST_TEST(pth_prefix(r) == "Model.");
  const MtfnConfig c = infer_mtfn_config(r, "Model.");
  BOOST_TEST((c.feature_dims == std::array<int64_t, 3>{12, 5, 7}));
  BOOST_TEST((c.hidden_dims == std::array<int64_t, 3>{8, 4, 8}));
  BOOST_TEST(c.text_out == 8);
  BOOST_TEST(c.post_fusion_dim == 6);
  BOOST_TEST(c.post_text_dim == 5);
  BOOST_TEST(c.post_audio_dim == 3);
  BOOST_TEST(c.post_video_dim == 4);
  BOOST_TEST((c.train_mode == TrainMode::regression));

  data::PthReader cls(dir() / "mtfn_small_cls.pth");
  BOOST_TEST(pth_prefix(cls) == "");
  const MtfnConfig k = infer_mtfn_config(cls, "");
  BOOST_TEST((k.train_mode == TrainMode::classification));
  BOOST_TEST(k.num_classes == 3);
}

BOOST_AUTO_TEST_CASE(predictions_equal_pytorch) {
  check_predictions(*load_pth_model(dir() / "mtfn_small.pth"), "mtfn_small.pth");
  check_predictions(*load_pth_model(dir() / "mtfn_small_legacy.pth"), "mtfn_small.pth");
  check_predictions(*load_pth_model(dir() / "mtfn_small_cls.pth"), "mtfn_small_cls.pth");  // float64 -> float32
}

BOOST_AUTO_TEST_CASE(state_loaded_exactly) {
  data::PthReader r(dir() / "mtfn_small.pth");
  auto model = load_pth_model(r);
  for (const nn::NamedTensor& t : model->state_dict()) {
    BOOST_TEST_CONTEXT(t.name) {
      const Tensor want = r.read(*r.find("Model." + t.name));
      BOOST_TEST(t.tensor.to_vector() == want.to_vector(), boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(inconsistent_state_lists_every_problem) {
  BOOST_CHECK_EXCEPTION(load_pth_model(dir() / "mtfn_small_inconsistent.pth"), data::PthError,
                        [](const data::PthError& e) {
                          const std::string m = e.what();
                          BOOST_TEST_MESSAGE(m);
                          return m.find("mtfn_small_inconsistent.pth: ") != std::string::npos &&
                                 m.find("missing 'Model.post_text_layer_2.bias'") != std::string::npos &&
                                 m.find("unexpected 'Model.extra.weight'") != std::string::npos &&
                                 m.find("'Model.post_fusion_layer_1.weight' has shape (6, 400) in the file, (6, 405) "
                                        "in the model") != std::string::npos;
                        });
  BOOST_CHECK_EXCEPTION(load_pth_model(dir() / "views.pth"), data::PthError, [](const data::PthError& e) {
    return std::string(e.what()).find("no tensor 'text_subnet.rnn.weight_ih_l0': not an MTFN checkpoint") !=
           std::string::npos;
  });
}

// The commands, end to end (the `mtfn` program of this build).
BOOST_AUTO_TEST_CASE(convert_test_predict_commands) {
  const fs::path s = scratch(), log = s / "log.txt";
  const std::string pth = (dir() / "mtfn_small.pth").string(), data = (dir() / "sims_small.pkl").string();
  // convert: our model file, PyTorch names without "Model.", the same values
  BOOST_REQUIRE(run_mtfn("convert --in " + pth + " --out " + (s / "small.safetensors").string(), log) == 0);
  BOOST_TEST(slurp(log).find("MTFN regression (54 tensors") != std::string::npos, slurp(log));
  const nn::SafetensorsFile st = nn::read_safetensors((s / "small.safetensors").string());
  BOOST_TEST(st.tensors.size() == 54u);
  BOOST_TEST(st.tensors.contains("post_fusion_layer_1.weight"));
  BOOST_TEST(st.metadata.count("mtfn") == 1u);
  data::PthReader r(pth);
  for (const nn::NamedTensor& t : st.tensors)
    BOOST_TEST(t.tensor.to_vector() == r.read(*r.find("Model." + t.name)).to_vector(), boost::test_tools::per_element());

  // test: the .pth and its conversion score the same
  BOOST_REQUIRE(run_mtfn("test --checkpoint " + pth + " --data " + data, log) == 0);
  std::string a = slurp(log);
  BOOST_REQUIRE(run_mtfn("test --checkpoint " + (s / "small.safetensors").string() + " --data " + data, log) == 0);
  std::string b = slurp(log);
  a = a.substr(a.find('\n'));  // the first line names the checkpoint
  b = b.substr(b.find('\n'));
  BOOST_TEST(a == b);
  BOOST_TEST(a.find("Mult_acc_2") != std::string::npos);

  // predict: PyTorch's M/T/A/V within 1e-5
  BOOST_REQUIRE(run_mtfn("predict --checkpoint " + pth + " --data " + data + " --out " + (s / "p.csv").string(), log) == 0);
  const auto want = nlohmann::json::parse(slurp(dir() / "predictions.json"));
  std::istringstream csv(slurp(s / "p.csv"));
  std::string line;
  std::getline(csv, line);
  BOOST_TEST(line.starts_with("id,M,T,A,V,"));
  for (size_t i = 0; std::getline(csv, line); ++i) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    BOOST_REQUIRE(cells.size() >= 5u);
    BOOST_TEST(cells[0] == want["ids"][i].get<std::string>());
    for (int t = 0; t < 4; ++t)
      BOOST_TEST(std::abs(std::stod(cells[1 + t]) - want["mtfn_small.pth"][std::string(1, "MTAV"[t])][i][0].get<double>()) <=
                 1e-5);  // as in check_predictions (the CSV's digits are exact to 1e-7)
  }

  // a feature file of other sizes: exit 2, one line naming both the data's and the model's sizes
  const std::string other = (fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pickle/p4_mosi_like.pkl").string();
  BOOST_TEST(run_mtfn("test --checkpoint " + pth + " --data " + other, log) == 2);
  const std::string err = slurp(log);
  BOOST_TEST(err.find("do not fit the model's [12, 5, 7]") != std::string::npos, err);
  BOOST_TEST(err.find("p4_mosi_like.pkl") != std::string::npos, err);

  // a hostile checkpoint: exit 2, its one-line reason
  BOOST_TEST(run_mtfn("predict --checkpoint " + (dir() / "broken/view_past_storage.pth").string() + " --data " + data +
                          " --out " + (s / "q.csv").string(),
                      log) == 2);
  BOOST_TEST(slurp(log).find("reaches element 13 of storage '0', which has 12 elements") != std::string::npos, slurp(log));
  BOOST_TEST(!fs::exists(s / "q.csv"));

  // --raw: any state_dict as saved
  BOOST_REQUIRE(run_mtfn("convert --raw --in " + (dir() / "views.pth").string() + " --out " + (s / "v.safetensors").string(), log) == 0);
  BOOST_TEST(nn::read_safetensors((s / "v.safetensors").string()).tensors.size() == 12u);
}

BOOST_AUTO_TEST_SUITE_END()
