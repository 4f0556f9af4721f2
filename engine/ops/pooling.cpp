#include "ops/pooling.h"

namespace vitscope::ops {

void pool_mean(vk::Context& ctx, vk::Recorder& rec, vk::BufferView x, vk::BufferView out,
               uint32_t B, uint32_t N, uint32_t T, uint32_t C) {
  using vk::Slot;
  struct Push {
    uint32_t B, N, T, C;
  } p{B, N, T, C};
  const auto& pipe =
      ctx.pipelines().get({ShaderId::pool_mean, {Slot::Storage, Slot::Storage}, sizeof p, {}});
  rec.dispatch(pipe, {x, out}, p, (C + 63) / 64, B, 1, "pool.mean");
}

void softmax_rows(vk::Context& ctx, vk::Recorder& rec, vk::BufferView x, vk::BufferView y,
                  uint32_t rows, uint32_t cols) {
  using vk::Slot;
  struct Push {
    uint32_t rows, cols;
  } p{rows, cols};
  const auto& pipe =
      ctx.pipelines().get({ShaderId::softmax, {Slot::Storage, Slot::Storage}, sizeof p, {}});
  rec.dispatch(pipe, {x, y}, p, (rows + 63) / 64, 1, 1, "softmax");
}

}  // namespace vitscope::ops
