#include "ops/linear.h"

namespace vitscope::ops {

namespace {
struct Push {
  uint32_t M, N, K, lda, ldw, ldy;
  float alpha;
};
constexpr uint32_t kTile = 64;
}  // namespace

void linear(vk::Context& ctx, vk::Recorder& rec, const LinearArgs& a, std::string label) {
  using vk::Slot;
  const auto& pipe = ctx.pipelines().get(
      {ShaderId::linear,
       {Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage},
       sizeof(Push),
       {a.bias ? 1u : 0u, uint32_t(a.act), a.residual ? 1u : 0u, a.gamma ? 1u : 0u}});
  vk::BufferView dummy{&ctx.dummy_buffer(), 0, 0};
  Push p{a.M, a.N, a.K, a.lda ? a.lda : a.K, a.K, a.ldy ? a.ldy : a.N, a.alpha};
  rec.dispatch(pipe, {a.x, a.w, a.bias.value_or(dummy), a.gamma.value_or(dummy), a.y}, p,
               (a.N + kTile - 1) / kTile, (a.M + kTile - 1) / kTile, 1, std::move(label));
}

}  // namespace vitscope::ops
