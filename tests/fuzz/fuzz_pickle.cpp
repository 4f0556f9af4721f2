// libFuzzer target: the allow-list unpickler over up to four consecutive pickles (the
// legacy torch layout), with a persistent-id callback that accepts any storage id, then
// find_state_dict on each result and a walk over every tensor and array it names.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/pickle.h"
#include "model/state_dict.h"

using vitscope::pickle::Kind;
using vitscope::pickle::Value;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitscope::pickle::Limits limits;
  limits.max_values = 1u << 18;  // keep each input cheap; the caps themselves are tested
  vitscope::pickle::Unpickler u(data, size, "fuzz.pkl", limits);
  u.set_persistent_load([](vitscope::pickle::Unpickler& up, const Value& pid) {
    Value* s = up.make(Kind::Storage);
    if (pid.kind == Kind::Tuple && pid.items.size() >= 3 && pid.items[2]->kind == Kind::Str)
      s->storage().key = pid.items[2]->str();
    return s;
  });
  size_t pos = 0;
  for (int i = 0; i < 4 && pos < size; ++i) {
    try {
      const Value* root = u.load(pos);
      vitscope::StateDict sd = vitscope::find_state_dict(*root, "fuzz.pkl", "");
      for (const auto& e : sd.entries) {
        if (e.value->kind == Kind::Tensor) {
          const auto& t = e.value->tensor();
          if (t.size.size() != t.stride.size() || !t.storage || t.storage->kind != Kind::Storage) __builtin_trap();
        } else if (e.value->kind == Kind::NdArray) {
          const auto& a = e.value->array();
          if (a.data && a.data->kind != Kind::Bytes) __builtin_trap();
        } else {
          __builtin_trap();
        }
      }
    } catch (const vitscope::Error&) {
      break;
    }
  }
  return 0;
}
