// The pickle machine behind load_pickle and load_torch_pickle: a byte source (file or memory), the
// opcode loop, and the few numpy / _codecs (feature files) or torch (checkpoints) globals it knows
// how to build. Nothing here calls out to Python or runs code. Every length is checked against the
// bytes left before anything is allocated.
#include "data/pickle.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

static_assert(std::endian::native == std::endian::little, "the reader assumes a little-endian host");

namespace mtfn::data {

// ---------------------------------------------------------------- buffers, dtypes, arrays

ByteBuffer::ByteBuffer(size_t size) : size_(size) {
  // Big buffers: 2 MB aligned and backed by transparent huge pages where the kernel allows,
  // which makes filling them from the file several times cheaper (fewer page faults).
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = size >= 2 * kHuge ? kHuge : 64;
  size_t rounded = (size + align - 1) / align * align;
  if (rounded == 0) rounded = align;
  data_ = static_cast<std::byte*>(std::aligned_alloc(align, rounded));
  if (!data_) throw std::bad_alloc();
  if (align == kHuge) ::madvise(data_, rounded, MADV_HUGEPAGE);
}
ByteBuffer::~ByteBuffer() { std::free(data_); }

std::string NpDType::name() const {
  std::string order = big_endian ? ">" : "";
  switch (kind) {
    case NpKind::float32: return order + "float32";
    case NpKind::float64: return order + "float64";
    case NpKind::int32: return order + "int32";
    case NpKind::int64: return order + "int64";
    case NpKind::uint8: return "uint8";
    case NpKind::boolean: return "bool";
    case NpKind::unicode: return fmt::format("{}U{}", big_endian ? '>' : '<', itemsize / 4);
    case NpKind::object: return "object";
  }
  return "?";
}

int64_t NdArray::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow when the array was built
  return n;
}

namespace {
std::string tuple_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}
}  // namespace

std::string NdArray::shape_string() const { return tuple_string(shape); }

int64_t TorchTensorRef::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow when the tensor was built
  return n;
}

std::string TorchTensorRef::shape_string() const { return tuple_string(shape); }

namespace {

// Offset in the stored bytes of the element at C-order index c_index.
int64_t storage_index(const NdArray& a, int64_t c_index) {
  if (!a.fortran_order || a.shape.size() < 2) return c_index;
  // unravel in C order, ravel in Fortran order
  int64_t f_index = 0, stride = 1, rest = c_index;
  std::vector<int64_t> idx(a.shape.size());
  for (size_t k = a.shape.size(); k-- > 0;) {
    idx[k] = rest % a.shape[k];
    rest /= a.shape[k];
  }
  for (size_t k = 0; k < a.shape.size(); ++k) {
    f_index += idx[k] * stride;
    stride *= a.shape[k];
  }
  return f_index;
}

template <class T>
T load_scalar(const std::byte* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap && sizeof(T) > 1) {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    std::reverse(b, b + sizeof(T));
  }
  return v;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

double NdArray::element_as_double(int64_t c_index) const {
  const std::byte* p = bytes->data() + storage_index(*this, c_index) * dtype.itemsize;
  bool swap = dtype.big_endian;
  switch (dtype.kind) {
    case NpKind::float32: return load_scalar<float>(p, swap);
    case NpKind::float64: return load_scalar<double>(p, swap);
    case NpKind::int32: return load_scalar<int32_t>(p, swap);
    case NpKind::int64: return static_cast<double>(load_scalar<int64_t>(p, swap));
    case NpKind::uint8: return load_scalar<uint8_t>(p, false);
    case NpKind::boolean: return load_scalar<uint8_t>(p, false) ? 1.0 : 0.0;
    default: throw PickleError("element_as_double on a non-numeric array");
  }
}

std::string NdArray::element_as_string(int64_t c_index) const {
  int64_t s = storage_index(*this, c_index);
  if (dtype.kind == NpKind::object) return objects[s];
  if (dtype.kind != NpKind::unicode) throw PickleError("element_as_string on a non-string array");
  std::string out;
  const std::byte* p = bytes->data() + s * dtype.itemsize;
  for (int64_t k = 0; k < dtype.itemsize / 4; ++k) {
    uint32_t cp = load_scalar<uint32_t>(p + 4 * k, dtype.big_endian);
    if (cp == 0) break;  // numpy strips trailing NULs
    if (cp > 0x10FFFF) cp = 0xFFFD;
    append_utf8(out, cp);
  }
  return out;
}

std::string_view a_kind_name(PyKind kind) {
  switch (kind) {
    case PyKind::none: return "None";
    case PyKind::boolean: return "a bool";
    case PyKind::integer: return "an int";
    case PyKind::floating: return "a float";
    case PyKind::str: return "a str";
    case PyKind::bytes: return "a bytes";
    case PyKind::list: return "a list";
    case PyKind::tuple: return "a tuple";
    case PyKind::dict: return "a dict";
    case PyKind::global: return "a global";
    case PyKind::dtype: return "a numpy.dtype";
    case PyKind::ndarray: return "a numpy.ndarray";
    case PyKind::torch_storage: return "a torch storage";
    case PyKind::torch_tensor: return "a torch.Tensor";
  }
  return "?";
}

std::string_view kind_name(PyKind kind) {
  switch (kind) {
    case PyKind::none: return "None";
    case PyKind::boolean: return "bool";
    case PyKind::integer: return "int";
    case PyKind::floating: return "float";
    case PyKind::str: return "str";
    case PyKind::bytes: return "bytes";
    case PyKind::list: return "list";
    case PyKind::tuple: return "tuple";
    case PyKind::dict: return "dict";
    case PyKind::global: return "global";
    case PyKind::dtype: return "numpy.dtype";
    case PyKind::ndarray: return "numpy.ndarray";
    case PyKind::torch_storage: return "torch storage";
    case PyKind::torch_tensor: return "torch.Tensor";
  }
  return "?";
}

// ---------------------------------------------------------------- PyRef

PyKind PyRef::kind() const { return doc_->nodes_[id_].kind; }

int64_t PyRef::as_int() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::integer && n.kind != PyKind::boolean)
    throw PickleError(fmt::format("expected an int, got {}", kind_name()));
  return n.i;
}

