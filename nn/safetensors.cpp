// safetensors reading (every field checked before any data is trusted) and atomic writing.
// See safetensors.h for the format and the I64 convention.
#include "nn/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace mtfn::nn {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

using json = nlohmann::ordered_json;

constexpr uint64_t kMaxHeader = 100u << 20;  // as the reference implementation: 100 MB
constexpr double kExactInt = 9007199254740992.0;  // 2^53

std::atomic<int64_t> g_fail_after{-1};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

size_t dtype_bytes(const std::string& dtype) { return dtype == "F32" ? 4 : 8; }

// One entry of the header, checked; `fail` throws with the file's name in front.
template <class Fail>
SafetensorsEntry parse_entry(const std::string& name, const json& j, Fail fail) {
  SafetensorsEntry e;
  e.name = name;
  if (!j.is_object()) fail(fmt::format("tensor '{}': entry is not a JSON object", name));
  if (!j.contains("dtype") || !j["dtype"].is_string()) fail(fmt::format("tensor '{}': missing dtype", name));
  e.dtype = j["dtype"].get<std::string>();
  if (e.dtype != "F32" && e.dtype != "F64" && e.dtype != "I64")
    fail(fmt::format("tensor '{}': unsupported dtype '{}' (F32, F64 and I64 are supported)", name, e.dtype));
  if (!j.contains("shape") || !j["shape"].is_array()) fail(fmt::format("tensor '{}': missing shape", name));
  uint64_t numel = 1;
  for (const json& d : j["shape"]) {
    if (!d.is_number_unsigned()) fail(fmt::format("tensor '{}': shape {} is not a list of sizes", name, j["shape"].dump()));
    const uint64_t n = d.get<uint64_t>();
    if (n != 0 && numel > (uint64_t{1} << 56) / n) fail(fmt::format("tensor '{}': shape {} is too large", name, j["shape"].dump()));
    numel *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }
  const json* off = j.contains("data_offsets") ? &j["data_offsets"] : nullptr;
  if (!off || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail(fmt::format("tensor '{}': data_offsets must be [begin, end]", name));
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin) fail(fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", name, e.begin, e.end));
  const uint64_t need = numel * dtype_bytes(e.dtype);
  if (e.end - e.begin != need)
    fail(fmt::format("tensor '{}': shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}", name,
                     shape_str(e.shape), e.dtype, need, e.begin, e.end, e.end - e.begin));
  return e;
}

}  // namespace

const SafetensorsEntry* SafetensorsIndex::find(const std::string& name) const {
  for (const SafetensorsEntry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  auto fail = [&](const std::string& what) { throw InputError(fmt::format("{}: {}", path, what)); };
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(fmt::format("cannot open: {}", std::strerror(errno)));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(fmt::format("cannot read its size: {}", ec.message()));
  if (size < 8) fail(fmt::format("file is {} bytes, too short for the 8-byte header length", size));

  unsigned char len_bytes[8];
  if (std::fread(len_bytes, 1, 8, f.get()) != 8) fail("cannot read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > size - 8) fail(fmt::format("header length {} runs past the end of the file ({} bytes)", n, size));
  if (n > kMaxHeader) fail(fmt::format("header length {} exceeds the {} byte limit", n, kMaxHeader));
  std::string text(n, '\0');
  if (n && std::fread(text.data(), 1, n, f.get()) != n) fail("cannot read the header");

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    std::string why = e.what();
    if (auto p = why.find("] "); p != std::string::npos) why = why.substr(p + 2);  // drop "[json.exception...]"
    fail(fmt::format("header is not valid JSON: {}", why));
  }
  if (!header.is_object()) fail("header is not a JSON object");

  SafetensorsIndex idx;
  idx.path = path;
  idx.data_start = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail("__metadata__ is not a JSON object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(fmt::format("__metadata__ value of '{}' is not a string", m.key()));
        idx.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    idx.entries.push_back(parse_entry(it.key(), it.value(), fail));
  }

  const uint64_t data_size = size - idx.data_start;
  for (const SafetensorsEntry& e : idx.entries)
    if (e.end > data_size)
      fail(fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes; truncated file?)",
                       e.name, e.begin, e.end, data_size));
  std::vector<const SafetensorsEntry*> by_begin;
  for (const SafetensorsEntry& e : idx.entries) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const SafetensorsEntry* a = by_begin[i - 1];
    const SafetensorsEntry* b = by_begin[i];
    if (b->begin < a->end && b->begin != b->end && a->begin != a->end)
      fail(fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", a->name, a->begin, a->end, b->name,
                       b->begin, b->end));
  }
  return idx;
}

