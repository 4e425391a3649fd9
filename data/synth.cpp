// The synthetic CH-SIMS generator: latent sentiments per sample, labels on MMSA's 0.2 grid, and
// features streamed sample by sample into a protocol 4 pickle (see data/synth.h for the recipe).
// Its own random generator (xoshiro256**) keeps files identical across platforms for a seed.
#include "data/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/pickle_writer.h"

namespace mtfn::data {

namespace {

// Each split max(1, round(size * scale)).
void scale_splits(SynthShape& s, double scale) {
  if (!(scale > 0) || scale > 100) throw std::invalid_argument(fmt::format("scale {} (must be in (0, 100])", scale));
  auto scaled = [&](int64_t n) { return std::max<int64_t>(1, static_cast<int64_t>(std::llround(n * scale))); };
  s.train = scaled(s.train);
  s.valid = scaled(s.valid);
  s.test = scaled(s.test);
}

}  // namespace

SynthShape SynthShape::at_scale(double scale) { return of_dataset("sims", scale); }

SynthShape SynthShape::of_dataset(const std::string& dataset, double scale) {
  SynthShape s;  // CH-SIMS
  if (dataset == "simsv2") {
    s.train = 2722, s.valid = 647, s.test = 1034;
  } else if (dataset == "mosi" || dataset == "mosei") {
    if (dataset == "mosi") s.train = 1284, s.valid = 229, s.test = 686, s.audio_dim = 5, s.vision_dim = 20;
    else s.train = 16326, s.valid = 1871, s.test = 4659, s.audio_dim = 74, s.vision_dim = 35;
    s.text_len = 50, s.audio_len = 500, s.vision_len = 375;  // unaligned_50
    s.unimodal_labels = false;
    s.label_range = 3.0;
  } else if (dataset != "sims") {
    throw std::invalid_argument(fmt::format("unknown dataset '{}' (sims, simsv2, mosi or mosei)", dataset));
  }
  scale_splits(s, scale);
  return s;
}

namespace {

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = seed = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double symmetric() { return 2.0 * uniform() - 1.0; }                         // [-1, 1)
  double normal(double sd = 1.0) {                                           // Box-Muller
    double u1 = 1.0 - uniform(), u2 = uniform();
    return sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  int64_t between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(uniform() * static_cast<double>(hi - lo + 1)); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

uint64_t mix(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return splitmix64(splitmix64(splitmix64(splitmix64(a) ^ b) ^ c) ^ d);
}

double clip1(double x) { return std::clamp(x, -1.0, 1.0); }
double grid(double x) { return std::clamp(std::round(x * 5.0) / 5.0, -1.0, 1.0) + 0.0; }  // + 0.0: no -0

// Fixed per seed: the directions along which each modality carries its sentiment.
struct Directions {
  std::vector<float> text;
  std::vector<double> audio, audio_base, vision, vision_base;
};

Directions make_directions(const SynthShape& sh, uint64_t seed) {
  Rng r(mix(seed, 0xD1));
  Directions d;
  for (int64_t k = 0; k < sh.text_dim; ++k) d.text.push_back(static_cast<float>(r.normal(0.5)));
  for (int64_t k = 0; k < sh.audio_dim; ++k) d.audio.push_back(r.normal(1.0));
  for (int64_t k = 0; k < sh.audio_dim; ++k) d.audio_base.push_back(r.normal(2.0));
  for (int64_t k = 0; k < sh.vision_dim; ++k) d.vision.push_back(r.normal(0.7));
  for (int64_t k = 0; k < sh.vision_dim; ++k) d.vision_base.push_back(r.normal(1.0));
  return d;
}

struct Sample {
  double s_t, s_a, s_v;
  double label[4];  // M, T, A, V
  int64_t text_len, audio_len, vision_len;
  bool audio_has_neg_inf, vision_has_nan;
  std::string id, raw_text;
};

constexpr const char* kPositiveWords[] = {"喜欢", "开心", "很好", "漂亮", "精彩", "满意", "温暖"};
constexpr const char* kNegativeWords[] = {"讨厌", "难过", "糟糕", "生气", "失望", "无聊", "烦人"};
constexpr const char* kNeutralWords[] = {"今天", "我们", "这个", "电影", "觉得", "然后", "一下", "时候", "他们", "说"};

template <size_t N>
const char* pick(Rng& r, const char* const (&words)[N]) { return words[r.next() % N]; }

std::vector<Sample> make_samples(const SynthShape& sh, int64_t n, int split_index, uint64_t seed) {
  Rng r(mix(seed, 0x5A, static_cast<uint64_t>(split_index)));
  std::vector<Sample> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Sample& s = out[i];
    double c = r.normal(0.45);
    s.s_t = clip1(c + r.normal(0.3));
    s.s_a = clip1(c + r.normal(0.3));
    s.s_v = clip1(c + r.normal(0.3));
    s.label[1] = grid(s.s_t + r.normal(0.05));
    s.label[2] = grid(s.s_a + r.normal(0.05));
    s.label[3] = grid(s.s_v + r.normal(0.05));
    s.label[0] = grid(0.45 * s.s_t + 0.25 * s.s_a + 0.3 * s.s_v + r.normal(0.05));
    if (sh.label_range != 1.0) s.label[0] = std::clamp(std::round(s.label[0] * sh.label_range * 5.0) / 5.0, -sh.label_range, sh.label_range) + 0.0;
    s.text_len = std::min(sh.text_len, r.between(sh.text_len * 3 / 4, sh.text_len));
    s.audio_len = std::min(sh.audio_len, r.between(sh.audio_len * 4 / 5, sh.audio_len));
    s.vision_len = std::min(sh.vision_len, r.between(sh.vision_len * 3 / 4, sh.vision_len));
    s.audio_has_neg_inf = r.uniform() < 0.3;
    s.vision_has_nan = r.uniform() < 0.2 && s.vision_len < sh.vision_len;
    s.id = fmt::format("video_{:04d}$_${:04d}", 1 + (split_index * 100000 + i) / 8, 1 + i % 8);
    int words = static_cast<int>(r.between(4, 9));
    for (int w = 0; w < words; ++w) {
      double u = r.uniform();
      if (u < 0.35 && s.label[1] > 0.1) s.raw_text += pick(r, kPositiveWords);
      else if (u < 0.35 && s.label[1] < -0.1) s.raw_text += pick(r, kNegativeWords);
      else s.raw_text += pick(r, kNeutralWords);
    }
    s.raw_text += "。";
  }
  return out;
}

std::u32string utf8_to_u32(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    char32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1F) : extra == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= extra && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out += cp;
    i += extra + 1;
  }
  return out;
}