double PyRef::as_double() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind == PyKind::floating) return n.f;
  if (n.kind == PyKind::integer || n.kind == PyKind::boolean) return static_cast<double>(n.i);
  throw PickleError(fmt::format("expected a number, got {}", kind_name()));
}

std::string_view PyRef::as_str() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::str) throw PickleError(fmt::format("expected a str, got {}", kind_name()));
  return doc_->strings_[n.side];
}

std::span<const std::byte> PyRef::as_bytes() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::bytes) throw PickleError(fmt::format("expected bytes, got {}", kind_name()));
  const auto& b = doc_->buffers_[n.side];
  return {b->data(), b->size()};
}

size_t PyRef::size() const {
  const auto& n = doc_->nodes_[id_];
  switch (n.kind) {
    case PyKind::list:
    case PyKind::tuple: return doc_->items_[n.side].size();
    case PyKind::dict: return doc_->items_[n.side].size() / 2;
    default: throw PickleError(fmt::format("expected a container, got {}", kind_name()));
  }
}

PyRef PyRef::item(size_t i) const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::list && n.kind != PyKind::tuple)
    throw PickleError(fmt::format("expected a list or tuple, got {}", kind_name()));
  return PyRef(doc_, doc_->items_[n.side].at(i));
}

PyRef PyRef::dict_key(size_t i) const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::dict) throw PickleError(fmt::format("expected a dict, got {}", kind_name()));
  return PyRef(doc_, doc_->items_[n.side].at(2 * i));
}

PyRef PyRef::dict_value(size_t i) const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::dict) throw PickleError(fmt::format("expected a dict, got {}", kind_name()));
  return PyRef(doc_, doc_->items_[n.side].at(2 * i + 1));
}

bool PyRef::has(std::string_view key) const {
  if (kind() != PyKind::dict) return false;
  for (size_t i = 0; i < size(); ++i) {
    PyRef k = dict_key(i);
    if (k.kind() == PyKind::str && k.as_str() == key) return true;
  }
  return false;
}

PyRef PyRef::at(std::string_view key) const {
  if (kind() != PyKind::dict) throw PickleError(fmt::format("expected a dict, got {}", kind_name()));
  // the last value wins, as when Python builds a dict
  for (size_t i = size(); i-- > 0;) {
    PyRef k = dict_key(i);
    if (k.kind() == PyKind::str && k.as_str() == key) return dict_value(i);
  }
  throw PickleError(fmt::format("missing key '{}'", key));
}

const NdArray& PyRef::array() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::ndarray) throw PickleError(fmt::format("expected a numpy array, got {}", kind_name()));
  return doc_->arrays_[n.side];
}

const NpDType& PyRef::dtype() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::dtype) throw PickleError(fmt::format("expected a numpy dtype, got {}", kind_name()));
  return doc_->dtypes_[n.side];
}

const TorchStorageRef& PyRef::torch_storage() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::torch_storage) throw PickleError(fmt::format("expected a torch storage, got {}", kind_name()));
  return doc_->storages_[n.side];
}

const TorchTensorRef& PyRef::torch_tensor() const {
  const auto& n = doc_->nodes_[id_];
  if (n.kind != PyKind::torch_tensor) throw PickleError(fmt::format("expected a torch.Tensor, got {}", kind_name()));
  return doc_->tensors_[n.side];
}

// ---------------------------------------------------------------- the byte source

namespace {

// Sequential bytes from memory or from a file descriptor (buffered; big reads go straight to the
// destination). Callers check remaining() before every read.
class ByteSource {
 public:
  ByteSource(std::span<const std::byte> mem) : mem_(mem.data()), size_(mem.size()) {}
  ByteSource(int fd, uint64_t size) : fd_(fd), size_(size), buf_(kBuffer) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  // A view of the next n bytes (n <= the buffer size), valid until the next call.
  const std::byte* take(size_t n) {
    const std::byte* p;
    if (mem_) {
      p = mem_ + pos_;
    } else {
      fill(n);
      p = buf_.data() + head_;
      head_ += n;
    }
    pos_ += n;
    return p;
  }

  void read_into(std::byte* dst, size_t n) {
    if (mem_) {
      std::memcpy(dst, mem_ + pos_, n);
      pos_ += n;
      return;
    }
    size_t from_buf = std::min(n, tail_ - head_);
    std::memcpy(dst, buf_.data() + head_, from_buf);
    head_ += from_buf;
    pos_ += from_buf;
    size_t done = from_buf;
    while (done < n) {
      ssize_t got = ::read(fd_, dst + done, std::min<size_t>(n - done, size_t{1} << 30));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw PickleError(fmt::format("byte {}: read failed: {}", pos_, got < 0 ? std::strerror(errno) : "file shrank while reading"));
      done += got;
      pos_ += got;
    }
  }