namespace {

// Reads elements [first, first + n) of entry e into dst's elements [at, at + n) (dst's dtype), converting
// F32 / F64 / I64 through a bounded buffer, or straight into dst's memory when the dtypes agree. I64 values
// beyond 2^53 are refused. The caller has checked that the range lies inside the entry.
void read_range_into(std::FILE* f, const SafetensorsIndex& index, const SafetensorsEntry& e, int64_t first, int64_t n,
                     Tensor& dst, int64_t at) {
  auto fail = [&](const std::string& what) { throw InputError(fmt::format("{}: tensor '{}': {}", index.path, e.name, what)); };
  const uint64_t bytes = static_cast<uint64_t>(n) * dtype_bytes(e.dtype);
  if (bytes == 0) return;
  if (std::fseek(f, static_cast<long>(index.data_start + e.begin + static_cast<uint64_t>(first) * dtype_bytes(e.dtype)),
                 SEEK_SET) != 0)
    fail(fmt::format("cannot read its {} bytes", bytes));
  const bool same = (e.dtype == "F32" && dst.dtype() == DType::F32) || (e.dtype == "F64" && dst.dtype() == DType::F64);
  if (same) {
    auto* out = static_cast<unsigned char*>(dst.raw_data()) + static_cast<size_t>(at) * dtype_size(dst.dtype());
    if (std::fread(out, 1, bytes, f) != bytes) fail(fmt::format("cannot read its {} bytes", bytes));
    return;
  }
  constexpr int64_t kChunk = 1 << 16;
  std::vector<unsigned char> buf(static_cast<size_t>(kChunk) * 8);
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const size_t chunk_bytes = static_cast<size_t>(m) * dtype_bytes(e.dtype);
    if (std::fread(buf.data(), 1, chunk_bytes, f) != chunk_bytes) fail(fmt::format("cannot read its {} bytes", bytes));
    MTFN_DISPATCH(dst.dtype(), {
      scalar_t* out = dst.data<scalar_t>() + at + start;
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
          if (std::abs(v) > kExactInt) fail(fmt::format("I64 value {} is beyond 2^53, not exact as float64", x));
        }
        out[i] = static_cast<scalar_t>(v);
      }
    });
  }
}

void read_entry_into(std::FILE* f, const SafetensorsIndex& index, const SafetensorsEntry& e, Tensor& dst) {
  read_range_into(f, index, e, 0, dst.numel(), dst, 0);
}

// Columns [c.begin, c.end) of entry e, a (rows, c.full) matrix, into dst (rows, c.end - c.begin): one
// contiguous run per row.
void read_columns_into(std::FILE* f, const SafetensorsIndex& index, const SafetensorsEntry& e, const ColumnShard& c,
                       Tensor& dst) {
  const int64_t rows = e.shape.empty() ? 0 : e.shape[0], w = c.end - c.begin;
  for (int64_t r = 0; r < rows; ++r) read_range_into(f, index, e, r * c.full + c.begin, w, dst, r * w);
}

// "" if entry e, (rows, c.full) in the file, can fill a (rows, c.end - c.begin) tensor of `shape`; else what is wrong.
std::string column_problem(const SafetensorsEntry& e, const ColumnShard& c, const Shape& shape) {
  if (e.shape.size() != 2 || e.shape[1] != c.full || shape.size() != 2 || shape[0] != e.shape[0] ||
      shape[1] != c.end - c.begin || c.begin < 0 || c.end > c.full)
    return fmt::format("'{}' has shape {} in the file; this process holds columns [{}, {}) of {} as {}", e.name,
                       shape_str(e.shape), c.begin, c.end, c.full, shape_str(shape));
  return "";
}

