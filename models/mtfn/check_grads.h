// `mtfn check-grads --reference FILE`: the whole model against a PyTorch reference file (cli.md,
// tools/README.md): built in float64 from the file's metadata, its state loaded, then forward
// (training mode, dropout 0, batch statistics), loss, backward, BatchNorm buffers, and the Adam
// steps, each group's largest relative error reported.
#pragma once

#include <string>
#include <vector>

namespace mtfn::models {

struct CheckGroup {
  std::string name;        // "outputs", "losses", "gradients", "buffers after", "adam steps"
  double max_error = 0;    // largest relative error over the group's tensors
  std::string worst;       // the tensor where it was
  int tensors = 0;         // tensors compared
};

struct CheckReport {
  std::string description;  // "regression, batch 6, seq 5, ..."
  std::vector<CheckGroup> groups;
  bool ok(double tolerance) const;
};

// Relative error of a against the reference b: max|a - b| / max|b| (max|a - b| when b is all zero).
double relative_error(const std::vector<double>& a, const std::vector<double>& b);

// Runs the whole comparison. Throws std::runtime_error (or nn's Error) on a malformed file.
CheckReport check_reference(const std::string& path);

}  // namespace mtfn::models
