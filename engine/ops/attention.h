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
};

AttentionKernel choose_attention_kernel(const vk::DeviceInfo& d, const AttentionArgs& a);
bool attention_kernel_supported(const vk::DeviceInfo& d, const AttentionArgs& a, AttentionKernel k);

void attention(vk::Context& ctx, vk::Recorder& rec, const AttentionArgs& a, const std::string& label);

}  // namespace vitscope::ops
