// safetensors files: read and write named F32 / F64 / I64 tensors with a string metadata map,
// and save / load a Module's state_dict by PyTorch names. Writes are atomic (temp file, fsync,
// rename); every malformed file is an Error naming the file and what is wrong.
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

#include <map>
#include <string>

#include "nn/module.h"

namespace mtfn::nn {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorDict tensors;  // in the header's order
  Metadata metadata;   // "__metadata__", empty if absent
};

SafetensorsFile read_safetensors(const std::string& path);

// Writes `<path>.tmp` in the same directory, fsyncs it, renames it over `path` and fsyncs the
// directory: a crash or an error leaves either the old file or the new one, never a mix.
void write_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});

// A module's state_dict (parameters and buffers, PyTorch's names and order).
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});
// Strict load (Module::load_state_dict) of the entries whose names start with `prefix`
// (prefix removed; e.g. "Model." for MMSA's checkpoints). Other entries are ignored when a
// prefix is given.
void load_module(const std::string& path, Module& module, const std::string& prefix = "");

// Test hook: make the next writes fail after `bytes` bytes of the temp file (-1: never).
void set_write_failure_for_testing(int64_t bytes);

}  // namespace mtfn::nn
