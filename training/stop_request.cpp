// The SIGINT / SIGTERM handler of training: it records the signal and nothing else.
#include "training/stop_request.h"

#include <csignal>

namespace mtfn::training {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void record_stop_signal(int sig) { g_stop_signal = sig; }

}  // namespace

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = record_stop_signal;
  sigemptyset(&sa.sa_mask);
  // A second Ctrl-C ends the process at once; a write under way is resumed, not failed with EINTR.
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() { return g_stop_signal; }

}  // namespace mtfn::training