std::unique_ptr<std::FILE, FileCloser> open_data(const SafetensorsIndex& index) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(index.path.c_str(), "rb"));
  if (!f) throw InputError(fmt::format("{}: cannot open: {}", index.path, std::strerror(errno)));
  return f;
}

}  // namespace

TensorDict read_entries(const SafetensorsIndex& index, const std::string& prefix, const ColumnShards& shards) {
  TensorDict out;
  auto f = open_data(index);
  for (const SafetensorsEntry& e : index.entries) {
    if (!e.name.starts_with(prefix)) continue;
    const auto shard = shards.find(e.name);
    if (shard == shards.end()) {
      Tensor t = Tensor::empty(e.shape, e.dtype == "F32" ? DType::F32 : DType::F64);
      read_entry_into(f.get(), index, e, t);
      out.insert(e.name.substr(prefix.size()), t, e.dtype == "I64");
      continue;
    }
    const ColumnShard& c = shard->second;
    Tensor t = Tensor::empty({e.shape.empty() ? 0 : e.shape[0], c.end - c.begin}, e.dtype == "F32" ? DType::F32 : DType::F64);
    if (const std::string p = column_problem(e, c, t.shape()); !p.empty()) throw InputError(fmt::format("{}: {}", index.path, p));
    read_columns_into(f.get(), index, e, c, t);
    out.insert(e.name.substr(prefix.size()), t, false);
  }
  return out;
}

void load_module(const SafetensorsIndex& index, Module& module, const std::string& prefix, bool allow_extra,
                 const ColumnShards& shards) {
  const StateDict state = module.state_dict();
  std::string problems;
  std::set<std::string> wanted;
  for (const NamedTensor& t : state) {
    wanted.insert(prefix + t.name);
    const SafetensorsEntry* e = index.find(prefix + t.name);
    const auto shard = shards.find(prefix + t.name);
    if (!e) problems += fmt::format("{}missing '{}'", problems.empty() ? "" : "; ", prefix + t.name);
    else if (shard != shards.end()) {
      if (const std::string p = column_problem(*e, shard->second, t.tensor.shape()); !p.empty())
        problems += fmt::format("{}{}", problems.empty() ? "" : "; ", p);
    } else if (e->shape != t.tensor.shape())
      problems += fmt::format("{}'{}' has shape {} in the file, {} in the model", problems.empty() ? "" : "; ",
                              e->name, shape_str(e->shape), shape_str(t.tensor.shape()));
  }
  if (!allow_extra)
    for (const SafetensorsEntry& e : index.entries)
      if (e.name.starts_with(prefix) && !wanted.count(e.name))
        problems += fmt::format("{}unexpected '{}'", problems.empty() ? "" : "; ", e.name);
  if (!problems.empty()) throw InputError(fmt::format("{}: {}", index.path, problems));
  auto f = open_data(index);
  for (const NamedTensor& t : state) {
    Tensor dst = t.tensor;  // shares the module's storage
    const auto shard = shards.find(prefix + t.name);
    if (shard != shards.end()) read_columns_into(f.get(), index, *index.find(prefix + t.name), shard->second, dst);
    else read_entry_into(f.get(), index, *index.find(prefix + t.name), dst);
  }
}

SafetensorsFile read_safetensors(const std::string& path) {
  const SafetensorsIndex index = read_safetensors_index(path);
  return {read_entries(index, ""), index.metadata};
}

// ---- writing
namespace {

// A temp file that removes itself unless committed. A `joining` process (a sharded write, not the
// first) opens the temp file the first process made and never removes or renames it.
class TempFile {
 public:
  explicit TempFile(std::string final_path, bool joining = false)
      : final_(std::move(final_path)), tmp_(final_ + ".tmp"), joining_(joining) {
    fd_ = ::open(tmp_.c_str(), joining ? (O_WRONLY | O_CLOEXEC) : (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC), 0644);
    if (fd_ < 0) fail(fmt::format("cannot {} {}: {}", joining ? "open" : "create", tmp_, std::strerror(errno)));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !joining_) ::unlink(tmp_.c_str());
  }
  [[noreturn]] void fail(const std::string& what) const { throw Error(fmt::format("{}: {}", final_, what)); }

