// The two kinds of error the library raises, told apart by type so that a program decides its
// exit status in one place (cli/main.cpp: InputError -> 2, any other exception -> 1).
//  - InputError: what the user gave is wrong or unusable: a file (pickle, .pth, safetensors,
//    config), a flag, a config key, data of the wrong shape. The message names the file, flag or
//    field. data::PickleError, data::PthError and models::ConfigError are InputErrors.
//  - mtfn::Error (below) and everything else: a failure during work (a broken invariant, a write that
//    failed, memory); Error is what the library raises about shapes, dtypes and the graph.
// Header-only: the readers in data/ use it without linking core.
#pragma once

#include <new>
#include <stdexcept>

namespace mtfn {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `read`, which reads files or values the user named: whatever it throws (a malformed file
// may surface as any exception) is bad input, rethrown as an InputError with the same message.
// Running out of memory stays a failure during work.
template <class Read>
auto read_input(Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const InputError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(e.what());
  }
}

}  // namespace mtfn
