// safetensors: round trips, PyTorch-made files, every kind of corrupt file, atomic writes.
#include <filesystem>
#include <atomic>
#include <barrier>
#include <fstream>
#include <functional>
#include <thread>

#include "core/ops/shape.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::nn;
using namespace mtfn::testing;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the build tree for one test's files.
fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(MTFN_BINARY_DIR) / "test_scratch" / "nn_safetensors" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes 8-byte length + header text + data bytes.
std::string write_raw(const fs::path& p, const std::string& header, const std::string& data, int64_t len = -1) {
  std::string bytes(8, '\0');
  const uint64_t n = len < 0 ? header.size() : static_cast<uint64_t>(len);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  bytes += header + data;
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors)

BOOST_AUTO_TEST_CASE(round_trip_f32_f64_i64_and_metadata) {
  const fs::path dir = scratch("round_trip");
  TensorDict d;
  d.insert("w", Tensor::from_vector({1.5, -2.25, 3e-8, 4}, {2, 2}, DType::F32));
  d.insert("b", Tensor::from_vector({0.1, 1e300}, {2}, DType::F64));
  d.insert("step", Tensor::scalar(5, DType::F64), /*int64=*/true);
  d.insert("counts", Tensor::from_vector({-3, 0, 9007199254740992.0}, {3}, DType::F64), true);
  d.insert("empty", Tensor::zeros({0, 3}, DType::F32));
  const std::string path = (dir / "a.safetensors").string();
  write_safetensors(path, d, {{"description", "a test"}, {"config", "{\"lr\": 0.005}"}});
  BOOST_TEST(!fs::exists(path + ".tmp"));
  BOOST_TEST(fs::file_size(path) % 8 == 0u);

  const SafetensorsFile f = read_safetensors(path);
  BOOST_TEST(f.metadata.at("description") == "a test");
  BOOST_TEST(f.metadata.at("config") == "{\"lr\": 0.005}");
  std::vector<std::string> order;
  for (const NamedTensor& e : f.tensors) order.push_back(e.name);
  BOOST_TEST(order == (std::vector<std::string>{"w", "b", "step", "counts", "empty"}), boost::test_tools::per_element());
  for (const NamedTensor& e : d) {
    const NamedTensor* r = f.tensors.find(e.name);
    BOOST_TEST_CONTEXT(e.name) {
      BOOST_TEST(r->tensor.dtype() == e.tensor.dtype());
      BOOST_TEST(r->tensor.shape() == e.tensor.shape());
      BOOST_TEST(r->int64 == e.int64);
      BOOST_TEST(r->tensor.to_vector() == e.tensor.to_vector(), boost::test_tools::per_element());
    }
  }
  // The I64 bytes on disk are int64: rewrite and compare byte for byte.
  write_safetensors((dir / "b.safetensors").string(), f.tensors, f.metadata);
  BOOST_TEST(read_bytes(dir / "b.safetensors") == read_bytes(path));
}

BOOST_AUTO_TEST_CASE(reads_files_written_by_python) {
  const SafetensorsFile f = nn_fixture("adam.safetensors");
  BOOST_TEST(f.metadata.at("generator") == "tools/make_nn_fixtures.py");
  const NamedTensor* step = f.tensors.find("state.step.p0");
  BOOST_REQUIRE(step);
  BOOST_TEST(step->int64);
  BOOST_TEST(step->tensor.shape() == Shape{});
  BOOST_TEST(step->tensor.item() == 5.0);
  BOOST_TEST(f.tensors.at("init.p0").shape() == (Shape{3, 4}));
  BOOST_TEST(f.tensors.at("init.p0").dtype() == DType::F64);
  // The whole-model references too (written by the same Python writer).
  for (const auto& entry : fs::directory_iterator(fs::path(MTFN_SOURCE_DIR) / "tests/fixtures/reference"))
    if (entry.path().extension() == ".safetensors") {
      const SafetensorsFile r = read_safetensors(entry.path().string());
      BOOST_TEST(r.tensors.contains("text_subnet.rnn.weight_ih_l0"));
      BOOST_TEST(r.tensors.find("audio_subnet.norm.num_batches_tracked")->int64);
    }
}

