// libFuzzer target: the .npy parser.
#include <cstdint>

#include "core/error.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitscope::NpyArray a = vitscope::parse_npy(data, size, "fuzz.npy");
    int64_t n = 1;
    for (auto d : a.shape) n *= d;
    if (n != int64_t(a.data.size())) __builtin_trap();
  } catch (const vitscope::Error&) {
  }
  return 0;
}
