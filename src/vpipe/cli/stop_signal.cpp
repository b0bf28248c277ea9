#include "vpipe/cli/stop_signal.h"

#include <csignal>
#include <iostream>

namespace vpipe::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "signal handlers may only touch lock-free atomics");

void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the first signal asks for a clean stop, a second one ends the process.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

const std::atomic<bool>& stop_requested() { return g_stop; }

int stop_exit_code() {
  const int sig = g_signal.load();
  return sig == 0 ? 0 : 128 + sig;
}

int interrupted_exit(std::string_view what) {
  std::cerr << "vpipe: interrupted: " << what << "\n";
  const int code = stop_exit_code();
  return code != 0 ? code : 128 + SIGINT;
}

}  // namespace vpipe::cli
