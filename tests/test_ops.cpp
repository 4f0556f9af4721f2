// Every op on the GPU against the naive CPU loops of engine/ref, on random data, for
// shapes that fit no tile and for the real ViT-B/16 shapes.
#include <cmath>

#include "ops/attention.h"
#include "ops/layernorm.h"
#include "ops/linear.h"
#include "ops/patch_embed.h"
#include "ops/pooling.h"
#include "ref/cpu_ops.h"
#include "testutil.h"

using namespace vitscope;
using test::context;

namespace {

vk::BufferView view(const std::unique_ptr<vk::Buffer>& b, uint64_t offset = 0) { return {b.get(), offset, 0}; }

struct LinearCase {
  int M, N, K;
  ops::Activation act = ops::Activation::None;
  bool bias = true, residual = false, gamma = false;
  float alpha = 1.0f;
  int lda = 0, ldy = 0;
};

void run_linear(const LinearCase& c, uint32_t seed) {
  auto& ctx = context();
  int lda = c.lda ? c.lda : c.K, ldy = c.ldy ? c.ldy : c.N;
  auto x = test::random_vector(size_t(c.M) * lda, seed);
  auto w = test::random_vector(size_t(c.N) * c.K, seed + 1, 1.0f / std::sqrt(float(c.K)));
  auto b = test::random_vector(size_t(c.N), seed + 2, 0.5f);
  auto g = test::random_vector(size_t(c.N), seed + 3, 0.3f, 1.0f);
  auto y0 = test::random_vector(size_t(c.M) * ldy, seed + 4);
  auto dx = test::to_device(x, "x"), dw = test::to_device(w, "w"), db = test::to_device(b, "b"),
       dg = test::to_device(g, "gamma"), dy = test::to_device(y0, "y");
  ops::LinearArgs a;
  a.x = view(dx);
  a.w = view(dw);
  if (c.bias) a.bias = view(db);
  if (c.gamma) a.gamma = view(dg);
  a.y = view(dy);
  a.M = uint32_t(c.M);
  a.N = uint32_t(c.N);
  a.K = uint32_t(c.K);
  a.lda = uint32_t(lda);
  a.ldy = uint32_t(ldy);
  a.act = c.act;
  a.residual = c.residual;
  a.alpha = c.alpha;
  vk::Recorder rec(ctx);
  rec.begin();
  ops::linear(ctx, rec, a, "linear");
  rec.end();
  rec.run("linear test");
  auto got = test::from_device(*dy, y0.size());

  // Reference: y = (residual ? y0 : 0) + alpha * gamma * act(x W^T + b), outside rows kept.
  std::vector<float> xs(size_t(c.M) * c.K), t(size_t(c.M) * c.N);
  for (int m = 0; m < c.M; ++m)
    for (int k = 0; k < c.K; ++k) xs[size_t(m) * c.K + k] = x[size_t(m) * lda + k];
  ref::linear(xs.data(), w.data(), c.bias ? b.data() : nullptr, t.data(), c.M, c.N, c.K);
  std::vector<float> want = y0;
  for (int m = 0; m < c.M; ++m)
    for (int n = 0; n < c.N; ++n) {
      float v = t[size_t(m) * c.N + n];
      v = ref::activate(v, ops::activation_name(c.act));
      if (c.gamma) v *= g[size_t(n)];
      v *= c.alpha;
      float& o = want[size_t(m) * ldy + n];
      o = c.residual ? o + v : v;
    }
  test::check_close(got, want, 1e-5, 1e-5,
                    "linear M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K));
  test::require_no_validation_messages();
}

}  // namespace

TEST_CASE("linear: odd shapes that fit no tile") {
  run_linear({197, 13, 75}, 1);
  run_linear({1, 1, 1}, 2);
  run_linear({5, 7, 3}, 3);
  run_linear({65, 129, 33}, 4);
}

TEST_CASE("linear: fused epilogues") {
  run_linear({50, 24, 16, ops::Activation::Gelu}, 10);
  run_linear({50, 24, 16, ops::Activation::Tanh}, 11);
  run_linear({50, 24, 16, ops::Activation::GeluTanh}, 15);
  run_linear({50, 24, 16, ops::Activation::Relu}, 16);
  run_linear({50, 24, 16, ops::Activation::None, true, true, true}, 12);   // residual + LayerScale
  run_linear({50, 24, 16, ops::Activation::None, false, false, false, 0.5f}, 13);  // no bias, alpha
  run_linear({3, 10, 16, ops::Activation::None, true, true, false, 0.5f, 16 * 5, 12}, 14);  // strided rows
}

TEST_CASE("linear: ViT-B/16 shapes") {
  run_linear({197, 2304, 768}, 20);                         // qkv
  run_linear({197, 768, 768, ops::Activation::None, true, true}, 21);  // proj + residual
  run_linear({197, 3072, 768, ops::Activation::Gelu}, 22);  // fc1 + GELU
  run_linear({197, 768, 3072, ops::Activation::None, true, true}, 23);  // fc2 + residual
}

TEST_CASE("layernorm: rows with strides, every kernel") {
  auto& ctx = context();
  const char* names[] = {"auto", "rows", "subgroup", "texel"};
  for (auto kernel : {ops::LayerNormKernel::Rows, ops::LayerNormKernel::Subgroup, ops::LayerNormKernel::Texel})
  for (auto [rows, C, ldx] : {std::tuple{197, 75, 75}, std::tuple{4, 768, 768 * 3}, std::tuple{1, 1, 1},
                              std::tuple{7, 1000, 1001}, std::tuple{50, 64, 64}, std::tuple{9, 192, 196}}) {
    if (!ops::layernorm_kernel_supported(ctx.info(), kernel)) {
      MESSAGE("skipping the subgroup LayerNorm kernel: no subgroup arithmetic on this device");
      break;
    }
    ops::LayerNormArgs shape;
    shape.C = uint32_t(C);
    shape.ldx = uint32_t(ldx);
    if (!ops::layernorm_kernel_supported(ctx.info(), shape, kernel)) {
      CHECK(kernel == ops::LayerNormKernel::Texel);  // only it has shape limits
      CHECK((C % 4 != 0 || ldx % 4 != 0));
      continue;
    }
    auto x = test::random_vector(size_t(rows) * ldx, 30, 2.0f, 0.7f);
    auto g = test::random_vector(size_t(C), 31, 0.2f, 1.0f), b = test::random_vector(size_t(C), 32, 0.2f);
    auto dx = test::to_device(x, "x"), dg = test::to_device(g, "g"), db = test::to_device(b, "b");
    auto dy = test::device_zeros(size_t(rows) * C, "y");
    vk::Recorder rec(ctx);
    rec.begin();
    ops::layernorm(ctx, rec,
                   {view(dx), view(dg), view(db), view(dy), uint32_t(rows), uint32_t(C), uint32_t(ldx), 0, 1e-6f, kernel},
                   "ln");
    rec.end();
    rec.run("layernorm test");
    std::vector<float> xs(size_t(rows) * C), want(size_t(rows) * C);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < C; ++c) xs[size_t(r) * C + c] = x[size_t(r) * ldx + c];
    ref::layernorm(xs.data(), g.data(), b.data(), want.data(), rows, C, 1e-6f);
    test::check_close(test::from_device(*dy, want.size()), want, 1e-5, 1e-5,
                      std::string(names[int(kernel)]) + " layernorm C=" + std::to_string(C));
  }
  test::require_no_validation_messages();
}

