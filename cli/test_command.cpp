// `mtfn test` and `mtfn predict`: a saved model (DIR/models/mtfn-<seed>.safetensors) on a split of a
// feature file; scores printed, or one CSV row per sample.
#include <fstream>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "data/pth.h"
#include "data/sims_dataset.h"
#include "cli/commands.h"
#include "core/threads.h"
#include "models/pth.h"
#include "training/evaluation.h"
#include "training/model_file.h"
#include "training/results.h"

namespace mtfn::cli {

using namespace mtfn::models;
using namespace mtfn::training;

namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  data::SimsDataset ds;
};

Loaded load_both(const std::string& checkpoint, const std::string& data_path, const std::string& split_name) {
  Loaded l;
  if (split_name != "train" && split_name != "valid" && split_name != "test")
    throw InputError(fmt::format("--split: expected train, valid or test, got '{}'", split_name));
  l.model = read_input([&]() -> std::unique_ptr<Model> {
    if (data::is_pth_file(checkpoint)) return load_pth(checkpoint);  // MMSA's .pth (MTFN or TFN) too
    return load_model_file(checkpoint);
  });
  l.ds = read_input([&] { return data::load_sims_dataset(data_path); });
  const auto fd = l.model->feature_dims();
  const data::SimsSplit& s = l.ds.split(split_name);
  if (fd[0] != l.ds.text_dim || fd[1] != l.ds.audio_dim || fd[2] != l.ds.vision_dim)
    throw InputError(fmt::format("{}: features (text {}, audio {}, vision {}) do not fit the model's [{}, {}, {}]",
                                 data_path, l.ds.text_dim, l.ds.audio_dim, l.ds.vision_dim, fd[0], fd[1], fd[2]));
  if (s.size == 0) throw InputError(fmt::format("{}: split {} is empty", data_path, split_name));
  return l;
}

}  // namespace

void add_test_command(CLI::App& app) {
  struct Options {
    std::string checkpoint, data, split = "test";
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("test", "Score a saved model on a split of a feature file");
  cmd->add_option("--checkpoint", opt->checkpoint, "a model file (DIR/models/mtfn-<seed>.safetensors) or a PyTorch .pth (e.g. MMSA's)")->required();
  cmd->add_option("--data", opt->data, "an MMSA feature file")->required();
  cmd->add_option("--split", opt->split, "train, valid or test")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads (0: all cores)");
  cmd->callback([opt] {
    ThreadLimit threads(opt->threads);
    Loaded l = load_both(opt->checkpoint, opt->data, opt->split);
    const TrainSettings cfg = l.model->settings();
    const SplitEval r = evaluate_split(*l.model, l.ds.split(opt->split), metric_kind_of(l.ds), cfg.batch_size);
    std::cout << fmt::format("{} on {} {} ({} samples, {} mode):\n", opt->checkpoint, opt->data, opt->split,
                             l.ds.split(opt->split).size, mode_name(cfg.train_mode));
    for (const auto& [k, v] : r.metrics.items) std::cout << fmt::format("  {:<14} {:.4f}\n", k, v);
    std::cout << fmt::format("  {:<14} {:.4f}\n", "Loss", r.loss);
  });
}

void add_predict_command(CLI::App& app) {
  struct Options {
    std::string checkpoint, data, out, split = "test";
    int threads = 0;
    bool overwrite = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("predict", "Write a saved model's predictions for every sample of a split as CSV");
  cmd->add_option("--checkpoint", opt->checkpoint, "a model file (DIR/models/mtfn-<seed>.safetensors) or a PyTorch .pth (e.g. MMSA's)")->required();
  cmd->add_option("--data", opt->data, "an MMSA feature file")->required();
  cmd->add_option("--out", opt->out, "the CSV to write (a new file, or --overwrite)")->required();
  cmd->add_flag("--overwrite", opt->overwrite, "replace --out if it exists");
  cmd->add_option("--split", opt->split, "train, valid or test")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads (0: all cores)");
  cmd->callback([opt] {
    check_output_file(opt->out, {{"--checkpoint", opt->checkpoint}, {"--data", opt->data}}, opt->overwrite);
    ThreadLimit threads(opt->threads);
    Loaded l = load_both(opt->checkpoint, opt->data, opt->split);
    const TrainSettings cfg = l.model->settings();
    const data::SimsSplit& s = l.ds.split(opt->split);
    const SplitEval r = evaluate_split(*l.model, s, metric_kind_of(l.ds), cfg.batch_size);
    const bool cls = cfg.train_mode == TrainMode::classification;
    const int64_t O = cfg.output_dim();
    std::string csv = "id";
    const std::vector<std::string> tasks = l.model->task_names();  // M, T, A, V for MTFN
    for (const std::string& t : tasks) {
      csv += fmt::format(",{}", t);
      if (cls)
        for (int64_t c = 0; c < O; ++c) csv += fmt::format(",{}_p{}", t, c);
    }
    for (const std::string& t : tasks) csv += fmt::format(",label_{}", t);
    csv += "\n";
    auto quote = [](const std::string& x) {
      if (x.find_first_of(",\"\n") == std::string::npos) return x;
      std::string q = "\"";
      for (char ch : x) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    };
    for (int64_t i = 0; i < s.size; ++i) {
      csv += quote(s.ids.empty() ? fmt::format("{}", i) : s.ids[static_cast<size_t>(i)]);
      for (size_t t = 0; t < tasks.size(); ++t) {
        const float* o = r.out[t].data() + i * O;
        if (!cls) {
          csv += fmt::format(",{}", o[0]);
          continue;
        }
        // the predicted class, then softmax probabilities
        int64_t best = 0;
        for (int64_t c = 1; c < O; ++c)
          if (o[c] > o[best]) best = c;
        double z = 0;
        for (int64_t c = 0; c < O; ++c) z += std::exp(static_cast<double>(o[c]) - o[best]);
        csv += fmt::format(",{}", best);
        for (int64_t c = 0; c < O; ++c) csv += fmt::format(",{:.6f}", std::exp(static_cast<double>(o[c]) - o[best]) / z);
      }
      for (size_t t = 0; t < tasks.size(); ++t) {
        const auto& lab = s.label(static_cast<data::Task>(t));
        if (lab.empty()) {
          csv += ",";
        } else if (cls) {
          csv += fmt::format(",{}", label_class(lab[static_cast<size_t>(i)]));
        } else {
          csv += fmt::format(",{}", lab[static_cast<size_t>(i)]);
        }
      }
      csv += "\n";
    }
    atomic_write_text(opt->out, csv);
    std::cout << fmt::format("wrote {}: {} rows ({} {})\n", opt->out, s.size, opt->data, opt->split);
  });
}

}  // namespace mtfn::cli
