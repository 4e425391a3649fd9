// Turns a parsed MMSA feature pickle into a SimsDataset: checks the layout, applies MMSA's
// loading rules (astype float32, audio -inf -> 0, time means, NaN -> 0) and reads labels/ids.
// Not the pickle machine itself (data/pickle.cpp).
#include "data/sims_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace mtfn::data {

Float32Array Float32Array::uninitialized(std::vector<int64_t> shape) {
  Float32Array a;
  a.shape = std::move(shape);
  a.storage = std::make_shared<ByteBuffer>(static_cast<size_t>(a.size()) * sizeof(float));
  return a;
}

Float32Array Float32Array::zeros(std::vector<int64_t> shape) {
  Float32Array a = uninitialized(std::move(shape));
  std::memset(a.storage->data(), 0, a.storage->size());
  return a;
}

int64_t Float32Array::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string_view task_name(Task task) {
  static constexpr std::string_view names[] = {"M", "T", "A", "V"};
  return names[static_cast<int>(task)];
}

std::string_view task_label_key(Task task) {
  static constexpr std::string_view keys[] = {"regression_labels", "regression_labels_T", "regression_labels_A",
                                              "regression_labels_V"};
  return keys[static_cast<int>(task)];
}

const SimsSplit& SimsDataset::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "valid") return valid;
  if (name == "test") return test;
  throw std::invalid_argument(fmt::format("unknown split '{}' (train, valid or test)", name));
}

SimsSplit& SimsDataset::split(std::string_view name) {
  return const_cast<SimsSplit&>(static_cast<const SimsDataset*>(this)->split(name));
}

namespace {

[[noreturn]] void fail_at(std::string_view where, const std::string& what) {
  throw PickleError(fmt::format("{}: {}", where, what));
}

bool is_numeric(NpKind k) { return k != NpKind::unicode && k != NpKind::object; }

// Storage strides (in elements) of each logical axis.
std::vector<int64_t> element_strides(const NdArray& a) {
  std::vector<int64_t> s(a.shape.size());
  int64_t stride = 1;
  if (a.fortran_order) {
    for (size_t k = 0; k < s.size(); ++k) { s[k] = stride; stride *= a.shape[k]; }
  } else {
    for (size_t k = s.size(); k-- > 0;) { s[k] = stride; stride *= a.shape[k]; }
  }
  return s;
}

template <class T>
inline T load_element(const std::byte* base, int64_t index, bool swap) {
  T v;
  std::memcpy(&v, base + index * static_cast<int64_t>(sizeof(T)), sizeof(T));
  if constexpr (sizeof(T) > 1) {
    if (swap) {
      auto* b = reinterpret_cast<unsigned char*>(&v);
      std::reverse(b, b + sizeof(T));
    }
  }
  return v;
}

// Calls f(SourceType{}) with the C++ type of a numeric dtype (bool and uint8 read as uint8).
template <class F>
auto with_numeric_type(NpKind kind, F&& f) {
  switch (kind) {
    case NpKind::float32: return f(float{});
    case NpKind::float64: return f(double{});
    case NpKind::int32: return f(int32_t{});
    case NpKind::int64: return f(int64_t{});
    case NpKind::uint8:
    case NpKind::boolean: return f(uint8_t{});
    default: throw std::logic_error("with_numeric_type on a non-numeric dtype");
  }
}

void check_feature_array(const NdArray& a, std::string_view where) {
  if (!a.has_state) fail_at(where, "array has no contents (its BUILD is missing)");
  if (!is_numeric(a.dtype.kind)) fail_at(where, fmt::format("dtype {} is not a number type", a.dtype.name()));
  if (a.shape.size() != 3) fail_at(where, fmt::format("expected 3 dims, got {} {}", a.shape.size(), a.shape_string()));
  for (int64_t d : a.shape)
    if (d == 0) fail_at(where, fmt::format("empty dimension in shape {}", a.shape_string()));
}

}  // namespace

Float32Array sequence_to_float32(const NdArray& a, std::string_view where) {
  check_feature_array(a, where);
  // float32, little-endian, C order: the file's bytes are already the final buffer
  if (a.dtype.kind == NpKind::float32 && !a.dtype.big_endian && !a.fortran_order) {
    Float32Array out;
    out.shape = a.shape;
    out.storage = a.bytes;
    return out;
  }
  Float32Array out = Float32Array::uninitialized(a.shape);
  float* dst = out.data();
  const std::byte* src = a.bytes->data();
  const bool swap = a.dtype.big_endian;
  const auto st = element_strides(a);
  const int64_t N = a.shape[0], T = a.shape[1], D = a.shape[2];
  with_numeric_type(a.dtype.kind, [&](auto type_tag) {
    using Src = decltype(type_tag);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t base = n * st[0] + t * st[1];
        float* row = dst + (n * T + t) * D;
        for (int64_t d = 0; d < D; ++d) row[d] = static_cast<float>(load_element<Src>(src, base + d * st[2], swap));
      }
    return 0;
  });
  return out;
}

