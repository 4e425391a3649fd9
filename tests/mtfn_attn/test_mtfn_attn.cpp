// mtfn_attn against PyTorch (check-grads on tests/fixtures/reference/mtfn_attn_*.safetensors, 1e-9
// relative), its loss's gradients against central differences (float64), its trimodal token against the
// dense weight it factorises, its configuration and optimiser, and a short run of train / test / predict.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gradcheck.h"
#include "core/ops.h"
#include "models/check_grads.h"
#include "models/mmsa_config.h"
#include "models/mtfn_attn/check_grads.h"
#include "models/mtfn_attn/model.h"
#include "models/mtfn_attn/optimizer.h"
#include "models/registry.h"
#include "nn/safetensors.h"
#include "tests/mtfn/helpers.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

fs::path reference(const std::string& name) { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/reference" / name; }
const char* kFixtures[] = {"mtfn_attn_small_regression.safetensors", "mtfn_attn_sizes2_classification.safetensors"};

MtfnAttnConfig tiny(TrainMode mode) {
  MtfnAttnConfig c;
  c.mtfn.feature_dims = {5, 4, 3};
  c.mtfn.hidden_dims = {4, 3, 2};
  c.mtfn.text_out = 3;
  c.mtfn.post_fusion_dim = 4;
  c.mtfn.post_text_dim = 3;
  c.mtfn.post_audio_dim = 2;
  c.mtfn.post_video_dim = 2;
  c.mtfn.dropouts = {0.3, 0.2, 0.0};
  c.mtfn.post_dropouts = {0.2, 0.25, 0.1, 0.3};
  c.mtfn.A = 0.3;  // every head in the loss
  c.mtfn.train_mode = mode;
  c.attn_dim = 4;
  c.attn_heads = 2;
  c.attn_rank = 2;
  return c;
}

std::string configure_error(const std::string& text) {
  std::vector<std::string> warnings;
  try {
    find_model("mtfn_attn").configure(json::parse(text), "cfg.json", warnings);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mtfn_attn_check_grads)

BOOST_AUTO_TEST_CASE(both_reference_fixtures_within_1e_9) {
  for (const char* name : kFixtures) {
    BOOST_TEST_CONTEXT(name) {
      const CheckReport r = check_mtfn_attn_reference(reference(name).string());
      BOOST_TEST(r.groups.size() == 5u);  // outputs, losses, gradients, buffers after, adam steps
      for (const CheckGroup& g : r.groups) {
        BOOST_TEST_MESSAGE(name << ": " << g.name << " max rel err " << g.max_error << " (" << g.tensors
                                << " tensors, worst " << g.worst << ")");
        BOOST_TEST_CONTEXT(g.name + " worst " + g.worst) {
          BOOST_TEST(g.tensors > 0);
          BOOST_TEST(g.max_error <= 1e-9);
        }
      }
      // Every parameter's gradient is compared (71 = all trainable tensors + the 3 inputs), tokens and weights too.
      BOOST_TEST(r.groups[0].tensors == 10);
      BOOST_TEST(r.groups[2].tensors == 71);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_perturbed_attention_gradient_fails) {
  const fs::path dir = testing::scratch("mtfn_attn_check_grads");
  const nn::SafetensorsFile f = nn::read_safetensors(reference(kFixtures[0]).string());
  nn::TensorDict out;
  for (const nn::NamedTensor& e : f.tensors) {
    Tensor t = e.tensor.clone();
    if (e.name == "grad.attention.in_proj_weight") {  // its largest element, by 1e-6 relative
      double* p = t.data<double>();
      int64_t k = 0;
      for (int64_t i = 1; i < t.numel(); ++i)
        if (std::fabs(p[i]) > std::fabs(p[k])) k = i;
      p[k] *= 1 + 1e-6;
    }
    out.insert(e.name, t, e.int64);
  }
  nn::write_safetensors((dir / "p.safetensors").string(), out, f.metadata);
  const CheckReport r = check_mtfn_attn_reference((dir / "p.safetensors").string());
  BOOST_TEST(!r.ok(1e-9));
  BOOST_TEST(r.groups[2].worst == "grad.attention.in_proj_weight");
}

BOOST_AUTO_TEST_CASE(command_dispatches_on_the_model_metadata) {
  const fs::path dir = testing::scratch("mtfn_attn_command");
  BOOST_TEST(testing::run_mtfn("check-grads --reference " + reference(kFixtures[1]).string(), dir / "c.log") == 0);
  const std::string log = testing::read_text(dir / "c.log");
  BOOST_TEST(log.find("mtfn_attn classification, batch 4, seq 7, attn_dim 6, 3 heads, rank 2") != std::string::npos);
  BOOST_TEST(log.find("all within") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mtfn_attn_model)

BOOST_AUTO_TEST_CASE(state_dict_names_and_token_widths) {
  MtfnAttn m(tiny(TrainMode::regression), 1, DType::F64);
  std::vector<std::string> names;
  for (const auto& e : m.state_dict()) names.push_back(e.name);
  BOOST_TEST(names[0] == "output_range");
  BOOST_TEST(names[1] == "output_shift");
  BOOST_TEST(names[2] == "audio_subnet.norm.weight");
  const std::set<std::string> have(names.begin(), names.end());
  for (const char* n : {"token_a.weight", "token_vt.bias", "token_avt.bias", "token_avt.audio_factor.weight",
                        "token_avt.text_factor.weight", "attention.in_proj_weight", "attention.in_proj_bias",
                        "attention.out_proj.weight", "attention.out_proj.bias", "attention_norm.weight",
                        "attention_norm.bias", "post_fusion_layer_1.weight", "post_video_layer_3.bias"})
    BOOST_TEST(have.count(n) == 1u, n);
  BOOST_TEST(names.back() == "post_video_layer_3.bias");
  // Ha 3, Hv 2, To 3, d 4, R 2: each block's width into d.
  BOOST_TEST(m.token_av->weight.shape() == (Shape{4, 6}));
  BOOST_TEST(m.token_at->weight.shape() == (Shape{4, 9}));
  BOOST_TEST(m.token_vt->weight.shape() == (Shape{4, 6}));
  BOOST_TEST(m.token_avt->audio_factor->weight.shape() == (Shape{8, 3}));
  BOOST_TEST(m.post_fusion.layer_1->weight.shape() == (Shape{4, 4}));
  BOOST_TEST(m.name() == "mtfn_attn");
  BOOST_TEST((m.task_names() == std::vector<std::string>{"M", "T", "A", "V"}));
}

// The trimodal token is the a(x)v(x)t block of the fusion vector times the dense weight
// W[n, (i Hv + j) To + k] = sum_r U[r d + n, i] V[r d + n, j] T[r d + n, k], plus the bias.
BOOST_AUTO_TEST_CASE(trimodal_token_is_the_block_times_its_factorised_weight) {
  nn::Generator gen(5);
  const int64_t Ha = 3, Hv = 4, To = 2, d = 5, R = 3, B = 2;
  LowRankTrimodal tok(Ha, Hv, To, d, R, gen, DType::F64);
  tok.bias.copy_from(random_tensor({d}, 6));
  const Tensor a = random_tensor({B, Ha}, 7), v = random_tensor({B, Hv}, 8), t = random_tensor({B, To}, 9);
  const Tensor y = tok.forward(a, v, t);  // (B,d)
  const Tensor &U = tok.audio_factor->weight, &V = tok.video_factor->weight, &T = tok.text_factor->weight;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < d; ++n) {
      double want = tok.bias.at(n);
      for (int64_t i = 0; i < Ha; ++i)
        for (int64_t j = 0; j < Hv; ++j)
          for (int64_t k = 0; k < To; ++k) {
            double w = 0;
            for (int64_t r = 0; r < R; ++r) w += U.at((r * d + n) * Ha + i) * V.at((r * d + n) * Hv + j) * T.at((r * d + n) * To + k);
            want += w * a.at(b * Ha + i) * v.at(b * Hv + j) * t.at(b * To + k);
          }
      BOOST_TEST(y.at(b * d + n) == want, boost::test_tools::tolerance(1e-12));
    }
  // And the bimodal blocks: outer_flat's column i J + j is x_i y_j.
  const Tensor o = outer_flat(a, v);
  BOOST_TEST(o.shape() == (Shape{B, Ha * Hv}));
  BOOST_TEST(o.at(1 * Ha * Hv + 2 * Hv + 3) == a.at(1 * Ha + 2) * v.at(1 * Hv + 3));
}

// dL/dθ and dL/dx of the whole model's loss against central differences, dropout on with a pinned mask
// (set_dropout_step before every evaluation), BatchNorm with batch statistics.
BOOST_AUTO_TEST_CASE(loss_gradients_match_finite_differences) {
  for (TrainMode mode : {TrainMode::regression, TrainMode::classification}) {
    BOOST_TEST_CONTEXT(mode_name(mode)) {
      const MtfnAttnConfig cfg = tiny(mode);
      MtfnAttn m(cfg, 3, DType::F64);
      m.train();
      // Non-trivial LayerNorm and attention biases (PyTorch starts them at 1 and 0).
      m.attention_norm->weight.copy_from(random_tensor({4}, 20, 0.5, 1.5));
      m.attention_norm->bias.copy_from(random_tensor({4}, 21));
      m.attention->in_proj_bias.copy_from(random_tensor({12}, 22));
      const int64_t B = 5;
      const Tensor text = random_tensor({B, 4, 5}, 11).set_requires_grad();
      const Tensor audio = random_tensor({B, 4}, 12, -2, 2).set_requires_grad();
      const Tensor vision = random_tensor({B, 3}, 13, -1, 3).set_requires_grad();
      const Tensor labels[4] = {Tensor::from_vector({-0.8, 0.3, 0.05, -0.2, 0.9}, {B}, DType::F64),
                                Tensor::from_vector({-0.4, 0.6, 0.2, -0.6, 1.0}, {B}, DType::F64),
                                Tensor::from_vector({0.2, -0.5, 0.3, 0.0, 0.7}, {B}, DType::F64),
                                Tensor::from_vector({-1.0, 0.4, -0.3, 0.1, 0.5}, {B}, DType::F64)};
      std::vector<Tensor> inputs = {text, audio, vision, m.token_av->weight, m.token_avt->audio_factor->weight,
                                    m.token_avt->text_factor->weight, m.token_avt->bias, m.attention->in_proj_weight,
                                    m.attention->in_proj_bias, m.attention->out_proj->weight,
                                    m.attention_norm->weight, m.attention_norm->bias, m.post_fusion.layer_1->weight,
                                    m.text_subnet->rnn->weight_hh[0], m.video_subnet->linear_2->bias};
      const GradcheckResult r = gradcheck(
          std::string("mtfn_attn loss, ") + mode_name(mode),
          [&](const std::vector<Tensor>& in) {
            m.set_dropout_step(7, 0);
            return mtfn_loss(m.forward(in[0], in[1], in[2]), labels, cfg.mtfn).total;
          },
          inputs);
      BOOST_TEST_MESSAGE(r.describe());
      BOOST_TEST(r.checked > 200);
      BOOST_TEST(r.passed(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(optimizer_has_mtfns_five_groups) {
  const MtfnAttnConfig cfg = tiny(TrainMode::regression);
  MtfnAttn m(cfg, 1, DType::F64);
  auto opt = make_mtfn_attn_optimizer(m, cfg);
  const auto& g = opt->groups();
  BOOST_TEST_REQUIRE(g.size() == 5u);
  BOOST_TEST(g[0].params.size() == m.text_subnet->parameters().size());
  BOOST_TEST(g[0].weight_decay == 1e-3);
  BOOST_TEST(g[1].weight_decay == 1e-4);
  BOOST_TEST(g[2].weight_decay == 1e-5);
  BOOST_TEST(g[3].lr == 0.0);
  BOOST_TEST(g[4].weight_decay == 0.0);
  size_t total = 0;
  for (const auto& group : g) total += group.params.size();
  BOOST_TEST(total == m.parameters().size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mtfn_attn_config)

BOOST_AUTO_TEST_CASE(defaults_are_mtfns_plus_the_attention_keys) {
  const MtfnAttnConfig c;
  BOOST_TEST(c.attn_dim == 64);
  BOOST_TEST(c.attn_heads == 4);
  BOOST_TEST(c.attn_rank == 4);
  BOOST_TEST((c.mtfn.hidden_dims == std::array<int64_t, 3>{256, 32, 256}));
  BOOST_TEST(c.mtfn.post_fusion_dim == 64);
  BOOST_TEST(c.mtfn.learning_rate == 0.005);
}

BOOST_AUTO_TEST_CASE(builtin_config_is_mtfns_entry_for_every_dataset_it_has) {
  const json& b = builtin_mmsa_config();
  for (const char* ds : {"sims", "simsv2"})
    BOOST_TEST(resolve_mmsa_config(b, "mtfn_attn", ds, "built-in") == resolve_mmsa_config(b, "mtfn", ds, "built-in"));
  const json& tune = builtin_mmsa_tune_config();
  const json& d_paras = tune["mtfn_attn"]["debugParams"]["d_paras"];
  BOOST_TEST(d_paras.size() == tune["mtfn"]["debugParams"]["d_paras"].size() + 3);
  BOOST_TEST(tune["mtfn_attn"]["debugParams"]["attn_heads"].dump() == "[1,2,4,8]");
}

BOOST_AUTO_TEST_CASE(registry_configure_check_build_round_trip) {
  const ModelSpec& spec = find_model("mtfn_attn");
  BOOST_TEST(spec.needs_unimodal_labels);
  std::vector<std::string> warnings;
  const json flat = json::parse(
      R"({"hidden_dims": [4, 3, 2], "text_out": 3, "feature_dims": [5, 4, 3], "attn_dim": 6, "attn_heads": 3,
          "seq_lens": [39, 400, 55], "bogus": 1})");
  const json cfg = spec.configure(flat, "f.json", warnings);
  BOOST_TEST(warnings.size() == 1u);
  BOOST_TEST(warnings.at(0) == "f.json: unknown key 'bogus' (ignored)");
  BOOST_TEST(cfg["attn_dim"].get<int>() == 6);
  BOOST_TEST(cfg["attn_rank"].get<int>() == 4);
  BOOST_TEST(cfg["post_text_dim"].get<int>() == 64);
  spec.check(cfg, "f.json");
  const auto model = spec.build(cfg, 1, DType::F32);
  BOOST_TEST(model->name() == "mtfn_attn");
  BOOST_TEST(model->config_json() == cfg);
  BOOST_TEST(model->settings().batch_size == 64);
}

BOOST_AUTO_TEST_CASE(wrong_values_name_where_and_key) {
  BOOST_TEST(configure_error(R"({"attn_heads": 5})") == "cfg.json: attn_heads: expected a divisor of attn_dim (64), got 5");
  BOOST_TEST(configure_error(R"({"attn_dim": 0})") == "cfg.json: attn_dim: expected a positive integer, got 0");
  BOOST_TEST(configure_error(R"({"attn_rank": 1.5})") == "cfg.json: attn_rank: expected a positive integer, got 1.5");
  BOOST_TEST(configure_error(R"({"attn_dim": 8192})") == "cfg.json: attn_dim: expected at most 4096, got 8192");
  // MTFN's keys keep MTFN's messages.
  BOOST_TEST(configure_error(R"({"post_dropouts": [0.1, 0.2]})") ==
             "cfg.json: post_dropouts: expected a list of 4 probabilities in [0, 1), got a list of 2");
}

BOOST_AUTO_TEST_SUITE_END()

// Through the `mtfn` program: train a small mtfn_attn on synthetic data, then test and predict on its model file.
BOOST_AUTO_TEST_SUITE(mtfn_attn_training)

BOOST_AUTO_TEST_CASE(train_test_predict) {
  const fs::path dir = testing::scratch("mtfn_attn_train");
  const fs::path cfg = testing::small_config(dir, R"(, "attn_dim": 8, "attn_heads": 2)");
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --model mtfn_attn --synth-scale 0.05 --seeds 1111 --max-epochs 2 "
                                       "--no-progress --config " + cfg.string() + " --out " + (dir / "run").string(),
                                       dir / "train.log") == 0);
  const json results = json::parse(testing::read_text(dir / "run/results.json"));
  BOOST_TEST(results["model"].get<std::string>() == "mtfn_attn");
  const std::string csv = testing::read_text(dir / "run/normal/sims.csv");
  BOOST_TEST(csv.find("\nmtfn_attn,") != std::string::npos);  // never under MTFN's name
  const fs::path model = dir / "run/models/mtfn_attn-1111.safetensors";
  BOOST_TEST_REQUIRE(fs::exists(model));
  BOOST_TEST_REQUIRE(testing::run_mtfn("synth --scale 0.05 --seed 1 --out " + (dir / "s.pkl").string(),
                                       dir / "synth.log") == 0);
  BOOST_TEST(testing::run_mtfn("test --checkpoint " + model.string() + " --data " + (dir / "s.pkl").string(),
                               dir / "test.log") == 0);
  BOOST_TEST(testing::read_text(dir / "test.log").find("Mult_acc_2") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("predict --checkpoint " + model.string() + " --data " + (dir / "s.pkl").string() +
                                   " --out " + (dir / "p.csv").string(),
                               dir / "predict.log") == 0);
  BOOST_TEST(testing::read_text(dir / "p.csv").starts_with("id,M,T,A,V,"));
  // A bad value: one line naming the key, exit status 2.
  const fs::path bad = testing::small_config(dir, R"(, "attn_heads": 3)");
  BOOST_TEST(testing::run_mtfn("train --model mtfn_attn --synth-scale 0.05 --max-epochs 1 --no-progress --config " +
                                   bad.string() + " --out " + (dir / "bad").string(),
                               dir / "bad.log") == 2);
  BOOST_TEST(testing::read_text(dir / "bad.log").find("attn_heads: expected a divisor of attn_dim (64), got 3") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
