// Linear layer y = act(x W^T + b) with optional LayerScale, scaling and residual add.
// Three kernels compute it; linear() picks one per device and shape:
//   Texel  - CPU Vulkan devices (lavapipe): texel-buffer reads + subgroup broadcast;
//   Tiled* - GPUs: shared-memory tiles with register blocking, small/medium/large tiles;
//   Portable - anything else (and shapes the others cannot take);
//   Coopmat  - GPUs with VK_NV_cooperative_matrix, only when forced (--kernels coopmat): fp16
//              fragments of x and W, fp32 accumulators. CoopmatEmulated runs the same shader
//              with the fragment operations written as plain loops (tests, any device).
// Weights may be fp32 or fp16 (WeightFormat); arithmetic is fp32 except with math_f16, where
// the tiled kernel multiplies and adds fp16 within each 16-wide slice of K.
#pragma once
#include <optional>
#include <string>

#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope::ops {

// The epilogue's activation (ACT_* in shaders/common.glsl): exact (erf) GELU, tanh, GELU in
// its tanh form, ReLU.
enum class Activation : uint32_t { None = 0, Gelu = 1, Tanh = 2, GeluTanh = 3, Relu = 4 };
const char* activation_name(Activation a);
// The MLP activation a VitConfig::hidden_act names ("gelu", "gelu_tanh", "relu"); throws
// Error for any other name.
Activation mlp_activation(const std::string& hidden_act);

enum class LinearKernel : uint8_t {
  Auto, Portable, Texel, TiledSmall, TiledMedium, TiledLarge, Coopmat, CoopmatEmulated
};
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
  vk::BufferView w;      // (N, K), PyTorch layout, rows ldw floats apart (or packed: w_group)
  std::optional<vk::BufferView> bias;   // (N)
  std::optional<vk::BufferView> gamma;  // (N) LayerScale
  vk::BufferView y;      // (M, N), rows ldy floats apart
  uint32_t M = 0, N = 0, K = 0;
  uint32_t lda = 0, ldy = 0, ldw = 0;  // 0: K, N and K
  Activation act = Activation::None;
  bool residual = false;  // y += ... instead of y = ...
  float alpha = 1.0f;     // scales the result before the residual add
  WeightFormat w_format = WeightFormat::F32;  // element type of w (ldw counts elements)
  uint32_t w_group = 0;   // 0: w row-major; G: packed by pack_weight_group (Texel kernel only)
  bool math_f16 = false;  // fp16 products and sums within a K slice (needs w_format F16)
  std::optional<FusedLayerNorm> ln;  // normalise the rows of x first (needs the Texel kernel)
  LinearKernel kernel = LinearKernel::Auto;  // force one (tests); Auto: choose_linear_kernel
  // CoopmatEmulated only: the fragment shape to emulate (tests; the real kernel takes the
  // shape the device lists, vk::coopmat_config).
  std::optional<vk::CoopmatShape> coopmat_shape;
};

// The kernel linear() runs for `a` on a device described by `d`: decided by the device's
// type, subgroup size and features and by the shape and alignment, never by its name, and by
// the kernel family d.kernels forces (portable: Portable; tiled: the GPU tiles; coopmat:
// Coopmat, the GPU tiles for what it cannot take). Auto never picks Coopmat: it has not yet
// run on a real device.
LinearKernel choose_linear_kernel(const vk::DeviceInfo& d, const LinearArgs& a);
// Whether `k` can run `a` on `d` (alignment, subgroup support, workgroup limits).
bool linear_kernel_supported(const vk::DeviceInfo& d, const LinearArgs& a, LinearKernel k);

// Weight layout for the Texel kernel (CPU devices). Columns go in groups of G = 4 x the
// subgroup size, zero columns filling the last group; a group is K/4 texels (vec4 along K)
// deep, and at each k4 its G texels are stored in the order the lanes fetch them: slot
// (c % 4) * G/4 + c / 4 for column c of the group (lane c / 4 owns runs of 4 columns). The
// texels a subgroup fetches at once are then adjacent, instead of one cache line per lane.
// The group size to store an (N, K) Dense weight with on `d` for a layer like `a` (shape,
// weight format, fp16 arithmetic): 4 x subgroup size where the Texel kernel would run it,
// else 0 (row-major, as PyTorch has it).
uint32_t linear_weight_group(const vk::DeviceInfo& d, const LinearArgs& a);
// Elements of an (N, K) weight packed in groups of G.
uint64_t packed_weight_elements(uint32_t N, uint32_t K, uint32_t G);
// Packs one group: `rows` holds its G columns of W (G x K row-major, zeros past N), `out`
// receives its G * K packed elements.
void pack_weight_group(const float* rows, uint32_t K, uint32_t G, float* out);

// Whether the LayerNorm before `a` should be fused into its read of x (a.ln set) on `d`:
// when the Texel kernel runs it and the layer is narrow enough that recomputing the row
// statistics in each column tile costs less than a LayerNorm pass (<= 8 column tiles; on
// lavapipe ViT-Ti/16 measured ~10% faster fused, ViT-S/16 at 9-12 tiles the same either way).
bool linear_fuses_layernorm(const vk::DeviceInfo& d, const LinearArgs& a);

void linear(vk::Context& ctx, vk::Recorder& rec, const LinearArgs& a, std::string label);

}  // namespace vitscope::ops