Float32Array time_mean_to_float32(const NdArray& a, bool neg_inf_to_zero, std::string_view where) {
  check_feature_array(a, where);
  const int64_t N = a.shape[0], T = a.shape[1], D = a.shape[2];
  Float32Array out = Float32Array::uninitialized({N, D});
  float* dst = out.data();
  const std::byte* src = a.bytes->data();
  const bool swap = a.dtype.big_endian;
  const auto st = element_strides(a);
  const float frames = static_cast<float>(T);
  with_numeric_type(a.dtype.kind, [&](auto type_tag) {
    using Src = decltype(type_tag);
    for (int64_t n = 0; n < N; ++n) {
      // MMSA: astype(float32), then numpy's float32 mean over axis T: a running float32 sum in
      // time order, divided by T in float32.
      float* acc = dst + n * D;
      std::fill(acc, acc + D, 0.0f);
      for (int64_t t = 0; t < T; ++t) {
        const int64_t base = n * st[0] + t * st[1];
        for (int64_t d = 0; d < D; ++d) {
          float x = static_cast<float>(load_element<Src>(src, base + d * st[2], swap));
          if (neg_inf_to_zero && x == -std::numeric_limits<float>::infinity()) x = 0.0f;
          acc[d] += x;
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        float m = acc[d] / frames;
        acc[d] = std::isnan(m) ? 0.0f : m;
      }
    }
    return 0;
  });
  return out;
}

namespace {

// A per-sample vector of numbers: a numpy array of shape (N,) or (N, 1), or a list of numbers.
std::vector<double> read_numbers(PyRef v, std::string_view where) {
  std::vector<double> out;
  if (v.kind() == PyKind::ndarray) {
    const NdArray& a = v.array();
    if (!a.has_state) fail_at(where, "array has no contents (its BUILD is missing)");
    if (!is_numeric(a.dtype.kind)) fail_at(where, fmt::format("dtype {} is not a number type", a.dtype.name()));
    if (!(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1)))
      fail_at(where, fmt::format("expected shape (N,) or (N, 1), got {}", a.shape_string()));
    out.resize(static_cast<size_t>(a.count()));
    for (int64_t i = 0; i < a.count(); ++i) out[i] = a.element_as_double(i);
  } else if (v.kind() == PyKind::list || v.kind() == PyKind::tuple) {
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      PyRef e = v.item(i);
      if (!e.is_number()) fail_at(where, fmt::format("element {} is {} (expected a number)", i, a_kind_name(e.kind())));
      out.push_back(e.as_double());
    }
  } else {
    fail_at(where, fmt::format("expected a numpy array or a list of numbers, got {}", v.kind_name()));
  }
  return out;
}

std::vector<std::string> read_strings(PyRef v, std::string_view where) {
  std::vector<std::string> out;
  if (v.kind() == PyKind::ndarray) {
    const NdArray& a = v.array();
    if (!a.has_state) fail_at(where, "array has no contents (its BUILD is missing)");
    if (a.dtype.kind != NpKind::unicode && a.dtype.kind != NpKind::object)
      fail_at(where, fmt::format("dtype {} is not a string type", a.dtype.name()));
    if (a.shape.size() != 1) fail_at(where, fmt::format("expected shape (N,), got {}", a.shape_string()));
    out.reserve(static_cast<size_t>(a.count()));
    for (int64_t i = 0; i < a.count(); ++i) out.push_back(a.element_as_string(i));
  } else if (v.kind() == PyKind::list || v.kind() == PyKind::tuple) {
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      PyRef e = v.item(i);
      if (e.kind() != PyKind::str) fail_at(where, fmt::format("element {} is {} (expected a str)", i, a_kind_name(e.kind())));
      out.emplace_back(e.as_str());
    }
  } else {
    fail_at(where, fmt::format("expected a numpy array or a list of str, got {}", v.kind_name()));
  }
  return out;
}

struct SplitReader {
  const std::string& file;
  const std::string& split;
  PyRef dict;

  std::string where(std::string_view key) const { return fmt::format("{}: {}/{}", file, split, key); }

  PyRef required(std::string_view key) const {
    if (!dict.has(key)) {
      std::string keys;
      for (size_t i = 0; i < dict.size(); ++i) {
        PyRef k = dict.dict_key(i);
        if (k.kind() == PyKind::str) keys += fmt::format("{}{}", keys.empty() ? "" : ", ", k.as_str());
      }
      fail_at(fmt::format("{}: {}", file, split), fmt::format("missing key '{}' (it has: {})", key, keys));
    }
    return dict.at(key);
  }
  const NdArray& feature(std::string_view key) const {
    PyRef v = required(key);
    if (v.kind() != PyKind::ndarray) fail_at(where(key), fmt::format("expected a numpy array, got {}", v.kind_name()));
    check_feature_array(v.array(), where(key));
    return v.array();
  }
  void check_count(std::string_view key, int64_t have, int64_t n) const {
    if (have != n)
      fail_at(where(key), fmt::format("{} samples, but {}/regression_labels has {}", have, split, n));
  }
};

