// `mtfn synth` and `mtfn inspect`: argument handling and printing only; the work is in
// data/synth.cpp and data/sims_dataset.cpp.
#include "cli/commands.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "data/pickle.h"
#include "data/sims_dataset.h"
#include "data/synth.h"
#include "training/run_config.h"

namespace mtfn::cli {

using namespace mtfn::data;

namespace {

std::string describe_value(PyRef v) {
  switch (v.kind()) {
    case PyKind::ndarray: {
      const NdArray& a = v.array();
      return fmt::format("{:<10} {}", a.dtype.name(), a.shape_string());
    }
    case PyKind::list:
    case PyKind::tuple: {
      std::string elem = v.size() ? std::string(v.item(0).kind_name()) : "?";
      return fmt::format("{:<10} ({},)", fmt::format("{}[{}]", v.kind_name(), elem), v.size());
    }
    case PyKind::dict: return fmt::format("dict       {} keys", v.size());
    case PyKind::str: return fmt::format("str        '{}'", v.as_str().substr(0, 40));
    case PyKind::integer:
    case PyKind::boolean: return fmt::format("{:<10} {}", v.kind_name(), v.as_int());
    case PyKind::floating: return fmt::format("float      {}", v.as_double());
    default: return std::string(v.kind_name());
  }
}

}  // namespace

std::string inspect_report(const std::string& path) {
  PickleDocument doc = load_pickle(path);
  SimsDataset ds = sims_dataset_from_pickle(doc);  // rejects a bad layout before we print anything
  std::string out;
  std::error_code ec;
  auto bytes = std::filesystem::file_size(path, ec);
  out += fmt::format("{}: {:.1f} MB, MMSA layout\n", path, ec ? 0.0 : bytes / 1e6);
  PyRef root = doc.root();
  for (const char* name : {"train", "valid", "test"}) {
    PyRef split = root.at(name);
    const SimsSplit& s = ds.split(name);
    out += fmt::format("{}: {} samples\n", name, s.size);
    for (size_t i = 0; i < split.size(); ++i) {
      PyRef k = split.dict_key(i);
      std::string key = k.kind() == PyKind::str ? std::string(k.as_str()) : fmt::format("<{}>", k.kind_name());
      out += fmt::format("  {:<22} {}\n", key, describe_value(split.dict_value(i)));
    }
    std::string ranges;
    for (Task task : kAllTasks) {
      const auto& v = s.label(task);
      if (v.empty()) continue;
      auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      ranges += fmt::format("  {} [{:.2f}, {:.2f}]", task_name(task), *lo, *hi);
    }
    out += fmt::format("  labels:{}\n", ranges);
  }
  std::string present;
  for (Task task : kAllTasks)
    if (ds.has_label(task)) present += fmt::format("{}{}", present.empty() ? "" : " ", task_name(task));
  out += fmt::format("features: text ({}, {}) audio {} vision {}; labels: {}\n", ds.train.text.shape[1], ds.text_dim,
                     ds.audio_dim, ds.vision_dim, present);
  std::string why;
  const std::string dataset = training::infer_dataset(ds, &why);
  out += fmt::format("looks like: {} ({}); `mtfn train` assumes this unless given --dataset\n", dataset, why);
  return out;
}

void add_synth_command(CLI::App& app) {
  struct Options {
    std::string out, dataset = "sims";
    double scale = kDefaultSynthScale;
    uint64_t seed = 1;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a synthetic feature file in a dataset's MMSA layout (pickle protocol 4, numpy arrays)");
  cmd->add_option("--out", opt->out, "the .pkl file to write")->required();
  cmd->add_option("--dataset", opt->dataset,
                  "whose layout: sims, simsv2 (unimodal labels in [-1, 1]), mosi, mosei (unaligned_50, labels in [-3, 3])")
      ->capture_default_str();
  cmd->add_option("--scale", opt->scale, "split sizes relative to the dataset's (1 = CH-SIMS's 1368/456/457 samples)")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "random seed")->capture_default_str();
  cmd->callback([opt] {
    const SynthShape shape = read_input([&] { return SynthShape::of_dataset(opt->dataset, opt->scale); });
    write_synth_pickle(opt->out, shape, opt->seed);
    std::error_code ec;
    auto bytes = std::filesystem::file_size(opt->out, ec);
    std::cout << fmt::format("wrote {}: train {} / valid {} / test {} samples, {:.1f} MB (seed {})\n", opt->out,
                             shape.train, shape.valid, shape.test, ec ? 0.0 : bytes / 1e6, opt->seed);
  });
}

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Print each split's keys, shapes, dtypes, sample count and label range");
  cmd->add_option("file", *path, "an MMSA feature file (.pkl)")->required();
  cmd->callback([path] {
    std::cout << inspect_report(*path);  // PickleError: bad input
  });
}

}  // namespace mtfn::cli
