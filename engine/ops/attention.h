// Multi-head self-attention core: probabilities P = softmax(q k^T / sqrt(D)) and
// output O = P v, from a fused (B*N, 3C) qkv activation with rows [q | k | v].
// Two implementations; attention() picks one per device:
//   Fused   - CPU Vulkan devices: one dispatch, online softmax, texel reads + subgroup
//             broadcasts (attention_texel.comp); P is written only when asked for;
//   TwoPass - anywhere: scores + softmax into P, then P v (always writes P).
#pragma once
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

enum class AttentionKernel : uint8_t { Auto, TwoPass, Fused };

struct AttentionArgs {
  vk::BufferView qkv;   // (B*N, 3C)
  vk::BufferView prob;  // (B, H, N, N): written when write_prob, scratch for TwoPass
  vk::BufferView out;   // (B*N, C), written
  uint32_t B = 1, N = 0, H = 0, D = 0;
  bool write_prob = true;
  AttentionKernel kernel = AttentionKernel::Auto;  // force one (tests)
  uint32_t keys_per_lane = 0;                      // fused kernel's CK, 1..8; 0: attention_keys_per_lane (tests)
};

// Keys each lane scores per block in the fused kernel (CK; a block is subgroup_size * CK keys).
// The last block is padded with keys that are scored and thrown away: the choice is the CK of
// 3, 4 or 5 that scores the fewest keys (the smaller on a tie), 2 when N <= 2 * subgroup size.
// More keys per lane cost more per key on lavapipe (7: ~9%, 8: ~18% at N = 577; see
// docs/performance.md).
uint32_t attention_keys_per_lane(uint32_t subgroup_size, uint32_t N);

AttentionKernel choose_attention_kernel(const vk::DeviceInfo& d, const AttentionArgs& a);
bool attention_kernel_supported(const vk::DeviceInfo& d, const AttentionArgs& a, AttentionKernel k);

void attention(vk::Context& ctx, vk::Recorder& rec, const AttentionArgs& a, const std::string& label);

}  // namespace vitscope::ops
