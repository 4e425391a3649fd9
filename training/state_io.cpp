// Streaming reads of safetensors files (see state_io.h).
#include "training/state_io.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mtfn::models {

using json = nlohmann::ordered_json;

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw std::runtime_error(fmt::format("{}: cannot open", path));
  return f;
}

size_t dtype_bytes(const std::string& d) { return d == "F32" ? 4 : 8; }

// Reads entry e into dst (numel elements of dst_dtype), converting through a bounded buffer.
void read_entry_into(std::FILE* f, const StateFileIndex& index, const StateFileEntry& e, Tensor& dst) {
  const uint64_t offset = index.data_start + e.begin;
  if (std::fseek(f, static_cast<long>(offset), SEEK_SET) != 0)
    throw std::runtime_error(fmt::format("{}: cannot seek to '{}'", index.path, e.name));
  const int64_t n = dst.numel();
  const bool same = (e.dtype == "F32" && dst.dtype() == DType::F32) || (e.dtype == "F64" && dst.dtype() == DType::F64);
  if (same) {
    const size_t bytes = static_cast<size_t>(n) * dtype_size(dst.dtype());
    if (std::fread(dst.raw_data(), 1, bytes, f) != bytes)
      throw std::runtime_error(fmt::format("{}: '{}': file ends early", index.path, e.name));
    return;
  }
  constexpr int64_t kChunk = 1 << 16;
  std::vector<unsigned char> buf(static_cast<size_t>(kChunk) * 8);
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const size_t bytes = static_cast<size_t>(m) * dtype_bytes(e.dtype);
    if (std::fread(buf.data(), 1, bytes, f) != bytes)
      throw std::runtime_error(fmt::format("{}: '{}': file ends early", index.path, e.name));
    MTFN_DISPATCH(dst.dtype(), {
      scalar_t* out = dst.data<scalar_t>() + start;
      for (int64_t i = 0; i < m; ++i) {
        double v;
        if (e.dtype == "F32") {
          float x;
          std::memcpy(&x, buf.data() + 4 * i, 4);
          v = x;
        } else if (e.dtype == "F64") {
          std::memcpy(&v, buf.data() + 8 * i, 8);
        } else {
          int64_t x;
          std::memcpy(&x, buf.data() + 8 * i, 8);
          v = static_cast<double>(x);
        }
        out[i] = static_cast<scalar_t>(v);
      }
    });
  }
}

}  // namespace

const StateFileEntry* StateFileIndex::find(const std::string& name) const {
  for (const StateFileEntry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

StateFileIndex read_state_index(const std::string& path) {
  StateFileIndex idx;
  idx.path = path;
  File f = open_file(path);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot stat", path));
  unsigned char len_bytes[8];
  if (size < 8 || std::fread(len_bytes, 1, 8, f.get()) != 8)
    throw std::runtime_error(fmt::format("{}: not a safetensors file (shorter than 8 bytes)", path));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > (100u << 20) || 8 + n > size)
    throw std::runtime_error(fmt::format("{}: not a safetensors file (header length {})", path, n));
  std::string header(n, '\0');
  if (std::fread(header.data(), 1, n, f.get()) != n) throw std::runtime_error(fmt::format("{}: header cut short", path));
  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: header is not JSON: {}", path, e.what()));
  }
  if (!j.is_object()) throw std::runtime_error(fmt::format("{}: header is not a JSON object", path));
  idx.data_start = 8 + n;
  const uint64_t data_size = size - idx.data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) throw std::runtime_error(fmt::format("{}: __metadata__ is not an object", path));
      for (auto m = it.value().begin(); m != it.value().end(); ++m)
        if (m.value().is_string()) idx.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    const json& v = it.value();
    StateFileEntry e;
    e.name = it.key();
    try {
      e.dtype = v.at("dtype").get<std::string>();
      for (const json& d : v.at("shape")) e.shape.push_back(d.get<int64_t>());
      e.begin = v.at("data_offsets").at(0).get<uint64_t>();
      e.end = v.at("data_offsets").at(1).get<uint64_t>();
    } catch (const json::exception&) {
      throw std::runtime_error(fmt::format("{}: tensor '{}': malformed entry", path, e.name));
    }
    if (e.dtype != "F32" && e.dtype != "F64" && e.dtype != "I64")
      throw std::runtime_error(fmt::format("{}: tensor '{}': unsupported dtype {}", path, e.name, e.dtype));
    uint64_t numel = 1;
    for (int64_t d : e.shape) {
      if (d < 0) throw std::runtime_error(fmt::format("{}: tensor '{}': negative size", path, e.name));
      numel *= static_cast<uint64_t>(d);
    }
    if (e.end < e.begin || e.end > data_size || e.end - e.begin != numel * dtype_bytes(e.dtype))
      throw std::runtime_error(fmt::format("{}: tensor '{}': data_offsets do not fit its shape or the file", path,
                                           e.name));
    idx.entries.push_back(std::move(e));
  }
  return idx;
}

void load_module_streaming(const StateFileIndex& index, nn::Module& module, const std::string& prefix,
                           bool allow_extra) {
  const nn::StateDict state = module.state_dict();
  std::string problems;
  std::set<std::string> wanted;
  for (const nn::NamedTensor& t : state) {
    wanted.insert(prefix + t.name);
    const StateFileEntry* e = index.find(prefix + t.name);
    if (!e) problems += fmt::format("{}missing '{}'", problems.empty() ? "" : "; ", prefix + t.name);
    else if (e->shape != t.tensor.shape())
      problems += fmt::format("{}'{}' has shape {} in the file, {} in the model", problems.empty() ? "" : "; ",
                              e->name, shape_str(e->shape), shape_str(t.tensor.shape()));
  }
  if (!allow_extra)
    for (const StateFileEntry& e : index.entries)
      if (e.name.starts_with(prefix) && !wanted.count(e.name))
        problems += fmt::format("{}unexpected '{}'", problems.empty() ? "" : "; ", e.name);
  if (!problems.empty()) throw std::runtime_error(fmt::format("{}: {}", index.path, problems));
  File f = open_file(index.path);
  for (const nn::NamedTensor& t : state) {
    Tensor dst = t.tensor;  // shares the module's storage
    read_entry_into(f.get(), index, *index.find(prefix + t.name), dst);
  }
}

nn::TensorDict read_entries(const StateFileIndex& index, const std::string& prefix) {
  nn::TensorDict out;
  File f = open_file(index.path);
  for (const StateFileEntry& e : index.entries) {
    if (!e.name.starts_with(prefix)) continue;
    Tensor t = Tensor::empty(e.shape, e.dtype == "F32" ? DType::F32 : DType::F64);
    read_entry_into(f.get(), index, e, t);
    out.insert(e.name.substr(prefix.size()), t, e.dtype == "I64");
  }
  return out;
}

}  // namespace mtfn::models
