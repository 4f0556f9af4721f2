// LayerNorm over the last dimension of `rows` rows (row strides in floats).
#pragma once
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

struct LayerNormArgs {
  vk::BufferView x, gamma, beta, y;
  uint32_t rows = 0, C = 0;
  uint32_t ldx = 0, ldy = 0;  // 0: C
  float eps = 1e-6f;
};

void layernorm(vk::Context& ctx, vk::Recorder& rec, const LayerNormArgs& a, std::string label);

}  // namespace vitscope::ops
