// `vitscope-cli eval` (not implemented yet).
#include "common.h"

namespace vitscope::cli {

void register_eval(CLI::App&, Action&) {}

}  // namespace vitscope::cli