// A numpy '<U' array of the given strings.
void write_unicode_array(PickleWriter& w, const std::vector<std::string>& strings) {
  std::vector<std::u32string> wide;
  size_t width = 1;
  for (const auto& s : strings) {
    wide.push_back(utf8_to_u32(s));
    width = std::max(width, wide.back().size());
  }
  const int64_t shape[1] = {static_cast<int64_t>(strings.size())};
  w.begin_array(fmt::format("U{}", width), shape, static_cast<int64_t>(width * 4));
  std::vector<char32_t> cell(width);
  for (const auto& s : wide) {
    std::fill(cell.begin(), cell.end(), U'\0');
    std::copy(s.begin(), s.end(), cell.begin());
    w.array_bytes(cell.data(), width * 4);
  }
  w.end_array();
}

void write_f64_vector(PickleWriter& w, const std::vector<double>& v) {
  const int64_t shape[1] = {static_cast<int64_t>(v.size())};
  w.begin_array("f8", shape, 8);
  w.array_bytes(v.data(), v.size() * 8);
  w.end_array();
}

void write_i64_vector(PickleWriter& w, const std::vector<int64_t>& v) {
  const int64_t shape[1] = {static_cast<int64_t>(v.size())};
  w.begin_array("i8", shape, 8);
  w.array_bytes(v.data(), v.size() * 8);
  w.end_array();
}

