#include "ops/attention.h"

#include <cmath>

namespace vitscope::ops {

void attention(vk::Context& ctx, vk::Recorder& rec, const AttentionArgs& a, const std::string& label) {
  using vk::Slot;
  uint32_t C = a.H * a.D;
  struct ScoresPush {
    uint32_t N, H, D, C;
    float scale;
  } sp{a.N, a.H, a.D, C, 1.0f / std::sqrt(float(a.D))};
  const auto& scores = ctx.pipelines().get(
      {ShaderId::attention_scores, {Slot::Storage, Slot::Storage}, sizeof sp, {}});
  rec.dispatch(scores, {a.qkv, a.prob}, sp, (a.N + 63) / 64, a.H, a.B, label + ".softmax(qk)");

  struct ApplyPush {
    uint32_t N, H, D, C;
  } ap{a.N, a.H, a.D, C};
  const auto& apply = ctx.pipelines().get(
      {ShaderId::attention_apply, {Slot::Storage, Slot::Storage, Slot::Storage}, sizeof ap, {}});
  rec.dispatch(apply, {a.qkv, a.prob, a.out}, ap, (C + 63) / 64, a.N, a.B, label + ".pv");
}

}  // namespace vitscope::ops
