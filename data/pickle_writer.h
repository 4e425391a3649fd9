// A minimal pickle protocol 4 writer: dicts, lists, str, numbers and numpy arrays (as numpy 1.x
// writes them: _reconstruct + BUILD), streaming array bytes so a 1.2 GB file needs little memory.
// Used by the synthetic data generator; not a general pickler (no memo, no arbitrary objects).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtfn::data {

class PickleWriter {
 public:
  // Bytes go to `sink` in order; small opcodes are grouped into protocol 4 FRAMEs.
  explicit PickleWriter(std::function<void(const void*, size_t)> sink);

  void begin();  // PROTO 4
  void end();    // STOP, then flushes

  void mark();
  void empty_dict();
  void empty_list();
  void setitems();  // pops to the last mark into the dict below it
  void appends();
  void none();
  void boolean(bool v);
  void integer(int64_t v);
  void floating(double v);
  void str(std::string_view utf8);
  void tuple_of_ints(std::span<const int64_t> values);

  // A numpy array: begin_array writes everything up to the raw bytes, the caller then passes
  // exactly nbytes through array_bytes (in C order, little-endian), then end_array.
  // dtype_code: "f4", "f8", "i4", "i8", "u1", "b1" or "U<n>" (itemsize given for U).
  void begin_array(std::string_view dtype_code, std::span<const int64_t> shape, int64_t itemsize);
  void array_bytes(const void* data, size_t n);
  void end_array();

 private:
  void op(uint8_t code) { frame_.push_back(static_cast<char>(code)); }
  void raw(const void* p, size_t n) { frame_.append(static_cast<const char*>(p), n); }
  template <class T>
  void le(T v) { raw(&v, sizeof v); }
  void flush_frame();
  void global(std::string_view module, std::string_view name);

  std::function<void(const void*, size_t)> sink_;
  std::string frame_;
  uint64_t array_left_ = 0;
};

}  // namespace mtfn::data
