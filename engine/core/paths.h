// Locating bundled data (models, labels, samples) relative to the executable, the
// install prefix and the source tree, never the current directory.
#pragma once
#include <string>

namespace vitscope {

// Absolute path of `relative` under the first assets/ folder that has it, or "".
std::string find_asset(const std::string& relative);
// Directory holding the running executable.
std::string executable_dir();

}  // namespace vitscope
