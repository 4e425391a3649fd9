// TFN against PyTorch (check-grads on tests/fixtures/reference/tfn_*.safetensors, 1e-9 relative),
// its loss's gradients against central differences (float64), its configuration and optimiser.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gradcheck.h"
#include "core/ops.h"
#include "models/registry.h"
#include "models/tfn/check_grads.h"
#include "models/tfn/model.h"
#include "models/tfn/optimizer.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

fs::path reference(const std::string& name) { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/reference" / name; }

int run_mtfn(const std::string& args, const fs::path& log) {
  const std::string cmd = (fs::path(MTFN_BINARY_DIR) / "mtfn").string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TfnConfig tiny(TrainMode mode) {
  TfnConfig c;
  c.feature_dims = {5, 4, 3};
  c.hidden_dims = {4, 3, 2};
  c.text_out = 3;
  c.post_fusion_dim = 4;
  c.dropouts = {0.3, 0.2, 0.4, 0.25};
  c.train_mode = mode;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tfn_check_grads)

BOOST_AUTO_TEST_CASE(both_reference_fixtures_within_1e_9) {
  for (const char* name : {"tfn_small_regression.safetensors", "tfn_sizes2_classification.safetensors"}) {
    BOOST_TEST_CONTEXT(name) {
      const CheckReport r = check_tfn_reference(reference(name).string());
      BOOST_TEST(r.groups.size() == 5u);  // outputs, losses, gradients, buffers after, adam steps
      for (const CheckGroup& g : r.groups) {
        BOOST_TEST_MESSAGE(name << ": " << g.name << " max rel err " << g.max_error << " (" << g.tensors
                                << " tensors, worst " << g.worst << ")");
        BOOST_TEST_CONTEXT(g.name + " worst " + g.worst) {
          BOOST_TEST(g.tensors > 0);
          BOOST_TEST(g.max_error <= 1e-9);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(command_dispatches_on_the_model_metadata) {
  const fs::path dir = fs::path(MTFN_BINARY_DIR) / "test-scratch" / "tfn";
  fs::create_directories(dir);
  BOOST_TEST(run_mtfn("check-grads --reference " + reference("tfn_small_regression.safetensors").string(),
                      dir / "tfn.log") == 0);
  const std::string log = read_text(dir / "tfn.log");
  BOOST_TEST(log.find("TFN regression") != std::string::npos);
  BOOST_TEST(log.find("all within") != std::string::npos);
  // An MTFN file (no "model" metadata) still goes to MTFN.
  BOOST_TEST(run_mtfn("check-grads --reference " + reference("mtfn_small_regression.safetensors").string(),
                      dir / "mtfn.log") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tfn_model)

BOOST_AUTO_TEST_CASE(state_dict_names_as_pytorch) {
  Tfn m(tiny(TrainMode::regression), 1, DType::F64);
  std::vector<std::string> names;
  for (const auto& e : m.state_dict()) names.push_back(e.name);
  BOOST_TEST(names.size() == 36u);
  BOOST_TEST(names[0] == "output_range");
  BOOST_TEST(names[1] == "output_shift");
  BOOST_TEST(names[2] == "audio_subnet.norm.weight");
  BOOST_TEST(names.back() == "post_fusion_layer_3.bias");
  BOOST_TEST(m.post_fusion_layer_1->weight.size(1) == (3 + 1) * (2 + 1) * (3 + 1));
  BOOST_TEST((m.task_names() == std::vector<std::string>{"M"}));
}

// dL/dθ and dL/dx of the whole model's loss against central differences, dropout on with a pinned
// mask (set_dropout_step before every evaluation), BatchNorm with batch statistics.
BOOST_AUTO_TEST_CASE(loss_gradients_match_finite_differences) {
  for (TrainMode mode : {TrainMode::regression, TrainMode::classification}) {
    BOOST_TEST_CONTEXT(mode_name(mode)) {
      Tfn m(tiny(mode), 3, DType::F64);
      m.train();
      const int64_t B = 5;
      const Tensor text = random_tensor({B, 4, 5}, 11).set_requires_grad();
      const Tensor audio = random_tensor({B, 4}, 12, -2, 2).set_requires_grad();
      const Tensor vision = random_tensor({B, 3}, 13, -1, 3).set_requires_grad();
      const Tensor labels = Tensor::from_vector({-0.8, 0.3, 0.05, -0.2, 0.9}, {B}, DType::F64);
      std::vector<Tensor> inputs = {text, audio, vision, m.post_fusion_layer_1->weight, m.post_fusion_layer_3->bias,
                                    m.text_subnet->rnn->weight_hh[0], m.audio_subnet->norm->weight,
                                    m.video_subnet->linear_2->bias};
      const GradcheckResult r = gradcheck(
          std::string("tfn loss, ") + mode_name(mode),
          [&](const std::vector<Tensor>& in) {
            m.set_dropout_step(7, 0);
            return tfn_loss(m.forward(in[0], in[1], in[2]).M, labels, mode);
          },
          inputs);
      BOOST_TEST_MESSAGE(r.describe());
      BOOST_TEST(r.checked > 100);
      BOOST_TEST(r.passed(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(optimizer_leaves_out_output_range_and_shift) {
  Tfn m(tiny(TrainMode::regression), 1, DType::F64);
  auto opt = make_tfn_optimizer(m, m.config());
  const auto& groups = opt->groups();
  BOOST_TEST(groups.size() == 1u);
  BOOST_TEST(groups[0].params.size() == m.named_parameters().size() - 2);
  BOOST_TEST(groups[0].weight_decay == 0.0);
  BOOST_TEST(groups[0].lr == 0.0005);
  for (const Tensor& p : groups[0].params) {
    BOOST_TEST(p.impl() != m.output_range.impl());
    BOOST_TEST(p.impl() != m.output_shift.impl());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tfn_config)

BOOST_AUTO_TEST_CASE(defaults_are_mmsa_tfn_sims) {
  const TfnConfig c;
  BOOST_TEST((c.hidden_dims == std::array<int64_t, 3>{128, 32, 128}));
  BOOST_TEST(c.text_out == 256);
  BOOST_TEST(c.post_fusion_dim == 32);
  BOOST_TEST((c.dropouts == std::array<double, 4>{0.4, 0.4, 0.4, 0.4}));
  BOOST_TEST(c.batch_size == 32);
  BOOST_TEST(c.learning_rate == 0.0005);
  BOOST_TEST(c.early_stop == 8);
}

BOOST_AUTO_TEST_CASE(registry_configure_check_build) {
  const ModelSpec& spec = find_model("tfn");
  std::vector<std::string> warnings;
  const json flat = json::parse(
      R"({"hidden_dims": [4, 3, 2], "text_out": 3, "feature_dims": [5, 4, 3], "need_normalized": true,
          "seq_lens": [39, 400, 55], "bogus": 1, "train_mode": "classification"})");
  const json cfg = spec.configure(flat, "f.json", warnings);
  BOOST_TEST(warnings.size() == 1u);
  BOOST_TEST(warnings.at(0) == "f.json: unknown key 'bogus' (ignored)");
  BOOST_TEST(cfg["post_fusion_dim"].get<int>() == 32);
  BOOST_TEST(cfg["dropouts"].size() == 4u);
  spec.check(cfg, "f.json");
  const auto model = spec.build(cfg, 1, DType::F32);
  BOOST_TEST(model->name() == "tfn");
  BOOST_TEST((model->settings().train_mode == TrainMode::classification));
  BOOST_TEST(model->settings().batch_size == 32);
  // Round trip through config_json.
  BOOST_TEST(model->config_json() == cfg);
  // The MTFN entry takes the same shape of call.
  warnings.clear();
  const json m = find_model("mtfn").configure(json::parse(R"({"text_out": 16})"), "m.json", warnings);
  BOOST_TEST(m["text_out"].get<int>() == 16);
  BOOST_TEST(m.contains("post_text_dim"));
}

BOOST_AUTO_TEST_CASE(wrong_values_name_where_and_key) {
  const ModelSpec& spec = find_model("tfn");
  std::vector<std::string> warnings;
  auto message = [&](const char* text) {
    try {
      spec.configure(json::parse(text), "cfg.json", warnings);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  BOOST_TEST(message(R"({"dropouts": [0.1, 0.2, 0.3]})") ==
             "cfg.json: dropouts: expected a list of 4 probabilities in [0, 1), got a list of 3");
  BOOST_TEST(message(R"({"post_fusion_dim": 0})") == "cfg.json: post_fusion_dim: expected a positive integer, got 0");
  BOOST_TEST(message(R"({"train_mode": "x"})").find("cfg.json: train_mode") == 0);
  BOOST_TEST(message(R"({"learning_rate": "fast"})").find("cfg.json: learning_rate") == 0);
  BOOST_TEST(message(R"([1])").find("cfg.json") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// The shared experiment (training/) runs TFN unchanged: a few epochs on small synthetic data, the
// best model saved as tfn-<seed>.safetensors and read back as a TFN.
#include "data/synth.h"
#include "training/model_file.h"
#include "training/trainer.h"

BOOST_AUTO_TEST_SUITE(tfn_training)

BOOST_AUTO_TEST_CASE(trains_through_the_shared_loop) {
  data::SynthShape shape;
  shape.train = 40;
  shape.valid = 12;
  shape.test = 12;
  shape.text_len = 6;
  shape.text_dim = 10;
  shape.audio_len = 5;
  shape.audio_dim = 4;
  shape.vision_len = 5;
  shape.vision_dim = 6;
  const data::SimsDataset ds = data::make_synth_dataset(shape, 3);
  const ModelSpec& spec = find_model("tfn");
  std::vector<std::string> warnings;
  const json cfg = spec.configure(
      json::parse(R"({"feature_dims": [10, 4, 6], "hidden_dims": [6, 3, 4], "text_out": 5, "post_fusion_dim": 6,
                      "batch_size": 8, "learning_rate": 0.005})"),
      "test", warnings);
  training::TrainOptions opt;
  opt.out = fs::path(MTFN_BINARY_DIR) / "test-scratch" / "tfn_train";
  fs::remove_all(opt.out);
  opt.seeds = {1111};
  opt.max_epochs = 3;
  const auto results = training::train_seeds(ds, spec, cfg, opt);
  BOOST_TEST(results.model == "tfn");
  BOOST_REQUIRE(results.seeds.size() == 1u);
  BOOST_TEST(results.seeds[0].epochs.size() == 3u);
  const auto model = training::load_model_file(opt.out / "models" / "tfn-1111.safetensors");
  BOOST_TEST(model->name() == "tfn");
  BOOST_TEST(model->config_json() == cfg);
}

BOOST_AUTO_TEST_SUITE_END()
