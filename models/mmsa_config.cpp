// The built-in copy of MMSA's config_regression.json (release 2.2.1; only the datasets' common
// entries and the models this program runs; mtfn_attn, not MMSA's, takes MTFN's entry), and the
// resolution MMSA's run.py does.
#include "models/mmsa_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "models/model.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

namespace {

// MMSA's values, as its file holds them (dataset_root_dir, a path on MMSA's machines, left out).
constexpr const char* kBuiltin = R"json({
 "datasetCommonParams": {
  "mosi": {
   "aligned": {
    "featurePath": "MOSI/Processed/aligned_50.pkl",
    "seq_lens": [
     50,
     50,
     50
    ],
    "feature_dims": [
     768,
     5,
     20
    ],
    "train_samples": 1284,
    "num_classes": 3,
    "language": "en",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   },
   "unaligned": {
    "featurePath": "MOSI/Processed/unaligned_50.pkl",
    "seq_lens": [
     50,
     500,
     375
    ],
    "feature_dims": [
     768,
     5,
     20
    ],
    "train_samples": 1284,
    "num_classes": 3,
    "language": "en",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   }
  },
  "mosei": {
   "aligned": {
    "featurePath": "MOSEI/Processed/aligned_50.pkl",
    "seq_lens": [
     50,
     50,
     50
    ],
    "feature_dims": [
     768,
     74,
     35
    ],
    "train_samples": 16326,
    "num_classes": 3,
    "language": "en",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   },
   "unaligned": {
    "featurePath": "MOSEI/Processed/unaligned_50.pkl",
    "seq_lens": [
     50,
     500,
     375
    ],
    "feature_dims": [
     768,
     74,
     35
    ],
    "train_samples": 16326,
    "num_classes": 3,
    "language": "en",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   }
  },
  "sims": {
   "unaligned": {
    "featurePath": "SIMS/Processed/unaligned_39.pkl",
    "seq_lens": [
     39,
     400,
     55
    ],
    "feature_dims": [
     768,
     33,
     709
    ],
    "train_samples": 1368,
    "num_classes": 3,
    "language": "cn",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   }
  },
  "simsv2": {
   "unaligned": {
    "featurePath": "SIMSv2/Processed/sims_unaligned.pkl",
    "seq_lens": [
     39,
     400,
     55
    ],
    "feature_dims": [
     768,
     33,
     709
    ],
    "train_samples": 2722,
    "num_classes": 3,
    "language": "cn",
    "KeyEval": "Loss",
    "missing_rate": [
     0.2,
     0.2,
     0.2
    ],
    "missing_seed": [
     1111,
     1111,
     1111
    ]
   }
  }
 },
 "mtfn": {
  "commonParams": {
   "need_data_aligned": false,
   "need_model_aligned": false,
   "need_normalized": true,
   "early_stop": 8
  },
  "datasetParams": {
   "sims": {
    "hidden_dims": [
     256,
     32,
     256
    ],
    "text_out": 256,
    "post_fusion_dim": 64,
    "post_text_dim": 64,
    "post_audio_dim": 4,
    "post_video_dim": 8,
    "dropouts": [
     0.2,
     0.2,
     0.2
    ],
    "post_dropouts": [
     0.2,
     0.2,
     0.2,
     0.2
    ],
    "batch_size": 64,
    "learning_rate": 0.005,
    "M": 0.6,
    "T": 0.4,
    "A": 0.0,
    "V": 1.0,
    "text_weight_decay": 0.001,
    "audio_weight_decay": 0.0001,
    "video_weight_decay": 1e-05,
    "weight_decay": 0.005
   },
   "simsv2": {
    "hidden_dims": [
     64,
     16,
     64
    ],
    "text_out": 32,
    "post_fusion_dim": 64,
    "post_text_dim": 16,
    "post_audio_dim": 5,
    "post_video_dim": 64,
    "dropouts": [
     0.3,
     0.3,
     0.3
    ],
    "post_dropouts": [
     0.5,
     0.5,
     0.5,
     0.5
    ],
    "batch_size": 32,
    "learning_rate": 0.0005,
    "M": 1.0,
    "T": 0.4,
    "A": 0.4,
    "V": 0.8,
    "text_weight_decay": 1e-05,
    "audio_weight_decay": 0.0001,
    "video_weight_decay": 0.0001,
    "weight_decay": 0.01
   }
  }
 },
 "tfn": {
  "commonParams": {
   "need_data_aligned": false,
   "need_model_aligned": false,
   "need_normalized": true,
   "early_stop": 8
  },
  "datasetParams": {
   "mosi": {
    "hidden_dims": [
     128,
     32,
     128
    ],
    "text_out": 32,
    "post_fusion_dim": 64,
    "dropouts": [
     0.3,
     0.3,
     0.3,
     0.5
    ],
    "batch_size": 32,
    "learning_rate": 0.001
   },
   "mosei": {
    "hidden_dims": [
     128,
     16,
     128
    ],
    "text_out": 128,
    "post_fusion_dim": 16,
    "dropouts": [
     0.4,
     0.4,
     0.4,
     0.4
    ],
    "batch_size": 128,
    "learning_rate": 0.005
   },
   "sims": {
    "hidden_dims": [
     128,
     32,
     128
    ],
    "text_out": 256,
    "post_fusion_dim": 32,
    "dropouts": [
     0.4,
     0.4,
     0.4,
     0.4
    ],
    "batch_size": 32,
    "learning_rate": 0.0005
   },
   "simsv2": {
    "hidden_dims": [
     128,
     32,
     128
    ],
    "text_out": 128,
    "post_fusion_dim": 32,
    "dropouts": [
     0.3,
     0.3,
     0.3,
     0.5
    ],
    "batch_size": 128,
    "learning_rate": 0.002
   }
  }
 }
})json";

