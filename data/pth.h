// PyTorch checkpoints (`torch.save(model.state_dict(), "x.pth")`, e.g. MMSA's mtfn-sims.pth) read
// without Python: the zip archive torch >= 1.6 writes (`<prefix>/data.pkl` + one file per storage,
// read with libzip) and the legacy stream of torch < 1.6 (`_use_new_zipfile_serialization=False`).
// Not here: what the names mean (models/mtfn/pth_checkpoint.h) or writing .pth
// (tools/safetensors_to_torch.py does that in PyTorch).
//
// Safe as data/pickle.h: data.pkl goes through load_torch_pickle (no code runs, five globals), every
// tensor view is checked against its storage's declared length there, and here every declared length
// against the bytes the archive really holds. Every problem is one PthError line naming the file:
//   mtfn-sims.pth: storage 'archive/data/7' holds 96 bytes, the pickle declares 32 float32 (128 bytes)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "data/pickle.h"

namespace mtfn::data {

class PthError : public InputError {
 public:
  using InputError::InputError;
};

enum class PthDType : uint8_t { float32, float64, int64 };
const char* pth_dtype_name(PthDType d);  // "float32", "float64", "int64"

// One tensor of the checkpoint as the file describes it (no values yet).
struct PthEntry {
  std::string name;              // as saved, e.g. "Model.audio_subnet.norm.weight"
  PthDType dtype = PthDType::float32;
  Shape shape;
  std::vector<int64_t> stride;   // in elements
  int64_t offset = 0;            // first element in its storage
  uint32_t storage = 0;          // index into the reader's storages
  int64_t numel() const { return shape_numel(shape); }
  bool contiguous() const;       // row-major without gaps (then one straight read)
};

// True if the file starts as a torch.save checkpoint does (a zip archive, or the legacy magic number).
bool is_pth_file(const std::filesystem::path& path);

class PthReader {
 public:
  // Opens the file, reads and checks data.pkl and every storage's length; values are read later.
  explicit PthReader(const std::filesystem::path& path);
  // The same from memory (tests, fuzzing); `name` stands for the file in messages.
  PthReader(std::span<const std::byte> bytes, std::string name);
  ~PthReader();
  PthReader(PthReader&&) noexcept;
  PthReader& operator=(PthReader&&) noexcept;

  const std::string& source_name() const;
  std::string_view format() const;  // "zip" or "legacy"
  const std::vector<PthEntry>& entries() const;  // in the file's order
  const PthEntry* find(std::string_view name) const;  // nullptr if absent

  // The entry's values as a new contiguous tensor: float32 -> F32, float64 and int64 -> F64 (an
  // int64 must lie within +-2^53, where float64 is exact: nn/module.h's convention).
  Tensor read(const PthEntry& e) const;
  // Into an existing contiguous tensor of the same shape, converting to its dtype. A contiguous
  // entry of the same dtype is read straight into `dst` (no second copy of a 558 MB layer).
  void read_into(const PthEntry& e, Tensor& dst) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtfn::data
