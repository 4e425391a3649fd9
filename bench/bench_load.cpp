// Times load_pickle and load_sims_dataset on one file, for bench/bench_load.sh (which compares
// with Python's pickle.load on the same file). Not part of CI.
#include <chrono>
#include <cstdio>
#include <string>

#include "data/pickle.h"
#include "data/sims_dataset.h"

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "pickle" && std::string(argv[1]) != "dataset")) {
    std::fprintf(stderr, "usage: bench_load pickle|dataset FILE\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  try {
    if (std::string(argv[1]) == "pickle") {
      auto doc = mtfn::data::load_pickle(argv[2]);
    } else {
      auto ds = mtfn::data::load_sims_dataset(argv[2]);
      std::printf("samples %lld/%lld/%lld\n", (long long)ds.train.size, (long long)ds.valid.size, (long long)ds.test.size);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_load: %s\n", e.what());
    return 1;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("seconds %.3f\n", s);
  return 0;
}
