// Subcommands still to come.
#include "common.h"

namespace vitscope::cli {

void register_eval(CLI::App&, Action&) {}
void register_bench(CLI::App&, Action&) {}

}  // namespace vitscope::cli