  void write(const void* data, size_t n) {
    write_at(pos_, data, n);
    pos_ += n;
  }
  void write_at(uint64_t offset, const void* data, size_t n) {
    const int64_t limit = g_fail_after.load();
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t{1} << 30);
      if (limit >= 0 && written_ + static_cast<int64_t>(chunk) > limit) {
        const size_t allowed = static_cast<size_t>(std::max<int64_t>(0, limit - written_));
        if (allowed) (void)!::pwrite(fd_, p, allowed, static_cast<off_t>(offset));
        fail(fmt::format("writing {}: simulated write failure after {} bytes", tmp_, limit));
      }
      const ssize_t w = ::pwrite(fd_, p, chunk, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail_io(errno);
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
      written_ += w;
    }
  }
  void resize(uint64_t bytes) {
    if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) fail_io(errno);
  }
  // Out of space or over the file-size limit: the earlier file of this name is untouched (the temp
  // file is removed by the destructor), which the message says.
  [[noreturn]] void fail_io(int err) const {
    const char* why = err == ENOSPC   ? " (the file system is full)"
                      : err == EDQUOT ? " (the disk quota is reached)"
                      : err == EFBIG  ? " (over the file-size limit, ulimit -f)"
                                      : "";
    std::error_code ec;
    const bool kept = std::filesystem::exists(final_, ec);
    fail(fmt::format("writing {}: {}{}; {}", tmp_, std::strerror(err), why,
                     kept ? "the previous file is kept as it was" : "nothing was written in its place"));
  }
  // Durable and closed; renamed into place unless joining.
  void finish() {
    if (::fsync(fd_) != 0) fail(fmt::format("fsync {}: {}", tmp_, std::strerror(errno)));
    if (::close(fd_) != 0) {
      fd_ = -1;
      fail(fmt::format("closing {}: {}", tmp_, std::strerror(errno)));
    }
    fd_ = -1;
  }
  void commit() {
    if (fd_ >= 0) finish();
    if (std::rename(tmp_.c_str(), final_.c_str()) != 0)
      fail(fmt::format("renaming {} over it: {}", tmp_, std::strerror(errno)));
    committed_ = true;
    // Make the rename itself durable.
    std::filesystem::path dir = std::filesystem::path(final_).parent_path();
    if (dir.empty()) dir = std::filesystem::current_path();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string final_, tmp_;
  bool joining_;
  int fd_ = -1;
  uint64_t pos_ = 0;
  int64_t written_ = 0;
  bool committed_ = false;
};

// An entry's place in the file being written.
struct Placed {
  const NamedTensor* e;
  const ColumnShard* shard;  // nullptr: the whole tensor is here
  uint64_t begin;            // byte offset after the header
};

// The columns of a sharded entry: one run per row.
void write_columns(TempFile& out, uint64_t data_start, const Placed& p) {
  const Tensor& t = p.e->tensor;
  const int64_t rows = t.size(0), w = t.size(1);
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const unsigned char*>(t.raw_data());
  for (int64_t r = 0; r < rows; ++r)
    out.write_at(data_start + p.begin + static_cast<uint64_t>(r * p.shard->full + p.shard->begin) * es,
                 src + static_cast<size_t>(r * w) * es, static_cast<size_t>(w) * es);
}

}  // namespace

void set_write_failure_for_testing(int64_t bytes) { g_fail_after.store(bytes); }

