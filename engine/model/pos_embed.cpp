// Position-embedding resampling for inputs whose patch grid differs from the table's.
#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

std::vector<float> resample_pos_embed(const std::vector<float>&, int, int, int old_h, int old_w,
                                      int new_h, int new_w, const std::string& method) {
  throw ModelError("resampling the " + std::to_string(old_h) + "x" + std::to_string(old_w) +
                   " position table to " + std::to_string(new_h) + "x" + std::to_string(new_w) +
                   " (" + method + ") is not supported yet");
}

}  // namespace vitscope