void write_split(PickleWriter& w, const SynthShape& sh, const Directions& dir, int split_index, int64_t n, uint64_t seed) {
  const std::vector<Sample> samples = make_samples(sh, n, split_index, seed);
  auto field_rng = [&](int field, int64_t i) { return Rng(mix(seed, 0xF0 + field, static_cast<uint64_t>(split_index), static_cast<uint64_t>(i))); };
  std::vector<std::string> strings;
  w.empty_dict();
  w.mark();

  w.str("id");
  strings.clear();
  for (const auto& s : samples) strings.push_back(s.id);
  write_unicode_array(w, strings);

  w.str("raw_text");
  strings.clear();
  for (const auto& s : samples) strings.push_back(s.raw_text);
  write_unicode_array(w, strings);

  w.str("annotations");  // a plain list of str, as some writers store it
  w.empty_list();
  w.mark();
  for (const auto& s : samples) w.str(s.label[0] > 0.1 ? "Positive" : s.label[0] < -0.1 ? "Negative" : "Neutral");
  w.appends();

  w.str("text");
  {
    const int64_t shape[3] = {n, sh.text_len, sh.text_dim};
    w.begin_array("f4", shape, 4);
    std::vector<float> x(static_cast<size_t>(sh.text_len * sh.text_dim));
    for (int64_t i = 0; i < n; ++i) {
      const Sample& s = samples[i];
      Rng r = field_rng(1, i);
      std::fill(x.begin(), x.end(), 0.0f);
      for (int64_t t = 0; t < s.text_len; ++t) {
        const float strength = static_cast<float>(s.s_t * (0.8 + 0.4 * r.uniform()));
        float* row = x.data() + t * sh.text_dim;
        for (int64_t d = 0; d < sh.text_dim; ++d) row[d] = strength * dir.text[d] + 0.3f * static_cast<float>(r.symmetric());
      }
      w.array_bytes(x.data(), x.size() * sizeof(float));
    }
    w.end_array();
  }

  w.str("text_bert");  // token ids, mask, segment ids: shape only matters, MTFN does not use it
  {
    const int64_t shape[3] = {n, 3, sh.text_len};
    w.begin_array("f8", shape, 8);
    std::vector<double> x(static_cast<size_t>(3 * sh.text_len));
    for (int64_t i = 0; i < n; ++i) {
      Rng r = field_rng(2, i);
      for (int64_t t = 0; t < sh.text_len; ++t) {
        bool valid = t < samples[i].text_len;
        x[t] = valid ? static_cast<double>(t == 0 ? 101 : 670 + r.next() % 7000) : 0.0;
        x[sh.text_len + t] = valid ? 1.0 : 0.0;
        x[2 * sh.text_len + t] = 0.0;
      }
      w.array_bytes(x.data(), x.size() * sizeof(double));
    }
    w.end_array();
  }

  w.str("audio");
  {
    const int64_t shape[3] = {n, sh.audio_len, sh.audio_dim};
    w.begin_array("f8", shape, 8);
    std::vector<double> x(static_cast<size_t>(sh.audio_len * sh.audio_dim));
    for (int64_t i = 0; i < n; ++i) {
      const Sample& s = samples[i];
      Rng r = field_rng(3, i);
      std::fill(x.begin(), x.end(), 0.0);
      for (int64_t t = 0; t < s.audio_len; ++t) {
        double* row = x.data() + t * sh.audio_dim;
        for (int64_t d = 0; d < sh.audio_dim; ++d) row[d] = dir.audio_base[d] + 1.5 * s.s_a * dir.audio[d] + r.symmetric();
        if (s.audio_has_neg_inf && t % 50 == 7) row[0] = -std::numeric_limits<double>::infinity();  // log(0) energy
      }
      w.array_bytes(x.data(), x.size() * sizeof(double));
    }
    w.end_array();
  }
  w.str("audio_lengths");
  {
    std::vector<int64_t> v;
    for (const auto& s : samples) v.push_back(s.audio_len);
    write_i64_vector(w, v);
  }

  w.str("vision");
  {
    const int64_t shape[3] = {n, sh.vision_len, sh.vision_dim};
    w.begin_array("f8", shape, 8);
    std::vector<double> x(static_cast<size_t>(sh.vision_len * sh.vision_dim));
    for (int64_t i = 0; i < n; ++i) {
      const Sample& s = samples[i];
      Rng r = field_rng(4, i);
      std::fill(x.begin(), x.end(), 0.0);
      for (int64_t t = 0; t < s.vision_len; ++t) {
        double* row = x.data() + t * sh.vision_dim;
        for (int64_t d = 0; d < sh.vision_dim; ++d) row[d] = dir.vision_base[d] + s.s_v * dir.vision[d] + 0.8 * r.symmetric();
      }
      if (s.vision_has_nan)  // a failed face detection left NaN in a padding row
        x[s.vision_len * sh.vision_dim + static_cast<int64_t>(r.next() % static_cast<uint64_t>(sh.vision_dim))] =
            std::numeric_limits<double>::quiet_NaN();
      w.array_bytes(x.data(), x.size() * sizeof(double));
    }
    w.end_array();
  }
  w.str("vision_lengths");
  {
    std::vector<int64_t> v;
    for (const auto& s : samples) v.push_back(s.vision_len);
    write_i64_vector(w, v);
  }

  std::vector<double> v;
  w.str("classification_labels");
  for (const auto& s : samples) v.push_back(s.label[0] <= -0.1 ? 0.0 : s.label[0] <= 0.1 ? 1.0 : 2.0);
  write_f64_vector(w, v);
  const char* label_keys[4] = {"regression_labels", "regression_labels_T", "regression_labels_A", "regression_labels_V"};
  for (int k = 0; k < (sh.unimodal_labels ? 4 : 1); ++k) {
    v.clear();
    for (const auto& s : samples) v.push_back(s.label[k]);
    w.str(label_keys[k]);
    write_f64_vector(w, v);
  }
  w.setitems();
}

