#include "ops/layernorm.h"

namespace vitscope::ops {

void layernorm(vk::Context& ctx, vk::Recorder& rec, const LayerNormArgs& a, std::string label) {
  struct Push {
    uint32_t rows, C, ldx, ldy;
    float eps;
  } p{a.rows, a.C, a.ldx ? a.ldx : a.C, a.ldy ? a.ldy : a.C, a.eps};
  using vk::Slot;
  const auto& pipe = ctx.pipelines().get(
      {ShaderId::layernorm, {Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage}, sizeof p, {}});
  rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + 63) / 64, 1, 1, std::move(label));
}

}  // namespace vitscope::ops
