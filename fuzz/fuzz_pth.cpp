// libFuzzer entry point on the PyTorch checkpoint reader (data/pth.h). Input that starts as a zip
// archive or as torch's legacy stream goes to PthReader as it is. Anything else is taken as a
// data.pkl: it is wrapped in a legacy stream (header pickles, the input, the storage keys it names,
// zero-filled storages of the declared lengths), so that mutations reach the pickle machine and the
// view checks without fighting the zip CRCs. Every entry is then read. The only acceptable failure
// is a PthError or PickleError; a crash, a sanitizer report, a leak or a hang is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "data/pickle.h"
#include "data/pth.h"

namespace {

using namespace mtfn::data;

// magic number, protocol version 1001, sys_info {} (three protocol-2 pickles, as torch writes them)
const unsigned char kHeader[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
                                 0x50, 0x19, 0x2e, 0x80, 0x02, 'M', 0xe9, 0x03, '.', 0x80, 0x02, '}', '.'};

void append_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

// The legacy stream around `pkl`, or "" if its storages would be too large to bother with.
std::string legacy_stream(std::span<const std::byte> pkl) {
  size_t used = 0;
  PickleDocument doc = load_torch_pickle(pkl, "fuzz data.pkl", &used);
  std::string out(reinterpret_cast<const char*>(kHeader), sizeof kHeader);
  out.append(reinterpret_cast<const char*>(pkl.data()), used);
  out += "\x80\x02](";
  uint64_t total = 0;
  for (const TorchStorageRef& s : doc.torch_storages()) {
    out += 'X';
    append_u32(out, static_cast<uint32_t>(s.key.size()));
    out += s.key;
    total += static_cast<uint64_t>(s.numel) * s.dtype.itemsize;
    if (total > (uint64_t{1} << 22)) return "";
  }
  out += "e.";
  for (const TorchStorageRef& s : doc.torch_storages()) {
    int64_t n = s.numel;
    out.append(reinterpret_cast<const char*>(&n), 8);
    out.append(static_cast<size_t>(n) * s.dtype.itemsize, '\0');
  }
  return out;
}

void read_all(const PthReader& r) {
  for (const PthEntry& e : r.entries())
    if (e.numel() <= (int64_t{1} << 22)) (void)r.read(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  const bool container = (size >= 2 && data[0] == 'P' && data[1] == 'K') ||
                         (size >= 3 && data[0] == 0x80 && data[1] == 0x02 && data[2] == 0x8a);
  try {
    if (container) {
      read_all(PthReader(bytes, "fuzz.pth"));
    } else {
      const std::string stream = legacy_stream(bytes);
      if (!stream.empty()) read_all(PthReader(std::as_bytes(std::span(stream.data(), stream.size())), "fuzz.pth"));
    }
  } catch (const PthError&) {
  } catch (const PickleError&) {
  }
  return 0;
}
