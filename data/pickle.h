// A safe reader for the subset of Python pickles that MMSA feature files use (protocols 2-5,
// plain containers, numpy arrays and dtypes) and, as a second dialect, the `data.pkl` of PyTorch
// checkpoints (tensors over persistent storages; data/pth.h reads the storages). It interprets
// opcodes; it never executes anything. Not a general unpickler: any other global or opcode is an
// error naming it and its byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.h"

namespace mtfn::data {

// Every problem with a pickle (bad bytes, refused globals, wrong layout) is reported with this,
// the message naming the file and the byte offset or the field.
class PickleError : public InputError {
 public:
  using InputError::InputError;
};

// Raw bytes, 64-byte aligned, not zero-filled: large payloads are read straight into one of these
// and numpy arrays keep pointing at it (no second copy).
class ByteBuffer {
 public:
  explicit ByteBuffer(size_t size);
  ~ByteBuffer();
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

enum class NpKind : uint8_t { float32, float64, int32, int64, uint8, boolean, unicode, object };

// A numpy dtype as far as we support it: kind, item size in bytes, byte order.
struct NpDType {
  NpKind kind = NpKind::float64;
  int64_t itemsize = 8;     // for unicode: 4 * characters
  bool big_endian = false;  // only meaningful for multi-byte numeric and unicode kinds
  std::string name() const; // "float32", ">float64", "<U12", "object", ...
};

// A numpy array as stored in the file: element bytes in the file's byte order and memory order.
struct NdArray {
  NpDType dtype;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  bool has_state = false;               // false until _reconstruct's BUILD arrives
  std::shared_ptr<ByteBuffer> bytes;    // numeric and unicode kinds: count * itemsize bytes
  std::vector<std::string> objects;     // object kind: the elements (str only), UTF-8
  int64_t count() const;                // number of elements
  std::string shape_string() const;     // "(1368, 39, 768)"
  // Element i (in C order of the logical shape) converted to double; numeric kinds only.
  double element_as_double(int64_t c_index) const;
  // Element i (C order) of a unicode or object array as UTF-8.
  std::string element_as_string(int64_t c_index) const;
};

// A storage a PyTorch pickle names by persistent id ('storage', torch.FloatStorage, key, location,
// numel): its element type and declared length. The bytes live outside the pickle (data/pth.h).
struct TorchStorageRef {
  std::string key;       // "0", "1", ... (zip) or a number string (legacy format)
  NpDType dtype;         // float32, float64 or int64, little-endian
  std::string location;  // "cpu", "cuda:0", ... (recorded, not used)
  int64_t numel = 0;     // declared element count
};

// A tensor rebuilt by torch._utils._rebuild_tensor_v2: a strided view of one storage. The reader
// checks that every element the view reaches lies inside the storage's declared numel.
struct TorchTensorRef {
  uint32_t storage = 0;  // index into PickleDocument::torch_storages()
  int64_t offset = 0;    // in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;  // in elements, >= 0
  bool requires_grad = false;
  int64_t count() const;  // number of elements
  std::string shape_string() const;
};

enum class PyKind : uint8_t { none, boolean, integer, floating, str, bytes, list, tuple, dict, global, dtype, ndarray,
                              torch_storage, torch_tensor };
std::string_view kind_name(PyKind kind);    // "int", "list", "numpy.ndarray", ...
std::string_view a_kind_name(PyKind kind);  // "an int", "a list", "None", ...

class PickleDocument;

// A handle to one value of a loaded pickle; valid while its PickleDocument lives.
class PyRef {
 public:
  PyRef(const PickleDocument* doc, uint32_t id) : doc_(doc), id_(id) {}
  PyKind kind() const;
  std::string_view kind_name() const { return data::kind_name(kind()); }
  bool is_number() const { return kind() == PyKind::integer || kind() == PyKind::floating || kind() == PyKind::boolean; }
  int64_t as_int() const;          // integer or boolean
  double as_double() const;        // integer, floating or boolean
  std::string_view as_str() const; // str (UTF-8)
  std::span<const std::byte> as_bytes() const;
  // list, tuple: the elements; dict: keys and values interleaved (size() counts pairs for dicts)
  size_t size() const;
  PyRef item(size_t i) const;
  PyRef dict_key(size_t i) const;
  PyRef dict_value(size_t i) const;
  // dict with str keys: the value under key, or nothing
  bool has(std::string_view key) const;
  PyRef at(std::string_view key) const;  // throws PickleError if absent
  const NdArray& array() const;
  const NpDType& dtype() const;
  const TorchStorageRef& torch_storage() const;
  const TorchTensorRef& torch_tensor() const;
  uint32_t id() const { return id_; }

 private:
  const PickleDocument* doc_;
  uint32_t id_;
};

// The values of one pickle, held in flat tables (so cycles and deep nests cannot recurse).
class PickleDocument {
 public:
  PyRef root() const { return PyRef(this, root_); }
  const std::string& source_name() const { return name_; }
  // Every storage the pickle names (torch dialect), each key once.
  const std::vector<TorchStorageRef>& torch_storages() const { return storages_; }

 private:
  friend class PyRef;
  friend class PickleMachine;
  struct Node {
    PyKind kind;
    uint32_t depth = 0;  // container nesting below this value
    uint32_t side = 0;   // index into the table of its kind
    union {
      int64_t i;
      double f;
    };
  };
  std::vector<Node> nodes_;
  std::vector<std::string> strings_;                     // str values and global names
  std::vector<std::shared_ptr<ByteBuffer>> buffers_;     // bytes values
  std::vector<std::vector<uint32_t>> items_;             // list/tuple elements, dict k,v,k,v
  std::vector<NdArray> arrays_;
  std::vector<NpDType> dtypes_;
  std::vector<TorchStorageRef> storages_;
  std::vector<TorchTensorRef> tensors_;
  uint32_t root_ = 0;
  std::string name_;
};

// Limits that keep hostile input from exhausting memory or the stack.
struct PickleLimits {
  uint32_t max_depth = 1000;           // nesting of containers and MARKs
  uint32_t max_stack = 1u << 20;       // values on the machine's stack
  uint32_t max_values = 8u << 20;      // values in one document
  static constexpr int max_ndim = 32;
};

// Reads a whole pickle file. Errors: PickleError "<path>: byte <offset>: <what>".
PickleDocument load_pickle(const std::filesystem::path& path, const PickleLimits& limits = {});
// Same from memory; `name` is used in error messages.
PickleDocument load_pickle_bytes(std::span<const std::byte> bytes, std::string_view name,
                                 const PickleLimits& limits = {});

// The PyTorch dialect, for the data.pkl of a `torch.save` checkpoint: the globals are
// collections.OrderedDict (its `_metadata` state accepted and ignored), torch._utils._rebuild_tensor_v2
// and torch.FloatStorage / DoubleStorage / LongStorage; BINPERSID takes a storage's persistent id.
// No numpy globals. Reads one pickle from the start of `bytes`; `consumed` (if given) receives the
// bytes up to and including its STOP (the legacy format puts several pickles one after another).
PickleDocument load_torch_pickle(std::span<const std::byte> bytes, std::string_view name, size_t* consumed = nullptr,
                                 const PickleLimits& limits = {});

}  // namespace mtfn::data
