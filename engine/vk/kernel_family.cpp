#include "vk/kernel_family.h"

#include <cstdlib>

#include "core/error.h"
#include "vk/context.h"

namespace vitscope::vk {

const char* kernel_family_name(KernelFamily f) {
  switch (f) {
    case KernelFamily::Auto: return "auto";
    case KernelFamily::Portable: return "portable";
    case KernelFamily::Tiled: return "tiled";
    case KernelFamily::Coopmat: return "coopmat";
  }
  return "?";
}

KernelFamily parse_kernel_family(const std::string& s, const std::string& source) {
  for (KernelFamily f : {KernelFamily::Auto, KernelFamily::Portable, KernelFamily::Tiled, KernelFamily::Coopmat})
    if (s == kernel_family_name(f)) return f;
  throw InputError(source + " must be auto, portable, tiled or coopmat, got '" + s + "'");
}

KernelFamily kernel_family_from(const std::string& request) {
  if (!request.empty()) return parse_kernel_family(request);
  if (const char* e = std::getenv("VITSCOPE_KERNELS"); e && *e) return parse_kernel_family(e, "VITSCOPE_KERNELS");
  return KernelFamily::Auto;
}

std::optional<CoopmatShape> pick_coopmat_shape(const std::vector<CoopmatShape>& shapes) {
  // The kernel gives each subgroup a 32 x 32 block of the output and steps K by 32, so a
  // fragment must tile those exactly (16x16x16, 16x8x16, 16x8x8 and 32x8x16 all do).
  std::optional<CoopmatShape> best;
  for (const CoopmatShape& s : shapes) {
    if (s.m == 0 || s.n == 0 || s.k == 0 || 32 % s.m || 32 % s.n || 32 % s.k) continue;
    if (s == CoopmatShape{16, 16, 16}) return s;
    if (!best || uint64_t(s.m) * s.n * s.k > uint64_t(best->m) * best->n * best->k) best = s;
  }
  return best;
}

bool coopmat_shader_built() {
#ifdef VITSCOPE_HAVE_COOPMAT_NV
  return true;
#else
  return false;
#endif
}

std::string coopmat_problem(const DeviceInfo& d) {
  if (!coopmat_shader_built())
    return "this build has no cooperative-matrix shader (its glslang could not compile GL_NV_cooperative_matrix)";
  if (!d.coopmat_nv) return "no VK_NV_cooperative_matrix (with its cooperativeMatrix feature)";
  if (!pick_coopmat_shape(d.coopmat_nv_shapes))
    return "no subgroup-scope fp16 x fp16 -> fp32 cooperative-matrix shape whose sides divide 32";
  if (!d.vulkan_memory_model)
    return "no vulkanMemoryModel (VK_KHR_vulkan_memory_model; GL_NV_cooperative_matrix shaders use that model)";
  if (!d.fp16_arithmetic) return "no shaderFloat16 (the tiles are staged as fp16 in shared memory)";
  if (d.subgroup_size != 32 && d.subgroup_size != 64)
    return "subgroup size " + std::to_string(d.subgroup_size) + " (the kernel takes 32 or 64)";
  if (d.max_workgroup_invocations < 4 * d.subgroup_size) return "fewer than 4 subgroups per workgroup";
  return "";
}

std::optional<CoopmatConfig> coopmat_config(const DeviceInfo& d) {
  if (!coopmat_problem(d).empty()) return std::nullopt;
  return CoopmatConfig{*pick_coopmat_shape(d.coopmat_nv_shapes), d.subgroup_size};
}

std::string kernel_family_problem(const DeviceInfo& d, KernelFamily f) {
  std::string lack;
  switch (f) {
    case KernelFamily::Auto: break;
    case KernelFamily::Portable:
      if (d.max_workgroup_invocations < 256) lack = "fewer than 256 invocations per workgroup";
      break;
    case KernelFamily::Tiled:
      if (d.max_workgroup_invocations < 128) lack = "fewer than 128 invocations per workgroup";
      break;
    case KernelFamily::Coopmat: lack = coopmat_problem(d); break;
  }
  if (lack.empty()) return "";
  return std::string("--kernels ") + kernel_family_name(f) + ": " + d.name + " cannot run it: " + lack;
}

}  // namespace vitscope::vk
