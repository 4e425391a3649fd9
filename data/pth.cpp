// Reading PyTorch checkpoints (see pth.h): find and parse data.pkl, locate every storage it names
// (a zip entry, or a byte range of the legacy stream), check its real length, and copy tensor
// views out of it on demand.
#include "data/pth.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

namespace mtfn::data {

namespace {

// The first pickle of the legacy format, as torch.save writes it (protocol 2):
// LONG1 0x1950a86a20f9469cfc6c, STOP.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr int64_t kLegacyProtocolVersion = 1001;
constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;  // a state_dict's data.pkl is kilobytes
// A view with more elements than its storage repeats elements (stride 0, overlaps); materialised, a
// few bytes of pickle could ask for terabytes. Parameters are never such views: refuse big ones.
constexpr int64_t kMaxRepeatedElements = int64_t{1} << 24;

PthDType pth_dtype_of(NpKind k) {
  return k == NpKind::float32 ? PthDType::float32 : k == NpKind::float64 ? PthDType::float64 : PthDType::int64;
}
size_t itemsize_of(PthDType d) { return d == PthDType::float32 ? 4 : 8; }

bool starts_with(std::span<const std::byte> b, std::span<const unsigned char> prefix) {
  return b.size() >= prefix.size() && std::memcmp(b.data(), prefix.data(), prefix.size()) == 0;
}
bool is_zip(std::span<const std::byte> head) {
  static constexpr unsigned char local[] = {'P', 'K', 3, 4}, empty[] = {'P', 'K', 5, 6};
  return starts_with(head, local) || starts_with(head, empty);
}

void swap_bytes(std::byte* p, size_t n, size_t itemsize) {
  for (size_t i = 0; i + itemsize <= n; i += itemsize) std::reverse(p + i, p + i + itemsize);
}

}  // namespace

const char* pth_dtype_name(PthDType d) {
  return d == PthDType::float32 ? "float32" : d == PthDType::float64 ? "float64" : "int64";
}

bool PthEntry::contiguous() const {
  int64_t expect = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    if (shape[k] != 1 && stride[k] != expect) return false;
    expect *= shape[k];
  }
  return true;
}

// ---------------------------------------------------------------- the reader's state

struct PthReader::Impl {
  std::string name;    // the file, in messages
  std::string format;  // "zip" or "legacy"
  std::vector<std::byte> owned;  // the bytes of a reader made from memory
  void* map = nullptr;           // a legacy file, mapped
  size_t map_size = 0;
  std::span<const std::byte> legacy;  // the legacy stream (mapped or owned)
  zip_t* zip = nullptr;
  bool swap = false;  // storages stored big-endian
  PickleDocument doc;
  std::vector<PthEntry> entries;
  std::unordered_map<std::string, size_t> index;
  struct Where {
    std::string label;  // "archive/data/3" or "storage '94235'", for messages
    uint64_t zip_index = 0;
    bool stored = true;  // zip entry not compressed: seekable
    uint64_t offset = 0; // legacy: byte offset of the first element
    uint64_t bytes = 0;  // its length
  };
  std::vector<Where> where;  // per storage of doc

