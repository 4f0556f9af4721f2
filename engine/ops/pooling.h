// Pooling of the final token sequence and the class-probability softmax.
#pragma once
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

// out[b, c] = mean over patch tokens t >= T of x[b, t, c]
void pool_mean(vk::Context& ctx, vk::Recorder& rec, vk::BufferView x, vk::BufferView out,
               uint32_t B, uint32_t N, uint32_t T, uint32_t C);

// y[r, :] = softmax(x[r, :])
void softmax_rows(vk::Context& ctx, vk::Recorder& rec, vk::BufferView x, vk::BufferView y,
                  uint32_t rows, uint32_t cols);

}  // namespace vitscope::ops
