// `mtfn check-grads --reference FILE` for an mtfn_attn reference file (tools/make_mtfn_attn_reference.py,
// metadata "model": "mtfn_attn"): built in float64 from the file's metadata, its state loaded, then
// forward (training mode, dropout 0, batch statistics), tokens, attention weights, loss, backward,
// BatchNorm buffers and the Adam steps, each group's largest relative error (models/check_grads.h).
#pragma once

#include <string>

#include "models/check_grads.h"

namespace mtfn::models {

// Throws std::runtime_error (or nn's Error) on a malformed file.
CheckReport check_mtfn_attn_reference(const std::string& path);

}  // namespace mtfn::models
