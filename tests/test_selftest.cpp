// The kernel self-test (engine/selftest.h), kernel families (--kernels, VITSCOPE_KERNELS) and
// the cooperative-matrix GEMM: its host-side selection on described devices, and its shader
// with emulated fragments on this device (the real fragments need an NVIDIA GPU).
#include <cstdio>
#include <string>

#include "core/error.h"
#include "ops/attention.h"
#include "ops/layernorm.h"
#include "ops/linear.h"
#include "selftest.h"
#include "testutil.h"

using namespace vitscope;
using test::context;

namespace {

std::string line_of(const SelftestResult& r) {
  return r.kernel + " [" + r.shapes + "] max err " + std::to_string(r.max_error) + " tol " +
         std::to_string(r.tolerance) + (r.error.empty() ? "" : ": " + r.error);
}

// A device as the NVIDIA sample's query would describe one (never a real one here).
vk::DeviceInfo nvidia_like() {
  vk::DeviceInfo d;
  d.name = "described NVIDIA GPU";
  d.device_type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  d.subgroup_size = 32;
  d.subgroup_ballot = d.subgroup_arithmetic = true;
  d.fp16_storage = d.fp16_arithmetic = true;
  d.max_workgroup_invocations = 1024;
  d.max_shared_memory = 49152;
  d.min_storage_offset_alignment = d.min_texel_offset_alignment = 16;
  d.coopmat_nv = true;
  d.vulkan_memory_model = true;
  d.coopmat_nv_shapes = {{16, 8, 16}, {16, 8, 8}, {16, 16, 16}};
  return d;
}

ops::LinearArgs shape_args(uint32_t M, uint32_t N, uint32_t K) {
  ops::LinearArgs a;
  a.M = M;
  a.N = N;
  a.K = K;
  return a;
}

}  // namespace

TEST_CASE("selftest: every kernel the device can run matches the CPU reference") {
  int ran = 0;
  for (const SelftestResult& r : run_selftest(context())) {
    INFO(line_of(r));
    if (r.skipped) continue;
    CHECK(r.ok);
    CHECK(r.error.empty());
    CHECK(r.max_error <= r.tolerance);
    CHECK(r.tolerance > 0);
    ++ran;
  }
  // At least the portable GEMM, one LayerNorm, one attention, patch embedding and pooling.
  CHECK(ran >= 5);
  test::require_no_validation_messages();
}

TEST_CASE("selftest: a kernel that cannot run is a failed line, never ok") {
  LinearSelftest t;
  t.kernel = ops::LinearKernel::CoopmatEmulated;  // without a fragment shape it cannot run
  SelftestResult r = selftest_linear(context(), t);
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("the device cannot run it") != std::string::npos);
}

TEST_CASE("coopmat GEMM with emulated fragments: every fragment shape, fp32 and fp16 weights") {
  // The shader linear_coopmat.comp with its fragment loads, multiply-adds and stores written as
  // loops: the staging of x and W in shared memory, fragment offsets and strides, accumulator
  // layout and the epilogue are the real kernel's, on the selftest problems (every activation).
  auto& ctx = context();
  if (!ctx.info().fp16_arithmetic) {
    MESSAGE("skipped: no shaderFloat16 on " << ctx.info().name);
    return;
  }
  for (vk::CoopmatShape s : {vk::CoopmatShape{16, 16, 16}, vk::CoopmatShape{16, 8, 16}, vk::CoopmatShape{16, 8, 8},
                             vk::CoopmatShape{32, 8, 16}})
    for (SelftestPrecision p : {SelftestPrecision::F32, SelftestPrecision::F16Weights}) {
      if (p == SelftestPrecision::F16Weights && !ctx.info().fp16_storage) continue;
      LinearSelftest t;
      t.kernel = ops::LinearKernel::CoopmatEmulated;
      t.precision = p;
      t.coopmat_shape = s;
      SelftestResult r = selftest_linear(ctx, t);
      INFO(line_of(r));
      CHECK(r.ok);
      CHECK(r.max_error <= r.tolerance);
    }
  test::require_no_validation_messages();
}