TEST_CASE("layernorm kernel selection per device class") {
  vk::DeviceInfo cpu, gpu;
  cpu.device_type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  gpu.device_type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  for (auto* d : {&cpu, &gpu}) {
    d->subgroup_size = 32;
    d->subgroup_arithmetic = true;
    d->max_workgroup_invocations = 1024;
  }
  cpu.min_texel_offset_alignment = cpu.min_storage_offset_alignment = 16;
  ops::LayerNormArgs a;
  a.C = 768;
  CHECK(ops::choose_layernorm_kernel(cpu, a) == ops::LayerNormKernel::Texel);
  CHECK(ops::choose_layernorm_kernel(gpu, a) == ops::LayerNormKernel::Subgroup);
  ops::LayerNormArgs odd = a;
  odd.C = 75;  // not whole texels
  CHECK(ops::choose_layernorm_kernel(cpu, odd) == ops::LayerNormKernel::Rows);
  ops::LayerNormArgs strided = a;
  strided.ldx = 770;
  CHECK(ops::choose_layernorm_kernel(cpu, strided) == ops::LayerNormKernel::Rows);
  ops::LayerNormArgs shifted = a;
  shifted.x.offset = 8;  // not on a texel-offset boundary
  CHECK(ops::choose_layernorm_kernel(cpu, shifted) == ops::LayerNormKernel::Rows);
  gpu.subgroup_arithmetic = false;
  CHECK(ops::choose_layernorm_kernel(gpu, a) == ops::LayerNormKernel::Rows);
}

