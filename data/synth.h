// Synthetic CH-SIMS-shaped feature files in MMSA's layout (pickle protocol 4, numpy arrays), whose
// labels are learnable from every modality. For `mtfn synth`, for `mtfn train` with no --data, and
// for tests and benchmarks. Not a model of real CH-SIMS statistics beyond shapes and storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "data/sims_dataset.h"

namespace mtfn::data {

// Full CH-SIMS sizes; `scale` multiplies the split sizes only (features keep their full shape).
struct SynthShape {
  int64_t train = 1368, valid = 456, test = 457;
  int64_t text_len = 39, text_dim = 768;      // float32
  int64_t audio_len = 400, audio_dim = 33;    // float64, holds some -inf
  int64_t vision_len = 55, vision_dim = 709;  // float64, some NaN in padding rows
  bool unimodal_labels = true;  // regression_labels_T/_A/_V (CH-SIMS, SIMSv2); MOSI/MOSEI have none
  double label_range = 1.0;     // labels in [-r, r]: 1 for CH-SIMS and SIMSv2, 3 for MOSI and MOSEI
  static SynthShape at_scale(double scale);   // each split max(1, round(size * scale))
  // The layout of MMSA's file for `dataset` (sims, simsv2, mosi, mosei; MOSI/MOSEI unaligned_50):
  // its split sizes times `scale`, its sequence lengths and feature widths, its labels.
  // std::invalid_argument for another name.
  static SynthShape of_dataset(const std::string& dataset, double scale);
};

inline constexpr double kDefaultSynthScale = 0.1;  // 137 / 46 / 46 samples, about 123 MB

// How the labels are made (all deterministic in `seed`), per sample:
//   c ~ N(0, 0.45) shared; s_t, s_a, s_v = clip(c + N(0, 0.3), -1, 1) one per modality;
//   T = grid(s_t + e), A = grid(s_a + e), V = grid(s_v + e), M = grid(0.45 s_t + 0.25 s_a + 0.3 s_v + e),
//   e ~ N(0, 0.05), grid = round to the nearest 0.2, clipped to [-1, 1]. With label_range 3 (MOSI,
//   MOSEI) M is 3 times that on a grid of 0.2 within [-3, 3], and T, A, V are not written.
// How the features carry them: every valid text step is s_t * w_t + noise (w_t fixed per seed), so
// an LSTM's last state sees it; every valid audio / vision frame is b + s * w + noise, so the time
// mean (padding included) keeps it; padding rows are zero, with a few -inf audio cells in valid frames
// and NaN cells in vision padding rows, to exercise MMSA's rules.
void write_synth_pickle(const std::filesystem::path& path, double scale = kDefaultSynthScale, uint64_t seed = 1);
void write_synth_pickle(const std::filesystem::path& path, const SynthShape& shape, uint64_t seed);
// The same bytes in memory (small scales only).
std::string synth_pickle_bytes(const SynthShape& shape, uint64_t seed);
// The dataset those bytes load to, without touching the disk.
SimsDataset make_synth_dataset(double scale = kDefaultSynthScale, uint64_t seed = 1);
SimsDataset make_synth_dataset(const SynthShape& shape, uint64_t seed);

}  // namespace mtfn::data