// MMSA's config_tune.json (release 2.2.1), the entries of the models this program runs.
constexpr const char* kBuiltinTune = R"json({
 "mtfn": {
  "commonParams": {"need_data_aligned": false, "need_model_aligned": false, "need_normalized": true, "early_stop": 8},
  "debugParams": {
   "d_paras": ["hidden_dims", "text_out", "post_fusion_dim", "post_text_dim", "post_audio_dim", "post_video_dim", "dropouts", "post_dropouts", "batch_size", "learning_rate", "M", "T", "A", "V", "text_weight_decay", "audio_weight_decay", "video_weight_decay", "weight_decay"],
   "hidden_dims": [[128, 16, 128], [64, 16, 64], [128, 32, 128], [256, 32, 256], [64, 32, 64]],
   "text_out": [32, 64, 128, 256],
   "post_fusion_dim": [16, 32, 64, 128],
   "post_text_dim": [8, 16, 32, 64],
   "post_audio_dim": [4, 5],
   "post_video_dim": [8, 16, 32, 64],
   "dropouts": [[0.3, 0.3, 0.3], [0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.3, 0.3, 0.3]],
   "post_dropouts": [[0.2, 0.2, 0.2, 0.2], [0.3, 0.3, 0.3, 0.3], [0.4, 0.4, 0.4, 0.4], [0.5, 0.5, 0.5, 0.5]],
   "batch_size": [32, 64],
   "learning_rate": [0.0005, 0.001, 0.002, 0.005],
   "M": [0.2, 0.4, 0.6, 0.8, 1],
   "T": [0, 0.2, 0.4, 0.6, 0.8, 1],
   "A": [0, 0.2, 0.4, 0.6, 0.8, 1],
   "V": [0, 0.2, 0.4, 0.6, 0.8, 1],
   "text_weight_decay": [0, 0.001, 0.0001, 1e-05],
   "audio_weight_decay": [0, 0.001, 0.0001, 1e-05],
   "video_weight_decay": [0, 0.001, 0.0001, 1e-05],
   "weight_decay": [0.0, 0.001, 0.005, 0.01]
  }
 },
 "tfn": {
  "commonParams": {"need_data_aligned": false, "need_model_aligned": false, "need_normalized": true, "early_stop": 8},
  "debugParams": {
   "d_paras": ["hidden_dims", "text_out", "post_fusion_dim", "dropouts", "batch_size", "learning_rate"],
   "hidden_dims": [[128, 16, 128], [64, 16, 64], [128, 32, 128], [64, 32, 64]],
   "text_out": [32, 64, 128, 256],
   "post_fusion_dim": [16, 32, 64, 128],
   "dropouts": [[0.3, 0.3, 0.3, 0.3], [0.2, 0.2, 0.2, 0.2], [0.4, 0.4, 0.4, 0.4], [0.3, 0.3, 0.3, 0.5]],
   "batch_size": [32, 64, 128],
   "learning_rate": [0.0005, 0.001, 0.002, 0.005]
  }
 }
})json";

std::string keys_of(const json& j) {
  std::string s;
  for (auto it = j.begin(); it != j.end(); ++it) s += (s.empty() ? "" : ", ") + it.key();
  return s.empty() ? "none" : s;
}