TEST_CASE("attention: probabilities and output") {
  auto& ctx = context();
  struct Case { int B, N, H, D; };
  for (Case c : {Case{2, 197, 3, 16}, Case{1, 50, 4, 16}, Case{1, 197, 12, 64}, Case{3, 5, 1, 7}}) {
    int C = c.H * c.D;
    auto qkv = test::random_vector(size_t(c.B) * c.N * 3 * C, 40, 1.5f);
    auto dq = test::to_device(qkv, "qkv");
    auto dp = test::device_zeros(size_t(c.B) * c.H * c.N * c.N, "prob");
    auto dout = test::device_zeros(size_t(c.B) * c.N * C, "out");
    vk::Recorder rec(ctx);
    rec.begin();
    ops::attention(ctx, rec, {view(dq), view(dp), view(dout), uint32_t(c.B), uint32_t(c.N), uint32_t(c.H), uint32_t(c.D)},
                   "attn");
    rec.end();
    rec.run("attention test");
    std::vector<float> prob(size_t(c.B) * c.H * c.N * c.N), out(size_t(c.B) * c.N * C);
    ref::attention(qkv.data(), prob.data(), out.data(), c.B, c.N, c.H, c.D);
    std::string tag = "B=" + std::to_string(c.B) + " N=" + std::to_string(c.N) + " H=" + std::to_string(c.H);
    test::check_close(test::from_device(*dp, prob.size()), prob, 1e-6, 0, "attention probabilities " + tag);
    test::check_close(test::from_device(*dout, out.size()), out, 1e-5, 1e-5, "attention output " + tag);
  }
  test::require_no_validation_messages();
}