BOOST_AUTO_TEST_CASE(module_save_and_load) {
  const fs::path dir = scratch("module");
  Generator g1(1), g2(2);
  LSTM a(3, 2, 1, g1), b(3, 2, 1, g2);
  const std::string path = (dir / "m.safetensors").string();
  save_module(path, a, {{"epoch", "3"}});
  load_module(path, b);
  BOOST_TEST(b.weight_hh[0].to_vector() == a.weight_hh[0].to_vector(), boost::test_tools::per_element());
  BatchNorm1d bn(3);
  BOOST_TEST(ERROR_MESSAGE(load_module(path, bn)) ==
             path + ": does not fit BatchNorm1d: missing weight, bias, running_mean, running_var, num_batches_tracked; "
                    "unexpected weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0");
  // With a prefix, as in MMSA's checkpoints ("Model.").
  TensorDict prefixed;
  prefixed.insert_all(a.state_dict(), "Model.rnn.");
  write_safetensors(path, prefixed);
  LSTM c(3, 2, 1, g2);
  load_module(path, c, "Model.rnn.");
  BOOST_TEST(c.bias_ih[0].to_vector() == a.bias_ih[0].to_vector(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(corrupt_files_name_the_file_and_the_problem) {
  const fs::path dir = scratch("corrupt");
  const std::string good = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  struct Case {
    std::string name, header, data;
    int64_t len;
    std::string message;
  };
  const std::vector<Case> cases{
      {"short", "", "", -2, "file is 4 bytes, too short for the 8-byte header length"},
      {"past_end", good, data8, 1000, "header length 1000 runs past the end of the file (70 bytes)"},
      {"bad_json", R"({"x": {"dtype": )", data8, -1, "header is not valid JSON: "},
      {"not_object", "[1, 2]", "", -1, "header is not a JSON object"},
      {"dtype", R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", data8, -1,
       "tensor 'x': unsupported dtype 'BF16' (F32, F64 and I64 are supported)"},
      {"no_shape", R"({"x":{"dtype":"F32","data_offsets":[0,8]}})", data8, -1, "tensor 'x': missing shape"},
      {"bad_shape", R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8, -1,
       "tensor 'x': shape [-2] is not a list of sizes"},
      {"bad_offsets", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8, -1,
       "tensor 'x': data_offsets must be [begin, end]"},
      {"reversed", R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8, -1,
       "tensor 'x': data_offsets [8, 0] end before they begin"},
      {"size", R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", data8, -1,
       "tensor 'x': shape (2,) of F64 needs 16 bytes, data_offsets [0, 8] hold 8"},
      {"truncated", good, std::string(5, '\0'), -1,
       "tensor 'x': data_offsets [0, 8] run past the end of the data (5 bytes; truncated file?)"},
      {"overlap", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       data8, -1, "tensors 'x' [0, 8] and 'y' [4, 8] overlap"},
      {"metadata", R"({"__metadata__":{"a":1}})", "", -1, "__metadata__ value of 'a' is not a string"},
      {"i64_range", R"({"x":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", std::string(7, '\xff') + '\x7f', -1,
       "tensor 'x': I64 value 9223372036854775807 is beyond 2^53, not exact as float64"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const fs::path p = dir / (c.name + ".safetensors");
      std::string path;
      if (c.len == -2) {
        std::ofstream(p, std::ios::binary) << "abcd";
        path = p.string();
      } else {
        path = write_raw(p, c.header, c.data, c.len);
      }
      const std::string msg = ERROR_MESSAGE(read_safetensors(path));
      BOOST_TEST(msg.rfind(path + ": " + c.message, 0) == 0u, "got: " << msg);
      BOOST_TEST(msg.find('\n') == std::string::npos);
    }
  }
  BOOST_TEST(ERROR_MESSAGE(read_safetensors((dir / "absent.safetensors").string())) ==
             (dir / "absent.safetensors").string() + ": cannot open: No such file or directory");
}

BOOST_AUTO_TEST_CASE(failed_writes_leave_the_old_file_intact) {
  const fs::path dir = scratch("atomic");
  const std::string path = (dir / "ckpt.safetensors").string();
  TensorDict old_state;
  old_state.insert("w", Tensor::full({1000}, 1.0, DType::F64));
  write_safetensors(path, old_state);
  const std::string before = read_bytes(path);
  TensorDict new_state;
  new_state.insert("w", Tensor::full({1000}, 2.0, DType::F64));

  // 1. A write error half way through the data (a full disk, say).
  set_write_failure_for_testing(4000);
  const std::string msg = ERROR_MESSAGE(write_safetensors(path, new_state));
  set_write_failure_for_testing(-1);
  BOOST_TEST(msg == path + ": writing " + path + ".tmp: simulated write failure after 4000 bytes");
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(!fs::exists(path + ".tmp"));

  // 2. The temp file cannot be created (here: a directory is in the way; works as root too).
  fs::create_directory(path + ".tmp");
  BOOST_TEST(ERROR_MESSAGE(write_safetensors(path, new_state)).rfind(path + ": cannot create " + path + ".tmp: ", 0) == 0u);
  BOOST_TEST(read_bytes(path) == before);
  fs::remove(path + ".tmp");

  // 3. A value that cannot be written as I64 is found before anything is replaced.
  TensorDict bad;
  bad.insert("n", Tensor::scalar(2.5, DType::F64), true);
  BOOST_TEST(ERROR_MESSAGE(write_safetensors(path, bad)) == path + ": tensor 'n' is marked int64 but holds 2.5");
  BOOST_TEST(read_bytes(path) == before);

  // And a successful write replaces it.
  write_safetensors(path, new_state);
  BOOST_TEST(read_safetensors(path).tensors.at("w").at(999) == 2.0);
}

// Column shards (the sharded fusion head's files): three writers (threads standing in for processes)
// each holding columns of a matrix and of its Adam-like companion write one file; it reads back as the
// whole matrices, and each writer's columns read back alone, whatever metadata each writer holds. A
// writer that fails leaves the old file.
BOOST_AUTO_TEST_CASE(column_shards_written_by_several_writers_read_back_whole_and_by_columns) {
  const fs::path dir = scratch("shards"), file = dir / "sharded.safetensors";
  const int64_t rows = 4, full = 11;
  const Tensor w = random_tensor({rows, full}, 1, -1, 1, DType::F32), m = random_tensor({rows, full}, 2, -1, 1, DType::F32);
  const Tensor bias = random_tensor({3}, 3, -1, 1, DType::F64);
  const std::vector<ColumnShard> cols = {{0, 4, full}, {4, 4, full}, {4, 11, full}};  // the middle writer holds none
  auto run = [&](std::function<bool(int)> fails) {
    std::barrier sync(3);
    std::atomic<int> failures{0};
    std::vector<std::string> errors(3);
    std::vector<std::thread> writers;
    for (int k = 0; k < 3; ++k)
      writers.emplace_back([&, k] {
        TensorDict d;
        d.insert("w", slice(w, 1, cols[size_t(k)].begin, cols[size_t(k)].end));
        d.insert("bias", bias);
        d.insert("m", slice(m, 1, cols[size_t(k)].begin, cols[size_t(k)].end));
        WriteGroup g;
        g.first = k == 0;
        g.all_ok = [&](bool ok) {  // an all-gather of the flags
          if (!ok) ++failures;
          sync.arrive_and_wait();
          const bool all = failures.load() == 0;
          sync.arrive_and_wait();
          return all;
        };
        try {
          if (fails(k)) {  // a joining writer that cannot write its columns: the protocol's two agreements
            g.all_ok(true);
            g.all_ok(false);
            throw Error("simulated");
          }
          // Each writer's own metadata, of a different length (as a checkpoint's timings differ from
          // process to process): the file has the first's, and the others' columns go where its header
          // puts them (a joining writer that used its own header's length would shift them).
          const std::string meta = k == 0 ? "v" : std::string(size_t(1 + 8 * k), 'x');
          write_safetensors(file.string(), d, {{"k", meta}}, {{"w", cols[size_t(k)]}, {"m", cols[size_t(k)]}}, g);
        } catch (const Error& e) {
          errors[size_t(k)] = e.what();
        }
      });
    for (auto& t : writers) t.join();
    return errors;
  };
  for (const std::string& e : run([](int) { return false; })) BOOST_TEST(e == "");
  const SafetensorsFile whole = read_safetensors(file.string());
  CHECK_TENSOR_CLOSE(whole.tensors.find("w")->tensor, w, 0);
  CHECK_TENSOR_CLOSE(whole.tensors.find("m")->tensor, m, 0);
  CHECK_TENSOR_CLOSE(whole.tensors.find("bias")->tensor, bias, 0);
  BOOST_TEST(whole.metadata.at("k") == "v");
  const SafetensorsIndex idx = read_safetensors_index(file.string());
  const TensorDict part = read_entries(idx, "", {{"w", {4, 11, full}}});
  CHECK_TENSOR_CLOSE(part.find("w")->tensor, slice(w, 1, 4, 11), 0);
  BOOST_TEST(ERROR_MESSAGE(read_entries(idx, "", {{"bias", {0, 1, 3}}})).find("'bias' has shape") != std::string::npos);
  // The second writer fails: every writer gets an error, the file is the one written above.
  const std::string before = read_bytes(file);
  const std::vector<std::string> errors = run([](int k) { return k == 2; });
  BOOST_TEST(errors[0].find("another process could not write its part") != std::string::npos);
  BOOST_TEST(read_bytes(file) == before);
  BOOST_TEST(!fs::exists(file.string() + ".tmp"));
}

BOOST_AUTO_TEST_SUITE_END()