  ~Impl() {
    if (zip) zip_discard(zip);
    if (map) ::munmap(map, map_size);
  }

  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw PthError(fmt::format("{}: {}", name, fmt::format(f, std::forward<Args>(args)...)));
  }

  PickleDocument parse_pickle(std::span<const std::byte> bytes, const std::string& what, size_t* consumed) const {
    try {
      return load_torch_pickle(bytes, fmt::format("{}: {}", name, what), consumed);
    } catch (const PickleError& e) {
      throw PthError(e.what());
    }
  }

  void open(std::span<const std::byte> head) {
    if (is_zip(head)) {
      format = "zip";
      read_zip();
    } else if (starts_with(head, kLegacyMagic)) {
      format = "legacy";
      read_legacy();
    } else if (!head.empty() && head[0] == std::byte{0x80}) {
      fail("a pickle without torch's header: not a torch.save checkpoint (or saved with a pickle protocol other than 2)");
    } else {
      fail("not a PyTorch checkpoint (neither a zip archive nor torch's legacy format)");
    }
    collect_entries();
  }

  // ---- zip: <prefix>/data.pkl, <prefix>/data/<key>, optional <prefix>/byteorder
  std::vector<std::byte> read_zip_entry(uint64_t i, const std::string& label, uint64_t size) const {
    std::vector<std::byte> out(size);
    zip_file_t* f = zip_fopen_index(zip, i, 0);
    if (!f) fail("{}: cannot open: {}", label, zip_strerror(zip));
    zip_int64_t got = size ? zip_fread(f, out.data(), size) : 0;
    std::string err = got < 0 ? zip_file_strerror(f) : "";
    zip_fclose(f);
    if (got < 0) fail("{}: {}", label, err);
    if (static_cast<uint64_t>(got) != size) fail("{}: archive ends early ({} of {} bytes)", label, got, size);
    return out;
  }

  void read_zip() {
    int64_t n = zip_get_num_entries(zip, 0);
    if (n < 0) fail("cannot list the archive: {}", zip_strerror(zip));
    std::string pkl;
    int64_t pkl_index = -1;
    for (int64_t i = 0; i < n; ++i) {
      const char* nm = zip_get_name(zip, static_cast<uint64_t>(i), ZIP_FL_ENC_RAW);
      if (!nm) continue;
      std::string_view s(nm);
      size_t slash = s.find('/');
      if (slash == std::string_view::npos || s.substr(slash) != "/data.pkl") continue;
      if (pkl_index >= 0) fail("the archive holds two data.pkl ('{}' and '{}')", pkl, s);
      pkl = std::string(s);
      pkl_index = i;
    }
    if (pkl_index < 0) fail("the zip archive holds no <name>/data.pkl: not a torch.save checkpoint");
    const std::string prefix = pkl.substr(0, pkl.size() - std::string_view("data.pkl").size());

    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip, static_cast<uint64_t>(pkl_index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      fail("{}: cannot read its size: {}", pkl, zip_strerror(zip));
    if (st.size > kMaxPickleBytes) fail("{}: {} bytes is too large for a state_dict pickle", pkl, st.size);
    const std::vector<std::byte> bytes = read_zip_entry(static_cast<uint64_t>(pkl_index), pkl, st.size);

    zip_int64_t bo = zip_name_locate(zip, (prefix + "byteorder").c_str(), ZIP_FL_ENC_RAW);
    if (bo >= 0) {
      zip_stat_init(&st);
      if (zip_stat_index(zip, static_cast<uint64_t>(bo), 0, &st) != 0 || st.size > 16)
        fail("{}byteorder: not 'little' or 'big'", prefix);
      auto b = read_zip_entry(static_cast<uint64_t>(bo), prefix + "byteorder", st.size);
      std::string order(reinterpret_cast<const char*>(b.data()), b.size());
      if (order == "big") swap = true;
      else if (order != "little") fail("{}byteorder: '{}' (expected little or big)", prefix, order);
    }

    doc = parse_pickle(bytes, pkl, nullptr);
    for (const TorchStorageRef& s : doc.torch_storages()) {
      Where w;
      w.label = prefix + "data/" + s.key;
      zip_int64_t i = zip_name_locate(zip, w.label.c_str(), ZIP_FL_ENC_RAW);
      if (i < 0) fail("storage '{}' is missing from the archive", w.label);
      zip_stat_init(&st);
      if (zip_stat_index(zip, static_cast<uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        fail("storage '{}': cannot read its size: {}", w.label, zip_strerror(zip));
      const uint64_t want = static_cast<uint64_t>(s.numel) * s.dtype.itemsize;  // numel < 2^59
      if (st.size != want)
        fail("storage '{}' holds {} bytes, the pickle declares {} {} ({} bytes)", w.label, st.size, s.numel,
             s.dtype.name(), want);
      w.zip_index = static_cast<uint64_t>(i);
      w.bytes = want;
      w.stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
      where.push_back(std::move(w));
    }
  }

  // ---- legacy: magic, protocol version, sys_info, the object, the storage keys, then per key
  //      an int64 element count and the raw elements
  void read_legacy() {
    const std::span<const std::byte> all = legacy;
    size_t pos = sizeof(kLegacyMagic), used = 0;
    PickleDocument version = parse_pickle(all.subspan(pos), fmt::format("byte {}: protocol version", pos), &used);
    if (version.root().kind() != PyKind::integer || version.root().as_int() != kLegacyProtocolVersion)
      fail("legacy format: protocol version is not {}", kLegacyProtocolVersion);
    pos += used;
    PickleDocument info = parse_pickle(all.subspan(pos), fmt::format("byte {}: sys_info", pos), &used);
    PyRef sys = info.root();
    if (sys.kind() != PyKind::dict) fail("legacy format: sys_info is {}", sys.kind_name());
    if (sys.has("little_endian")) swap = sys.at("little_endian").kind() == PyKind::boolean && sys.at("little_endian").as_int() == 0;
    pos += used;
    doc = parse_pickle(all.subspan(pos), fmt::format("byte {}: data", pos), &used);
    pos += used;
    PickleDocument keys = parse_pickle(all.subspan(pos), fmt::format("byte {}: storage keys", pos), &used);
    pos += used;
    PyRef list = keys.root();
    if (list.kind() != PyKind::list) fail("legacy format: the storage keys are {} (expected a list)", list.kind_name());

    std::unordered_map<std::string, uint32_t> by_key;
    const auto& storages = doc.torch_storages();
    for (uint32_t i = 0; i < storages.size(); ++i) by_key.emplace(storages[i].key, i);
    where.assign(storages.size(), Where{});
    std::vector<bool> seen(storages.size(), false);
    for (size_t k = 0; k < list.size(); ++k) {
      PyRef key = list.item(k);
      if (key.kind() != PyKind::str) fail("legacy format: storage key {} is {}", k, key.kind_name());
      auto it = by_key.find(std::string(key.as_str()));
      if (it == by_key.end()) fail("legacy format: storage '{}' is listed but no tensor uses it", key.as_str());
      if (seen[it->second]) fail("legacy format: storage '{}' is listed twice", key.as_str());
      seen[it->second] = true;
      const TorchStorageRef& s = storages[it->second];
      if (all.size() - pos < 8) fail("truncated: storage '{}' at byte {}: its length is missing", s.key, pos);
      uint64_t count;
      std::memcpy(&count, all.data() + pos, 8);
      if (swap) count = __builtin_bswap64(count);
      if (count != static_cast<uint64_t>(s.numel))
        fail("storage '{}' at byte {} holds {} elements, the pickle declares {}", s.key, pos, count, s.numel);
      const uint64_t bytes = count * s.dtype.itemsize;  // numel < 2^59
      if (all.size() - pos - 8 < bytes)
        fail("truncated: storage '{}' at byte {} needs {} bytes, {} left", s.key, pos, bytes, all.size() - pos - 8);
      where[it->second].label = fmt::format("storage '{}'", s.key);
      where[it->second].offset = pos + 8;
      pos += 8 + bytes;
    }
    for (uint32_t i = 0; i < storages.size(); ++i)
      if (!seen[i]) fail("storage '{}' is missing from the file", storages[i].key);
  }

  // ---- the state_dict: a dict of name -> tensor (or a dict holding one under "state_dict")
  void collect_entries() {
    PyRef root = doc.root();
    if (root.kind() == PyKind::dict && root.has("state_dict") && root.at("state_dict").kind() == PyKind::dict)
      root = root.at("state_dict");
    if (root.kind() != PyKind::dict)
      fail("the checkpoint holds {} (expected a state_dict: a dict of tensors)", a_kind_name(root.kind()));
    for (size_t i = 0; i < root.size(); ++i) {
      PyRef k = root.dict_key(i), v = root.dict_value(i);
      if (k.kind() != PyKind::str) fail("state_dict key {} is {} (expected a str)", i, a_kind_name(k.kind()));
      if (v.kind() != PyKind::torch_tensor)
        fail("state_dict entry '{}' is {} (expected a tensor)", k.as_str(), a_kind_name(v.kind()));
      const TorchTensorRef& t = v.torch_tensor();
      const TorchStorageRef& s = doc.torch_storages()[t.storage];
      if (t.count() > s.numel && t.count() > kMaxRepeatedElements)
        fail("'{}': a view of size {} repeats the {} elements of storage '{}' (such views may have at most 2^24 elements)",
             k.as_str(), t.shape_string(), s.numel, s.key);
      PthEntry e;
      e.name = std::string(k.as_str());
      e.dtype = pth_dtype_of(doc.torch_storages()[t.storage].dtype.kind);
      e.shape = t.shape;
      e.stride = t.stride;
      e.offset = t.offset;
      e.storage = t.storage;
      auto [it, fresh] = index.emplace(e.name, entries.size());
      if (fresh) entries.push_back(std::move(e));
      else entries[it->second] = std::move(e);  // as a Python dict: the last value wins
    }
  }

  // ---- reading bytes of a storage, from element `first` on, sequentially
  class StorageStream {
   public:
    StorageStream(const Impl& r, uint32_t storage, uint64_t first_byte)
        : r_(r), w_(r.where[storage]), from_start_(first_byte == 0) {
      if (r.zip) {
        f_ = zip_fopen_index(r.zip, w_.zip_index, 0);
        if (!f_) r.fail("{}: cannot open: {}", w_.label, zip_strerror(r.zip));
        if (first_byte == 0) return;
        if (w_.stored) {
          if (zip_fseek(f_, static_cast<zip_int64_t>(first_byte), SEEK_SET) != 0)
            r.fail("{}: cannot seek: {}", w_.label, zip_file_strerror(f_));
        } else {
          std::vector<std::byte> skip(std::min<uint64_t>(first_byte, 1 << 20));
          for (uint64_t left = first_byte; left > 0;) {
            uint64_t n = std::min<uint64_t>(left, skip.size());
            read(skip.data(), n);
            left -= n;
          }
        }
      } else {
        pos_ = w_.offset + first_byte;
      }
    }
    ~StorageStream() {
      if (f_) zip_fclose(f_);
    }
    StorageStream(const StorageStream&) = delete;
    StorageStream& operator=(const StorageStream&) = delete;

    void read(std::byte* dst, uint64_t n) {
      if (!f_) {  // lengths were checked against the stream when the file was opened
        std::memcpy(dst, r_.legacy.data() + pos_, n);
        pos_ += n;
        return;
      }
      for (uint64_t done = 0; done < n;) {
        zip_int64_t got = zip_fread(f_, dst + done, std::min<uint64_t>(n - done, uint64_t{1} << 30));
        if (got < 0) r_.fail("{}: {}", w_.label, zip_file_strerror(f_));
        if (got == 0) r_.fail("{}: archive ends early", w_.label);
        done += static_cast<uint64_t>(got);
      }
      read_ += n;
      if (from_start_ && read_ == w_.bytes) {
        // The whole entry is read: one more read meets its end, where libzip compares the CRC-32.
        std::byte extra;
        zip_int64_t got = zip_fread(f_, &extra, 1);
        if (got < 0) r_.fail("{}: {} (the file is damaged)", w_.label, zip_file_strerror(f_));
        if (got > 0) r_.fail("{}: longer than its declared size", w_.label);
      }
    }

   private:
    const Impl& r_;
    const Where& w_;
    zip_file_t* f_ = nullptr;
    uint64_t pos_ = 0;   // legacy: the next byte
    bool from_start_;    // zip: reading from the entry's first byte (then its CRC is checked)
    uint64_t read_ = 0;  // zip: bytes read so far
  };
};

bool is_pth_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::byte head[sizeof(kLegacyMagic)] = {};
  ssize_t got = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  const std::span<const std::byte> h(head, got > 0 ? static_cast<size_t>(got) : 0);
  return is_zip(h) || starts_with(h, kLegacyMagic);
}

PthReader::PthReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.name = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) r.fail("cannot open: {}", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    r.fail("not a regular file");
  }
  std::byte head[sizeof(kLegacyMagic)] = {};
  ssize_t got = ::pread(fd, head, sizeof head, 0);
  const std::span<const std::byte> h(head, got > 0 ? static_cast<size_t>(got) : 0);
  if (is_zip(h)) {
    ::close(fd);
    int err = 0;
    r.zip = zip_open(r.name.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!r.zip) {
      zip_error_t ze;
      zip_error_init_with_code(&ze, err);
      std::string msg = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      r.fail("not a readable zip archive (truncated or damaged?): {}", msg);
    }
  } else if (starts_with(h, kLegacyMagic)) {
    r.map_size = static_cast<size_t>(st.st_size);
    r.map = ::mmap(nullptr, r.map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (r.map == MAP_FAILED) {
      r.map = nullptr;
      r.fail("cannot map the file: {}", std::strerror(errno));
    }
    r.legacy = {static_cast<const std::byte*>(r.map), r.map_size};
  } else {
    ::close(fd);
  }
  r.open(h);
}

