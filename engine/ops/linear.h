// Linear layer y = act(x W^T + b) with optional LayerScale, scaling and residual add.
// Three kernels compute it; linear() picks one per device and shape:
//   Texel  - CPU Vulkan devices (lavapipe): texel-buffer reads + subgroup broadcast;
//   Tiled* - GPUs: shared-memory tiles with register blocking, small/medium/large tiles;
//   Portable - anything else (and shapes the others cannot take).
// Weights may be fp32 or fp16 (WeightFormat); arithmetic is fp32 except with math_f16, where
// the tiled kernel multiplies and adds fp16 within each 16-wide slice of K.
#pragma once
#include <optional>
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

enum class Activation : uint32_t { None = 0, Gelu = 1, Tanh = 2 };

enum class LinearKernel : uint8_t { Auto, Portable, Texel, TiledSmall, TiledMedium, TiledLarge };
const char* linear_kernel_name(LinearKernel k);

enum class WeightFormat : uint8_t { F32, F16 };

// A LayerNorm applied to every row of x as the linear kernel reads it (Texel kernel only):
// y = LN(x) W^T + b without a separate LayerNorm pass.
struct FusedLayerNorm {
  vk::BufferView gamma, beta;  // (K)
  float eps = 1e-6f;
};

struct LinearArgs {
  vk::BufferView x;      // (M, K), rows lda floats apart
  vk::BufferView w;      // (N, K), PyTorch layout, rows ldw floats apart
  std::optional<vk::BufferView> bias;   // (N)
  std::optional<vk::BufferView> gamma;  // (N) LayerScale
  vk::BufferView y;      // (M, N), rows ldy floats apart
  uint32_t M = 0, N = 0, K = 0;
  uint32_t lda = 0, ldy = 0, ldw = 0;  // 0: K, N and K
  Activation act = Activation::None;
  bool residual = false;  // y += ... instead of y = ...
  float alpha = 1.0f;     // scales the result before the residual add
  WeightFormat w_format = WeightFormat::F32;  // element type of w (ldw counts elements)
  bool math_f16 = false;  // fp16 products and sums within a K slice (needs w_format F16)
  std::optional<FusedLayerNorm> ln;  // normalise the rows of x first (needs the Texel kernel)
  LinearKernel kernel = LinearKernel::Auto;  // force one (tests); Auto: choose_linear_kernel
};

// The kernel linear() runs for `a` on a device described by `d`: decided by the device's
// type, subgroup size and features and by the shape and alignment, never by its name.
LinearKernel choose_linear_kernel(const vk::DeviceInfo& d, const LinearArgs& a);
// Whether `k` can run `a` on `d` (alignment, subgroup support, workgroup limits).
bool linear_kernel_supported(const vk::DeviceInfo& d, const LinearArgs& a, LinearKernel k);

// Row stride (floats) to store an (N, K) weight with on `d`: on CPU devices rows whose byte
// stride is a multiple of 512 alias in the L1 cache when the lanes gather them, so they get
// 32 floats of padding.
uint32_t linear_weight_stride(const vk::DeviceInfo& d, uint32_t K);

// Whether the LayerNorm before `a` should be fused into its read of x (a.ln set) on `d`:
// when the Texel kernel runs it and the layer is narrow enough that recomputing the row
// statistics in each column tile costs less than a LayerNorm pass (<= 8 column tiles; on
// lavapipe ViT-Ti/16 measured ~10% faster fused, ViT-S/16 at 9-12 tiles the same either way).
bool linear_fuses_layernorm(const vk::DeviceInfo& d, const LinearArgs& a);

void linear(vk::Context& ctx, vk::Recorder& rec, const LinearArgs& a, std::string label);

}  // namespace vitscope::ops
