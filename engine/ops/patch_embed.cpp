#include "ops/patch_embed.h"

#include "ops/linear.h"

namespace vitscope::ops {

void patch_embed(vk::Context& ctx, vk::Recorder& rec, const PatchEmbedArgs& a) {
  using vk::Slot;
  uint32_t Gh = a.H / a.P, Gw = a.W / a.P, Np = Gh * Gw, KK = a.Cin * a.P * a.P;
  struct Push {
    uint32_t B, Cin, H, W, P, Gh, Gw;
  } p{a.B, a.Cin, a.H, a.W, a.P, Gh, Gw};
  const auto& unfold =
      ctx.pipelines().get({ShaderId::im2col, {Slot::Storage, Slot::Storage}, sizeof p, {}});
  rec.dispatch(unfold, {a.image, a.cols}, p, (KK + 63) / 64, a.B * Np, 1, "patch_embed.unfold");
  LinearArgs l;
  l.x = a.cols;
  l.w = a.weight;
  l.bias = a.bias;
  l.y = a.patches;
  l.M = a.B * Np;
  l.N = a.C;
  l.K = KK;
  linear(ctx, rec, l, "patch_embed.proj");
}

void assemble_tokens(vk::Context& ctx, vk::Recorder& rec, const TokensArgs& a) {
  using vk::Slot;
  struct Push {
    uint32_t B, T, Np, C, pos_prefix, has_pos;
  } p{a.B, a.T, a.Np, a.C, a.pos_prefix, a.pos ? 1u : 0u};
  const auto& pipe = ctx.pipelines().get(
      {ShaderId::tokens, {Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage}, sizeof p, {}});
  vk::BufferView dummy{&ctx.dummy_buffer(), 0, 0};
  rec.dispatch(pipe, {a.prefix, a.patches, a.pos.value_or(dummy), a.z}, p, (a.C + 63) / 64,
               a.T + a.Np, a.B, "tokens+pos_embed");
}

}  // namespace vitscope::ops
