// libFuzzer target: the strict safetensors reader, float conversion of every tensor, and
// load_model on the file alone (no config.json: dimensions inferred from the tensors).
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_common.h"
#include "model/safetensors.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_dir() + "/model.safetensors";
  fuzz::write_file(path, data, size);
  try {
    vitscope::SafetensorsFile f(path);
    for (const auto& t : f.tensors()) {
      if (t.dtype == vitscope::DType::F32 || t.dtype == vitscope::DType::F16 ||
          t.dtype == vitscope::DType::BF16 || t.dtype == vitscope::DType::F64) {
        auto v = f.read_f32(t);
        if (int64_t(v.size()) != t.numel()) __builtin_trap();
      }
      f.count_nonfinite(t);
    }
  } catch (const vitscope::Error&) {
    return 0;  // a clean refusal is the expected outcome for most inputs
  }
  try {
    vitscope::LoadedModel m = vitscope::load_model(path);
    // Touch every weight the loader produced (pieces may point into the file).
    for (const auto& b : m.weights.blocks) (void)b.qkv_w.to_vector();
    (void)m.weights.patch_w.to_vector();
    if (m.weights.pos) (void)m.weights.pos->to_vector();
    if (m.weights.prefix) (void)m.weights.prefix->to_vector();
  } catch (const vitscope::Error&) {
  }
  return 0;
}
