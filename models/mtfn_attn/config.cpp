// Reading and checking mtfn_attn's configuration: MTFN's keys through MTFN's reader, then the attn_* keys.
#include "models/mtfn_attn/config.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/config_values.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

const std::vector<std::string>& attn_config_keys() {
  static const std::vector<std::string> keys = {"attn_dim", "attn_heads", "attn_rank"};
  return keys;
}

void MtfnAttnConfig::validate() const {
  mtfn.validate();
  if (attn_dim > 4096) throw ConfigError(fmt::format("attn_dim: expected at most 4096, got {}", attn_dim));
  if (attn_rank > 256) throw ConfigError(fmt::format("attn_rank: expected at most 256, got {}", attn_rank));
  if (attn_heads > attn_dim || attn_dim % attn_heads != 0)
    throw ConfigError(fmt::format("attn_heads: expected a divisor of attn_dim ({}), got {}", attn_dim, attn_heads));
  // The largest bimodal token's input, v (x) t, is materialised: (B, Hv To).
  const auto [Ht, Ha, Hv] = mtfn.hidden_dims;
  (void)Ht;
  const int64_t widest = std::max({Ha * Hv, Ha * mtfn.text_out, Hv * mtfn.text_out});
  if (widest > (int64_t{1} << 24))
    throw ConfigError(fmt::format(
        "hidden_dims/text_out: a bimodal token's input would have {} entries (mtfn_attn takes at most 2^24)", widest));
}

void apply_config_json(MtfnAttnConfig& cfg, const json& j, const std::string& where,
                       std::vector<std::string>& warnings) {
  if (!j.is_object()) throw ConfigError(fmt::format("{}: expected a JSON object at the top, got {}", where, type_of(j)));
  json rest = json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "attn_dim") cfg.attn_dim = get_positive_int(it.value(), where, k);
    else if (k == "attn_heads") cfg.attn_heads = get_positive_int(it.value(), where, k);
    else if (k == "attn_rank") cfg.attn_rank = get_positive_int(it.value(), where, k);
    else rest[k] = it.value();
  }
  apply_config_json(cfg.mtfn, rest, where, warnings);
  try {
    cfg.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", where, e.what()));
  }
}

json config_to_json(const MtfnAttnConfig& c) {
  json j = config_to_json(c.mtfn);
  j["attn_dim"] = c.attn_dim;
  j["attn_heads"] = c.attn_heads;
  j["attn_rank"] = c.attn_rank;
  return j;
}

MtfnAttnConfig mtfn_attn_config_from_json(const json& j, const std::string& where) {
  MtfnAttnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, where, warnings);
  if (!warnings.empty()) throw ConfigError(warnings.front());
  return cfg;
}

}  // namespace mtfn::models
