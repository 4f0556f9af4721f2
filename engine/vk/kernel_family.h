// Kernel families: which set of compute kernels the engine runs on a device. `auto` lets each
// op choose per device class (texel kernels on CPU devices, tiled ones on GPUs); the others
// force one family everywhere, for users with an unusual GPU and for tests:
//   portable - the plain SSBO kernels (linear.comp, layernorm.comp, two-pass attention);
//   tiled    - the GPU kernels (shared-memory tiled GEMM, subgroup LayerNorm, GPU attention);
//   coopmat  - the tiled family with the cooperative-matrix GEMM (VK_NV_cooperative_matrix).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vitscope::vk {

struct DeviceInfo;

enum class KernelFamily : uint8_t { Auto, Portable, Tiled, Coopmat };
const char* kernel_family_name(KernelFamily f);
// "auto", "portable", "tiled" or "coopmat"; throws InputError naming `source` otherwise.
KernelFamily parse_kernel_family(const std::string& s, const std::string& source = "--kernels");
// `request` when not empty, else VITSCOPE_KERNELS when set, else auto.
KernelFamily kernel_family_from(const std::string& request);

// One cooperative-matrix multiply shape the device lists: A is m x k, B k x n, C and D m x n.
struct CoopmatShape {
  uint32_t m = 0, n = 0, k = 0;
  bool operator==(const CoopmatShape& o) const { return m == o.m && n == o.n && k == o.k; }
};

// How the cooperative-matrix GEMM (shaders/linear_coopmat.comp) would run on a device: the
// fragment shape (from the device's list, never assumed) and the subgroup size.
struct CoopmatConfig {
  CoopmatShape shape;
  uint32_t subgroup = 0;
};
// The shape the kernel takes from `shapes` (subgroup-scope fp16 x fp16 -> fp32 ones): 16x16x16
// when listed, else the largest whose sides divide the kernel's 32 x 32 x 32 subgroup tile.
std::optional<CoopmatShape> pick_coopmat_shape(const std::vector<CoopmatShape>& shapes);
// Whether shaders/linear_coopmat.comp was compiled for GL_NV_cooperative_matrix (the
// configure-time probe of shaders/CMakeLists.txt found a glslang that can).
bool coopmat_shader_built();
// Empty when `d` can run the cooperative-matrix GEMM, else what it lacks (one phrase).
std::string coopmat_problem(const DeviceInfo& d);
std::optional<CoopmatConfig> coopmat_config(const DeviceInfo& d);

// Empty when `d` can run family `f`, else a sentence naming the device and what it lacks.
std::string kernel_family_problem(const DeviceInfo& d, KernelFamily f);

}  // namespace vitscope::vk
