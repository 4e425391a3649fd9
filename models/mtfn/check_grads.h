// `mtfn check-grads --reference FILE`: the whole model against a PyTorch reference file (cli.md,
// tools/README.md): built in float64 from the file's metadata, its state loaded, then forward
// (training mode, dropout 0, batch statistics), loss, backward, BatchNorm buffers, and the Adam
// steps, each group's largest relative error reported.
#pragma once

#include <string>

#include "models/check_grads.h"

namespace mtfn::models {

// Runs the whole comparison (an MTFN reference file). Throws std::runtime_error (or nn's Error) on a malformed file.
CheckReport check_reference(const std::string& path);

}  // namespace mtfn::models