void write_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata,
                       const ColumnShards& shards, const WriteGroup& group) {
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::vector<Placed> placed;
  uint64_t offset = 0;
  for (const NamedTensor& e : tensors) {
    if (e.name == "__metadata__") throw Error(fmt::format("{}: '__metadata__' cannot name a tensor", path));
    if (e.int64 && e.tensor.dtype() != DType::F64)
      throw Error(fmt::format("{}: tensor '{}' marked int64 must be float64, is {}", path, e.name, e.tensor.describe()));
    const char* dtype = e.int64 ? "I64" : e.tensor.dtype() == DType::F32 ? "F32" : "F64";
    const auto sh = shards.find(e.name);
    const ColumnShard* shard = sh == shards.end() ? nullptr : &sh->second;
    if (shard && (e.int64 || e.tensor.dim() != 2 || e.tensor.size(1) != shard->end - shard->begin))
      throw Error(fmt::format("{}: tensor '{}' {} is not columns [{}, {}) of a matrix", path, e.name,
                              e.tensor.describe(), shard->begin, shard->end));
    const Shape shape = shard ? Shape{e.tensor.size(0), shard->full} : e.tensor.shape();
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const uint64_t bytes = static_cast<uint64_t>(numel) * (e.int64 ? 8 : dtype_size(e.tensor.dtype()));
    header[e.name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    placed.push_back({&e, shard, offset});
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // data starts 8-byte aligned
  const uint64_t data_start = 8 + text.size();
  auto all_ok = [&](bool ok) { return group.all_ok ? group.all_ok(ok) : ok; };

  // The first process: the header, every whole entry, its own columns; the file at its full size.
  std::unique_ptr<TempFile> first;
  std::string error;
  if (group.first) {
    try {
      first = std::make_unique<TempFile>(path);
      unsigned char len_bytes[8];
      for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
      first->write(len_bytes, 8);
      first->write(text.data(), text.size());
      for (const Placed& p : placed) {
        const NamedTensor& e = *p.e;
        if (p.shard) {
          write_columns(*first, data_start, p);
        } else if (!e.int64) {
          first->write_at(data_start + p.begin, e.tensor.raw_data(),
                          static_cast<size_t>(e.tensor.numel()) * dtype_size(e.tensor.dtype()));
        } else {
          const double* v = e.tensor.data<double>();
          std::vector<int64_t> ints(static_cast<size_t>(e.tensor.numel()));
          for (size_t i = 0; i < ints.size(); ++i) {
            if (v[i] != std::trunc(v[i]) || std::abs(v[i]) > kExactInt)
              first->fail(fmt::format("tensor '{}' is marked int64 but holds {}", e.name, v[i]));
            ints[i] = static_cast<int64_t>(v[i]);
          }
          first->write_at(data_start + p.begin, ints.data(), ints.size() * 8);
        }
      }
      if (!shards.empty()) first->resize(data_start + offset);  // the other writers' columns may end the file
      if (group.all_ok) first->finish();  // the others open it next
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty())) throw Error(error.empty() ? fmt::format("{}: another process could not write its part", path) : error);
  // The other processes: their columns, into the file the first one made, at the places its header
  // gives. The header is the first process's: its metadata (and so its length) may differ from this
  // process's, so this process's own data_start is not used.
  if (!group.first) {
    try {
      TempFile join(path, /*joining=*/true);
      const SafetensorsIndex written = read_safetensors_index(path + ".tmp");
      for (Placed p : placed) {
        if (!p.shard) continue;
        const SafetensorsEntry* e = written.find(p.e->name);
        if (!e || e->shape != Shape{p.e->tensor.size(0), p.shard->full} ||
            e->end - e->begin != static_cast<uint64_t>(p.e->tensor.size(0) * p.shard->full) * dtype_size(p.e->tensor.dtype()))
          throw Error(fmt::format("{}: the first process wrote no ({}, {}) entry '{}' for this process's columns",
                                  path, p.e->tensor.size(0), p.shard->full, p.e->name));
        p.begin = e->begin;
        write_columns(join, written.data_start, p);
      }
      join.finish();
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty())) throw Error(error.empty() ? fmt::format("{}: another process could not write its part", path) : error);
  if (first) {
    try {
      first->commit();
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty())) throw Error(error.empty() ? fmt::format("{}: the first process could not rename it into place", path) : error);
}

void write_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  write_safetensors(path, tensors, metadata, {}, WriteGroup{});
}

void save_module(const std::string& path, const Module& module, const Metadata& metadata) {
  write_safetensors(path, module.state_dict(), metadata);
}

void load_module(const std::string& path, Module& module, const std::string& prefix) {
  SafetensorsFile file = read_safetensors(path);
  module.load_state_dict(prefix.empty() ? file.tensors : file.tensors.strip_prefix(prefix), path);
}

}  // namespace mtfn::nn
