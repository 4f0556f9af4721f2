// libFuzzer target: PyTorch checkpoints through PickledCheckpoint (the zip format through
// libzip and the stored-member map, and the legacy format), float conversion of every
// tensor, then load_model on the file alone.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_common.h"
#include "model/pickled_checkpoint.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_dir() + "/model.pth";
  fuzz::write_file(path, data, size);
  try {
    vitscope::PickledCheckpoint f(path);
    for (const auto& t : f.tensors()) {
      if (vitscope::is_float(t.dtype)) {
        auto v = f.read_f32(t);
        if (int64_t(v.size()) != t.numel()) __builtin_trap();
      }
      f.count_nonfinite(t);
    }
  } catch (const vitscope::Error&) {
    return 0;
  }
  try {
    vitscope::LoadedModel m = vitscope::load_model(path);
    (void)m.weights.patch_w.to_vector();
  } catch (const vitscope::Error&) {
  }
  return 0;
}
