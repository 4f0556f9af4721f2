// The device-specific fast paths (issue #7): every linear kernel variant forced on the
// current device against the CPU loops of engine/ref, and the per-device selection logic
// on described (not real) devices, so that the GPU choices are tested on lavapipe too.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ref/cpu_ops.h"
#include "testutil.h"
#include "vit.h"

using namespace vitscope;
using test::context;

namespace {

vk::BufferView view(const std::unique_ptr<vk::Buffer>& b, uint64_t offset = 0) { return {b.get(), offset, 0}; }

struct Shape {
  int M, N, K;
  ops::Activation act = ops::Activation::None;
  bool bias = true, residual = false, gamma = false;
  float alpha = 1.0f;
  int lda = 0, ldy = 0, ldw = 0;
  bool ln = false;  // LayerNorm fused into the read of x
  bool packed = false;  // W packed for the texel kernel (ops::pack_weight_group), ldw unused
};

// Weight precision of a linear test: fp32, fp16 weights, fp16 weights and fp16 arithmetic.
enum class Mode { F32, F16, F16Math };
const char* mode_name(Mode m) { return m == Mode::F32 ? "fp32" : m == Mode::F16 ? "fp16" : "fp16-math"; }

// fp16 rounding by the compiler's own _Float16 (independent of engine/core/half.h).
float round_half(float v) { return float(static_cast<_Float16>(v)); }

// fp16 data for the device: pairs of halves packed into the floats of a test buffer.
std::unique_ptr<vk::Buffer> to_device_half(const std::vector<float>& v, const std::string& name) {
  std::vector<_Float16> h(v.size() + (v.size() & 1), _Float16(0.0f));
  for (size_t i = 0; i < v.size(); ++i) h[i] = static_cast<_Float16>(v[i]);
  std::vector<float> packed(h.size() / 2);
  std::memcpy(packed.data(), h.data(), h.size() * 2);
  return test::to_device(packed, name);
}

std::string describe(const Shape& s, ops::LinearKernel k, Mode mode = Mode::F32) {
  return std::string(ops::linear_kernel_name(k)) + (s.ln ? "+ln" : "") + (s.packed ? " packed" : "") + " " +
         mode_name(mode) + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) +
         " K=" + std::to_string(s.K);
}

