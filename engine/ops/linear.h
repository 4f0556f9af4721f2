// Linear layer y = act(x W^T + b) with optional LayerScale, scaling and residual add.
#pragma once
#include <optional>
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

enum class Activation : uint32_t { None = 0, Gelu = 1, Tanh = 2 };

struct LinearArgs {
  vk::BufferView x;      // (M, K), rows lda floats apart
  vk::BufferView w;      // (N, K), PyTorch layout
  std::optional<vk::BufferView> bias;   // (N)
  std::optional<vk::BufferView> gamma;  // (N) LayerScale
  vk::BufferView y;      // (M, N), rows ldy floats apart
  uint32_t M = 0, N = 0, K = 0;
  uint32_t lda = 0, ldy = 0;  // 0: K and N
  Activation act = Activation::None;
  bool residual = false;  // y += ... instead of y = ...
  float alpha = 1.0f;     // scales the result before the residual add
};

void linear(vk::Context& ctx, vk::Recorder& rec, const LinearArgs& a, std::string label);

}  // namespace vitscope::ops