TEST_CASE("kernel families: names, parsing and what each device can run") {
  using F = vk::KernelFamily;
  for (F f : {F::Auto, F::Portable, F::Tiled, F::Coopmat}) CHECK(vk::parse_kernel_family(vk::kernel_family_name(f)) == f);
  try {
    vk::parse_kernel_family("tensorcore");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("--kernels must be auto, portable, tiled or coopmat, got 'tensorcore'") !=
          std::string::npos);
  }

  auto gpu = nvidia_like();
  CHECK(vk::kernel_family_problem(gpu, F::Tiled).empty());
  CHECK(vk::kernel_family_problem(gpu, F::Portable).empty());
  auto lavapipe = gpu;
  lavapipe.name = "described lavapipe";
  lavapipe.device_type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  lavapipe.subgroup_size = 8;
  lavapipe.coopmat_nv = false;
  lavapipe.coopmat_nv_shapes.clear();
  const std::string why = vk::kernel_family_problem(lavapipe, F::Coopmat);
  CHECK(why.find("--kernels coopmat: described lavapipe cannot run it") == 0);
  if (vk::coopmat_shader_built()) {
    CHECK(why.find("VK_NV_cooperative_matrix") != std::string::npos);
    CHECK(vk::kernel_family_problem(gpu, F::Coopmat).empty());
  }
}

TEST_CASE("coopmat GEMM: fragment shape and device checks from described devices") {
  using S = vk::CoopmatShape;
  // 16x16x16 when listed, else the largest shape that tiles 32 x 32 x 32; never one that does not.
  CHECK(*vk::pick_coopmat_shape({{16, 8, 16}, {16, 8, 8}, {16, 16, 16}}) == S{16, 16, 16});
  CHECK(*vk::pick_coopmat_shape({{16, 8, 8}, {16, 8, 16}}) == S{16, 8, 16});  // the TITAN RTX's list
  CHECK(*vk::pick_coopmat_shape({{64, 64, 16}, {16, 8, 8}}) == S{16, 8, 8});
  CHECK_FALSE(vk::pick_coopmat_shape({{64, 64, 16}, {24, 8, 16}}));
  CHECK_FALSE(vk::pick_coopmat_shape({}));
  if (!vk::coopmat_shader_built()) {
    MESSAGE("this build has no GL_NV_cooperative_matrix shader: device checks skipped");
    return;
  }
  auto gpu = nvidia_like();
  auto cfg = vk::coopmat_config(gpu);
  REQUIRE(cfg);
  CHECK(cfg->shape == S{16, 16, 16});
  CHECK(cfg->subgroup == 32);
  auto lacks = [](vk::DeviceInfo d, const std::string& what) {
    CHECK_FALSE(vk::coopmat_config(d));
    CHECK_MESSAGE(vk::coopmat_problem(d).find(what) != std::string::npos, vk::coopmat_problem(d));
  };
  auto d = gpu;
  d.coopmat_nv = false;
  lacks(d, "no VK_NV_cooperative_matrix");
  d = gpu;
  d.coopmat_nv_shapes = {{64, 64, 16}};
  lacks(d, "shape");
  d = gpu;
  d.fp16_arithmetic = false;
  lacks(d, "shaderFloat16");
  d = gpu;
  d.vulkan_memory_model = false;
  lacks(d, "vulkanMemoryModel");
  d = gpu;
  d.subgroup_size = 16;
  lacks(d, "subgroup size 16");
  d.subgroup_size = 64;
  CHECK(vk::coopmat_config(d));
}

