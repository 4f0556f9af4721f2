#include "ops/attention.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace vitscope::ops {

namespace {
constexpr uint32_t kQueriesPerSubgroup = 4;  // RM in attention_texel.comp
constexpr uint32_t kMaxDimBlocks = 4;        // DB
constexpr uint32_t kMaxKeysPerLane = 8;      // CK
}  // namespace

bool attention_kernel_supported(const vk::DeviceInfo& d, const AttentionArgs& a, AttentionKernel k) {
  if (k != AttentionKernel::Fused) return true;
  uint32_t sg = d.subgroup_size;
  uint64_t align = std::max<uint64_t>(16, d.min_texel_offset_alignment);
  return d.subgroup_ballot && d.subgroup_arithmetic && (sg == 4 || sg == 8 || sg == 16) && a.D % 4 == 0 &&
         a.D <= kMaxDimBlocks * 4 * sg && a.keys_per_lane <= kMaxKeysPerLane && a.qkv.aligned_to(align);
}

uint32_t attention_keys_per_lane(uint32_t subgroup_size, uint32_t N) {
  if (N <= 2 * subgroup_size) return 2;
  uint32_t best = 0;
  uint64_t best_keys = 0;
  for (uint32_t ck = 3; ck <= 5; ++ck) {
    const uint64_t block = uint64_t(subgroup_size) * ck, keys = (N + block - 1) / block * block;
    if (!best || keys < best_keys) best = ck, best_keys = keys;
  }
  return best;
}

AttentionKernel choose_attention_kernel(const vk::DeviceInfo& d, const AttentionArgs& a) {
  if (a.kernel != AttentionKernel::Auto) return a.kernel;
  // A forced kernel family (portable, tiled, coopmat) takes the kernels for GPUs.
  const bool cpu = d.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU && d.kernels == vk::KernelFamily::Auto;
  if (cpu && attention_kernel_supported(d, a, AttentionKernel::Fused))
    return AttentionKernel::Fused;
  return AttentionKernel::TwoPass;
}

void attention(vk::Context& ctx, vk::Recorder& rec, const AttentionArgs& a, const std::string& label) {
  using vk::Slot;
  const vk::DeviceInfo& d = ctx.info();
  uint32_t C = a.H * a.D;
  AttentionKernel k = choose_attention_kernel(d, a);
  if (!attention_kernel_supported(d, a, k))
    throw Error(label + ": the fused attention kernel cannot run D=" + std::to_string(a.D) + " on " + d.name);
  if (k == AttentionKernel::Fused) {
    struct Push {
      uint32_t N, H, D, C;
      float scale;
    } p{a.N, a.H, a.D, C, 1.0f / std::sqrt(float(a.D))};
    uint32_t sg = d.subgroup_size, wy = 1;
    uint32_t db = (a.D / 4 + sg - 1) / sg;
    uint32_t ck = a.keys_per_lane ? a.keys_per_lane : attention_keys_per_lane(sg, a.N);
    const auto& pipe = ctx.pipelines().get({ShaderId::attention_texel,
                                            {Slot::TexelFloat, Slot::Storage, Slot::Storage},
                                            sizeof p,
                                            {sg, wy, db, ck, a.write_prob ? 1u : 0u}});
    vk::BufferView prob = a.write_prob ? a.prob : vk::BufferView{&ctx.dummy_buffer(), 0, 0};
    uint32_t per_wg = kQueriesPerSubgroup * wy;
    rec.dispatch(pipe, {a.qkv, prob, a.out}, p, (a.N + per_wg - 1) / per_wg, a.H, a.B,
                 label + (a.write_prob ? ".fused(write P)" : ".fused"));
    return;
  }
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
