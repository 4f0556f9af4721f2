// libFuzzer target: the IDX (MNIST) reader, in memory and through a file (plain or gzip,
// which read_idx detects).
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_common.h"
#include "io/idx.h"

namespace {
void check(const vitscope::IdxArray& a) {
  uint64_t n = 1;
  for (auto d : a.dims) n *= uint64_t(d);
  if (n != a.data.size()) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    check(vitscope::parse_idx(data, size, "fuzz.idx"));
  } catch (const vitscope::Error&) {
  }
  const std::string path = fuzz::scratch_dir() + "/data.idx.gz";
  fuzz::write_file(path, data, size);
  try {
    check(vitscope::read_idx(path));
  } catch (const vitscope::Error&) {
  }
  return 0;
}
