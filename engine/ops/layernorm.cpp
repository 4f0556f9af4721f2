#include "ops/layernorm.h"

#include <algorithm>

#include "core/error.h"

namespace vitscope::ops {

bool layernorm_kernel_supported(const vk::DeviceInfo& d, LayerNormKernel k) {
  if (k != LayerNormKernel::Subgroup) return true;
  return d.subgroup_arithmetic && d.subgroup_size >= 1 && d.subgroup_size * 4 <= d.max_workgroup_invocations;
}

bool layernorm_kernel_supported(const vk::DeviceInfo& d, const LayerNormArgs& a, LayerNormKernel k) {
  if (!layernorm_kernel_supported(d, k)) return false;
  if (k != LayerNormKernel::Texel) return true;
  const uint32_t ldx = a.ldx ? a.ldx : a.C, ldy = a.ldy ? a.ldy : a.C;
  const uint64_t align = std::max<uint64_t>({16, d.min_texel_offset_alignment, d.min_storage_offset_alignment});
  return a.C % 4 == 0 && ldx % 4 == 0 && ldy % 4 == 0 && a.x.aligned_to(align) && a.gamma.aligned_to(align) &&
         a.beta.aligned_to(align) && a.y.aligned_to(align);
}

LayerNormKernel choose_layernorm_kernel(const vk::DeviceInfo& d, const LayerNormArgs& a) {
  if (a.kernel != LayerNormKernel::Auto) return a.kernel;
  // A forced kernel family: portable takes the plain kernel, the GPU families the GPU one.
  if (d.kernels == vk::KernelFamily::Portable) return LayerNormKernel::Rows;
  const bool cpu = d.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU && d.kernels == vk::KernelFamily::Auto;
  if (!cpu && layernorm_kernel_supported(d, LayerNormKernel::Subgroup)) return LayerNormKernel::Subgroup;
  if (cpu && layernorm_kernel_supported(d, a, LayerNormKernel::Texel))
    return LayerNormKernel::Texel;
  return LayerNormKernel::Rows;
}

void layernorm(vk::Context& ctx, vk::Recorder& rec, const LayerNormArgs& a, std::string label) {
  struct Push {
    uint32_t rows, C, ldx, ldy;
    float eps;
  } p{a.rows, a.C, a.ldx ? a.ldx : a.C, a.ldy ? a.ldy : a.C, a.eps};
  using vk::Slot;
  const std::vector<Slot> slots{Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage};
  const vk::DeviceInfo& d = ctx.info();
  LayerNormKernel k = choose_layernorm_kernel(d, a);
  if (!layernorm_kernel_supported(d, a, k))
    throw Error(label + (k == LayerNormKernel::Texel ? ": the texel LayerNorm kernel cannot run C=" + std::to_string(a.C) +
                                                           " with these strides and offsets on "
                                                     : ": the subgroup LayerNorm kernel cannot run on ") +
                d.name);
  if (k == LayerNormKernel::Subgroup) {
    const uint32_t rows_per_group = 4;
    const auto& pipe = ctx.pipelines().get({ShaderId::layernorm_subgroup, slots, sizeof p, {d.subgroup_size, rows_per_group}});
    rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + rows_per_group - 1) / rows_per_group, 1, 1,
                 std::move(label));
    return;
  }
  if (k == LayerNormKernel::Texel) {
    const auto& pipe = ctx.pipelines().get(
        {ShaderId::layernorm_texel, {Slot::TexelFloat, Slot::TexelFloat, Slot::TexelFloat, Slot::Storage}, sizeof p, {}});
    rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + 7) / 8, 1, 1, std::move(label));
    return;
  }
  const auto& pipe = ctx.pipelines().get({ShaderId::layernorm, slots, sizeof p, {}});
  rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + 63) / 64, 1, 1, std::move(label));
}

}  // namespace vitscope::ops
