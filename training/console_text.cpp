// See console_text.h.
#include "training/console_text.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace mtfn::training {

std::string log_timestamp(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
  return buf;
}

std::string iso8601_local(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

std::string timestamped_lines(const std::string& text, std::time_t t) {
  const std::string stamp = log_timestamp(t);
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    out += stamp + text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    if (end == std::string::npos || end + 1 == text.size()) break;
    start = end + 1;
  }
  return out;
}

std::vector<std::string> wrap_fields(const std::string& head, const std::vector<std::string>& fields, size_t indent,
                                     size_t width) {
  std::vector<std::string> lines{head};
  for (const std::string& f : fields) {
    std::string& cur = lines.back();
    const bool fresh = cur.size() == indent && lines.size() > 1;  // a continuation line holding nothing yet
    if (!fresh && !cur.empty() && cur.size() + 1 + f.size() > width) {
      lines.push_back(std::string(indent, ' ') + f);
      continue;
    }
    if (!fresh && !cur.empty()) cur += ' ';
    cur += f;
  }
  return lines;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string progress_line(const Progress& p) {
  constexpr int64_t kWidth = 16;
  const int64_t filled = p.total > 0 ? std::clamp<int64_t>(kWidth * p.done / p.total, 0, kWidth) : kWidth;
  std::string s = fmt::format("  epoch {} [{}{}] {}/{}", p.epoch, std::string(static_cast<size_t>(filled), '#'),
                              std::string(static_cast<size_t>(kWidth - filled), '.'), p.done, p.total);
  if (p.phase == Progress::Phase::validating) return s + " validating ...";
  if (p.phase == Progress::Phase::saving) return s + " saving the checkpoint ...";
  // dt/step is the mean so far; the epoch's ETA counts its steps left, the seed's adds whole epochs.
  const double epoch_left = static_cast<double>(p.total - p.done) * p.sec_per_step;
  s += fmt::format(" {:.2f} s/step ETA epoch {}", p.sec_per_step, format_duration(epoch_left));
  if (p.max_epochs > 0) {
    const double epochs_after = static_cast<double>(std::max<int64_t>(p.max_epochs - p.epoch, 0));
    s += " seed " + format_duration(epoch_left + epochs_after * static_cast<double>(p.total) * p.sec_per_step);
  } else {
    s += fmt::format(" seed: epoch {}", p.epoch);
  }
  if (s.size() >= kConsoleWidth) s.resize(kConsoleWidth - 1);
  return s;
}

}  // namespace mtfn::training
