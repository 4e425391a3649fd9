// Tests of the pickle machine itself: every value kind and opcode a feature file uses, numpy
// arrays in each storage variant, and broken / hostile input (truncation at every byte,
// corruption of every byte, a million-deep nest, the committed broken/ files).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include "data/pickle.h"
#include "data/sims_dataset.h"
#include "fixtures.h"

using namespace mtfn::data;
using namespace mtfn::data::testing;

namespace {

// pickle.dumps(obj, protocol=p) for
// obj = {'ints': [0, 1, -2, 255, 256, 65535, 65536, -70000, 2**40, -(2**40), 2**63-1, -(2**63)],
//        'floats': [1.5, -0.0, 1e300], 'flags': (True, False, None), 'text': '中文 ok',
//        'raw': b'xy\x00', 't1': (1,), 't2': (1, 2), 't3': (1, 2, 3), 't4': (1, 2, 3, 4),
//        'empty': ((), [], {}), 'nested': {'k': [[1], [2]]}};  obj['shared'] = obj['t2']
const char* kScalarsP2 =
    "80027d7100285804000000696e747371015d7102284b004b014afeffffff4bff4d00014dffff4a000001004a90eefeff8a06000000"
    "0000018a060000000000ff8a08ffffffffffffff7f8a080000000000000080655806000000666c6f61747371035d710428473ff800"
    "0000000000478000000000000000477e37e43c8800759c655805000000666c616773710588894e87710658040000007465787471"
    "075809000000e4b8ade69687206f6b710858030000007261777109635f636f646563730a656e636f64650a710a58030000007879"
    "00710b58060000006c6174696e31710c86710d52710e58020000007431710f4b018571105802000000743271114b014b02867112"
    "5802000000743371134b014b024b03877114580200000074347115284b014b024b034b047471165805000000656d707479711729"
    "5d71187d711987711a58060000006e6573746564711b7d711c58010000006b711d5d711e285d711f4b01615d71204b0261657358"
    "0600000073686172656471216812752e";
const char* kScalarsP4 =
    "8004950c010000000000007d94288c04696e7473945d94284b004b014afeffffff4bff4d00014dffff4a000001004a90eefeff8a"
    "060000000000018a060000000000ff8a08ffffffffffffff7f8a080000000000000080658c06666c6f617473945d9428473ff800"
    "0000000000478000000000000000477e37e43c8800759c658c05666c6167739488894e87948c0474657874948c09e4b8ade69687"
    "206f6b948c03726177944303787900948c027431944b0185948c027432944b014b0286948c027433944b014b024b0387948c0274"
    "3494284b014b024b034b0474948c05656d70747994295d947d9487948c066e6573746564947d948c016b945d94285d944b01615d"
    "944b026165738c0673686172656494680e752e";

void check_scalars(const PickleDocument& doc) {
  PyRef r = doc.root();
  BOOST_TEST(r.kind() == PyKind::dict);
  BOOST_TEST(r.size() == 12u);
  PyRef ints = r.at("ints");
  const int64_t want[] = {0, 1, -2, 255, 256, 65535, 65536, -70000, int64_t{1} << 40, -(int64_t{1} << 40), INT64_MAX, INT64_MIN};
  BOOST_TEST(ints.size() == 12u);
  for (size_t i = 0; i < 12; ++i) BOOST_TEST(ints.item(i).as_int() == want[i]);
  PyRef floats = r.at("floats");
  BOOST_TEST(floats.item(0).as_double() == 1.5);
  BOOST_TEST(std::signbit(floats.item(1).as_double()));
  BOOST_TEST(floats.item(2).as_double() == 1e300);
  PyRef flags = r.at("flags");
  BOOST_TEST(flags.kind() == PyKind::tuple);
  BOOST_TEST(flags.item(0).kind() == PyKind::boolean);
  BOOST_TEST(flags.item(0).as_int() == 1);
  BOOST_TEST(flags.item(1).as_int() == 0);
  BOOST_TEST(flags.item(2).kind() == PyKind::none);
  BOOST_TEST(r.at("text").as_str() == "中文 ok");
  auto raw = r.at("raw").as_bytes();  // protocol 2: _codecs.encode('xy\x00', 'latin1')
  BOOST_TEST(raw.size() == 3u);
  BOOST_TEST(static_cast<char>(raw[0]) == 'x');
  BOOST_TEST(static_cast<int>(raw[2]) == 0);
  for (auto [key, n] : {std::pair{"t1", 1}, {"t2", 2}, {"t3", 3}, {"t4", 4}}) {
    PyRef t = r.at(key);
    BOOST_TEST(t.kind() == PyKind::tuple);
    BOOST_TEST(t.size() == static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) BOOST_TEST(t.item(k).as_int() == k + 1);
  }
  PyRef empty = r.at("empty");
  BOOST_TEST(empty.item(0).kind() == PyKind::tuple);
  BOOST_TEST(empty.item(1).kind() == PyKind::list);
  BOOST_TEST(empty.item(2).kind() == PyKind::dict);
  BOOST_TEST(empty.item(2).size() == 0u);
  PyRef nested = r.at("nested").at("k");
  BOOST_TEST(nested.item(1).item(0).as_int() == 2);
  BOOST_TEST(r.at("shared").id() == r.at("t2").id());  // the memo shares, as in Python
}

PickleDocument parse(const std::string& bytes, const char* name = "mem.pkl") { return load_pickle_bytes(as_bytes(bytes), name); }

std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const PickleError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pickle_reader)

