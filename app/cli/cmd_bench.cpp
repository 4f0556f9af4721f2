// `vitscope-cli bench` (not implemented yet).
#include "common.h"

namespace vitscope::cli {

void register_bench(CLI::App&, Action&) {}

}  // namespace vitscope::cli
