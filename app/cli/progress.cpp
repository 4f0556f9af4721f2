#include "progress.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace vitscope::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_previous;

void on_sigint(int) {
  g_interrupted = 1;
  // A second Ctrl-C ends the process at once.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGINT, &dfl, nullptr);
}

std::string clock_text(double seconds) {
  long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

Progress::Progress(std::string what, int total, bool enabled)
    : what_(std::move(what)), total_(total), enabled_(enabled && total > 0), tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::update(int done) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  double left = rate > 0 ? (total_ - done) / rate : 0.0;
  if (tty_) {
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 30;
    int filled = int(int64_t(width) * done / total_);
    std::fprintf(stderr, "\r%s [%.*s%*s] %d/%d  %.1f images/s  %s left ", what_.c_str(), filled,
                 "##############################", width - filled, "", done, total_, rate, clock_text(left).c_str());
    std::fflush(stderr);
    return;
  }
  const int decile = int(int64_t(done) * 10 / total_);
  if (decile >= next_decile_) {
    std::fprintf(stderr, "%s: %d%% (%d/%d), %.1f images/s, %s left\n", what_.c_str(), decile * 10, done, total_, rate,
                 clock_text(left).c_str());
    next_decile_ = decile + 1;
  }
}

void Progress::finish(int done) {
  if (!enabled_) return;
  if (tty_) {
    last_draw_ = start_;  // force the last draw
    update(done);
    std::fprintf(stderr, "\n");
  }
}

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_previous);
}

InterruptGuard::~InterruptGuard() { sigaction(SIGINT, &g_previous, nullptr); }

bool InterruptGuard::interrupted() { return g_interrupted != 0; }

}  // namespace vitscope::cli