PthReader::PthReader(std::span<const std::byte> bytes, std::string name) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.name = std::move(name);
  r.owned.assign(bytes.begin(), bytes.end());
  if (is_zip(bytes)) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t* src = zip_source_buffer_create(r.owned.data(), r.owned.size(), 0, &ze);
    if (src) {
      r.zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
      if (!r.zip) zip_source_free(src);
    }
    if (!r.zip) {
      std::string msg = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      r.fail("not a readable zip archive (truncated or damaged?): {}", msg);
    }
    zip_error_fini(&ze);
  } else {
    r.legacy = r.owned;
  }
  r.open(bytes.subspan(0, std::min(bytes.size(), sizeof(kLegacyMagic))));
}

PthReader::~PthReader() = default;
PthReader::PthReader(PthReader&&) noexcept = default;
PthReader& PthReader::operator=(PthReader&&) noexcept = default;

const std::string& PthReader::source_name() const { return impl_->name; }
std::string_view PthReader::format() const { return impl_->format; }
const std::vector<PthEntry>& PthReader::entries() const { return impl_->entries; }

const PthEntry* PthReader::find(std::string_view name) const {
  auto it = impl_->index.find(std::string(name));
  return it == impl_->index.end() ? nullptr : &impl_->entries[it->second];
}

Tensor PthReader::read(const PthEntry& e) const {
  Tensor t = Tensor::empty(e.shape, e.dtype == PthDType::float32 ? DType::F32 : DType::F64);
  read_into(e, t);
  return t;
}