// Runs y = (residual ? y0 : 0) + alpha * gamma * act(x W^T + b) with kernel k and compares
// it with the CPU reference, rows outside the strides kept as they were.
// fp16 weights: the reference uses the same rounded weights (the kernels then differ from
// it by fp32 rounding only). fp16 arithmetic: the reference also rounds x, and each output
// may differ by a small multiple of fp16's unit roundoff times the sum of |x_k w_k|.
void check_linear(const Shape& s, ops::LinearKernel k, uint32_t seed, Mode mode = Mode::F32) {
  auto& ctx = context();
  int lda = s.lda ? s.lda : s.K, ldy = s.ldy ? s.ldy : s.N, ldw = s.ldw ? s.ldw : s.K;
  auto x = test::random_vector(size_t(s.M) * lda, seed);
  auto w = test::random_vector(size_t(s.N) * s.K, seed + 1, 1.0f / std::sqrt(float(s.K)));
  auto b = test::random_vector(size_t(s.N), seed + 2, 0.5f);
  auto g = test::random_vector(size_t(s.N), seed + 3, 0.3f, 1.0f);
  auto y0 = test::random_vector(size_t(s.M) * ldy, seed + 4);
  // A fused LayerNorm gets rows far from zero mean and unit variance, as residual streams are.
  auto lng = test::random_vector(size_t(s.K), seed + 5, 0.5f, 1.5f);
  auto lnb = test::random_vector(size_t(s.K), seed + 6, 0.5f);
  if (s.ln)
    for (int m = 0; m < s.M; ++m)
      for (int kk = 0; kk < s.K; ++kk) x[size_t(m) * lda + kk] = 3.0f + 4.0f * x[size_t(m) * lda + kk] + 0.1f * float(m % 7);
  if (mode != Mode::F32)
    for (float& v : w) v = round_half(v);
  // Padding must never reach an output (fp16 has no 1e30: its largest finite value).
  const float pad = mode == Mode::F32 ? 1e30f : 65504.0f;
  const uint32_t group = s.packed ? 4 * ctx.info().subgroup_size : 0;
  std::vector<float> wpad;
  if (group) {  // group by group, the columns past N filled with padding
    wpad.resize(ops::packed_weight_elements(uint32_t(s.N), uint32_t(s.K), group));
    for (size_t first = 0; first < size_t(s.N); first += group) {
      std::vector<float> rows(size_t(group) * s.K, pad);
      std::copy_n(w.begin() + std::ptrdiff_t(first * s.K), std::min<size_t>(group, s.N - first) * s.K, rows.begin());
      ops::pack_weight_group(rows.data(), uint32_t(s.K), group, wpad.data() + first * s.K);
    }
  } else {
    wpad.assign(size_t(s.N) * ldw, pad);
    for (int n = 0; n < s.N; ++n)
      for (int kk = 0; kk < s.K; ++kk) wpad[size_t(n) * ldw + kk] = w[size_t(n) * s.K + kk];
  }
  auto dw = mode == Mode::F32 ? test::to_device(wpad, "w") : to_device_half(wpad, "w");
  auto dx = test::to_device(x, "x"), db = test::to_device(b, "b"),
       dg = test::to_device(g, "gamma"), dy = test::to_device(y0, "y");
  auto dlng = test::to_device(lng, "ln gamma"), dlnb = test::to_device(lnb, "ln beta");
  ops::LinearArgs a;
  if (s.ln) a.ln = ops::FusedLayerNorm{view(dlng), view(dlnb), 1e-6f};
  a.x = view(dx);
  a.w = view(dw);
  if (s.bias) a.bias = view(db);
  if (s.gamma) a.gamma = view(dg);
  a.y = view(dy);
  a.M = uint32_t(s.M);
  a.N = uint32_t(s.N);
  a.K = uint32_t(s.K);
  a.lda = uint32_t(lda);
  a.ldy = uint32_t(ldy);
  a.ldw = uint32_t(ldw);
  a.w_group = group;
  a.act = s.act;
  a.residual = s.residual;
  a.alpha = s.alpha;
  a.kernel = k;
  a.w_format = mode == Mode::F32 ? ops::WeightFormat::F32 : ops::WeightFormat::F16;
  a.math_f16 = mode == Mode::F16Math;
  const std::string tag = describe(s, k, mode);
  REQUIRE_MESSAGE(ops::linear_kernel_supported(ctx.info(), a, k), tag);
  vk::Recorder rec(ctx);
  rec.begin();
  ops::linear(ctx, rec, a, "linear");
  rec.end();
  rec.run("linear kernel test");
  auto got = test::from_device(*dy, y0.size());

  std::vector<float> xs(size_t(s.M) * s.K), t(size_t(s.M) * s.N);
  for (int m = 0; m < s.M; ++m)
    for (int kk = 0; kk < s.K; ++kk)
      xs[size_t(m) * s.K + kk] = x[size_t(m) * lda + kk];
  if (s.ln) ref::layernorm(xs.data(), lng.data(), lnb.data(), xs.data(), s.M, s.K, 1e-6f);
  if (mode == Mode::F16Math)
    for (float& v : xs) v = round_half(v);
  ref::linear(xs.data(), w.data(), s.bias ? b.data() : nullptr, t.data(), s.M, s.N, s.K);
  std::vector<float> want = y0, bound(y0.size(), 0.0f);
  if (mode == Mode::F16Math)
    for (int m = 0; m < s.M; ++m)
      for (int n = 0; n < s.N; ++n) {
        double mass = 0;
        for (int kk = 0; kk < s.K; ++kk) mass += std::fabs(double(xs[size_t(m) * s.K + kk]) * w[size_t(n) * s.K + kk]);
        bound[size_t(m) * ldy + n] = float(16 * std::ldexp(1.0, -11) * mass);  // 16 roundings per K slice
      }
  for (int m = 0; m < s.M; ++m)
    for (int n = 0; n < s.N; ++n) {
      float v = t[size_t(m) * s.N + n];
      v = ref::activate(v, ops::activation_name(s.act));
      if (s.gamma) v *= g[size_t(n)];
      v *= s.alpha;
      float& o = want[size_t(m) * ldy + n];
      o = s.residual ? o + v : v;
    }
  if (mode == Mode::F16Math) {
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (!(std::fabs(got[i] - want[i]) <= 2e-5 + 1.5 * std::fabs(s.alpha) * bound[i])) ++bad;
    CHECK_MESSAGE(bad == 0, tag << ": " << bad << " outputs outside the fp16 error bound");
    test::check_close(got, want, 5e-2, 5e-2, tag);  // and never far off
  } else {
    test::check_close(got, want, 2e-5, 2e-5, tag);
  }
  test::require_no_validation_messages();
}