SimsSplit read_split(const std::string& file, const std::string& name, PyRef dict) {
  SplitReader r{file, name, dict};
  SimsSplit s;
  s.name = name;

  std::vector<double> m = read_numbers(r.required("regression_labels"), r.where("regression_labels"));
  const int64_t N = static_cast<int64_t>(m.size());
  if (N == 0) fail_at(r.where("regression_labels"), "no samples");
  s.size = N;
  for (Task task : kAllTasks) {
    if (task != Task::M && !dict.has(task_label_key(task))) continue;
    std::string key(task_label_key(task));
    std::vector<double> v = task == Task::M ? m : read_numbers(dict.at(key), r.where(key));
    r.check_count(key, static_cast<int64_t>(v.size()), N);
    auto& dst = s.labels[static_cast<int>(task)];
    dst.resize(v.size());
    std::transform(v.begin(), v.end(), dst.begin(), [](double x) { return static_cast<float>(x); });
  }

  const NdArray& text = r.feature("text");
  const NdArray& audio = r.feature("audio");
  const NdArray& vision = r.feature("vision");
  r.check_count("text", text.shape[0], N);
  r.check_count("audio", audio.shape[0], N);
  r.check_count("vision", vision.shape[0], N);
  s.text = sequence_to_float32(text, r.where("text"));
  s.audio = time_mean_to_float32(audio, /*neg_inf_to_zero=*/true, r.where("audio"));
  s.vision = time_mean_to_float32(vision, /*neg_inf_to_zero=*/false, r.where("vision"));

  for (auto [key, dst] : {std::pair<const char*, std::vector<int64_t>*>{"audio_lengths", &s.audio_lengths},
                          {"vision_lengths", &s.vision_lengths}}) {
    if (!dict.has(key)) continue;
    std::vector<double> v = read_numbers(dict.at(key), r.where(key));
    r.check_count(key, static_cast<int64_t>(v.size()), N);
    for (double x : v) {
      if (!(x >= 0 && x <= 1e15) || x != std::floor(x)) fail_at(r.where(key), fmt::format("length {} is not a count", x));
      dst->push_back(static_cast<int64_t>(x));
    }
  }
  for (auto [key, dst] : {std::pair<const char*, std::vector<std::string>*>{"id", &s.ids}, {"raw_text", &s.raw_texts}}) {
    if (!dict.has(key)) continue;
    *dst = read_strings(dict.at(key), r.where(key));
    r.check_count(key, static_cast<int64_t>(dst->size()), N);
  }
  return s;
}

}  // namespace

SimsDataset sims_dataset_from_pickle(const PickleDocument& doc) {
  const std::string& file = doc.source_name();
  PyRef root = doc.root();
  if (root.kind() != PyKind::dict)
    fail_at(file, fmt::format("top level is {} (expected a dict with train, valid, test)", a_kind_name(root.kind())));
  SimsDataset ds;
  ds.source = file;
  for (const char* name : {"train", "valid", "test"}) {
    if (!root.has(name)) fail_at(file, fmt::format("missing split '{}' (expected train, valid, test)", name));
    PyRef split = root.at(name);
    if (split.kind() != PyKind::dict) fail_at(fmt::format("{}: {}", file, name), fmt::format("is {} (expected a dict)", a_kind_name(split.kind())));
    ds.split(name) = read_split(file, name, split);
  }
  // Feature sizes come from the file; every split must agree with train.
  ds.text_dim = ds.train.text.shape[2];
  ds.audio_dim = ds.train.audio.shape[1];
  ds.vision_dim = ds.train.vision.shape[1];
  for (const SimsSplit* s : {&ds.valid, &ds.test}) {
    auto check = [&](const char* key, int64_t have, int64_t want) {
      if (have != want)
        fail_at(fmt::format("{}: {}/{}", file, s->name, key), fmt::format("feature size {}, but train/{} has {}", have, key, want));
    };
    check("text", s->text.shape[2], ds.text_dim);
    check("audio", s->audio.shape[1], ds.audio_dim);
    check("vision", s->vision.shape[1], ds.vision_dim);
  }
  for (Task task : kAllTasks) {
    int present = !ds.train.label(task).empty() + !ds.valid.label(task).empty() + !ds.test.label(task).empty();
    if (present != 0 && present != 3) {
      for (const SimsSplit* s : {&ds.train, &ds.valid, &ds.test})
        if (s->label(task).empty())
          fail_at(fmt::format("{}: {}", file, s->name), fmt::format("missing key '{}', which other splits have", task_label_key(task)));
    }
    ds.label_present[static_cast<int>(task)] = present == 3;
  }
  return ds;
}

SimsDataset load_sims_dataset(const std::filesystem::path& path) {
  PickleDocument doc = load_pickle(path);
  return sims_dataset_from_pickle(doc);
}

int label_class(float label) {
  if (label <= -0.1f) return 0;
  if (label <= 0.1f) return 1;
  return 2;
}

}  // namespace mtfn::data
