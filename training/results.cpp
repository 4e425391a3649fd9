// results.json, MMSA's CSV and atomic writes.
#include "training/results.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

json metrics_to_json(const MetricList& m) {
  json j = json::object();
  for (const auto& [k, v] : m.items) j[k] = std::isfinite(v) ? json(v) : json(nullptr);
  return j;
}

MetricList metrics_from_json(const json& j) {
  MetricList m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m.set(it.key(), it.value().is_null() ? std::nan("") : it.value().get<double>());
  return m;
}

json seed_to_json(const SeedResult& r) {
  json epochs = json::array();
  for (const EpochRecord& e : r.epochs)
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"valid_loss", e.valid_loss},
                      {"seconds", e.seconds},
                      {"valid", metrics_to_json(e.valid)}});
  return {{"seed", r.seed}, {"epochs", epochs}, {"best_epoch", r.best_epoch}, {"test", metrics_to_json(r.test)}};
}

SeedResult seed_from_json(const json& j) {
  SeedResult r;
  r.seed = j.at("seed").get<uint64_t>();
  r.best_epoch = j.at("best_epoch").get<int64_t>();
  r.test = metrics_from_json(j.at("test"));
  for (const json& e : j.at("epochs")) {
    EpochRecord rec;
    rec.epoch = e.at("epoch").get<int64_t>();
    rec.train_loss = e.at("train_loss").get<double>();
    rec.valid_loss = e.at("valid_loss").get<double>();
    rec.seconds = e.at("seconds").get<double>();
    if (e.contains("valid")) rec.valid = metrics_from_json(e.at("valid"));
    r.epochs.push_back(std::move(rec));
  }
  return r;
}

json results_to_json(const RunResults& r) {
  std::vector<MetricList> tests;
  for (const SeedResult& s : r.seeds) tests.push_back(s.test);
  const SeedSummary sum = summarize_seeds(tests);
  json seeds = json::array();
  for (const SeedResult& s : r.seeds) seeds.push_back(seed_to_json(s));
  return {{"model", r.model},
          {"data", r.data},
          {"dataset", r.dataset},
          {"mode", models::mode_name(r.mode)},
          {"config", r.config},
          {"seeds", seeds},
          {"mean", metrics_to_json(sum.mean)},
          {"std", metrics_to_json(sum.std)},
          {"baseline", metrics_to_json(r.baseline)}};
}

fs::path append_mmsa_csv(const fs::path& dir, const RunResults& r) {
  if (r.seeds.empty()) throw std::runtime_error("append_mmsa_csv: no seeds");
  std::vector<MetricList> tests;
  for (const SeedResult& s : r.seeds) tests.push_back(s.test);
  const SeedSummary sum = summarize_seeds(tests);
  std::string header = "Model", row = r.model;
  for (const auto& [name, mean] : sum.mean.items) {
    header += "," + name;
    row += ",\"" + mmsa_csv_cell(mean, sum.std.get(name)) + "\"";  // pandas quotes a cell holding a comma
  }
  const std::string first_line = header + "\n";
  const fs::path folder = dir / "normal";
  fs::create_directories(folder);
  for (int k = 0;; ++k) {
    const std::string name = k == 0   ? r.dataset
                             : k == 1 ? fmt::format("{}-{}", r.dataset, models::mode_name(r.mode))
                                      : fmt::format("{}-{}-{}", r.dataset, models::mode_name(r.mode), k);
    const fs::path csv = folder / (name + ".csv");
    std::string existing;
    if (std::ifstream in{csv}) {
      std::stringstream ss;
      ss << in.rdbuf();
      existing = ss.str();
    } else if (fs::exists(csv)) {
      continue;  // there but unreadable: not ours to replace
    }
    if (existing.empty()) existing = first_line;
    // Same columns: add a row, as MMSA does; other columns: another file, this one kept as it is.
    if (existing.rfind(first_line, 0) != 0) continue;
    if (existing.back() != '\n') existing += "\n";
    atomic_write_text(csv, existing + row + "\n");
    return csv;
  }
}

void atomic_write(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
    write(out);
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("{}: write failed (disk full?)", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot rename into place: {}", path.string(), ec.message()));
}

void atomic_write_text(const fs::path& path, const std::string& text) {
  atomic_write(path, [&](std::ostream& out) { out << text; });
}

}  // namespace mtfn::training
