// `mtfn check-grads --reference FILE` for a TFN reference file (tools/make_tfn_reference.py, metadata
// "model": "tfn"): built in float64 from the file's metadata, its state loaded, then forward
// (training mode, dropout 0, batch statistics), loss, backward, BatchNorm buffers and the Adam
// steps, each group's largest relative error reported (models/check_grads.h).
#pragma once

#include <string>

#include "models/check_grads.h"

namespace mtfn::models {

// Throws std::runtime_error (or nn's Error) on a malformed file.
CheckReport check_tfn_reference(const std::string& path);

}  // namespace mtfn::models
