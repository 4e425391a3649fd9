// What a run tells its reader while it trains: the lines of DIR/train.log (each behind a timestamp,
// and on the console), the progress line (console only), and DIR/epochs.jsonl (one JSON object per
// finished epoch, for other tools). Not the text itself (console_text.h), not the results files
// (results.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "training/console_text.h"
#include "training/metrics.h"
#include "training/results.h"

namespace mtfn::training {

// Lines to a log file (each behind a timestamp) and the console; a progress line on the console only.
class Logger {
 public:
  Logger(const std::filesystem::path& file, bool append, std::ostream* console, bool progress);
  void line(const std::string& s);      // the log and the console
  void log_only(const std::string& s);  // the log
  void bar(const Progress& p);          // the console's progress line, redrawn in place

 private:
  void clear_bar();
  std::ofstream log_;
  std::ostream* console_;
  bool progress_;
  size_t bar_len_ = 0;
};

// Adds `text` (one line or several) to DIR/train.log, each line behind a timestamp: for what the
// command prints after the run (its summary).
void append_to_log(const std::filesystem::path& out, const std::string& text);

// `head` and then the metrics ("Corr 0.6623"), wrapped to 80 columns with an indent of 4.
std::string metrics_lines(const std::string& head, const MetricList& m);

// MMSA's early-stopping test: an epoch counts as better when at least 1e-6 below the best so far.
bool improves(double valid_loss, double best_valid);

// DIR/epochs.jsonl. Only epochs a checkpoint (or a finished seed) holds are in it: a line is appended
// after the epoch's checkpoint, and --resume rewrites a seed's lines from what it resumes from.
nlohmann::ordered_json epoch_line(uint64_t seed, const EpochRecord& e, int64_t best_epoch, double best_valid);
void append_epoch_line(const std::filesystem::path& file, const nlohmann::ordered_json& line);
// Replaces the lines of `seed` with its `history` (the best epoch so far replayed as training decided
// it), keeping every other seed's lines in their order.
void rewrite_epoch_lines(const std::filesystem::path& file, uint64_t seed, const std::vector<EpochRecord>& history);

}  // namespace mtfn::training
