#include "training/train_log.h"

#include <ctime>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

Logger::Logger(const fs::path& file, bool append, std::ostream* console, bool progress)
    : log_(file, append ? std::ios::app : std::ios::trunc), console_(console), progress_(progress && console) {}

void Logger::line(const std::string& s) {
  clear_bar();
  log_only(s);
  if (console_) (*console_) << s << "\n" << std::flush;
}

void Logger::log_only(const std::string& s) {
  log_ << timestamped_lines(s, std::time(nullptr));
  log_.flush();
}

void Logger::bar(const Progress& p) {
  if (!progress_) return;
  const std::string s = progress_line(p);
  const size_t old = bar_len_;
  bar_len_ = s.size();
  (*console_) << "\r" << s << std::string(old > s.size() ? old - s.size() : 0, ' ') << std::flush;
}

void Logger::clear_bar() {
  if (progress_ && bar_len_) (*console_) << "\r" << std::string(bar_len_, ' ') << "\r";
  bar_len_ = 0;
}

void append_to_log(const fs::path& out, const std::string& text) {
  std::ofstream(out / "train.log", std::ios::app) << timestamped_lines(text, std::time(nullptr));
}

std::string metrics_lines(const std::string& head, const MetricList& m) {
  std::vector<std::string> fields;
  for (const auto& [k, v] : m.items) fields.push_back(fmt::format("{} {:.4f}", k, v));
  return fmt::format("{}", fmt::join(wrap_fields(head, fields), "\n"));
}

bool improves(double valid_loss, double best_valid) { return valid_loss <= best_valid - 1e-6; }

json epoch_line(uint64_t seed, const EpochRecord& e, int64_t best_epoch, double best_valid) {
  return {{"seed", seed},         {"epoch", e.epoch},     {"train_loss", e.train_loss},
          {"valid_loss", e.valid_loss}, {"valid", metrics_to_json(e.valid)}, {"seconds", e.seconds},
          {"best_epoch", best_epoch}, {"best_valid_loss", best_valid}};
}

void append_epoch_line(const fs::path& file, const json& line) {
  std::ofstream out(file, std::ios::app);
  out << line.dump() << "\n";
  if (!out.flush()) throw std::runtime_error(fmt::format("{}: write failed", file.string()));
}

void rewrite_epoch_lines(const fs::path& file, uint64_t seed, const std::vector<EpochRecord>& history) {
  std::string kept;
  if (std::ifstream in{file}) {
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {
        continue;  // a line torn by a kill mid-write
      }
      if (j.value("seed", uint64_t{0}) != seed) kept += line + "\n";
    }
  }
  double best_valid = 1e8;
  int64_t best_epoch = 0;
  for (const EpochRecord& e : history) {
    if (improves(e.valid_loss, best_valid)) {
      best_valid = e.valid_loss;
      best_epoch = e.epoch;
    }
    kept += epoch_line(seed, e, best_epoch, best_valid).dump() + "\n";
  }
  atomic_write_text(file, kept);
}

}  // namespace mtfn::training