 private:
  static constexpr size_t kBuffer = 1 << 20;
  void fill(size_t n) {
    if (tail_ - head_ >= n) return;
    std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
    while (tail_ < n) {
      ssize_t got = ::read(fd_, buf_.data() + tail_, buf_.size() - tail_);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw PickleError(fmt::format("byte {}: read failed: {}", pos_, got < 0 ? std::strerror(errno) : "file shrank while reading"));
      tail_ += got;
    }
  }
  const std::byte* mem_ = nullptr;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  std::vector<std::byte> buf_;
  size_t head_ = 0, tail_ = 0;
};

enum class Global : int64_t {
  reconstruct, ndarray_type, dtype_type, frombuffer, scalar, codecs_encode, ordered_dict,  // feature files
  rebuild_tensor, float_storage, double_storage, long_storage                              // torch checkpoints
};

struct KnownGlobal {
  std::string_view module, name;
  Global what;
};
constexpr KnownGlobal kKnownGlobals[] = {
    {"numpy.core.multiarray", "_reconstruct", Global::reconstruct},
    {"numpy._core.multiarray", "_reconstruct", Global::reconstruct},
    {"numpy", "ndarray", Global::ndarray_type},
    {"numpy", "dtype", Global::dtype_type},
    {"numpy.core.numeric", "_frombuffer", Global::frombuffer},
    {"numpy._core.numeric", "_frombuffer", Global::frombuffer},
    {"numpy.core.multiarray", "scalar", Global::scalar},
    {"numpy._core.multiarray", "scalar", Global::scalar},
    {"_codecs", "encode", Global::codecs_encode},
    {"collections", "OrderedDict", Global::ordered_dict},
};
// What a `torch.save(model.state_dict())` pickle needs, and nothing else.
constexpr KnownGlobal kTorchGlobals[] = {
    {"collections", "OrderedDict", Global::ordered_dict},
    {"torch._utils", "_rebuild_tensor_v2", Global::rebuild_tensor},
    {"torch", "FloatStorage", Global::float_storage},
    {"torch", "DoubleStorage", Global::double_storage},
    {"torch", "LongStorage", Global::long_storage},
};

const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK"; case '.': return "STOP"; case '0': return "POP"; case '1': return "POP_MARK";
    case '2': return "DUP"; case 'F': return "FLOAT"; case 'I': return "INT"; case 'J': return "BININT";
    case 'K': return "BININT1"; case 'L': return "LONG"; case 'M': return "BININT2"; case 'N': return "NONE";
    case 'P': return "PERSID"; case 'Q': return "BINPERSID"; case 'R': return "REDUCE"; case 'S': return "STRING";
    case 'T': return "BINSTRING"; case 'U': return "SHORT_BINSTRING"; case 'V': return "UNICODE";
    case 'X': return "BINUNICODE"; case 'a': return "APPEND"; case 'b': return "BUILD"; case 'c': return "GLOBAL";
    case 'd': return "DICT"; case '}': return "EMPTY_DICT"; case 'e': return "APPENDS"; case 'g': return "GET";
    case 'h': return "BINGET"; case 'i': return "INST"; case 'j': return "LONG_BINGET"; case 'l': return "LIST";
    case ']': return "EMPTY_LIST"; case 'o': return "OBJ"; case 'p': return "PUT"; case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT"; case 's': return "SETITEM"; case 't': return "TUPLE"; case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS"; case 'G': return "BINFLOAT"; case 0x80: return "PROTO"; case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1"; case 0x83: return "EXT2"; case 0x84: return "EXT4"; case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2"; case 0x87: return "TUPLE3"; case 0x88: return "NEWTRUE"; case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1"; case 0x8b: return "LONG4"; case 'B': return "BINBYTES"; case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE"; case 0x8d: return "BINUNICODE8"; case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET"; case 0x90: return "ADDITEMS"; case 0x91: return "FROZENSET"; case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL"; case 0x94: return "MEMOIZE"; case 0x95: return "FRAME"; case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER"; case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

}  // namespace

// ---------------------------------------------------------------- the machine

class PickleMachine {
 public:
  PickleMachine(ByteSource& in, std::string_view name, const PickleLimits& limits, bool torch = false)
      : in_(in), limits_(limits), torch_(torch) {
    doc_.name_ = std::string(name);
  }

  PickleDocument run() {
    if (in_.remaining() < 2) fail("not a pickle: {} bytes", in_.remaining());
    op_offset_ = 0;
    uint8_t first = static_cast<uint8_t>(*in_.take(1));
    uint8_t version = static_cast<uint8_t>(*in_.take(1));
    if (first != 0x80 || version < 2 || version > 5)
      fail("not a pickle of protocol 2-5 (starts with 0x{:02x} 0x{:02x})", first, version);
    for (;;) {
      op_offset_ = in_.offset();
      if (in_.remaining() == 0) fail("truncated: the pickle ends without STOP");
      uint8_t op = static_cast<uint8_t>(*in_.take(1));
      if (op == '.') break;
      step(op);
    }
    if (stack_.empty()) fail("STOP with an empty stack");
    doc_.root_ = stack_.back();
    return std::move(doc_);
  }