BOOST_AUTO_TEST_CASE(scalars_and_containers_protocol_2) { check_scalars(parse(from_hex(kScalarsP2))); }
BOOST_AUTO_TEST_CASE(scalars_and_containers_protocol_4) { check_scalars(parse(from_hex(kScalarsP4))); }

BOOST_AUTO_TEST_CASE(numpy_arrays_in_every_variant) {
  // p4: audio Fortran-ordered float64, vision big-endian float64, lengths int32, raw_text '<U'
  PickleDocument doc = load_pickle(fixture_dir() / "p4_fortran_bigendian.pkl");
  PyRef train = doc.root().at("train");
  const NdArray& audio = train.at("audio").array();
  BOOST_TEST(audio.fortran_order);
  BOOST_TEST(audio.dtype.name() == "float64");
  BOOST_TEST(audio.shape_string() == "(3, 6, 3)");
  const NdArray& vision = train.at("vision").array();
  BOOST_TEST(vision.dtype.big_endian);
  BOOST_TEST(vision.dtype.name() == ">float64");
  BOOST_TEST(std::isnan(vision.element_as_double(2 * 4 * 5 + 3 * 5 + 2)));  // vision[2, 3, 2] = NaN
  BOOST_TEST(train.at("audio_lengths").array().dtype.name() == "int32");
  BOOST_TEST(train.at("audio_lengths").array().element_as_double(1) == 5.0);
  const NdArray& raw = train.at("raw_text").array();
  BOOST_TEST(raw.dtype.kind == NpKind::unicode);
  BOOST_TEST(raw.element_as_string(0) == "我们今天。");
  BOOST_TEST(doc.root().at("config").at("note").as_str() == "ignored");

  // p5: _frombuffer with BYTEARRAY8; text float64 Fortran, audio big-endian float32
  PickleDocument p5 = load_pickle(fixture_dir() / "p5_frombuffer.pkl");
  PyRef t5 = p5.root().at("train");
  BOOST_TEST(t5.at("text").array().fortran_order);
  BOOST_TEST(t5.at("text").array().dtype.name() == "float64");
  BOOST_TEST(t5.at("audio").array().dtype.name() == ">float32");
  BOOST_TEST(t5.at("regression_labels").array().shape_string() == "(3, 1)");
  BOOST_TEST(t5.at("id").array().dtype.kind == NpKind::object);
  BOOST_TEST(t5.at("id").array().element_as_string(2) == "vidtrain_002$_$3");

  // p3: object arrays in BINBYTES-era pickles; labels as lists
  PickleDocument p3 = load_pickle(fixture_dir() / "p3_lists_object.pkl");
  BOOST_TEST(p3.root().at("valid").at("regression_labels").kind() == PyKind::list);
  BOOST_TEST(p3.root().at("valid").at("raw_text").array().dtype.name() == "object");
  BOOST_TEST(p3.root().kind() == PyKind::dict);  // written as a collections.OrderedDict

  // numpy scalars (numpy.core.multiarray.scalar) in a list become plain floats
  PickleDocument mosi = load_pickle(fixture_dir() / "p4_mosi_like.pkl");
  PyRef labels = mosi.root().at("valid").at("regression_labels");
  BOOST_TEST(labels.kind() == PyKind::list);
  BOOST_TEST(labels.item(0).kind() == PyKind::floating);
}

BOOST_AUTO_TEST_CASE(numpy2_module_names_read_the_same) {
  for (const char* base : {"p2_float32_unicode", "p5_frombuffer"}) {
    PickleDocument a = load_pickle(fixture_dir() / (std::string(base) + ".pkl"));
    PickleDocument b = load_pickle(fixture_dir() / (std::string(base) + "_numpy2.pkl"));
    const NdArray& x = a.root().at("test").at("vision").array();
    const NdArray& y = b.root().at("test").at("vision").array();
    BOOST_TEST(x.shape == y.shape);
    BOOST_TEST(std::memcmp(x.bytes->data(), y.bytes->data(), x.bytes->size()) == 0);
  }
}

BOOST_AUTO_TEST_CASE(truncation_at_every_byte_is_an_error) {
  const std::string good = read_file(fixture_dir() / "p4_mosi_like.pkl");
  parse(good);  // the whole file loads
  for (size_t n = 0; n < good.size(); ++n) {
    std::string msg = error_of(good.substr(0, n));
    if (n >= 2) BOOST_TEST_REQUIRE(msg.find("truncated") != std::string::npos, "prefix " << n << ": " << msg);
    else BOOST_TEST_REQUIRE(msg.find("not a pickle") != std::string::npos, msg);
  }
}

