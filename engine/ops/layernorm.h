// LayerNorm over the last dimension of `rows` rows (row strides in floats). Three kernels:
//   Rows     - one invocation per row, SSBO reads (any device, any shape);
//   Texel    - one invocation per row, texel-buffer reads and vec4 stores (CPU devices: the
//              SIMD lanes take different rows; needs C and strides multiples of 4);
//   Subgroup - one subgroup per row with subgroupAdd reductions (GPUs).
#pragma once
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

enum class LayerNormKernel : uint8_t { Auto, Rows, Subgroup, Texel };

struct LayerNormArgs {
  vk::BufferView x, gamma, beta, y;
  uint32_t rows = 0, C = 0;
  uint32_t ldx = 0, ldy = 0;  // 0: C
  float eps = 1e-6f;
  LayerNormKernel kernel = LayerNormKernel::Auto;  // force one (tests)
};

// Subgroup on devices with subgroup arithmetic that are not CPU devices; Texel on CPU devices
// when the shape and alignment allow; Rows otherwise.
LayerNormKernel choose_layernorm_kernel(const vk::DeviceInfo& d, const LayerNormArgs& a);
bool layernorm_kernel_supported(const vk::DeviceInfo& d, LayerNormKernel k);  // by device
bool layernorm_kernel_supported(const vk::DeviceInfo& d, const LayerNormArgs& a, LayerNormKernel k);

void layernorm(vk::Context& ctx, vk::Recorder& rec, const LayerNormArgs& a, std::string label);

}  // namespace vitscope::ops
