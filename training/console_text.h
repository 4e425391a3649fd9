// The text of what `train` shows: the log's timestamp prefix, lines wrapped to 80 columns, the
// progress line with its ETAs, sizes in bytes. Pure functions (tested directly); not the Logger that
// writes them (trainer.cpp).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace mtfn::training {

constexpr size_t kConsoleWidth = 80;

// "2026-11-29 13:40:02 " (local time): what each line of train.log starts with.
std::string log_timestamp(std::time_t t);

// "2026-11-29T13:40:02+0100": local time with its offset, for the manifest's start and end.
std::string iso8601_local(std::time_t t);

// Every line of `text` behind log_timestamp(t), each ending in a newline (an empty text gives one
// timestamp and a newline).
std::string timestamped_lines(const std::string& text, std::time_t t);

// `head` followed by `fields` separated by spaces, broken into lines of at most `width` columns;
// continuation lines start with `indent` spaces. A field longer than a line stays whole.
std::vector<std::string> wrap_fields(const std::string& head, const std::vector<std::string>& fields,
                                     size_t indent = 4, size_t width = kConsoleWidth);

// 75 -> "1:15", 3725 -> "1:02:05"; negative or not finite -> "?".
std::string format_duration(double seconds);

// 1536 -> "1.5 KiB", 3.2e9 -> "3.0 GiB".
std::string format_bytes(uint64_t bytes);

// What the progress line says within an epoch.
struct Progress {
  enum class Phase { training, validating, saving };
  int64_t epoch = 1;            // the epoch under way (1-based)
  int64_t done = 0, total = 0;  // training steps of this epoch done / in all
  double sec_per_step = 0;      // mean over this epoch's steps so far
  int64_t max_epochs = 0;       // 0: only early stopping bounds the seed (no ETA for it)
  Phase phase = Phase::training;
};

// One line of at most 79 columns, without the leading "\r": e.g.
// "  epoch 3 [#######.........] 12/30 0.21 s/step ETA epoch 0:04 seed 1:02" or, while validating,
// "  epoch 3 [################] 30/30 validating ...". With max_epochs 0 the seed part is "seed: epoch 3".
std::string progress_line(const Progress& p);

}  // namespace mtfn::training
