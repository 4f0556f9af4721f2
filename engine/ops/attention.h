// Multi-head self-attention core: probabilities P = softmax(q k^T / sqrt(D)) and
// output O = P v, from a fused (B*N, 3C) qkv activation with rows [q | k | v].
#pragma once
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

struct AttentionArgs {
  vk::BufferView qkv;   // (B*N, 3C)
  vk::BufferView prob;  // (B, H, N, N), written
  vk::BufferView out;   // (B*N, C), written
  uint32_t B = 1, N = 0, H = 0, D = 0;
};

void attention(vk::Context& ctx, vk::Recorder& rec, const AttentionArgs& a, const std::string& label);

}  // namespace vitscope::ops
