// Patch embedding and token assembly (paper eq. 1):
//   z_0 = [x_class; (registers); x_p^1 E; ...; x_p^Np E] + E_pos
#pragma once
#include <optional>
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

struct PatchEmbedArgs {
  vk::BufferView image;    // (B, Cin, H, W)
  vk::BufferView cols;     // scratch (B*Np, Cin*P*P)
  vk::BufferView weight;   // (C, Cin*P*P) = conv weight (C, Cin, P, P)
  std::optional<vk::BufferView> bias;  // (C)
  vk::BufferView patches;  // scratch (B*Np, C)
  uint32_t B = 1, Cin = 3, H = 0, W = 0, P = 16, C = 0;
};

// Unfold + Linear: patches = unfold(image) W^T + b.
void patch_embed(vk::Context& ctx, vk::Recorder& rec, const PatchEmbedArgs& a);

struct TokensArgs {
  vk::BufferView prefix;   // (T, C): class token then dist/register tokens
  vk::BufferView patches;  // (B*Np, C)
  std::optional<vk::BufferView> pos;  // (pos_prefix + Np, C)
  vk::BufferView z;        // (B, T + Np, C)
  uint32_t B = 1, T = 1, Np = 0, C = 0, pos_prefix = 1;
};

void assemble_tokens(vk::Context& ctx, vk::Recorder& rec, const TokensArgs& a);

}  // namespace vitscope::ops
