// A request to stop training at the next safe point: Ctrl-C (SIGINT) or SIGTERM, caught by a handler
// that only records the signal; the training loop looks between steps and before it writes, so a
// stop never leaves a half-written file. Not the exit status (cli/run.cpp: 128 + the signal).
#pragma once

#include <stdexcept>
#include <string>

namespace mtfn::training {

// From now on SIGINT and SIGTERM request a stop instead of ending the process; a second one of them
// ends it at once (the default action is back after the first).
void catch_stop_signals();

// The signal that requested a stop (SIGINT, SIGTERM), or 0.
int stop_signal();

// What the training loop throws once it has stopped for a signal: the last checkpoint is intact.
struct Interrupted : std::runtime_error {
  Interrupted(int signal, const std::string& message) : std::runtime_error(message), signal(signal) {}
  int signal;
};

}  // namespace mtfn::training
