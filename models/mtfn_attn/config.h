// mtfn_attn's configuration: MMSA's MTFN keys (models/mtfn/config.h: subnets, unimodal heads, loss weights,
// optimiser, training) plus the attention inference subnetwork's own keys, attn_dim, attn_heads and
// attn_rank, each with a documented default (docs/attention.md). Not the command-line options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/mtfn/config.h"

namespace mtfn::models {

struct MtfnAttnConfig {
  MtfnConfig mtfn;  // every MTFN key, read and checked by MTFN's reader; post_fusion_dim is the M head's width
  int64_t attn_dim = 64;    // d: each of the 7 tokens' width, the attention's embed_dim, the pooled vector's width
  int64_t attn_heads = 4;   // heads of the self-attention; must divide attn_dim (head width d / heads)
  int64_t attn_rank = 4;    // R: rank of the trimodal token's factorisation sum_r (U_r a) * (V_r v) * (W_r t)

  // Checks every value (MTFN's, then the attention's); throws ConfigError naming the key.
  void validate() const;
};

// The keys of this model that MTFN does not have.
const std::vector<std::string>& attn_config_keys();  // attn_dim, attn_heads, attn_rank

// Reads a flat object of MMSA's key names plus the attn_* keys into `cfg` (keys not given keep their
// value). Unknown keys add a warning "<where>: unknown key 'x' (ignored)"; a wrong value throws
// ConfigError "<where>: <key>: expected ..., got ...".
void apply_config_json(MtfnAttnConfig& cfg, const nlohmann::ordered_json& j, const std::string& where,
                       std::vector<std::string>& warnings);

// The configuration as one flat JSON object: MTFN's keys, then attn_dim, attn_heads, attn_rank.
nlohmann::ordered_json config_to_json(const MtfnAttnConfig& cfg);
// The inverse of config_to_json (strict: every key of it must be known).
MtfnAttnConfig mtfn_attn_config_from_json(const nlohmann::ordered_json& j, const std::string& where);

}  // namespace mtfn::models
