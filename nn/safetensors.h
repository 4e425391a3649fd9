// safetensors files: read and write named F32 / F64 / I64 tensors with a string metadata map,
// and save / load a Module's state_dict by PyTorch names. Writes are atomic (temp file, fsync,
// rename); every malformed or unreadable file is an InputError (core/errors.h) naming the file and
// what is wrong; a failed write is an Error.
// Not here: optimizer state (optim/optimizer.h builds on these functions).
//
// Format (huggingface/safetensors): 8-byte little-endian u64 N; N bytes of JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32"|"F64"|"I64", "shape": [...],
//    "data_offsets": [begin, end]}, ...}
// then the raw little-endian data, offsets relative to the byte after the header.
//
// I64 convention: our Tensor holds float32 or float64 only, so an I64 tensor is read into a
// float64 tensor (values must lie within +-2^53, where float64 is exact) and its entry is
// marked int64 (NamedTensor::int64); an entry marked int64 is written back as I64 (its values
// must be whole numbers). Module buffers registered as integer (num_batches_tracked) carry the mark.
#pragma once

#include <functional>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace mtfn::nn {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorDict tensors;  // in the header's order
  Metadata metadata;   // "__metadata__", empty if absent
};

// Every tensor of the file into new memory.
SafetensorsFile read_safetensors(const std::string& path);

// The header alone, every field checked (offsets inside the file, sizes matching shapes, no overlaps),
// for readers that stream each tensor's bytes straight to where it will live: a 558 MB fusion
// weight (or a 1.7 GB checkpoint) is then never held twice. This is the one header parser.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64"
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets after the header
};
struct SafetensorsIndex {
  std::string path;
  std::vector<SafetensorsEntry> entries;  // in the header's order
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + header length
  const SafetensorsEntry* find(const std::string& name) const;  // nullptr if absent
};
SafetensorsIndex read_safetensors_index(const std::string& path);

// Column shards: a process that holds columns [begin, end) of an entry that is a (rows, full) matrix in
// files (the sharded fusion head's weight and its Adam moments, distributed/sharded_fusion.h). Keyed by
// the entry's name in the file.
struct ColumnShard {
  int64_t begin = 0, end = 0, full = 0;
};
using ColumnShards = std::map<std::string, ColumnShard>;

// The entries whose names start with `prefix`, as new tensors (prefix removed; I64 -> float64, marked).
// An entry named in `shards` is read as its columns only, (rows, end - begin).
TensorDict read_entries(const SafetensorsIndex& index, const std::string& prefix = "", const ColumnShards& shards = {});

// Strict, in place: every parameter and buffer of `module` must be in the file under prefix + its
// name with the same shape, and (unless `allow_extra`) no other entry may start with the prefix.
// Values are read straight into the module's tensors (converted if the dtypes differ). A tensor whose
// file name is in `shards` holds that shard's columns of the file's matrix.
void load_module(const SafetensorsIndex& index, Module& module, const std::string& prefix = "",
                 bool allow_extra = true, const ColumnShards& shards = {});

// Writes `<path>.tmp` in the same directory, fsyncs it, renames it over `path` and fsyncs the
// directory: a crash or an error leaves either the old file or the new one, never a mix.
void write_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});

// One file written by several processes (the sharded fusion head's checkpoints): every process passes
// the same names in the same order; an entry named in `shards` is this process's columns of it, and the
// file gets its full shape (rows, full). The `first` process writes the header, every unsharded entry
// and its columns; then the others write their columns into the same temp file; then `first` renames it
// into place. `all_ok(ok)` must return true on every process iff every process passed ok = true (a
// collective: an all-gather); a failure anywhere leaves the previous file as it was, on every process
// an Error. The file's folder must be one every process sees (a shared filesystem).
struct WriteGroup {
  bool first = true;
  std::function<bool(bool ok)> all_ok;
};
void write_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata,
                       const ColumnShards& shards, const WriteGroup& group);

// A module's state_dict (parameters and buffers, PyTorch's names and order).
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});
// Strict load (Module::load_state_dict) of the entries whose names start with `prefix`
// (prefix removed; e.g. "Model." for MMSA's checkpoints). Other entries are ignored when a
// prefix is given.
void load_module(const std::string& path, Module& module, const std::string& prefix = "");

// Test hook: make the next writes fail after `bytes` bytes of the temp file (-1: never).
void set_write_failure_for_testing(int64_t bytes);

}  // namespace mtfn::nn
