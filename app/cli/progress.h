// Progress over a long run (eval, classify over a folder) and a clean stop on Ctrl-C.
#pragma once
#include <chrono>
#include <string>

namespace vitscope::cli {

// On a terminal: one bar redrawn in place with images/s and the time left. Otherwise
// (stderr is a file or a pipe): a plain line at every 10%. Disabled: prints nothing.
class Progress {
 public:
  Progress(std::string what, int total, bool enabled);
  void update(int done);
  void finish(int done);  // ends the bar's line

 private:
  std::string what_;
  int total_;
  bool enabled_, tty_;
  int next_decile_ = 1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// While alive, the first Ctrl-C (SIGINT) only sets a flag that the loop polls; the second
// one terminates the process as usual.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool interrupted();
};

// Exit status after a run stopped by Ctrl-C (what was counted is still printed).
constexpr int kInterruptedExit = 130;

}  // namespace vitscope::cli
