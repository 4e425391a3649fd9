// Tests of data/pth.h and the pickle reader's torch dialect against files real torch.save wrote
// (tools/make_pth_fixtures.py): both formats, views of every kind, and the hostile files of
// tests/fixtures/pth/broken/ (each must fail with its one-line message), plus truncation at every
// byte and corruption of every byte of small checkpoints.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "data/pickle.h"
#include "data/pth.h"

namespace mtfn::data {
// for Boost.Test's messages
inline std::ostream& operator<<(std::ostream& o, PyKind k) { return o << kind_name(k); }
inline std::ostream& operator<<(std::ostream& o, PthDType d) { return o << pth_dtype_name(d); }
}  // namespace mtfn::data

using namespace mtfn;
using namespace mtfn::data;
namespace fs = std::filesystem;

namespace {

fs::path dir() { return fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pth"; }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Opens and reads every entry; the error message if any.
std::string load_all(const PthReader& r) {
  for (const PthEntry& e : r.entries()) (void)r.read(e);
  return "";
}
std::string try_load(const std::string& bytes, const std::string& name) {
  try {
    PthReader r(bytes_of(bytes), name);
    return load_all(r);
  } catch (const PthError& e) {
    return e.what();
  }
}

void check_views(const PthReader& r) {
  const auto want = nlohmann::json::parse(slurp(dir() / "views.json"));
  BOOST_TEST(r.entries().size() == want.size());
  for (const auto& [name, w] : want.items()) {
    BOOST_TEST_CONTEXT(r.format() << " " << name) {
      const PthEntry* e = r.find(name);
      BOOST_REQUIRE(e);
      BOOST_TEST(pth_dtype_name(e->dtype) == w["dtype"].get<std::string>());
      BOOST_TEST(e->shape == w["shape"].get<Shape>());
      Tensor t = r.read(*e);
      BOOST_TEST(t.dtype() == (e->dtype == PthDType::float32 ? DType::F32 : DType::F64));
      const auto values = w["values"].get<std::vector<double>>();
      BOOST_REQUIRE(t.numel() == static_cast<int64_t>(values.size()));
      for (size_t i = 0; i < values.size(); ++i) BOOST_TEST(t.at(static_cast<int64_t>(i)) == values[i]);
      // and into a tensor of the other float dtype
      Tensor other = Tensor::empty(e->shape, t.dtype() == DType::F32 ? DType::F64 : DType::F32);
      r.read_into(*e, other);
      for (size_t i = 0; i < values.size(); ++i)
        BOOST_TEST(other.at(static_cast<int64_t>(i)) == static_cast<double>(static_cast<float>(values[i])));
    }
  }
  BOOST_TEST(!r.find("transposed")->contiguous());
  BOOST_TEST(r.find("rows")->contiguous());
  BOOST_TEST(r.find("rows")->offset == 6);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pth_reader)

BOOST_AUTO_TEST_CASE(views_zip_and_legacy) {
  PthReader zip(dir() / "views.pth");
  BOOST_TEST(zip.format() == "zip");
  check_views(zip);
  PthReader legacy(dir() / "views_legacy.pth");
  BOOST_TEST(legacy.format() == "legacy");
  check_views(legacy);
  // the same from memory
  PthReader mem(bytes_of(slurp(dir() / "views.pth")), "views.pth");
  check_views(mem);
}

BOOST_AUTO_TEST_CASE(mtfn_state_dict_both_formats_agree) {
  PthReader zip(dir() / "mtfn_small.pth"), legacy(dir() / "mtfn_small_legacy.pth");
  BOOST_TEST(zip.entries().size() == 54u);  // MTFN's whole state_dict
  BOOST_TEST(zip.entries().front().name == "Model.output_range");
  BOOST_REQUIRE(zip.entries().size() == legacy.entries().size());
  for (size_t i = 0; i < zip.entries().size(); ++i) {
    const PthEntry &a = zip.entries()[i], &b = legacy.entries()[i];
    BOOST_TEST_CONTEXT(a.name) {
      BOOST_TEST(a.name.starts_with("Model."));
      BOOST_TEST(a.name == b.name);
      BOOST_TEST(a.shape == b.shape);
      Tensor x = zip.read(a), y = legacy.read(b);
      BOOST_TEST(x.to_vector() == y.to_vector(), boost::test_tools::per_element());
    }
  }
  const PthEntry* n = zip.find("Model.audio_subnet.norm.num_batches_tracked");
  BOOST_REQUIRE(n);
  BOOST_TEST(n->dtype == PthDType::int64);
  BOOST_TEST(n->shape.empty());
  BOOST_TEST(zip.read(*n).item() == 3.0);
  BOOST_TEST(zip.read(*zip.find("Model.output_range")).item() == 6.0);
}

BOOST_AUTO_TEST_CASE(shape_mismatch_on_read_into) {
  PthReader r(dir() / "views.pth");
  Tensor wrong = Tensor::empty({2, 2});
  BOOST_CHECK_EXCEPTION(r.read_into(*r.find("transposed"), wrong), PthError, [](const PthError& e) {
    return std::string(e.what()).find("'transposed' has shape (6, 4) in the file, (2, 2) in the destination") !=
           std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(broken_files_fail_with_their_message) {
  const auto expected = nlohmann::json::parse(slurp(dir() / "broken/expected.json"));
  BOOST_TEST(expected.size() >= 40u);
  for (const auto& [file, message] : expected.items()) {
    BOOST_TEST_CONTEXT(file) {
      const fs::path path = dir() / "broken" / file;
      std::string got;
      try {
        PthReader r(path);
        got = load_all(r);
      } catch (const PthError& e) {
        got = e.what();
      }
      BOOST_TEST(got.find(message.get<std::string>()) != std::string::npos, got);
      BOOST_TEST(got.starts_with(path.string() + ": "), got);
      BOOST_TEST(got.find('\n') == std::string::npos);
      // from memory: the same message, under the given name
      const std::string mem = try_load(slurp(path), file);
      BOOST_TEST(mem.find(message.get<std::string>()) != std::string::npos, mem);
    }
  }
}

BOOST_AUTO_TEST_CASE(missing_file) {
  BOOST_CHECK_EXCEPTION(PthReader(dir() / "no_such.pth"), PthError, [](const PthError& e) {
    return std::string(e.what()).find("no_such.pth: cannot open") != std::string::npos;
  });
}

// Every prefix of a zip and of a legacy checkpoint: an error (or, for the zip, success only at full
// length), never a crash.
BOOST_AUTO_TEST_CASE(truncated_at_every_byte) {
  for (const char* name : {"views.pth", "views_legacy.pth"}) {
    const std::string all = slurp(dir() / name);
    for (size_t n = 0; n < all.size(); ++n) {
      const std::string got = try_load(all.substr(0, n), name);
      BOOST_TEST(!got.empty(), name << " cut at " << n << " loaded");
    }
    BOOST_TEST(try_load(all, name).empty());
  }
}

// Two corruptions of every byte: either it still loads (the byte was a value, or padding) or it
// fails with a PthError; never a crash or a read outside a buffer (run under ASan).
BOOST_AUTO_TEST_CASE(corrupted_at_every_byte) {
  size_t failed = 0, total = 0;
  for (const char* name : {"views.pth", "views_legacy.pth"}) {
    const std::string all = slurp(dir() / name);
    for (size_t i = 0; i < all.size(); ++i)
      for (unsigned char x : {0x01, 0xff}) {
        std::string bad = all;
        bad[i] = static_cast<char>(bad[i] ^ x);
        failed += !try_load(bad, name).empty();
        ++total;
      }
  }
  BOOST_TEST(failed > total / 4);
}

// The torch dialect is opt-in: a feature-file load of a checkpoint's pickle refuses torch's globals,
// and the torch dialect refuses numpy's.
BOOST_AUTO_TEST_CASE(dialects_stay_apart) {
  const std::string legacy = slurp(dir() / "views_legacy.pth");
  size_t used = 0;
  // the legacy stream's fourth pickle is the state_dict
  size_t pos = 15;
  for (int k = 0; k < 2; ++k) {
    (void)load_torch_pickle(bytes_of(legacy).subspan(pos), "x", &used);
    pos += used;
  }
  PickleDocument doc = load_torch_pickle(bytes_of(legacy).subspan(pos), "x", &used);
  BOOST_TEST(doc.root().kind() == PyKind::dict);
  BOOST_TEST(doc.root().at("rows").kind() == PyKind::torch_tensor);
  BOOST_TEST(doc.root().at("rows").torch_tensor().offset == 6);
  BOOST_TEST(doc.torch_storages().size() >= 5u);
  const std::string state = legacy.substr(pos, used);
  BOOST_CHECK_EXCEPTION(load_pickle_bytes(bytes_of(state), "x"), PickleError, [](const PickleError& e) {
    return std::string(e.what()).find("global 'torch._utils._rebuild_tensor_v2' is not allowed") != std::string::npos;
  });
  const std::string numpy_pickle = slurp(fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/pickle/p4_mosi_like.pkl");
  BOOST_CHECK_THROW(load_torch_pickle(bytes_of(numpy_pickle), "x"), PickleError);
}

BOOST_AUTO_TEST_SUITE_END()