const std::vector<Shape>& odd_shapes() {
  static const std::vector<Shape> shapes = {
      {197, 13, 76},                                                   // fits no tile, K%4 == 0
      {1, 1, 4},                                                       // a single output
      {5, 7, 12, ops::Activation::Gelu},                               // K4 < subgroup size
      {65, 129, 36, ops::Activation::Tanh, false},                     // partial K block, no bias
      {33, 70, 48, ops::Activation::None, true, true, true, 0.5f},     // residual + LayerScale + alpha
      {9, 24, 40, ops::Activation::None, true, false, false, 1.0f, 44, 30, 52},  // strided x, y and W
      // N and ldy multiples of 4: the texel kernel's vec4 epilogue (runs of 4 columns per lane)
      {33, 68, 48, ops::Activation::None, true, true, true, 0.5f},     // partial column tile
      {65, 132, 36, ops::Activation::Tanh, false},                     // partial K block, no bias
      {5, 8, 12, ops::Activation::Gelu},
      {9, 24, 40, ops::Activation::None, true, true, true, 2.0f, 44, 28, 52},  // strided, residual
      // taller, the last row tile partial
      {130, 68, 48, ops::Activation::Gelu, true, true, true, 0.5f},    // vec4 epilogue
      {129, 70, 36, ops::Activation::Tanh, false},                     // scalar epilogue
      // the other MLP activations, in both epilogues
      {5, 8, 12, ops::Activation::GeluTanh},                           // vec4 epilogue
      {9, 7, 12, ops::Activation::GeluTanh},                           // scalar epilogue
      {33, 68, 48, ops::Activation::Relu, true, true, true, 0.5f},     // vec4, residual + LayerScale
      {65, 129, 36, ops::Activation::Relu, false},                     // scalar, no bias
  };
  return shapes;
}

