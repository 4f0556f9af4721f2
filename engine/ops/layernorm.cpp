#include "ops/layernorm.h"

#include "core/error.h"

namespace vitscope::ops {

bool layernorm_kernel_supported(const vk::DeviceInfo& d, LayerNormKernel k) {
  if (k != LayerNormKernel::Subgroup) return true;
  return d.subgroup_arithmetic && d.subgroup_size >= 1 && d.subgroup_size * 4 <= d.max_workgroup_invocations;
}

LayerNormKernel choose_layernorm_kernel(const vk::DeviceInfo& d, const LayerNormArgs& a) {
  if (a.kernel != LayerNormKernel::Auto) return a.kernel;
  if (d.device_type != VK_PHYSICAL_DEVICE_TYPE_CPU && layernorm_kernel_supported(d, LayerNormKernel::Subgroup))
    return LayerNormKernel::Subgroup;
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
  if (!layernorm_kernel_supported(d, k)) throw Error(label + ": the subgroup LayerNorm kernel cannot run on " + d.name);
  if (k == LayerNormKernel::Subgroup) {
    const uint32_t rows_per_group = 4;
    const auto& pipe = ctx.pipelines().get({ShaderId::layernorm_subgroup, slots, sizeof p, {d.subgroup_size, rows_per_group}});
    rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + rows_per_group - 1) / rows_per_group, 1, 1,
                 std::move(label));
    return;
  }
  const auto& pipe = ctx.pipelines().get({ShaderId::layernorm, slots, sizeof p, {}});
  rec.dispatch(pipe, {a.x, a.gamma, a.beta, a.y}, p, (a.rows + 63) / 64, 1, 1, std::move(label));
}

}  // namespace vitscope::ops
