// Shared helpers for the data tests: where the pickle fixtures are and how to read them.
// Not test cases.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/pickle.h"

namespace mtfn::data {
// for Boost.Test's messages
inline std::ostream& operator<<(std::ostream& o, PyKind k) { return o << kind_name(k); }
inline std::ostream& operator<<(std::ostream& o, NpKind k) { return o << static_cast<int>(k); }
}  // namespace mtfn::data

namespace mtfn::data::testing {

inline std::filesystem::path fixture_dir() { return std::filesystem::path(MTFN_SOURCE_DIR) / "tests/fixtures/pickle"; }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(read_file(p)); }

inline std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

inline std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

}  // namespace mtfn::data::testing
