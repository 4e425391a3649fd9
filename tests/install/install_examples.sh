#!/usr/bin/env bash
# Installs the built tree into a temporary prefix, then configures, builds and runs each examples/<name>
# from outside the source tree against that prefix only (find_package(mtfn CONFIG)): custom_op (a new op),
# own_model (a model of your own), tour (a tiny graph and its gradients); each must exit 0. Registered with
# ctest by tests/CMakeLists.txt (label slow); by hand: tests/install/install_examples.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
src=$(cd "${1:?source dir}" && pwd)
bin=$(cd "${2:?binary dir}" && pwd)
cmake=${3:-cmake}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtfn-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$cmake" --install "$bin" --prefix "$tmp/prefix" >"$tmp/install.log"
# What a user relies on: the headers under include/mtfn, the package files, the program.
for f in include/mtfn/core/tensor.h include/mtfn/core/gradcheck.h include/mtfn/core/ops/shape.h include/mtfn/nn/linear.h \
         include/mtfn/models/mtfn/model.h lib/cmake/mtfn/mtfnConfig.cmake \
         lib/cmake/mtfn/mtfnConfigVersion.cmake bin/mtfn; do
  [[ -e "$tmp/prefix/$f" ]] || { echo "not installed: $f"; exit 1; }
done

for dir in "$src"/examples/*/; do
  name=$(basename "$dir")
  [[ -f "$dir/CMakeLists.txt" ]] || continue
  echo "=== examples/$name"
  # Build it where the source tree cannot be seen: a copy in the temporary folder.
  cp -r "$dir" "$tmp/src-$name"
  "$cmake" -S "$tmp/src-$name" -B "$tmp/build-$name" -DCMAKE_BUILD_TYPE=Release \
           -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure-$name.log" || { cat "$tmp/configure-$name.log"; exit 1; }
  "$cmake" --build "$tmp/build-$name" -j2 >"$tmp/build-$name.log" || { cat "$tmp/build-$name.log"; exit 1; }
  "$tmp/build-$name/$name"
done
echo "installed package and examples: OK"
