// A small PNG reader for the tests (8-bit RGB or RGBA, not interlaced: what Chromium's screenshots
// are), on zlib. Only to count what a picture shows; not a general decoder.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mtfn::testing {

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint32_t> rgb;  // 0xRRGGBB per pixel, row-major
};

inline Image read_png(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string b(std::istreambuf_iterator<char>(in), {});
  if (b.size() < 8 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error(path.string() + ": not a PNG");
  auto be32 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24 | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8 | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
  };
  Image img;
  int channels = 0;
  std::string idat;
  for (size_t at = 8; at + 8 <= b.size();) {
    const uint32_t len = be32(at);
    const std::string type = b.substr(at + 4, 4);
    if (at + 12 + len > b.size()) throw std::runtime_error(path.string() + ": truncated");
    if (type == "IHDR") {
      img.width = be32(at + 8);
      img.height = be32(at + 12);
      const int depth = static_cast<uint8_t>(b[at + 16]), colour = static_cast<uint8_t>(b[at + 17]);
      if (depth != 8 || (colour != 2 && colour != 6) || b[at + 20] != 0)
        throw std::runtime_error(path.string() + ": only 8-bit RGB(A), not interlaced");
      channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat += b.substr(at + 8, len);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  const size_t stride = static_cast<size_t>(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(img.height));
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_len != raw.size())
    throw std::runtime_error(path.string() + ": bad image data");
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.reserve(static_cast<size_t>(img.width * img.height));
  for (int64_t y = 0; y < img.height; ++y) {
    const uint8_t* row = raw.data() + static_cast<size_t>(y) * (stride + 1);
    const int filter = row[0];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= static_cast<size_t>(channels) ? cur[i - channels] : 0, up = prev[i],
                c = i >= static_cast<size_t>(channels) ? prev[i - channels] : 0;
      int p = 0;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = up; break;
        case 3: p = (a + up) / 2; break;
        case 4: {
          const int pa = std::abs(up - c), pb = std::abs(a - c), pc = std::abs(a + up - 2 * c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
          break;
        }
        default: throw std::runtime_error(path.string() + ": bad filter");
      }
      cur[i] = static_cast<uint8_t>(row[1 + i] + p);
    }
    for (int64_t x = 0; x < img.width; ++x) {
      const uint8_t* px = cur.data() + x * channels;
      img.rgb.push_back(static_cast<uint32_t>(px[0]) << 16 | static_cast<uint32_t>(px[1]) << 8 | px[2]);
    }
    std::swap(prev, cur);
  }
  return img;
}

}  // namespace mtfn::testing
