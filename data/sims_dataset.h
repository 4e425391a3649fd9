// The CH-SIMS dataset (and MOSI/MOSEI, same layout) as MTFN sees it: three splits of float32
// features after MMSA's loading rules, the M/T/A/V labels, ids and raw text.
// Not the pickle parsing (data/pickle.h), not batching (data/batching.h), not tensors (data/batch.h).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/pickle.h"

namespace mtfn::data {

// A dense float32 array in C order; its storage may be shared with the pickle it came from.
struct Float32Array {
  std::vector<int64_t> shape;
  std::shared_ptr<ByteBuffer> storage;

  static Float32Array uninitialized(std::vector<int64_t> shape);
  static Float32Array zeros(std::vector<int64_t> shape);
  int64_t size() const;
  float* data() { return storage ? reinterpret_cast<float*>(storage->data()) : nullptr; }
  const float* data() const { return storage ? reinterpret_cast<const float*>(storage->data()) : nullptr; }
  float operator[](int64_t i) const { return data()[i]; }
};

// The four regression targets: multimodal, then text, audio, vision.
enum class Task : int { M = 0, T = 1, A = 2, V = 3 };
inline constexpr std::array<Task, 4> kAllTasks = {Task::M, Task::T, Task::A, Task::V};
std::string_view task_name(Task task);            // "M", "T", "A", "V"
std::string_view task_label_key(Task task);       // "regression_labels", "regression_labels_T", ...
// Class of a label value (mtfn.md §5): 0 negative if <= -0.1, 1 neutral if in (-0.1, 0.1], 2 positive;
// compared in float32, as MMSA.
int label_class(float label);

// Letters used in shapes below: N samples of the split, T text steps, Dt/Da/Dv feature sizes.
struct SimsSplit {
  std::string name;                              // "train", "valid" or "test"
  int64_t size = 0;                              // N
  Float32Array text;                             // (N, T, Dt) as stored, cast to float32
  Float32Array audio;                            // (N, Da) -inf -> 0, mean over all frames, NaN -> 0
  Float32Array vision;                           // (N, Dv) mean over all frames, NaN -> 0
  std::array<std::vector<float>, 4> labels;      // by Task: (N) each; empty if the file has none
  std::vector<int64_t> audio_lengths;            // (N) or empty if absent
  std::vector<int64_t> vision_lengths;           // (N) or empty if absent
  std::vector<std::string> ids;                  // (N) "video_id$_$clip_id", or empty if absent
  std::vector<std::string> raw_texts;            // (N) UTF-8, or empty if absent

  const std::vector<float>& label(Task task) const { return labels[static_cast<int>(task)]; }
};

class SimsDataset {
 public:
  SimsSplit train, valid, test;
  std::string source;                 // the file it came from (for messages)
  std::array<bool, 4> label_present{};  // by Task; M is always present
  int64_t text_dim = 0, audio_dim = 0, vision_dim = 0;  // Dt, Da, Dv (read from the file)

  bool has_label(Task task) const { return label_present[static_cast<int>(task)]; }
  // "train", "valid" or "test"; anything else throws std::invalid_argument
  const SimsSplit& split(std::string_view name) const;
  SimsSplit& split(std::string_view name);
};

// Loads an MMSA feature file (unaligned_39.pkl and the like). Throws PickleError whose message
// names the file and the field, e.g. "unaligned_39.pkl: train/audio: expected 3 dims, got 2 (1368, 33)".
SimsDataset load_sims_dataset(const std::filesystem::path& path);
// The same from an already parsed pickle.
SimsDataset sims_dataset_from_pickle(const PickleDocument& doc);

// The loading rules, exposed for tests. `where` prefixes error messages.
// (N, T, D) any numeric dtype/order -> float32 C order (shares the bytes when already float32 LE C).
Float32Array sequence_to_float32(const NdArray& a, std::string_view where);
// (N, T, D) -> (N, D): cast to float32, optionally -inf -> 0, float32 mean over all T rows, NaN -> 0.
Float32Array time_mean_to_float32(const NdArray& a, bool neg_inf_to_zero, std::string_view where);

}  // namespace mtfn::data
