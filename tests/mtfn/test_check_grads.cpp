// The whole model against PyTorch: check-grads on every committed reference fixture (float64,
// 1e-9 relative), and a perturbed reference must fail.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <vector>

#include "helpers.h"
#include "models/mtfn/check_grads.h"
#include "nn/safetensors.h"

using namespace mtfn;
using namespace mtfn::models;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> reference_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(testing::source_dir() / "tests/fixtures/reference"))
    if (e.path().extension() == ".safetensors" &&
        reference_model(nn::read_safetensors_index(e.path().string()).metadata) == "mtfn")
      out.push_back(e.path());  // tfn_*: tests/tfn/, mtfn_attn_*: tests/mtfn_attn/
  std::sort(out.begin(), out.end());
  return out;
}

// A copy of `src` with the largest element of tensor `name` scaled by (1 + rel).
fs::path perturbed(const fs::path& src, const std::string& name, double rel, const fs::path& dir) {
  nn::SafetensorsFile f = nn::read_safetensors(src.string());
  nn::TensorDict out;
  for (const nn::NamedTensor& e : f.tensors) {
    Tensor t = e.tensor.clone();
    if (e.name == name) {
      double* p = t.data<double>();
      int64_t k = 0;
      for (int64_t i = 1; i < t.numel(); ++i)
        if (std::fabs(p[i]) > std::fabs(p[k])) k = i;
      p[k] = p[k] == 0 ? rel : p[k] * (1 + rel);
    }
    out.insert(e.name, t, e.int64);
  }
  const fs::path dst = dir / ("perturbed_" + src.filename().string());
  nn::write_safetensors(dst.string(), out, f.metadata);
  return dst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(check_grads)

BOOST_AUTO_TEST_CASE(every_reference_fixture_within_1e_9) {
  const auto files = reference_files();
  BOOST_TEST_REQUIRE(files.size() >= 3u);
  for (const fs::path& f : files) {
    BOOST_TEST_CONTEXT(f.filename().string()) {
      const CheckReport r = check_reference(f.string());
      BOOST_TEST(r.groups.size() == 5u);  // outputs, losses, gradients, buffers after, adam steps
      for (const CheckGroup& g : r.groups) {
        BOOST_TEST_CONTEXT(g.name + " worst " + g.worst) {
          BOOST_TEST(g.tensors > 0);
          BOOST_TEST(g.max_error <= 1e-9);
        }
      }
      BOOST_TEST(r.ok(1e-9));
    }
  }
}

BOOST_AUTO_TEST_CASE(perturbed_references_fail) {
  const fs::path dir = testing::scratch("check_grads");
  const fs::path src = testing::source_dir() / "tests/fixtures/reference/mtfn_small_regression.safetensors";
  // One entry of each group, changed by 1e-6 relative: far above float64 noise, far below a bug's size.
  const std::pair<const char*, const char*> cases[] = {{"output.Feature_f", "outputs"},
                                                       {"loss.T", "losses"},
                                                       {"grad.text_subnet.rnn.weight_hh_l0", "gradients"},
                                                       {"after.video_subnet.norm.running_var", "buffers after"},
                                                       {"adam2.post_fusion_layer_1.weight", "adam steps"}};
  for (const auto& [name, group] : cases) {
    BOOST_TEST_CONTEXT(name) {
      const CheckReport r = check_reference(perturbed(src, name, 1e-6, dir).string());
      BOOST_TEST(!r.ok(1e-9));
      for (const CheckGroup& g : r.groups)
        if (g.name == group) {
          BOOST_TEST(g.worst == name);
          BOOST_TEST(g.max_error > 1e-7);
        }
    }
  }
}

BOOST_AUTO_TEST_CASE(command_exit_statuses) {
  const fs::path dir = testing::scratch("check_grads_cmd");
  const fs::path good = testing::source_dir() / "tests/fixtures/reference/mtfn_sizes2_regression.safetensors";
  BOOST_TEST(testing::run_mtfn("check-grads --reference " + good.string(), dir / "ok.log") == 0);
  BOOST_TEST(testing::read_text(dir / "ok.log").find("all within") != std::string::npos);
  const fs::path bad = perturbed(good, "grad.post_text_layer_2.bias", 1e-5, dir);
  BOOST_TEST(testing::run_mtfn("check-grads --reference " + bad.string(), dir / "bad.log") == 1);
  BOOST_TEST(testing::read_text(dir / "bad.log").find("FAIL") != std::string::npos);
  BOOST_TEST(testing::run_mtfn("check-grads --reference " + (dir / "missing.safetensors").string(), dir / "m.log") == 2);
  BOOST_TEST(testing::run_mtfn("check-grads", dir / "noarg.log") == 2);
  BOOST_TEST(testing::run_mtfn("check-grads --help", dir / "help.log") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
