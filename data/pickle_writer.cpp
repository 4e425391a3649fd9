// PickleWriter: emits the opcodes Python's own pickler would for the same values at protocol 4,
// minus the memo. Python's pickle.load and our load_pickle both read the result.
#include "data/pickle_writer.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace mtfn::data {

namespace {
constexpr size_t kFrameTarget = 64 * 1024;  // as Python's pickler
}

PickleWriter::PickleWriter(std::function<void(const void*, size_t)> sink) : sink_(std::move(sink)) {}

void PickleWriter::begin() {
  const unsigned char proto[2] = {0x80, 4};
  sink_(proto, 2);
}

void PickleWriter::end() {
  op('.');
  flush_frame();
}

void PickleWriter::flush_frame() {
  if (frame_.empty()) return;
  unsigned char header[9] = {0x95};
  uint64_t n = frame_.size();
  for (int k = 0; k < 8; ++k) header[1 + k] = static_cast<unsigned char>(n >> (8 * k));
  sink_(header, 9);
  sink_(frame_.data(), frame_.size());
  frame_.clear();
}

void PickleWriter::mark() { op('('); }
void PickleWriter::empty_dict() { op('}'); }
void PickleWriter::empty_list() { op(']'); }
void PickleWriter::setitems() { op('u'); }
void PickleWriter::appends() { op('e'); }
void PickleWriter::none() { op('N'); }
void PickleWriter::boolean(bool v) { op(v ? 0x88 : 0x89); }

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    op('K');
    le<uint8_t>(static_cast<uint8_t>(v));
  } else if (v >= 0 && v < 65536) {
    op('M');
    le<uint16_t>(static_cast<uint16_t>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    le<int32_t>(static_cast<int32_t>(v));
  } else {
    op(0x8a);  // LONG1, 8 bytes two's complement
    le<uint8_t>(8);
    le<int64_t>(v);
  }
  if (frame_.size() >= kFrameTarget) flush_frame();
}

void PickleWriter::floating(double v) {
  op('G');
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  le<uint64_t>(__builtin_bswap64(bits));  // BINFLOAT is big-endian
  if (frame_.size() >= kFrameTarget) flush_frame();
}

void PickleWriter::str(std::string_view s) {
  if (s.size() < 256) {
    op(0x8c);
    le<uint8_t>(static_cast<uint8_t>(s.size()));
  } else {
    op('X');
    le<uint32_t>(static_cast<uint32_t>(s.size()));
  }
  raw(s.data(), s.size());
  if (frame_.size() >= kFrameTarget) flush_frame();
}

void PickleWriter::tuple_of_ints(std::span<const int64_t> values) {
  if (values.empty()) return op(')');
  if (values.size() > 3) mark();
  for (int64_t v : values) integer(v);
  op(values.size() == 1 ? 0x85 : values.size() == 2 ? 0x86 : values.size() == 3 ? 0x87 : 't');
}

void PickleWriter::global(std::string_view module, std::string_view name) {
  str(module);
  str(name);
  op(0x93);  // STACK_GLOBAL
}

void PickleWriter::begin_array(std::string_view dtype_code, std::span<const int64_t> shape, int64_t itemsize) {
  if (array_left_) throw std::logic_error("PickleWriter: begin_array inside another array");
  global("numpy.core.multiarray", "_reconstruct");
  global("numpy", "ndarray");
  integer(0);
  op(0x85);
  op('C');  // SHORT_BINBYTES b'b'
  le<uint8_t>(1);
  op('b');
  op(0x87);  // TUPLE3
  op('R');
  mark();                 // the state tuple
  integer(1);             // version
  tuple_of_ints(shape);
  global("numpy", "dtype");
  str(dtype_code);
  boolean(false);
  boolean(true);
  op(0x87);
  op('R');
  mark();
  integer(3);
  str(dtype_code == "u1" || dtype_code == "b1" ? "|" : "<");
  none();
  none();
  none();
  integer(dtype_code.starts_with("U") ? itemsize : -1);
  integer(dtype_code.starts_with("U") ? 4 : -1);
  integer(dtype_code.starts_with("U") ? 8 : 0);
  op('t');
  op('b');  // BUILD the dtype
  boolean(false);  // is_fortran
  uint64_t nbytes = static_cast<uint64_t>(itemsize);
  for (int64_t d : shape) nbytes *= static_cast<uint64_t>(d);
  // Large payloads go outside frames, right after their header, as Python does.
  if (nbytes < 256) {
    op('C');
    le<uint8_t>(static_cast<uint8_t>(nbytes));
  } else if (nbytes <= UINT32_MAX) {
    op('B');
    le<uint32_t>(static_cast<uint32_t>(nbytes));
  } else {
    op(0x8e);
    le<uint64_t>(nbytes);
  }
  if (nbytes >= kFrameTarget) flush_frame();
  array_left_ = nbytes;
  if (nbytes == 0) array_left_ = 0;
}

void PickleWriter::array_bytes(const void* data, size_t n) {
  if (n > array_left_) throw std::logic_error(fmt::format("PickleWriter: {} array bytes, {} expected", n, array_left_));
  array_left_ -= n;
  if (frame_.empty()) sink_(data, n);
  else raw(data, n);  // small arrays stay inside the current frame
}

void PickleWriter::end_array() {
  if (array_left_) throw std::logic_error(fmt::format("PickleWriter: array short by {} bytes", array_left_));
  op('t');  // the state tuple
  op('b');  // BUILD the array
  if (frame_.size() >= kFrameTarget) flush_frame();
}

}  // namespace mtfn::data