void merge_into(json& out, const json& part, const std::string& where) {
  if (!part.is_object()) throw ConfigError(fmt::format("{}: expected an object", where));
  for (auto it = part.begin(); it != part.end(); ++it) out[it.key()] = it.value();
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"sims", "simsv2", "mosi", "mosei"};
  return names;
}

void check_dataset_name(const std::string& name) {
  const auto& names = dataset_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw ConfigError(fmt::format("--dataset: unknown dataset '{}' (known: {})", name, fmt::join(names, ", ")));
}

// mtfn_attn (models/mtfn_attn/) is not MMSA's: it takes MTFN's entry as it is (every dataset MTFN has),
// its attn_* keys keeping their defaults (models/mtfn_attn/config.h); its tune entry is MTFN's search
// space plus candidates for the attn_* keys (docs/attention.md).
const json& builtin_mmsa_config() {
  static const json j = [] {
    json b = json::parse(kBuiltin);
    b["mtfn_attn"] = b["mtfn"];
    return b;
  }();
  return j;
}

const json& builtin_mmsa_tune_config() {
  static const json j = [] {
    json b = json::parse(kBuiltinTune);
    json attn = b["mtfn"];
    json& debug = attn["debugParams"];
    for (const char* k : {"attn_dim", "attn_heads", "attn_rank"}) debug["d_paras"].push_back(k);
    debug["attn_dim"] = {32, 64, 128};
    debug["attn_heads"] = {1, 2, 4, 8};
    debug["attn_rank"] = {2, 4, 8};
    b["mtfn_attn"] = attn;
    return b;
  }();
  return j;
}

json resolve_mmsa_config(const json& config, const std::string& model, const std::string& dataset,
                         const std::string& where, bool aligned) {
  if (!config.is_object()) throw ConfigError(fmt::format("{}: expected a JSON object at the top", where));
  // MMSA's whole file: datasetCommonParams, or entries {"<model>": {"commonParams": ..., "datasetParams": ...}}.
  bool whole_file = config.contains(model) || config.contains("datasetCommonParams");
  for (auto it = config.begin(); it != config.end(); ++it)
    if (it.value().is_object() && (it.value().contains("commonParams") || it.value().contains("datasetParams")))
      whole_file = true;
  const bool one_entry = config.contains("commonParams") || config.contains("datasetParams");
  if (!whole_file && !one_entry) return config;  // flat
  json out = json::object();
  if (config.contains("datasetCommonParams")) {
    const json& dc = config["datasetCommonParams"];
    if (dc.is_object() && dc.contains(dataset) && dc[dataset].is_object()) {
      const json& d = dc[dataset];
      const char* layout = aligned ? "aligned" : "unaligned";
      if (d.contains(layout)) merge_into(out, d[layout], fmt::format("{}: datasetCommonParams.{}.{}", where, dataset, layout));
      else if (!d.contains("aligned") && !d.contains("unaligned")) merge_into(out, d, fmt::format("{}: datasetCommonParams.{}", where, dataset));
    }
  }
  const json* entry = &config;
  if (whole_file) {
    if (!config.contains(model)) {
      std::string models;
      for (auto it = config.begin(); it != config.end(); ++it)
        if (it.key() != "datasetCommonParams") models += (models.empty() ? "" : ", ") + it.key();
      throw ConfigError(fmt::format("{}: no '{}' entry (the file has {})", where, model, models.empty() ? "none" : models));
    }
    entry = &config[model];
    if (!entry->is_object()) throw ConfigError(fmt::format("{}: {}: expected an object", where, model));
  }
  for (auto it = entry->begin(); it != entry->end(); ++it)
    if (it.key() != "commonParams" && it.key() != "datasetParams")
      throw ConfigError(fmt::format("{}: {}: unknown key '{}' (expected commonParams and datasetParams)", where, model,
                                    it.key()));
  if (entry->contains("commonParams")) merge_into(out, (*entry)["commonParams"], fmt::format("{}: {}.commonParams", where, model));
  if (entry->contains("datasetParams")) {
    const json& dp = (*entry)["datasetParams"];
    if (!dp.is_object()) throw ConfigError(fmt::format("{}: {}.datasetParams: expected an object", where, model));
    if (!dp.contains(dataset))
      throw ConfigError(fmt::format("{}: {}.datasetParams has no '{}' entry (it has {})", where, model, dataset,
                                    keys_of(dp)));
    merge_into(out, dp[dataset], fmt::format("{}: {}.datasetParams.{}", where, model, dataset));
  }
  return out;
}

json read_json_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(fmt::format("{}: is a directory, not a config file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open the config file", path));
  try {
    return json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::exception& e) {
    throw ConfigError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

}  // namespace mtfn::models
