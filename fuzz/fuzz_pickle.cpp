// libFuzzer entry point: any bytes through load_pickle_bytes and, when they parse, through the
// SIMS layout checks and loading rules. The only acceptable failure is a PickleError; a crash,
// a sanitizer report, a leak, a hang or any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "data/pickle.h"
#include "data/sims_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mtfn::data;
  try {
    PickleDocument doc = load_pickle_bytes(std::as_bytes(std::span(data, size)), "fuzz.pkl");
    try {
      SimsDataset ds = sims_dataset_from_pickle(doc);
      (void)ds;
    } catch (const PickleError&) {
    }
  } catch (const PickleError&) {
  }
  return 0;
}