namespace {

// Storage elements (little-endian after any swap) to Out, n of them. int64 must be exact in float64.
template <class Out>
void convert(const std::byte* src, PthDType from, int64_t n, Out* out, const std::string& file, const PthEntry& e) {
  switch (from) {
    case PthDType::float32:
      for (int64_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, src + 4 * i, 4);
        out[i] = static_cast<Out>(v);
      }
      return;
    case PthDType::float64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + 8 * i, 8);
        out[i] = static_cast<Out>(v);
      }
      return;
    case PthDType::int64:
      for (int64_t i = 0; i < n; ++i) {
        int64_t v;
        std::memcpy(&v, src + 8 * i, 8);
        constexpr int64_t kExact = int64_t{1} << 53;
        if (v > kExact || v < -kExact)
          throw PthError(fmt::format("{}: '{}': int64 value {} is not exact in float64", file, e.name, v));
        out[i] = static_cast<Out>(v);
      }
      return;
  }
}

}  // namespace

void PthReader::read_into(const PthEntry& e, Tensor& dst) const {
  const Impl& r = *impl_;
  if (!dst.defined() || dst.shape() != e.shape)
    r.fail("'{}' has shape {} in the file, {} in the destination", e.name, shape_str(e.shape),
           dst.defined() ? shape_str(dst.shape()) : "undefined");
  const int64_t n = e.numel();
  if (n == 0) return;
  const size_t item = itemsize_of(e.dtype);
  Impl::StorageStream in(r, e.storage, static_cast<uint64_t>(e.offset) * item);
  MTFN_DISPATCH(dst.dtype(), {
    scalar_t* out = dst.data<scalar_t>();
    const bool same = (e.dtype == PthDType::float32) == std::is_same_v<scalar_t, float> && e.dtype != PthDType::int64;
    if (e.contiguous() && same && !r.swap) {
      in.read(reinterpret_cast<std::byte*>(out), static_cast<uint64_t>(n) * item);  // straight into place
    } else if (e.contiguous()) {
      constexpr int64_t kChunk = 1 << 16;
      std::vector<std::byte> buf(static_cast<size_t>(std::min(n, kChunk)) * item);
      for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t m = std::min(kChunk, n - start);
        in.read(buf.data(), static_cast<uint64_t>(m) * item);
        if (r.swap) swap_bytes(buf.data(), static_cast<size_t>(m) * item, item);
        convert(buf.data(), e.dtype, m, out + start, r.name, e);
      }
    } else {
      // A strided view: read the storage range it spans, then walk it in row-major order.
      int64_t span = 1;  // elements from the first to the last reached, inclusive
      for (size_t k = 0; k < e.shape.size(); ++k) span += (e.shape[k] - 1) * e.stride[k];
      std::vector<std::byte> buf(static_cast<size_t>(span) * item);
      in.read(buf.data(), buf.size());
      if (r.swap) swap_bytes(buf.data(), buf.size(), item);
      const size_t nd = e.shape.size();
      std::vector<int64_t> idx(nd, 0);
      int64_t pos = 0;
      for (int64_t i = 0; i < n; ++i) {
        convert(buf.data() + pos * static_cast<int64_t>(item), e.dtype, 1, out + i, r.name, e);
        for (size_t k = nd; k-- > 0;) {  // the odometer: last dimension fastest
          pos += e.stride[k];
          if (++idx[k] < e.shape[k]) break;
          pos -= e.stride[k] * e.shape[k];
          idx[k] = 0;
        }
      }
    }
  });
}

}  // namespace mtfn::data