TEST_CASE("kernel families: every op's choice on described devices") {
  using K = ops::LinearKernel;
  using F = vk::KernelFamily;
  auto gpu = nvidia_like();
  // auto never takes the cooperative-matrix GEMM (it has not run on a real device yet).
  CHECK(ops::choose_linear_kernel(gpu, shape_args(197, 768, 768)) == K::TiledMedium);
  CHECK(ops::choose_linear_kernel(gpu, shape_args(64 * 197, 3072, 768)) == K::TiledLarge);
  auto forced = gpu;
  forced.kernels = F::Coopmat;
  if (vk::coopmat_shader_built()) {
    CHECK(ops::choose_linear_kernel(forced, shape_args(197, 768, 768)) == K::Coopmat);
    CHECK(ops::choose_linear_kernel(forced, shape_args(1, 10, 192)) == K::Coopmat);
    auto f16 = shape_args(197, 768, 768);
    f16.w_format = ops::WeightFormat::F16;
    CHECK(ops::choose_linear_kernel(forced, f16) == K::Coopmat);
    auto no16 = forced;
    no16.fp16_storage = false;  // fp16 weights need 16-bit storage: the tiles take fp32 ones only
    CHECK(ops::choose_linear_kernel(no16, f16) != K::Coopmat);
    auto tiny_shared = forced;
    tiny_shared.max_shared_memory = 8192;  // tiles do not fit: the tiled GEMM runs it
    CHECK(ops::choose_linear_kernel(tiny_shared, shape_args(197, 768, 768)) == K::TiledMedium);
  }

  auto lavapipe = gpu;
  lavapipe.device_type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  lavapipe.subgroup_size = 8;
  const auto wide = shape_args(197, 768, 768);
  CHECK(ops::choose_linear_kernel(lavapipe, wide) == K::Texel);
  CHECK(ops::linear_weight_group(lavapipe, wide) == 32);
  ops::LayerNormArgs ln;
  ln.rows = 197;
  ln.C = 768;
  CHECK(ops::choose_layernorm_kernel(lavapipe, ln) == ops::LayerNormKernel::Texel);
  ops::AttentionArgs at;
  at.N = 197;
  at.H = 12;
  at.D = 64;
  CHECK(ops::choose_attention_kernel(lavapipe, at) == ops::AttentionKernel::Fused);
  auto with_ln = wide;
  with_ln.ln = ops::FusedLayerNorm{};
  auto narrow_ln = shape_args(50, 192, 64);
  narrow_ln.ln = ops::FusedLayerNorm{};
  CHECK(ops::linear_fuses_layernorm(lavapipe, narrow_ln));

  // portable: the plain kernels everywhere, no packed weights, no fused LayerNorm.
  auto portable = lavapipe;
  portable.kernels = F::Portable;
  CHECK(ops::choose_linear_kernel(portable, wide) == K::Portable);
  CHECK(ops::linear_weight_group(portable, wide) == 0);
  CHECK_FALSE(ops::linear_fuses_layernorm(portable, narrow_ln));
  CHECK(ops::choose_layernorm_kernel(portable, ln) == ops::LayerNormKernel::Rows);
  CHECK(ops::choose_attention_kernel(portable, at) == ops::AttentionKernel::TwoPass);
  auto portable_gpu = gpu;
  portable_gpu.kernels = F::Portable;
  CHECK(ops::choose_linear_kernel(portable_gpu, wide) == K::Portable);
  CHECK(ops::choose_layernorm_kernel(portable_gpu, ln) == ops::LayerNormKernel::Rows);

  // tiled on a CPU device: the GPU kernels, as on a GPU.
  auto tiled = lavapipe;
  tiled.kernels = F::Tiled;
  CHECK(ops::choose_linear_kernel(tiled, wide) == K::TiledMedium);
  CHECK(ops::linear_weight_group(tiled, wide) == 0);
  CHECK_FALSE(ops::linear_fuses_layernorm(tiled, narrow_ln));
  CHECK(ops::choose_layernorm_kernel(tiled, ln) == ops::LayerNormKernel::Subgroup);
  CHECK(ops::choose_attention_kernel(tiled, at) == ops::choose_attention_kernel(gpu, at));
  // A kernel forced for one op (tests) still wins over the family.
  auto one = wide;
  one.kernel = K::Portable;
  CHECK(ops::choose_linear_kernel(tiled, one) == K::Portable);
}

TEST_CASE("kernel families: the test context runs the family VITSCOPE_KERNELS asks for") {
  const char* env = std::getenv("VITSCOPE_KERNELS");
  const vk::KernelFamily want = env && *env ? vk::parse_kernel_family(env) : vk::KernelFamily::Auto;
  CHECK(context().info().kernels == want);
}