 private:
  using Node = PickleDocument::Node;

  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
    throw PickleError(fmt::format("{}: byte {}: {}", doc_.name_, op_offset_, fmt::format(f, std::forward<Args>(args)...)));
  }

  // ---- reading operands
  void need(uint64_t n, const char* what) {
    if (n > in_.remaining()) fail("truncated: {} needs {} bytes, {} left", what, n, in_.remaining());
  }
  template <class T>
  T read_le(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, in_.take(sizeof(T)), sizeof(T));
    return v;
  }
  std::string read_string(uint64_t n, const char* what) {
    need(n, what);
    std::string s(n, '\0');
    in_.read_into(reinterpret_cast<std::byte*>(s.data()), n);
    return s;
  }
  std::string read_line(const char* what) {
    std::string s;
    for (;;) {
      need(1, what);
      char c = static_cast<char>(*in_.take(1));
      if (c == '\n') return s;
      if (s.size() > 256) fail("{}: line longer than 256 bytes", what);
      s += c;
    }
  }

  // ---- values
  uint32_t new_node(PyKind kind) {
    if (doc_.nodes_.size() >= limits_.max_values) fail("more than {} values", limits_.max_values);
    Node n{};
    n.kind = kind;
    n.i = 0;
    doc_.nodes_.push_back(n);
    return static_cast<uint32_t>(doc_.nodes_.size() - 1);
  }
  uint32_t new_int(int64_t v, PyKind kind = PyKind::integer) {
    uint32_t id = new_node(kind);
    doc_.nodes_[id].i = v;
    return id;
  }
  uint32_t new_float(double v) {
    uint32_t id = new_node(PyKind::floating);
    doc_.nodes_[id].f = v;
    return id;
  }
  uint32_t new_str(std::string s) {
    uint32_t id = new_node(PyKind::str);
    doc_.nodes_[id].side = static_cast<uint32_t>(doc_.strings_.size());
    doc_.strings_.push_back(std::move(s));
    return id;
  }
  uint32_t new_bytes(std::shared_ptr<ByteBuffer> b) {
    uint32_t id = new_node(PyKind::bytes);
    doc_.nodes_[id].side = static_cast<uint32_t>(doc_.buffers_.size());
    doc_.buffers_.push_back(std::move(b));
    return id;
  }
  uint32_t new_container(PyKind kind, std::vector<uint32_t> items = {}) {
    uint32_t depth = 0;
    for (uint32_t c : items) depth = std::max(depth, doc_.nodes_[c].depth + 1);
    if (depth > limits_.max_depth) fail("nesting deeper than {} levels", limits_.max_depth);
    uint32_t id = new_node(kind);
    doc_.nodes_[id].side = static_cast<uint32_t>(doc_.items_.size());
    doc_.nodes_[id].depth = depth;
    doc_.items_.push_back(std::move(items));
    return id;
  }
  uint32_t new_array(NdArray a) {
    uint32_t id = new_node(PyKind::ndarray);
    doc_.nodes_[id].side = static_cast<uint32_t>(doc_.arrays_.size());
    doc_.arrays_.push_back(std::move(a));
    return id;
  }
  uint32_t new_dtype(NpDType d) {
    uint32_t id = new_node(PyKind::dtype);
    doc_.nodes_[id].side = static_cast<uint32_t>(doc_.dtypes_.size());
    doc_.dtypes_.push_back(d);
    return id;
  }
  Node& node(uint32_t id) { return doc_.nodes_[id]; }
  PyKind kind(uint32_t id) const { return doc_.nodes_[id].kind; }
  std::string_view kname(uint32_t id) const { return a_kind_name(kind(id)); }
  std::vector<uint32_t>& items(uint32_t id) { return doc_.items_[doc_.nodes_[id].side]; }
  const std::string& str(uint32_t id) { return doc_.strings_[doc_.nodes_[id].side]; }

  void add_child(uint32_t container, uint32_t child) {
    uint32_t d = node(child).depth + 1;
    if (d > limits_.max_depth) fail("nesting deeper than {} levels", limits_.max_depth);
    node(container).depth = std::max(node(container).depth, d);
  }

  // ---- stack
  void push(uint32_t id) {
    if (stack_.size() >= limits_.max_stack) fail("stack deeper than {} values", limits_.max_stack);
    stack_.push_back(id);
  }
  uint32_t pop(const char* op) {
    if (stack_.size() <= floor()) fail("{} on an empty stack", op);
    uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top(const char* op) {
    if (stack_.size() <= floor()) fail("{} on an empty stack", op);
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<uint32_t> pop_mark(const char* op) {
    if (marks_.empty()) fail("{} without a MARK", op);
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }

  // ---- memo
  void memo_put(uint64_t key, const char* op) {
    uint32_t v = top(op);
    memo_[key] = v;
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key {} was never stored", key);
    push(it->second);
  }

  // ---- containers
  void append_to(uint32_t list, std::span<const uint32_t> values, const char* op) {
    if (kind(list) != PyKind::list) fail("{} applied to {} (expected a list)", op, kname(list));
    for (uint32_t v : values) add_child(list, v);
    auto& it = items(list);
    it.insert(it.end(), values.begin(), values.end());
  }
  void set_items(uint32_t dict, std::span<const uint32_t> kv, const char* op) {
    if (kind(dict) != PyKind::dict) fail("{} applied to {} (expected a dict)", op, kname(dict));
    if (kv.size() % 2) fail("{} with an odd number of values ({})", op, kv.size());
    for (size_t i = 0; i < kv.size(); i += 2) {
      PyKind k = kind(kv[i]);
      if (k != PyKind::str && k != PyKind::integer && k != PyKind::floating && k != PyKind::boolean &&
          k != PyKind::none && k != PyKind::bytes && k != PyKind::tuple)
        fail("{}: {} cannot be a dict key", op, a_kind_name(k));
      add_child(dict, kv[i]);
      add_child(dict, kv[i + 1]);
    }
    auto& it = items(dict);
    it.insert(it.end(), kv.begin(), kv.end());
  }

  // ---- the opcodes
  void step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO inside the stream: allowed by Python, harmless
        uint8_t v = read_le<uint8_t>("PROTO");
        if (v > 5) fail("unsupported protocol {}", v);
        return;
      }
      case 0x95: {  // FRAME: we read sequentially, so a frame is only a length to check
        uint64_t n = read_le<uint64_t>("FRAME");
        if (n > in_.remaining()) fail("truncated: FRAME of {} bytes, {} left", n, in_.remaining());
        return;
      }
      case '(':
        if (marks_.size() >= limits_.max_depth) fail("more than {} nested MARKs", limits_.max_depth);
        marks_.push_back(stack_.size());
        return;
      case '0': pop("POP"); return;
      case '1': pop_mark("POP_MARK"); return;
      case '2': push(top("DUP")); return;
      case 'N': push(new_node(PyKind::none)); return;
      case 0x88: push(new_int(1, PyKind::boolean)); return;
      case 0x89: push(new_int(0, PyKind::boolean)); return;
      case 'J': push(new_int(read_le<int32_t>("BININT"))); return;
      case 'K': push(new_int(read_le<uint8_t>("BININT1"))); return;
      case 'M': push(new_int(read_le<uint16_t>("BININT2"))); return;
      case 0x8a: { push(new_int(read_long(read_le<uint8_t>("LONG1"), "LONG1"))); return; }
      case 0x8b: {
        int32_t n = read_le<int32_t>("LONG4");
        if (n < 0) fail("LONG4 with negative length {}", n);
        push(new_int(read_long(static_cast<uint64_t>(n), "LONG4")));
        return;
      }
      case 'G': {
        uint64_t bits = read_le<uint64_t>("BINFLOAT");
        push(new_float(std::bit_cast<double>(__builtin_bswap64(bits))));  // stored big-endian
        return;
      }
      case 'X': push(new_str(read_utf8(read_le<uint32_t>("BINUNICODE"), "BINUNICODE"))); return;
      case 0x8c: push(new_str(read_utf8(read_le<uint8_t>("SHORT_BINUNICODE"), "SHORT_BINUNICODE"))); return;
      case 0x8d: push(new_str(read_utf8(read_le<uint64_t>("BINUNICODE8"), "BINUNICODE8"))); return;
      case 'C': push(new_bytes(read_payload(read_le<uint8_t>("SHORT_BINBYTES"), "SHORT_BINBYTES"))); return;
      case 'B': push(new_bytes(read_payload(read_le<uint32_t>("BINBYTES"), "BINBYTES"))); return;
      case 0x8e: push(new_bytes(read_payload(read_le<uint64_t>("BINBYTES8"), "BINBYTES8"))); return;
      case 0x96: push(new_bytes(read_payload(read_le<uint64_t>("BYTEARRAY8"), "BYTEARRAY8"))); return;
      case 'U': push(new_bytes(read_payload(read_le<uint8_t>("SHORT_BINSTRING"), "SHORT_BINSTRING"))); return;
      case 'T': {
        int32_t n = read_le<int32_t>("BINSTRING");
        if (n < 0) fail("BINSTRING with negative length {}", n);
        push(new_bytes(read_payload(static_cast<uint64_t>(n), "BINSTRING")));
        return;
      }
      case ')': push(new_container(PyKind::tuple)); return;
      case ']': push(new_container(PyKind::list)); return;
      case '}': push(new_container(PyKind::dict)); return;
      case 't': push(new_container(PyKind::tuple, pop_mark("TUPLE"))); return;
      case 'l': push(new_container(PyKind::list, pop_mark("LIST"))); return;
      case 'd': {
        auto kv = pop_mark("DICT");
        uint32_t d = new_container(PyKind::dict);
        set_items(d, kv, "DICT");
        push(d);
        return;
      }
      case 0x85: case 0x86: case 0x87: {
        size_t n = op - 0x84;
        const char* name = opcode_name(op);
        if (stack_.size() < floor() + n) fail("{} needs {} values, the stack has {}", name, n, stack_.size() - floor());
        std::vector<uint32_t> v(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        push(new_container(PyKind::tuple, std::move(v)));
        return;
      }
      case 'a': {
        uint32_t v = pop("APPEND");
        append_to(top("APPEND"), std::span(&v, 1), "APPEND");
        return;
      }
      case 'e': {
        auto v = pop_mark("APPENDS");
        append_to(top("APPENDS"), v, "APPENDS");
        return;
      }
      case 's': {
        uint32_t value = pop("SETITEM");
        uint32_t key = pop("SETITEM");
        uint32_t kv[2] = {key, value};
        set_items(top("SETITEM"), kv, "SETITEM");
        return;
      }
      case 'u': {
        auto kv = pop_mark("SETITEMS");
        set_items(top("SETITEMS"), kv, "SETITEMS");
        return;
      }
      case 'q': memo_put(read_le<uint8_t>("BINPUT"), "BINPUT"); return;
      case 'r': memo_put(read_le<uint32_t>("LONG_BINPUT"), "LONG_BINPUT"); return;
      case 0x94: memo_put(memo_.size(), "MEMOIZE"); return;
      case 'h': memo_get(read_le<uint8_t>("BINGET")); return;
      case 'j': memo_get(read_le<uint32_t>("LONG_BINGET")); return;
      case 'c': {
        std::string module = read_line("GLOBAL");
        std::string name = read_line("GLOBAL");
        push(make_global(module, name));
        return;
      }
      case 0x93: {
        uint32_t name = pop("STACK_GLOBAL");
        uint32_t module = pop("STACK_GLOBAL");
        if (kind(name) != PyKind::str || kind(module) != PyKind::str)
          fail("STACK_GLOBAL needs two str values, got {} and {}", kname(module), kname(name));
        push(make_global(str(module), str(name)));
        return;
      }
      case 'R': reduce(); return;
      case 'b': build(); return;
      case 'Q':
        if (!torch_) fail("opcode BINPERSID (0x51) is not allowed in a feature file");
        persistent_load();
        return;
      case 0x97: case 0x98:
        fail("opcode {} (out-of-band buffer) is not supported: save the pickle without buffer_callback", opcode_name(op));
      default: {
        const char* name = opcode_name(op);
        if (name) fail("opcode {} (0x{:02x}) is not allowed in a {}", name, op, torch_ ? "PyTorch checkpoint" : "feature file");
        fail("unknown opcode 0x{:02x}", op);
      }
    }
  }

  int64_t read_long(uint64_t n, const char* what) {
    if (n > 8) fail("{}: integer of {} bytes does not fit 64 bits", what, n);
    need(n, what);
    const std::byte* p = in_.take(n);
    uint64_t v = 0;
    for (uint64_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(p[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  std::shared_ptr<ByteBuffer> read_payload(uint64_t n, const char* what) {
    need(n, what);  // before allocating: a lying length fails here
    auto b = std::make_shared<ByteBuffer>(n);
    in_.read_into(b->data(), n);
    return b;
  }

  std::string read_utf8(uint64_t n, const char* what) {
    std::string s = read_string(n, what);
    if (!valid_utf8(s)) fail("{}: text is not valid UTF-8", what);
    return s;
  }

  static bool valid_utf8(std::string_view s) {
    // Python writes surrogates with 'surrogatepass'; accept them as 3-byte sequences.
    size_t i = 0;
    while (i < s.size()) {
      auto c = static_cast<unsigned char>(s[i]);
      int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
      if (extra < 0 || (extra > 0 && i + extra >= s.size())) return false;
      for (int k = 1; k <= extra; ++k)
        if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
      i += extra + 1;
    }
    return true;
  }

  uint32_t make_global(std::string_view module, std::string_view name) {
    std::span<const KnownGlobal> known = torch_ ? std::span<const KnownGlobal>(kTorchGlobals) : kKnownGlobals;
    for (const auto& g : known)
      if (g.module == module && g.name == name) {
        uint32_t id = new_node(PyKind::global);
        node(id).i = static_cast<int64_t>(g.what);
        node(id).side = static_cast<uint32_t>(doc_.strings_.size());
        doc_.strings_.push_back(fmt::format("{}.{}", module, name));
        return id;
      }
    if (torch_ && module == "torch" && name.ends_with("Storage"))
      fail("tensors of torch.{} are not supported (only float32, float64 and int64)", printable(name));
    if (torch_)
      fail("global '{}.{}' is not allowed (a state_dict checkpoint needs only OrderedDict, _rebuild_tensor_v2 and "
           "torch.Float/Double/LongStorage)",
           printable(module), printable(name));
    fail("global '{}.{}' is not allowed (a feature file needs only numpy arrays, dtypes and _codecs.encode)",
         printable(module), printable(name));
  }

  // ---- BINPERSID: ('storage', torch.<Type>Storage, key, location, numel[, view_metadata = None])
  void persistent_load() {
    uint32_t pid = pop("BINPERSID");
    if (kind(pid) != PyKind::tuple) fail("BINPERSID of {} (expected a tuple)", kname(pid));
    const std::vector<uint32_t> p = items(pid);
    if (p.size() != 5 && p.size() != 6) fail("persistent id has {} items (expected 5, or 6 in the legacy format)", p.size());
    if (kind(p[0]) != PyKind::str || str(p[0]) != "storage") fail("persistent id is not a 'storage' record");
    if (kind(p[1]) != PyKind::global) fail("persistent id: storage type is {}", kname(p[1]));
    NpDType dtype;
    switch (static_cast<Global>(node(p[1]).i)) {
      case Global::float_storage: dtype = {NpKind::float32, 4, false}; break;
      case Global::double_storage: dtype = {NpKind::float64, 8, false}; break;
      case Global::long_storage: dtype = {NpKind::int64, 8, false}; break;
      default: fail("persistent id: storage type is {}, not a storage class", str(p[1]));
    }
    if (kind(p[2]) != PyKind::str) fail("persistent id: key is {}", kname(p[2]));
    if (kind(p[3]) != PyKind::str) fail("persistent id: location is {}", kname(p[3]));
    if (kind(p[4]) != PyKind::integer || node(p[4]).i < 0) fail("persistent id: numel is {}", kname(p[4]));
    if (p.size() == 6 && kind(p[5]) != PyKind::none) fail("persistent id: storage views of torch < 0.4 are not supported");
    const std::string& key = str(p[2]);
    if (key.size() > 256) fail("persistent id: key longer than 256 bytes");
    const int64_t numel = node(p[4]).i;
    if (numel > (int64_t{1} << 59)) fail("storage '{}': {} elements is too large", printable(key), numel);
    uint32_t index;
    auto it = storage_index_.find(key);
    if (it == storage_index_.end()) {
      index = static_cast<uint32_t>(doc_.storages_.size());
      doc_.storages_.push_back({key, dtype, str(p[3]), numel});
      storage_index_.emplace(key, index);
    } else {
      index = it->second;
      const TorchStorageRef& s = doc_.storages_[index];
      if (s.dtype.kind != dtype.kind || s.numel != numel)
        fail("storage '{}' is named as {} {} and as {} {}", printable(key), s.numel, s.dtype.name(), numel, dtype.name());
    }
    uint32_t id = new_node(PyKind::torch_storage);
    node(id).side = index;
    push(id);
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
  void rebuild_tensor(const std::vector<uint32_t>& a) {
    if (kind(a[0]) != PyKind::torch_storage) fail("_rebuild_tensor_v2 of {} (expected a storage)", kname(a[0]));
    if (kind(a[1]) != PyKind::integer || node(a[1]).i < 0) fail("_rebuild_tensor_v2: storage offset is {}", kname(a[1]));
    TorchTensorRef t;
    t.storage = node(a[0]).side;
    t.offset = node(a[1]).i;
    t.shape = read_shape(a[2], "_rebuild_tensor_v2 size");
    t.stride = read_shape(a[3], "_rebuild_tensor_v2 stride");
    if (t.stride.size() != t.shape.size())
      fail("_rebuild_tensor_v2: size {} and stride {} differ in length", tuple_string(t.shape), tuple_string(t.stride));
    if (kind(a[4]) != PyKind::boolean && kind(a[4]) != PyKind::integer) fail("_rebuild_tensor_v2: requires_grad is {}", kname(a[4]));
    t.requires_grad = node(a[4]).i != 0;
    if (kind(a[5]) != PyKind::dict) fail("_rebuild_tensor_v2: backward_hooks is {} (expected an OrderedDict)", kname(a[5]));
    if (items(a[5]).size() != 0) fail("_rebuild_tensor_v2: backward hooks are not supported");
    if (a.size() == 7 && kind(a[6]) != PyKind::none && kind(a[6]) != PyKind::dict)
      fail("_rebuild_tensor_v2: metadata is {}", kname(a[6]));
    // Every element the view reaches must lie inside the storage (CVE-2026-24747 in PyTorch's own
    // loader): count, and offset + sum (size-1)*stride, computed without overflow.
    const TorchStorageRef& s = doc_.storages_[t.storage];
    uint64_t count = 1, last = static_cast<uint64_t>(t.offset);
    for (size_t k = 0; k < t.shape.size(); ++k)
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(t.shape[k]), &count))
        fail("_rebuild_tensor_v2: size {} has more elements than fit 64 bits", tuple_string(t.shape));
    if (count > (uint64_t{1} << 59)) fail("_rebuild_tensor_v2: size {} is too large", tuple_string(t.shape));
    if (count == 0) {
      if (last > static_cast<uint64_t>(s.numel))
        fail("tensor of size {} at offset {} lies outside storage '{}' of {} elements", tuple_string(t.shape), t.offset,
             printable(s.key), s.numel);
    } else {
      for (size_t k = 0; k < t.shape.size(); ++k) {
        uint64_t span;
        if (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[k] - 1), static_cast<uint64_t>(t.stride[k]), &span) ||
            __builtin_add_overflow(last, span, &last))
          fail("_rebuild_tensor_v2: size {} with stride {} overflows", tuple_string(t.shape), tuple_string(t.stride));
      }
      if (last >= static_cast<uint64_t>(s.numel))
        fail("tensor of size {}, stride {}, offset {} reaches element {} of storage '{}', which has {} elements",
             tuple_string(t.shape), tuple_string(t.stride), t.offset, last, printable(s.key), s.numel);
    }
    uint32_t id = new_node(PyKind::torch_tensor);
    node(id).side = static_cast<uint32_t>(doc_.tensors_.size());
    doc_.tensors_.push_back(std::move(t));
    push(id);
  }

  static std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 80)) out += (c >= 32 && c < 127) ? c : '?';
    return out;
  }

  // ---- REDUCE: call one of the known globals
  void reduce() {
    uint32_t args = pop("REDUCE");
    uint32_t callable = pop("REDUCE");
    if (kind(callable) != PyKind::global) fail("REDUCE applied to {} (expected a global)", kname(callable));
    if (kind(args) != PyKind::tuple) fail("REDUCE with {} as arguments (expected a tuple)", kname(args));
    std::vector<uint32_t> a = items(args);
    const std::string& fname = str(callable);
    auto want = [&](size_t lo, size_t hi) {
      if (a.size() < lo || a.size() > hi) fail("{} takes {} arguments, got {}", fname, lo == hi ? std::to_string(lo) : fmt::format("{}-{}", lo, hi), a.size());
    };
    switch (static_cast<Global>(node(callable).i)) {
      case Global::reconstruct: {
        want(3, 3);
        if (kind(a[0]) != PyKind::global || static_cast<Global>(node(a[0]).i) != Global::ndarray_type)
          fail("_reconstruct of {} (only numpy.ndarray)", kname(a[0]));
        NdArray arr;  // shape and contents arrive with BUILD
        push(new_array(std::move(arr)));
        return;
      }
      case Global::dtype_type: {
        want(1, 3);
        if (kind(a[0]) != PyKind::str) fail("numpy.dtype of {} (expected a type string)", kname(a[0]));
        push(new_dtype(parse_dtype(str(a[0]))));
        return;
      }
      case Global::frombuffer: {
        want(4, 4);  // (buffer, dtype, shape, order)
        if (kind(a[0]) != PyKind::bytes) fail("_frombuffer of {} (expected bytes)", kname(a[0]));
        if (kind(a[1]) != PyKind::dtype) fail("_frombuffer with {} as dtype", kname(a[1]));
        if (kind(a[3]) != PyKind::str || (str(a[3]) != "C" && str(a[3]) != "F"))
          fail("_frombuffer order must be 'C' or 'F'");
        NdArray arr;
        arr.dtype = doc_.dtypes_[node(a[1]).side];
        if (arr.dtype.kind == NpKind::object) fail("_frombuffer of an object array");
        arr.shape = read_shape(a[2], "_frombuffer");
        arr.fortran_order = str(a[3]) == "F";
        arr.bytes = doc_.buffers_[node(a[0]).side];
        check_array_bytes(arr, "_frombuffer");
        arr.has_state = true;
        push(new_array(std::move(arr)));
        return;
      }
      case Global::scalar: {
        want(2, 2);
        if (kind(a[0]) != PyKind::dtype) fail("numpy scalar with {} as dtype", kname(a[0]));
        if (kind(a[1]) != PyKind::bytes) fail("numpy scalar of {} (expected bytes)", kname(a[1]));
        NdArray one;
        one.dtype = doc_.dtypes_[node(a[0]).side];
        one.bytes = doc_.buffers_[node(a[1]).side];
        if (one.dtype.kind == NpKind::unicode || one.dtype.kind == NpKind::object) fail("numpy scalar of dtype {}", one.dtype.name());
        check_array_bytes(one, "numpy scalar");
        double v = one.element_as_double(0);
        if (one.dtype.kind == NpKind::float32 || one.dtype.kind == NpKind::float64) push(new_float(v));
        else if (one.dtype.kind == NpKind::int64) push(new_int(load_scalar<int64_t>(one.bytes->data(), one.dtype.big_endian)));
        else push(new_int(static_cast<int64_t>(v), one.dtype.kind == NpKind::boolean ? PyKind::boolean : PyKind::integer));
        return;
      }
      case Global::codecs_encode: {
        want(2, 2);
        if (kind(a[0]) != PyKind::str || kind(a[1]) != PyKind::str) fail("_codecs.encode needs (str, str)");
        if (str(a[1]) != "latin1" && str(a[1]) != "latin-1" && str(a[1]) != "iso-8859-1")
          fail("_codecs.encode with encoding '{}' (only latin1)", printable(str(a[1])));
        push(new_bytes(latin1_encode(str(a[0]))));
        return;
      }
      case Global::ordered_dict: {
        if (!a.empty()) fail("collections.OrderedDict with arguments");
        uint32_t d = new_container(PyKind::dict);
        node(d).i = kOrderedDict;  // may take a BUILD (its instance __dict__, e.g. state_dict's _metadata)
        push(d);
        return;
      }
      case Global::rebuild_tensor:
        want(6, 7);
        rebuild_tensor(a);
        return;
      case Global::float_storage:
      case Global::double_storage:
      case Global::long_storage:
        fail("{} cannot be called (storages come only from persistent ids)", fname);
      case Global::ndarray_type:
        fail("numpy.ndarray cannot be called directly");
    }
  }

  std::shared_ptr<ByteBuffer> latin1_encode(const std::string& s) {
    // Each code point (< 256) becomes one byte. The text is valid UTF-8 (checked when read).
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        i += 1;
      } else if (c == 0xC2 || c == 0xC3) {
        i += 2;
      } else {
        fail("_codecs.encode: text has a character outside latin1");
      }
    }
    auto out = std::make_shared<ByteBuffer>(n);
    std::byte* dst = out->data();
    for (size_t i = 0; i < s.size();) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        *dst++ = std::byte{c};
        i += 1;
      } else {
        *dst++ = std::byte(static_cast<unsigned char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
        i += 2;
      }
    }
    return out;
  }

  NpDType parse_dtype(std::string_view t) {
    NpDType d;
    auto fixed = [&](NpKind k, int64_t size) { d.kind = k; d.itemsize = size; };
    if (t == "f4") fixed(NpKind::float32, 4);
    else if (t == "f8") fixed(NpKind::float64, 8);
    else if (t == "i4") fixed(NpKind::int32, 4);
    else if (t == "i8") fixed(NpKind::int64, 8);
    else if (t == "u1") fixed(NpKind::uint8, 1);
    else if (t == "b1") fixed(NpKind::boolean, 1);
    else if (t == "O8" || t == "O4") fixed(NpKind::object, 8);
    else if (t.size() >= 2 && t[0] == 'U' && t.size() <= 12 &&
             std::all_of(t.begin() + 1, t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      int64_t chars = std::stoll(std::string(t.substr(1)));
      if (chars == 0) fail("numpy dtype 'U0' has no size");
      fixed(NpKind::unicode, chars * 4);
    } else {
      fail("numpy dtype '{}' is not supported (float32/64, int32/64, uint8, bool, U, object)", printable(t));
    }
    return d;
  }

  std::vector<int64_t> read_shape(uint32_t t, const char* what) {
    if (kind(t) != PyKind::tuple) fail("{}: shape is {} (expected a tuple)", what, kname(t));
    const auto& dims = items(t);
    if (dims.size() > static_cast<size_t>(PickleLimits::max_ndim)) fail("{}: {} dimensions", what, dims.size());
    std::vector<int64_t> shape;
    for (uint32_t d : dims) {
      if (kind(d) != PyKind::integer) fail("{}: shape holds {}", what, kname(d));
      if (node(d).i < 0) fail("{}: negative dimension {}", what, node(d).i);
      shape.push_back(node(d).i);
    }
    return shape;
  }

  // The element count times the item size must be exactly the bytes we hold.
  void check_array_bytes(const NdArray& a, const char* what) {
    uint64_t count = 1;
    for (int64_t d : a.shape)
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count))
        fail("{}: shape {} has more elements than fit 64 bits", what, a.shape_string());
    uint64_t nbytes;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(a.dtype.itemsize), &nbytes) || nbytes > (uint64_t{1} << 62))
      fail("{}: shape {} of {} is too large", what, a.shape_string(), a.dtype.name());
    if (a.dtype.kind == NpKind::object) return;
    uint64_t have = a.bytes ? a.bytes->size() : 0;
    if (nbytes != have)
      fail("{}: shape {} of {} needs {} bytes, the data has {}", what, a.shape_string(), a.dtype.name(), nbytes, have);
  }

  // ---- BUILD: set the state of an array or a dtype
  void build() {
    uint32_t state = pop("BUILD");
    uint32_t target = top("BUILD");
    if (kind(target) == PyKind::dtype) return build_dtype(doc_.dtypes_[node(target).side], state);
    if (kind(target) == PyKind::ndarray) return build_array(doc_.arrays_[node(target).side], state);
    if (kind(target) == PyKind::dict && node(target).i == kOrderedDict) {
      // OrderedDict's attributes, e.g. a state_dict's `_metadata` (module versions): accepted, ignored.
      if (kind(state) != PyKind::dict) fail("OrderedDict state is {} (expected a dict of attributes)", kname(state));
      add_child(target, state);  // keeps the depth bound honest
      return;
    }
    fail("BUILD applied to {} (only numpy arrays and dtypes take a state)", kname(target));
  }

  void build_dtype(NpDType& d, uint32_t state) {
    if (kind(state) != PyKind::tuple) fail("dtype state is {} (expected a tuple)", kname(state));
    const auto& s = items(state);
    if (s.size() != 8 && s.size() != 9) fail("dtype state has {} items (expected 8 or 9)", s.size());
    if (kind(s[0]) != PyKind::integer || (node(s[0]).i != 3 && node(s[0]).i != 4))
      fail("dtype state version is not 3 or 4");
    if (kind(s[1]) != PyKind::str) fail("dtype byte order is {}", kname(s[1]));
    const std::string& order = str(s[1]);
    if (order == ">") d.big_endian = true;
    else if (order == "<" || order == "|" || order == "=") d.big_endian = false;
    else fail("dtype byte order '{}'", printable(order));
    for (int k = 2; k <= 4; ++k)
      if (kind(s[k]) != PyKind::none) fail("structured or sub-array dtypes are not supported");
    if (kind(s[5]) != PyKind::integer) fail("dtype item size is {}", kname(s[5]));
    int64_t elsize = node(s[5]).i;
    if (d.kind == NpKind::unicode) {
      if (elsize <= 0 || elsize % 4 || elsize > (int64_t{1} << 31)) fail("unicode dtype with item size {}", elsize);
      d.itemsize = elsize;
    }
    if (d.itemsize == 1) d.big_endian = false;
  }

  void build_array(NdArray& arr, uint32_t state) {
    if (arr.has_state) fail("BUILD on an array that already has its contents");
    if (kind(state) != PyKind::tuple) fail("array state is {} (expected a tuple)", kname(state));
    std::vector<uint32_t> s = items(state);
    if (s.size() == 5) s.erase(s.begin());  // (version, shape, dtype, is_fortran, data)
    if (s.size() != 4) fail("array state has {} items (expected 4 or 5)", items(state).size());
    arr.shape = read_shape(s[0], "array state");
    if (kind(s[1]) != PyKind::dtype) fail("array state: dtype is {}", kname(s[1]));
    arr.dtype = doc_.dtypes_[node(s[1]).side];
    if (kind(s[2]) != PyKind::boolean && kind(s[2]) != PyKind::integer) fail("array state: is_fortran is {}", kname(s[2]));
    arr.fortran_order = node(s[2]).i != 0;
    if (arr.dtype.kind == NpKind::object) {
      check_array_bytes(arr, "array state");
      if (kind(s[3]) != PyKind::list) fail("object array state: data is {} (expected a list)", kname(s[3]));
      const auto& elems = items(s[3]);
      if (static_cast<int64_t>(elems.size()) != arr.count())
        fail("object array of shape {} holds {} elements", arr.shape_string(), elems.size());
      arr.objects.reserve(elems.size());
      for (uint32_t e : elems) {
        if (kind(e) != PyKind::str) fail("object array holds {} (only str is supported)", kname(e));
        arr.objects.push_back(str(e));
      }
    } else {
      if (kind(s[3]) != PyKind::bytes) fail("array state: data is {} (expected bytes)", kname(s[3]));
      arr.bytes = doc_.buffers_[node(s[3]).side];
      check_array_bytes(arr, "array state");
    }
    arr.has_state = true;
  }

  static constexpr int64_t kOrderedDict = 1;  // Node::i of a dict made by collections.OrderedDict

  ByteSource& in_;
  PickleLimits limits_;
  bool torch_ = false;  // the PyTorch dialect (load_torch_pickle)
  std::unordered_map<std::string, uint32_t> storage_index_;  // storage key -> index in doc_.storages_
  PickleDocument doc_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  uint64_t op_offset_ = 0;
};

PickleDocument load_pickle_bytes(std::span<const std::byte> bytes, std::string_view name, const PickleLimits& limits) {
  ByteSource src(bytes);
  return PickleMachine(src, name, limits).run();
}

PickleDocument load_torch_pickle(std::span<const std::byte> bytes, std::string_view name, size_t* consumed,
                                 const PickleLimits& limits) {
  ByteSource src(bytes);
  PickleDocument doc = PickleMachine(src, name, limits, /*torch=*/true).run();
  if (consumed) *consumed = static_cast<size_t>(src.offset());
  return doc;
}

PickleDocument load_pickle(const std::filesystem::path& path, const PickleLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw PickleError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw PickleError(fmt::format("{}: not a regular file", path.string()));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  try {
    ByteSource src(fd, static_cast<uint64_t>(st.st_size));
    PickleDocument doc = PickleMachine(src, path.string(), limits).run();
    ::close(fd);
    return doc;
  } catch (const PickleError& e) {
    ::close(fd);
    std::string msg = e.what();
    // read errors come without the file name
    if (msg.rfind("byte ", 0) == 0) throw PickleError(path.string() + ": " + msg);
    throw;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace mtfn::data