TEST_CASE("patch embedding and token assembly") {
  auto& ctx = context();
  const int B = 2, Cin = 3, H = 24, W = 40, P = 8, C = 13, T = 2, pos_prefix = 1;
  const int Gh = H / P, Gw = W / P, Np = Gh * Gw, KK = Cin * P * P;
  auto img = test::random_vector(size_t(B) * Cin * H * W, 50);
  auto w = test::random_vector(size_t(C) * KK, 51, 0.1f), b = test::random_vector(size_t(C), 52);
  auto prefix = test::random_vector(size_t(T) * C, 53), pos = test::random_vector(size_t(pos_prefix + Np) * C, 54);
  auto di = test::to_device(img, "img"), dw = test::to_device(w, "w"), db = test::to_device(b, "b"),
       dpre = test::to_device(prefix, "prefix"), dpos = test::to_device(pos, "pos");
  auto dcols = test::device_zeros(size_t(B) * Np * KK, "cols"), dpatch = test::device_zeros(size_t(B) * Np * C, "patches");
  auto dz = test::device_zeros(size_t(B) * (T + Np) * C, "z");
  vk::Recorder rec(ctx);
  rec.begin();
  ops::PatchEmbedArgs pe;
  pe.image = view(di);
  pe.cols = view(dcols);
  pe.weight = view(dw);
  pe.bias = view(db);
  pe.patches = view(dpatch);
  pe.B = B;
  pe.Cin = Cin;
  pe.H = H;
  pe.W = W;
  pe.P = P;
  pe.C = C;
  ops::patch_embed(ctx, rec, pe);
  ops::TokensArgs tk;
  tk.prefix = view(dpre);
  tk.patches = view(dpatch);
  tk.pos = view(dpos);
  tk.z = view(dz);
  tk.B = B;
  tk.T = T;
  tk.Np = Np;
  tk.C = C;
  tk.pos_prefix = pos_prefix;
  ops::assemble_tokens(ctx, rec, tk);
  rec.end();
  rec.run("patch embed test");
  // Reference: a direct convolution with stride P, then [prefix; patches] + pos.
  std::vector<float> want(size_t(B) * (T + Np) * C);
  for (int bb = 0; bb < B; ++bb) {
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c)
        want[(size_t(bb) * (T + Np) + t) * C + c] = prefix[size_t(t) * C + c] + (t < pos_prefix ? pos[size_t(t) * C + c] : 0.f);
    for (int gy = 0; gy < Gh; ++gy)
      for (int gx = 0; gx < Gw; ++gx)
        for (int c = 0; c < C; ++c) {
          double s = b[size_t(c)];
          for (int ci = 0; ci < Cin; ++ci)
            for (int ky = 0; ky < P; ++ky)
              for (int kx = 0; kx < P; ++kx)
                s += double(w[((size_t(c) * Cin + ci) * P + ky) * P + kx]) *
                     img[((size_t(bb) * Cin + ci) * H + gy * P + ky) * W + gx * P + kx];
          int p = gy * Gw + gx;
          want[(size_t(bb) * (T + Np) + T + p) * C + c] = float(s) + pos[size_t(pos_prefix + p) * C + c];
        }
  }
  test::check_close(test::from_device(*dz, want.size()), want, 1e-5, 1e-5, "tokens");
  test::require_no_validation_messages();
}

TEST_CASE("mean pooling and softmax") {
  auto& ctx = context();
  const int B = 3, N = 11, T = 2, C = 9, K = 1000;
  auto x = test::random_vector(size_t(B) * N * C, 60);
  auto logits = test::random_vector(size_t(B) * K, 61, 4.0f);
  auto dx = test::to_device(x, "x"), dl = test::to_device(logits, "logits");
  auto dpool = test::device_zeros(size_t(B) * C, "pool"), dprob = test::device_zeros(size_t(B) * K, "prob");
  vk::Recorder rec(ctx);
  rec.begin();
  ops::pool_mean(ctx, rec, view(dx), view(dpool), B, N, T, C);
  ops::softmax_rows(ctx, rec, view(dl), view(dprob), B, K);
  rec.end();
  rec.run("pool test");
  std::vector<float> pool(size_t(B) * C, 0.f), prob(size_t(B) * K);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c) {
      double s = 0;
      for (int t = T; t < N; ++t) s += x[(size_t(b) * N + t) * C + c];
      pool[size_t(b) * C + c] = float(s / (N - T));
    }
  ref::softmax(logits.data(), prob.data(), B, K);
  test::check_close(test::from_device(*dpool, pool.size()), pool, 1e-6, 1e-6, "mean pool");
  test::check_close(test::from_device(*dprob, prob.size()), prob, 1e-7, 1e-5, "softmax");
  test::require_no_validation_messages();
}
