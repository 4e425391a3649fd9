// Loading large state files without a second copy in memory: reads a safetensors file's header,
// then streams each wanted tensor's bytes straight into the tensor that will hold it (a module's
// parameter, or a new tensor). nn/safetensors.h's read_safetensors reads every tensor of a file into
// new memory, which for MTFN's 558 MB fusion layer (or a 1.7 GB checkpoint) would hold the model
// twice. Writing stays with nn::write_safetensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace mtfn::models {

struct StateFileEntry {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64"
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets after the header
};

struct StateFileIndex {
  std::string path;
  std::vector<StateFileEntry> entries;
  nn::Metadata metadata;
  uint64_t data_start = 0;  // 8 + header length
  const StateFileEntry* find(const std::string& name) const;
};

// The header only (checked: offsets inside the file, sizes matching shapes). Throws std::runtime_error.
StateFileIndex read_state_index(const std::string& path);

// Strict: every parameter and buffer of `module` must be in the file under prefix + its name with
// the same shape, and (unless `allow_extra`) no other entry may start with the prefix. Values are
// read into the module's tensors (converted if the dtypes differ).
void load_module_streaming(const StateFileIndex& index, nn::Module& module, const std::string& prefix,
                           bool allow_extra = true);

// The entries whose names start with `prefix` as new tensors (prefix removed; I64 -> float64, marked).
nn::TensorDict read_entries(const StateFileIndex& index, const std::string& prefix);

}  // namespace mtfn::models
