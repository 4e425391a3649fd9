// `mtfn bench`: time training steps of the full CH-SIMS-config MTFN (fusion layer 2,179,617 x 64), or of
// another model of the registry with `--model` (its built-in MMSA sims config), on random inputs; the median
// step and its forward / backward / optimizer split, and the peak memory.
// The last line is machine-readable: `bench: step_s=... forward_s=... backward_s=... optimizer_s=... peak_rss_mb=...`.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/ops.h"
#include "cli/commands.h"
#include "core/threads.h"
#include "training/memory.h"
#include "models/mmsa_config.h"
#include "models/registry.h"
#include "nn/module.h"
#include "nn/random.h"
#include "optim/optimizer.h"

namespace mtfn::cli {

using namespace mtfn::models;
using training::keep_freed_memory;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Options {
    int64_t batch_size = 64, steps = 5, seq = 39;
    int threads = 0;
    std::string model = "mtfn";
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Time training steps of the full CH-SIMS-config MTFN (or --model M) on random inputs");
  cmd->add_option("--batch-size", opt->batch_size, "samples per step")->capture_default_str();
  cmd->add_option("--steps", opt->steps, "timed steps (after one untimed warm-up step)")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads of oneTBB and OpenBLAS (0: all cores)");
  cmd->add_option("--model", opt->model, "a model of `mtfn train --model` (mtfn, tfn, mtfn_attn), MMSA's sims config")
      ->capture_default_str();
  cmd->callback([opt] {
    if (opt->batch_size < 2 || opt->steps < 1 || opt->threads < 0)
      throw InputError("--batch-size must be >= 2, --steps >= 1, --threads >= 0");
    ThreadLimit threads(opt->threads, /*blas_too=*/true);
    keep_freed_memory();
    using Clock = std::chrono::steady_clock;
    auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    const ModelSpec& spec = find_model(opt->model);
    const std::array<int64_t, 3> dims{768, 33, 709};  // CH-SIMS's text, audio, vision widths
    nlohmann::ordered_json flat = resolve_mmsa_config(builtin_mmsa_config(), spec.name, "sims", "built-in MMSA config");
    flat["feature_dims"] = dims;
    std::vector<std::string> warnings;
    const int64_t B = opt->batch_size;
    const auto t_build = Clock::now();
    const std::unique_ptr<Model> model = spec.build(spec.configure(flat, "built-in MMSA config", warnings), 1111, DType::F32);
    auto adam = model->make_optimizer();
    nn::Generator gen(7);
    Tensor text = Tensor::empty({B, opt->seq, dims[0]});
    Tensor audio = Tensor::empty({B, dims[1]});
    Tensor vision = Tensor::empty({B, dims[2]});
    nn::uniform_(text, -1, 1, gen);
    nn::uniform_(audio, -1, 1, gen);
    nn::uniform_(vision, -1, 1, gen);
    data::Batch batch;
    batch.text = text, batch.audio = audio, batch.vision = vision;
    for (Tensor* l : {&batch.label_M, &batch.label_T, &batch.label_A, &batch.label_V}) {
      *l = Tensor::empty({B});
      nn::uniform_(*l, -1, 1, gen);
    }
    std::cout << fmt::format("bench: {}, CH-SIMS config ({} parameters), batch {}, seq {}, {} threads; model built "
                             "in {:.2f} s\n",
                             spec.name, model->module().num_parameters(), B, opt->seq,
                             opt->threads ? opt->threads : static_cast<int>(std::thread::hardware_concurrency()),
                             secs(t_build, Clock::now()));
    model->module().train();
    std::vector<double> fwd, bwd, upd, total;
    for (int64_t s = 0; s <= opt->steps; ++s) {
      model->set_dropout_step(static_cast<uint64_t>(s), 0);
      const auto t0 = Clock::now();
      adam->zero_grad();
      const Forward out = model->forward(batch);  // outputs and the model's loss
      const auto t1 = Clock::now();
      out.loss.backward();
      const auto t2 = Clock::now();
      adam->step();
      const auto t3 = Clock::now();
      std::cout << fmt::format("  step {}{}: {:.3f} s (forward {:.3f}, backward {:.3f}, optimizer {:.3f}), loss {:.4f}\n",
                               s, s == 0 ? " (warm-up)" : "", secs(t0, t3), secs(t0, t1), secs(t1, t2), secs(t2, t3),
                               out.loss.item());
      if (s == 0) continue;
      fwd.push_back(secs(t0, t1));
      bwd.push_back(secs(t1, t2));
      upd.push_back(secs(t2, t3));
      total.push_back(secs(t0, t3));
    }
    std::cout << fmt::format("bench: fastest step {:.3f} s, median {:.3f} s over {} steps\n",
                             *std::min_element(total.begin(), total.end()), median(total), total.size());
    std::cout << fmt::format("bench: step_s={:.3f} forward_s={:.3f} backward_s={:.3f} optimizer_s={:.3f} peak_rss_mb={:.0f}\n",
                             median(total), median(fwd), median(bwd), median(upd), peak_rss_mb());
  });
}

}  // namespace mtfn::cli