vk::DeviceInfo described_device(VkPhysicalDeviceType type, uint32_t subgroup, bool ballot) {
  vk::DeviceInfo d;
  d.name = "described device";
  d.device_type = type;
  d.subgroup_size = subgroup;
  d.subgroup_ballot = ballot;
  d.subgroup_arithmetic = ballot;
  d.max_workgroup_invocations = 1024;
  d.min_texel_offset_alignment = 16;
  d.min_storage_offset_alignment = 16;
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

TEST_CASE("linear kernels: odd shapes, epilogues and strides, every variant") {
  for (auto k : {ops::LinearKernel::Texel, ops::LinearKernel::Portable, ops::LinearKernel::TiledSmall,
                 ops::LinearKernel::TiledMedium, ops::LinearKernel::TiledLarge}) {
    ops::LinearArgs probe = shape_args(4, 4, 4);
    if (!ops::linear_kernel_supported(context().info(), probe, k)) {
      MESSAGE((std::string("skipping ") + ops::linear_kernel_name(k) + ": not supported on this device"));
      continue;
    }
    uint32_t seed = 100;
    for (Shape s : odd_shapes()) {
      check_linear(s, k, seed += 10);
      s.packed = true;  // the layout the model stores Dense weights in for the texel kernel
      if (k == ops::LinearKernel::Texel && s.ldw == 0) check_linear(s, k, seed += 10);
    }
  }
}

TEST_CASE("linear kernels: fp16 weights and fp16 arithmetic, every variant the device can run") {
  const auto& info = context().info();
  for (Mode mode : {Mode::F16, Mode::F16Math})
    for (auto k : {ops::LinearKernel::Texel, ops::LinearKernel::Portable, ops::LinearKernel::TiledSmall,
                   ops::LinearKernel::TiledMedium, ops::LinearKernel::TiledLarge}) {
      ops::LinearArgs probe = shape_args(4, 4, 4);
      probe.w_format = ops::WeightFormat::F16;
      probe.math_f16 = mode == Mode::F16Math;
      if (!ops::linear_kernel_supported(info, probe, k)) {
        MESSAGE((std::string("skipping ") + ops::linear_kernel_name(k) + " " + mode_name(mode) +
                ": not supported on this device"));
        continue;
      }
      uint32_t seed = 300;
      for (Shape s : odd_shapes()) {
        check_linear(s, k, seed += 10, mode);
        s.packed = true;
        if (k == ops::LinearKernel::Texel && s.ldw == 0) check_linear(s, k, seed += 10, mode);
      }
    }
  // ViT-B/16's MLP shapes on the kernel this device picks for fp16 weights.
  ops::LinearArgs a = shape_args(197, 768, 3072);
  a.w_format = ops::WeightFormat::F16;
  if (ops::linear_kernel_supported(info, a, ops::choose_linear_kernel(info, a))) {
    Shape fc2{197, 768, 3072, ops::Activation::Gelu};
    fc2.packed = ops::linear_weight_group(info, a) != 0;  // as the model stores it
    check_linear(fc2, ops::choose_linear_kernel(info, a), 900, Mode::F16);
  }
}

TEST_CASE("linear kernels: LayerNorm fused into the texel kernel's read of x, against LN then linear") {
  const auto& info = context().info();
  ops::LinearArgs probe = shape_args(4, 4, 4);
  probe.ln = ops::FusedLayerNorm{};
  probe.ln->gamma = probe.ln->beta = probe.x;
  if (!ops::linear_kernel_supported(info, probe, ops::LinearKernel::Texel)) {
    MESSAGE("skipping: this device cannot run the texel kernel with a fused LayerNorm");
    return;
  }
  uint32_t seed = 1300;
  for (Shape s : odd_shapes()) {
    s.ln = true;
    check_linear(s, ops::LinearKernel::Texel, seed += 10);
    s.packed = true;
    if (s.ldw == 0) check_linear(s, ops::LinearKernel::Texel, seed += 10);
  }
  // The bundled model's and ViT-S/16's qkv and fc1 (the layers that fuse it), fp32 and fp16.
  for (Mode mode : {Mode::F32, Mode::F16}) {
    Shape qkv{50, 192, 64}, fc1{197, 1536, 384, ops::Activation::Gelu};
    qkv.ln = fc1.ln = true;
    qkv.packed = fc1.packed = true;
    probe.w_format = mode == Mode::F32 ? ops::WeightFormat::F32 : ops::WeightFormat::F16;
    if (!ops::linear_kernel_supported(info, probe, ops::LinearKernel::Texel)) continue;
    check_linear(qkv, ops::LinearKernel::Texel, 1400, mode);
    check_linear(fc1, ops::LinearKernel::Texel, 1410, mode);
  }
}

TEST_CASE("linear kernels: K not a multiple of 4 falls back to the portable kernel") {
  auto& ctx = context();
  ops::LinearArgs a = shape_args(197, 13, 75);
  CHECK_FALSE(ops::linear_kernel_supported(ctx.info(), a, ops::LinearKernel::Texel));
  if (ctx.info().device_type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    CHECK(ops::choose_linear_kernel(ctx.info(), a) == ops::LinearKernel::Portable);
  check_linear({197, 13, 75}, ops::choose_linear_kernel(ctx.info(), a), 7);
}

TEST_CASE("linear kernels: ViT-B/16 shapes on the kernel this device chooses") {
  auto& ctx = context();
  for (Shape s : {Shape{197, 2304, 768},  // qkv
                  Shape{197, 768, 3072, ops::Activation::None, true, true, true}}) {  // fc2
    ops::LinearArgs a = shape_args(uint32_t(s.M), uint32_t(s.N), uint32_t(s.K));
    s.packed = ops::linear_weight_group(ctx.info(), a) != 0;  // the layout the model stores
    a.w_group = s.packed ? 4 * ctx.info().subgroup_size : 0;
    check_linear(s, ops::choose_linear_kernel(ctx.info(), a), 500);
  }
}

TEST_CASE("linear kernel selection per device class") {
  auto lavapipe = described_device(VK_PHYSICAL_DEVICE_TYPE_CPU, 8, true);
  auto gpu = described_device(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 32, true);
  auto wide_cpu = described_device(VK_PHYSICAL_DEVICE_TYPE_CPU, 16, true);
  auto cpu_no_ballot = described_device(VK_PHYSICAL_DEVICE_TYPE_CPU, 8, false);
  auto cpu_sg32 = described_device(VK_PHYSICAL_DEVICE_TYPE_CPU, 32, true);
  using K = ops::LinearKernel;

  // CPU devices: texel path when the shape and alignment allow, else portable.
  CHECK(ops::choose_linear_kernel(lavapipe, shape_args(197, 2304, 768)) == K::Texel);
  CHECK(ops::choose_linear_kernel(wide_cpu, shape_args(197, 2304, 768)) == K::Texel);
  CHECK(ops::choose_linear_kernel(lavapipe, shape_args(197, 13, 75)) == K::Portable);
  CHECK(ops::choose_linear_kernel(cpu_no_ballot, shape_args(197, 2304, 768)) == K::Portable);
  CHECK(ops::choose_linear_kernel(cpu_sg32, shape_args(197, 2304, 768)) == K::Portable);
  ops::LinearArgs misaligned = shape_args(197, 768, 768);
  misaligned.x.offset = 8;  // a view not on a texel-offset boundary
  CHECK(ops::choose_linear_kernel(lavapipe, misaligned) == K::Portable);
  ops::LinearArgs odd_lda = shape_args(197, 768, 768);
  odd_lda.lda = 770;
  CHECK(ops::choose_linear_kernel(lavapipe, odd_lda) == K::Portable);

  // A LayerNorm is fused into narrow layers on CPU devices only.
  auto with_ln = [](ops::LinearArgs a) {
    a.ln = ops::FusedLayerNorm{};
    return a;
  };
  CHECK(ops::linear_fuses_layernorm(lavapipe, with_ln(shape_args(50, 192, 64))));      // bundled qkv
  CHECK(ops::linear_fuses_layernorm(lavapipe, with_ln(shape_args(197, 768, 192))));    // ViT-Ti fc1: 6 tiles
  CHECK_FALSE(ops::linear_fuses_layernorm(lavapipe, with_ln(shape_args(197, 1536, 384))));  // ViT-S fc1: 12
  CHECK_FALSE(ops::linear_fuses_layernorm(lavapipe, with_ln(shape_args(197, 2304, 768))));  // ViT-B qkv: 18
  CHECK_FALSE(ops::linear_fuses_layernorm(lavapipe, shape_args(50, 192, 64)));         // no LayerNorm asked
  CHECK_FALSE(ops::linear_fuses_layernorm(gpu, with_ln(shape_args(50, 192, 64))));
  auto cpu_no_arith = lavapipe;
  cpu_no_arith.subgroup_arithmetic = false;  // the statistics need subgroupAdd
  CHECK_FALSE(ops::linear_fuses_layernorm(cpu_no_arith, with_ln(shape_args(50, 192, 64))));
  CHECK_FALSE(ops::linear_fuses_layernorm(lavapipe, with_ln(shape_args(50, 192, 66))));  // K % 4 != 0
  CHECK_FALSE(ops::linear_kernel_supported(gpu, with_ln(shape_args(50, 192, 64)), K::TiledMedium));

  // GPUs: tile size by shape, never the CPU kernel.
  CHECK(ops::choose_linear_kernel(gpu, shape_args(64 * 197, 3072, 768)) == K::TiledLarge);
  CHECK(ops::choose_linear_kernel(gpu, shape_args(197, 768, 768)) == K::TiledMedium);
  CHECK(ops::choose_linear_kernel(gpu, shape_args(1, 1000, 768)) == K::TiledSmall);
  CHECK(ops::choose_linear_kernel(gpu, shape_args(8, 10, 192)) == K::TiledSmall);
  auto small_gpu = gpu;
  small_gpu.max_workgroup_invocations = 128;  // the Vulkan minimum: no 256-thread tiles
  CHECK(ops::choose_linear_kernel(small_gpu, shape_args(64 * 197, 3072, 768)) == K::TiledSmall);

  // A forced kernel is taken as asked.
  ops::LinearArgs forced = shape_args(197, 768, 768);
  forced.kernel = K::TiledLarge;
  CHECK(ops::choose_linear_kernel(lavapipe, forced) == K::TiledLarge);

  // fp16 weights: RGBA16F texel views on CPU devices, 16-bit storage buffers elsewhere;
  // fp16 arithmetic exists only in the tiled kernel, so CPU devices fall back to it.
  auto f16 = [](ops::LinearArgs a, bool math = false) {
    a.w_format = ops::WeightFormat::F16;
    a.math_f16 = math;
    return a;
  };
  auto cpu16 = lavapipe;
  cpu16.fp16_texel = cpu16.fp16_storage = cpu16.fp16_arithmetic = true;
  CHECK(ops::choose_linear_kernel(cpu16, f16(shape_args(197, 2304, 768))) == K::Texel);
  CHECK(ops::choose_linear_kernel(cpu16, f16(shape_args(197, 2304, 768), true)) == K::TiledSmall);
  auto cpu_no_texel16 = cpu16;
  cpu_no_texel16.fp16_texel = false;
  CHECK(ops::choose_linear_kernel(cpu_no_texel16, f16(shape_args(197, 2304, 768))) == K::Portable);
  CHECK_FALSE(ops::linear_kernel_supported(lavapipe, f16(shape_args(197, 2304, 768)), K::Texel));
  auto gpu16 = gpu;
  gpu16.fp16_storage = true;
  CHECK(ops::choose_linear_kernel(gpu16, f16(shape_args(64 * 197, 3072, 768))) == K::TiledLarge);
  CHECK_FALSE(ops::linear_kernel_supported(gpu16, f16(shape_args(197, 768, 768), true), K::TiledMedium));
  gpu16.fp16_arithmetic = true;
  CHECK(ops::choose_linear_kernel(gpu16, f16(shape_args(197, 768, 768), true)) == K::TiledMedium);
  CHECK_FALSE(ops::linear_kernel_supported(gpu, f16(shape_args(197, 768, 768)), K::TiledMedium));
  CHECK_FALSE(ops::linear_kernel_supported(gpu, f16(shape_args(197, 768, 768)), K::Portable));

  // Precision from the device: fp32 on CPU devices unless asked, fp16 weights on GPUs that
  // can read them, a clear refusal naming the missing feature.
  CHECK(choose_precision(cpu16, "auto") == Precision::Fp32);
  CHECK(choose_precision(cpu16, "fp16") == Precision::Fp16);
  CHECK(choose_precision(cpu16, "fp16-math") == Precision::Fp16Math);
  CHECK(choose_precision(gpu16, "auto") == Precision::Fp16);
  CHECK(choose_precision(gpu, "auto") == Precision::Fp32);
  CHECK_THROWS_WITH_AS(choose_precision(gpu, "fp16"), doctest::Contains("no storageBuffer16BitAccess"), InputError);
  auto gpu_storage_only = gpu;
  gpu_storage_only.fp16_storage = true;
  CHECK_THROWS_WITH_AS(choose_precision(gpu_storage_only, "fp16-math"), doctest::Contains("lacks shaderFloat16"),
                       InputError);
  CHECK_THROWS_WITH_AS(choose_precision(gpu, "bf16"), doctest::Contains("unknown precision 'bf16'"), InputError);

  // Dense weights packed (groups of 4 x subgroup size) exactly where the texel kernel runs them.
  CHECK(ops::linear_weight_group(lavapipe, shape_args(1, 768, 3072)) == 32);
  CHECK(ops::linear_weight_group(wide_cpu, shape_args(1, 768, 3072)) == 64);
  CHECK(ops::linear_weight_group(lavapipe, shape_args(1, 13, 75)) == 0);  // K % 4: portable
  CHECK(ops::linear_weight_group(cpu_no_ballot, shape_args(1, 768, 768)) == 0);
  CHECK(ops::linear_weight_group(gpu, shape_args(1, 768, 768)) == 0);
  CHECK(ops::linear_weight_group(cpu16, f16(shape_args(1, 768, 768))) == 32);
  CHECK(ops::linear_weight_group(cpu16, f16(shape_args(1, 768, 768), true)) == 0);  // fp16 math: tiled
  ops::LinearArgs packed = shape_args(197, 768, 768);
  packed.w_group = 32;
  CHECK(ops::choose_linear_kernel(lavapipe, packed) == K::Texel);
  CHECK(ops::linear_kernel_supported(lavapipe, packed, K::Texel));
  CHECK_FALSE(ops::linear_kernel_supported(wide_cpu, packed, K::Texel));  // packed for 8 lanes, not 16
  CHECK_FALSE(ops::linear_kernel_supported(lavapipe, packed, K::Portable));
  CHECK_FALSE(ops::linear_kernel_supported(gpu, packed, K::TiledMedium));
  CHECK(ops::packed_weight_elements(1000, 768, 32) == 1024u * 768u);
  CHECK(ops::packed_weight_elements(10, 64, 32) == 32u * 64u);
}

namespace {

void check_attention(int B, int N, int H, int D, ops::AttentionKernel k, bool write_prob, uint32_t seed,
                     uint32_t keys_per_lane = 0) {
  auto& ctx = context();
  int C = H * D;
  auto qkv = test::random_vector(size_t(B) * N * 3 * C, seed, 1.5f);
  auto dq = test::to_device(qkv, "qkv");
  std::vector<float> sentinel(size_t(B) * H * N * N, -7.0f);
  auto dp = test::to_device(sentinel, "prob");
  auto dout = test::device_zeros(size_t(B) * N * C, "out");
  ops::AttentionArgs a{view(dq), view(dp), view(dout), uint32_t(B), uint32_t(N), uint32_t(H), uint32_t(D)};
  a.write_prob = write_prob;
  a.kernel = k;
  a.keys_per_lane = keys_per_lane;
  std::string tag = std::string(k == ops::AttentionKernel::Fused ? "fused" : "two-pass") +
                    (write_prob ? " +P" : "") + " B=" + std::to_string(B) + " N=" + std::to_string(N) +
                    " H=" + std::to_string(H) + " D=" + std::to_string(D) +
                    (keys_per_lane ? " CK=" + std::to_string(keys_per_lane) : "");
  REQUIRE_MESSAGE(ops::attention_kernel_supported(ctx.info(), a, k), tag);
  vk::Recorder rec(ctx);
  rec.begin();
  ops::attention(ctx, rec, a, "attn");
  rec.end();
  rec.run("attention kernel test");
  std::vector<float> prob(sentinel.size()), out(size_t(B) * N * C);
  ref::attention(qkv.data(), prob.data(), out.data(), B, N, H, D);
  test::check_close(test::from_device(*dout, out.size()), out, 2e-5, 2e-5, "attention output " + tag);
  auto got_p = test::from_device(*dp, prob.size());
  if (write_prob)
    test::check_close(got_p, prob, 1e-6, 1e-5, "attention probabilities " + tag);
  else
    CHECK_MESSAGE(std::all_of(got_p.begin(), got_p.end(), [](float v) { return v == -7.0f; }),
                  "probabilities written although not requested: " << tag);
  test::require_no_validation_messages();
}

}  // namespace

TEST_CASE("attention kernels: fused (online softmax) and two-pass against the CPU") {
  auto& ctx = context();
  struct Case {
    int B, N, H, D;
  };
  const std::vector<Case> cases = {{2, 197, 3, 16}, {1, 50, 4, 32}, {1, 197, 12, 64}, {3, 5, 1, 8},
                                   {1, 197, 5, 12}, {2, 17, 2, 4},  {1, 33, 2, 128}};
  ops::AttentionArgs probe;
  probe.D = 64;
  bool fused = ops::attention_kernel_supported(ctx.info(), probe, ops::AttentionKernel::Fused);
  uint32_t seed = 900;
  for (const Case& c : cases) {
    if (fused) {
      check_attention(c.B, c.N, c.H, c.D, ops::AttentionKernel::Fused, false, ++seed);
      check_attention(c.B, c.N, c.H, c.D, ops::AttentionKernel::Fused, true, ++seed);
    }
    if (c.N <= 64) check_attention(c.B, c.N, c.H, c.D, ops::AttentionKernel::TwoPass, true, ++seed);
  }
  if (!fused) MESSAGE("fused attention not supported on this device: only the two-pass path was tested");
}

TEST_CASE("fused attention: every number of keys per lane, with partial last blocks") {
  auto& ctx = context();
  ops::AttentionArgs probe;
  probe.D = 64;
  if (!ops::attention_kernel_supported(ctx.info(), probe, ops::AttentionKernel::Fused)) {
    MESSAGE("fused attention not supported on this device");
    return;
  }
  // N = 197 leaves a different partial last block for each CK (blocks of 8 * CK keys on
  // lavapipe); N = 41 and 131 are short and odd.
  uint32_t seed = 1900;
  for (uint32_t ck = 1; ck <= 8; ++ck) {
    check_attention(1, 197, 2, 64, ops::AttentionKernel::Fused, false, ++seed, ck);
    check_attention(2, ck % 2 ? 41 : 131, 3, 16, ops::AttentionKernel::Fused, ck >= 5, ++seed, ck);
  }
  ops::AttentionArgs too_many = probe;
  too_many.keys_per_lane = 9;  // the kernel keeps at most 8 scores per query and lane
  CHECK_FALSE(ops::attention_kernel_supported(ctx.info(), too_many, ops::AttentionKernel::Fused));
}

TEST_CASE("fused attention: keys per lane by sequence length") {
  // Up to 2 x subgroup size keys: 2 per lane.
  CHECK(ops::attention_keys_per_lane(8, 5) == 2);
  CHECK(ops::attention_keys_per_lane(8, 16) == 2);
  // Else the fewest keys scored with 3, 4 or 5 per lane (blocks of 24, 32, 40 on lavapipe).
  CHECK(ops::attention_keys_per_lane(8, 50) == 4);    // the bundled model: 64 keys, not 72 or 80
  CHECK(ops::attention_keys_per_lane(8, 197) == 5);   // ViT-*/16 at 224: 200, not 216 or 224
  CHECK(ops::attention_keys_per_lane(8, 257) == 3);   // 264, not 288 or 280
  CHECK(ops::attention_keys_per_lane(8, 577) == 3);   // 600 ties with 5: the smaller
  CHECK(ops::attention_keys_per_lane(8, 1370) == 4);  // 1376
  CHECK(ops::attention_keys_per_lane(16, 197) == 3);  // blocks of 48: 240 (as 80), not 256
  for (uint32_t sg : {4u, 8u, 16u})
    for (uint32_t n = 1; n <= 2000; ++n) {
      const uint32_t ck = ops::attention_keys_per_lane(sg, n);
      REQUIRE(ck >= 2);
      REQUIRE(ck <= 5);
      if (ck > 2) {  // no other choice of 3-5 scores fewer keys
        const uint32_t keys = (n + sg * ck - 1) / (sg * ck) * (sg * ck);
        for (uint32_t other = 3; other <= 5; ++other)
          REQUIRE((n + sg * other - 1) / (sg * other) * (sg * other) >= keys);
      }
    }
}

TEST_CASE("attention kernel selection per device class") {
  auto lavapipe = described_device(VK_PHYSICAL_DEVICE_TYPE_CPU, 8, true);
  auto gpu = described_device(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 32, true);
  using K = ops::AttentionKernel;
  ops::AttentionArgs a;
  a.N = 197;
  a.H = 12;
  a.D = 64;
  CHECK(ops::choose_attention_kernel(lavapipe, a) == K::Fused);
  CHECK(ops::choose_attention_kernel(gpu, a) == K::TwoPass);
  a.D = 7;  // not whole texels
  CHECK(ops::choose_attention_kernel(lavapipe, a) == K::TwoPass);
  a.D = 256;  // more head dims than the kernel keeps in registers (16 * subgroup size)
  CHECK(ops::choose_attention_kernel(lavapipe, a) == K::TwoPass);
  a.D = 128;
  CHECK(ops::choose_attention_kernel(lavapipe, a) == K::Fused);
  auto no_arith = lavapipe;
  no_arith.subgroup_arithmetic = false;
  CHECK(ops::choose_attention_kernel(no_arith, a) == K::TwoPass);
}

namespace {

// A random timm-named ViT whose linear weights get padded rows on CPU devices (K = 128 and
// 512) and whose heads (D = 64) take the fused attention kernel.
std::string write_padded_model() {
  std::map<std::string, test::TensorF32> t;
  uint32_t s = 4242;
  auto rnd = [&](std::vector<int64_t> shape, float scale, float offset = 0.f) {
    size_t n = 1;
    for (auto d : shape) n *= size_t(d);
    return test::TensorF32{shape, test::random_vector(n, s++, scale, offset)};
  };
  const int64_t C = 128, M = 512, G = 16, classes = 10;
  t["patch_embed.proj.weight"] = rnd({C, 3, 8, 8}, 0.1f);
  t["patch_embed.proj.bias"] = rnd({C}, 0.1f);
  t["cls_token"] = rnd({1, 1, C}, 0.5f);
  t["pos_embed"] = rnd({1, 1 + G, C}, 0.3f);
  for (int i = 0; i < 2; ++i) {
    std::string b = "blocks." + std::to_string(i) + ".";
    t[b + "norm1.weight"] = rnd({C}, 0.1f, 1.f);
    t[b + "norm1.bias"] = rnd({C}, 0.1f);
    t[b + "attn.qkv.weight"] = rnd({3 * C, C}, 0.15f);
    t[b + "attn.qkv.bias"] = rnd({3 * C}, 0.1f);
    t[b + "attn.proj.weight"] = rnd({C, C}, 0.1f);
    t[b + "attn.proj.bias"] = rnd({C}, 0.1f);
    t[b + "norm2.weight"] = rnd({C}, 0.1f, 1.f);
    t[b + "norm2.bias"] = rnd({C}, 0.1f);
    t[b + "mlp.fc1.weight"] = rnd({M, C}, 0.1f);
    t[b + "mlp.fc1.bias"] = rnd({M}, 0.1f);
    t[b + "mlp.fc2.weight"] = rnd({C, M}, 0.05f);
    t[b + "mlp.fc2.bias"] = rnd({C}, 0.1f);
  }
  t["norm.weight"] = rnd({C}, 0.1f, 1.f);
  t["norm.bias"] = rnd({C}, 0.1f);
  t["head.weight"] = rnd({classes, C}, 0.1f);
  t["head.bias"] = rnd({classes}, 0.1f);
  std::string dir = test::temp_dir("model-padded");
  test::write_safetensors(dir + "/model.safetensors", t);
  nlohmann::json cfg = {{"architecture", "vit_test_padded"}, {"num_classes", classes}, {"global_pool", "token"},
                        {"model_args", {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", C}, {"depth", 2},
                                        {"num_heads", 2}, {"mlp_ratio", 4.0}, {"qkv_bias", true}}},
                        {"pretrained_cfg", {{"input_size", {3, 32, 32}}, {"crop_pct", 1.0},
                                            {"mean", {0.5, 0.5, 0.5}}, {"std", {0.5, 0.5, 0.5}}}}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  return dir;
}

}  // namespace

TEST_CASE("whole model on the fast paths: padded weights, fused attention, probabilities on request") {
  std::string dir = write_padded_model();
  LoadedModel lm = load_model(dir);
  const VitConfig c = lm.config;
  const int batch = 2;
  auto input = test::random_vector(size_t(batch) * 3 * 32 * 32, 77);
  auto want = ref::vit_forward(c, lm.weights, input.data(), batch);
  VitModel model(test::context(), std::move(lm));
  auto plain = model.forward(input.data(), batch);
  test::check_close(plain.logits, want.logits, 1e-5, 1e-4, "logits without attention");
  CHECK(plain.attention.empty());
  ForwardOptions fo;
  fo.keep_attention = true;
  auto all = model.forward(input.data(), batch, fo);
  test::check_close(all.logits, want.logits, 1e-5, 1e-4, "logits with attention");
  test::check_close(all.attention, want.attention, 1e-6, 1e-5, "attention of every layer");
  // Only layer 1 asked for: layer 0 is not written (zeros), layer 1 as the reference.
  ForwardOptions one;
  one.attention_layers = {1};
  auto part = model.forward(input.data(), batch, one);
  test::check_close(part.logits, want.logits, 1e-5, 1e-4, "logits with layer 1's attention");
  REQUIRE(part.attention.size() == want.attention.size());
  const size_t per_layer = want.attention.size() / 2;
  CHECK(std::all_of(part.attention.begin(), part.attention.begin() + long(per_layer), [](float v) { return v == 0.f; }));
  test::check_close(std::vector<float>(part.attention.begin() + long(per_layer), part.attention.end()),
                    std::vector<float>(want.attention.begin() + long(per_layer), want.attention.end()), 1e-6, 1e-5,
                    "attention of layer 1 alone");
  // Back to no attention: the pass is recorded again without probabilities.
  auto again = model.forward(input.data(), batch);
  CHECK(again.logits == plain.logits);
  CHECK(again.attention.empty());
  ForwardOptions bad;
  bad.attention_layers = {2};
  CHECK_THROWS_AS(model.forward(input.data(), batch, bad), InputError);
  test::require_no_validation_messages();
  std::filesystem::remove_all(dir);
}