BOOST_AUTO_TEST_CASE(corrupting_any_byte_never_crashes) {
  // Each byte replaced (by one of three patterns, in turn): the result loads or fails with a
  // PickleError; if it parses, the dataset layer either accepts it or fails the same way.
  // (The fuzzer, scripts/fuzz.sh, goes much further.)
  const std::string good = read_file(fixture_dir() / "p4_mosi_like.pkl");
  int errors = 0;
  const unsigned char patterns[3] = {0xFF, 0x80, 0x01};
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ patterns[i % 3]);
    try {
      PickleDocument doc = parse(bad);
      (void)sims_dataset_from_pickle(doc);
    } catch (const PickleError&) {
      ++errors;
    }
  }
  BOOST_TEST(errors > 0);
}

BOOST_AUTO_TEST_CASE(a_million_deep_is_refused) {
  std::string marks = std::string("\x80\x04", 2) + std::string(1000000, '(') + ".";
  BOOST_TEST(error_of(marks).find("more than 1000 nested MARKs") != std::string::npos);
  std::string lists = std::string("\x80\x04", 2) + std::string(1000000, ']') + std::string(999999, 'a') + ".";
  BOOST_TEST(error_of(lists).find("nesting deeper than 1000 levels") != std::string::npos);
  std::string tuples = std::string("\x80\x04", 2) + ")";
  for (int i = 0; i < 1000000; ++i) tuples += "\x85";  // ((((),),),)...
  tuples += ".";
  BOOST_TEST(error_of(tuples).find("nesting deeper than 1000 levels") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(self_reference_does_not_recurse) {
  // l = []; l.append(l): the memo lets a list contain itself
  std::string cyc = std::string("\x80\x02]q\x00h\x00" "a.", 9);
  PickleDocument doc = parse(cyc);
  BOOST_TEST(doc.root().item(0).id() == doc.root().id());
}

BOOST_AUTO_TEST_CASE(limits_on_values_and_stack) {
  PickleLimits small;
  small.max_values = 100;
  std::string many = std::string("\x80\x02]", 3) + std::string(200, 'N') + ".";
  BOOST_CHECK_EXCEPTION(load_pickle_bytes(as_bytes(many), "many.pkl", small), PickleError,
                        [](const PickleError& e) { return std::string(e.what()).find("more than 100 values") != std::string::npos; });
  small.max_values = 1u << 20;
  small.max_stack = 50;
  BOOST_CHECK_EXCEPTION(load_pickle_bytes(as_bytes(many), "many.pkl", small), PickleError,
                        [](const PickleError& e) { return std::string(e.what()).find("stack deeper than 50") != std::string::npos; });
}

BOOST_AUTO_TEST_CASE(broken_files_give_the_right_error) {
  const auto dir = fixture_dir() / "broken";
  const nlohmann::json expected = read_json(dir / "expected.json");
  std::set<std::string> covered;
  for (auto& [name, want] : expected.items()) {
    covered.insert(name);
    std::string msg = "(no error)";
    try {
      (void)load_sims_dataset(dir / name);
    } catch (const PickleError& e) {
      msg = e.what();
    }
    BOOST_TEST(msg.find(want.get<std::string>()) != std::string::npos, name << ": got \"" << msg << "\", want \"" << want.get<std::string>() << "\"");
    BOOST_TEST(msg.find('\n') == std::string::npos, name << ": error is not one line");
    BOOST_TEST(msg.find((dir / name).string()) == 0, name << ": error does not start with the file: " << msg);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name != "expected.json") BOOST_TEST(covered.count(name) == 1u, name << " has no expected error");
  }
}

BOOST_AUTO_TEST_CASE(offsets_name_the_opcode) {
  BOOST_TEST(error_of(std::string("\x80\x02NN\xfe.", 6)) == "mem.pkl: byte 4: unknown opcode 0xfe");
  BOOST_TEST(error_of(std::string("\x80\x02}K\x01" "a.", 7)) == "mem.pkl: byte 5: APPEND applied to a dict (expected a list)");
  BOOST_TEST(error_of(std::string("\x80\x02K\x01K\x02\x87.", 8)) == "mem.pkl: byte 6: TUPLE3 needs 3 values, the stack has 2");
  BOOST_TEST(error_of(std::string("\x80\x04\x8c\x03" "ab", 6)) == "mem.pkl: byte 2: truncated: SHORT_BINUNICODE needs 3 bytes, 2 left");
  BOOST_TEST(error_of(std::string("\x80\x02X\x02\x00\x00\x00\xff\xfe.", 10)) == "mem.pkl: byte 2: BINUNICODE: text is not valid UTF-8");
}

BOOST_AUTO_TEST_CASE(missing_file) {
  BOOST_CHECK_EXCEPTION(load_pickle("/nonexistent/x.pkl"), PickleError, [](const PickleError& e) {
    return std::string(e.what()).starts_with("/nonexistent/x.pkl: cannot open");
  });
}

BOOST_AUTO_TEST_SUITE_END()