void write_synth(PickleWriter& w, const SynthShape& sh, uint64_t seed) {
  const Directions dir = make_directions(sh, seed);
  w.begin();
  w.empty_dict();
  w.mark();
  const char* names[3] = {"train", "valid", "test"};
  const int64_t sizes[3] = {sh.train, sh.valid, sh.test};
  for (int k = 0; k < 3; ++k) {
    w.str(names[k]);
    write_split(w, sh, dir, k, sizes[k], seed);
  }
  w.setitems();
  w.end();
}

}  // namespace

void write_synth_pickle(const std::filesystem::path& path, const SynthShape& shape, uint64_t seed) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("{}: cannot create: {}", path.string(), std::strerror(errno)));
  std::vector<char> buffer(1 << 20);
  std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());
  bool ok = true;
  try {
    PickleWriter w([&](const void* p, size_t n) { ok = ok && std::fwrite(p, 1, n, f) == n; });
    write_synth(w, shape, seed);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw std::runtime_error(fmt::format("{}: write failed (disk full?)", path.string()));
}

void write_synth_pickle(const std::filesystem::path& path, double scale, uint64_t seed) {
  write_synth_pickle(path, SynthShape::at_scale(scale), seed);
}

std::string synth_pickle_bytes(const SynthShape& shape, uint64_t seed) {
  std::string out;
  PickleWriter w([&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); });
  write_synth(w, shape, seed);
  return out;
}

SimsDataset make_synth_dataset(const SynthShape& shape, uint64_t seed) {
  std::string bytes = synth_pickle_bytes(shape, seed);
  PickleDocument doc = load_pickle_bytes(std::as_bytes(std::span(bytes.data(), bytes.size())),
                                         fmt::format("synth(seed={})", seed));
  return sims_dataset_from_pickle(doc);
}

SimsDataset make_synth_dataset(double scale, uint64_t seed) { return make_synth_dataset(SynthShape::at_scale(scale), seed); }

}  // namespace mtfn::data
