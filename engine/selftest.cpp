#include "selftest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "core/error.h"
#include "core/half.h"
#include "ops/attention.h"
#include "ops/layernorm.h"
#include "ops/patch_embed.h"
#include "ops/pooling.h"
#include "ref/cpu_ops.h"
#include "vk/buffer.h"
#include "vk/recorder.h"

namespace vitscope {

namespace {

using Floats = std::vector<float>;

Floats random_floats(size_t n, uint32_t seed, float scale = 1.0f, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Floats v(n);
  for (float& x : v) x = offset + scale * d(rng);
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) v = std::ldexp(float(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(float(mant | 0x400u), int(exp) - 25);
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u |= sign;
  std::memcpy(&v, &u, 4);
  return v;
}

float round_half(float v) { return half_to_float(float_to_half(v)); }

std::unique_ptr<vk::Buffer> upload(vk::Context& ctx, const void* data, size_t bytes, const std::string& name) {
  auto b = std::make_unique<vk::Buffer>(ctx, std::max<size_t>(bytes, 16), vk::BufferKind::Device, name);
  vk::Uploader up(ctx);
  up.upload(*b, 0, data, bytes);
  up.flush();
  return b;
}

std::unique_ptr<vk::Buffer> upload(vk::Context& ctx, const Floats& v, const std::string& name) {
  return upload(ctx, v.data(), v.size() * 4, name);
}

std::unique_ptr<vk::Buffer> upload_half(vk::Context& ctx, const Floats& v, const std::string& name) {
  std::vector<uint16_t> h(v.size() + (v.size() & 1), 0);
  for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
  return upload(ctx, h.data(), h.size() * 2, name);
}

Floats download(vk::Context& ctx, const vk::Buffer& b, size_t n) {
  Floats out(n);
  vk::download(ctx, b, 0, out.data(), n * 4);
  return out;
}

vk::BufferView view(const std::unique_ptr<vk::Buffer>& b) { return {b.get(), 0, 0}; }

// Folds one problem's outputs into a result: each output against its own tolerance.
void score(SelftestResult& r, const Floats& got, const Floats& want, const Floats& tol) {
  double worst = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i]));
    if (!(e <= tol[i])) r.ok = false;  // NaN too
    r.max_error = std::isnan(e) ? INFINITY : std::max(r.max_error, e);
    const double ratio = e / tol[i];
    if (!(ratio <= worst)) worst = ratio, r.tolerance = tol[i];
  }
}

// Tolerance atol + rtol * max |want| for every output.
Floats uniform_tol(const Floats& want, double atol, double rtol) {
  double m = 0;
  for (float v : want) m = std::max(m, std::fabs(double(v)));
  return Floats(want.size(), float(atol + rtol * m));
}

void run(vk::Context& ctx, const std::function<void(vk::Recorder&)>& record, const std::string& what) {
  vk::Recorder rec(ctx, false);
  rec.begin();
  record(rec);
  rec.end();
  rec.run("selftest " + what);
}

struct LinearProblem {
  uint32_t M, N, K;
  ops::Activation act;
  bool bias, gamma, residual;
  float alpha;
  uint32_t lda, ldy;  // 0: K, N
  const char* epilogue;
};

// A plain problem with bias + GELU, one with every other part of the epilogue on strided x
// and y, and two small ones for the other activations. All leave partial row and column
// tiles on every kernel.
const LinearProblem kLinearProblems[] = {
    {37, 50, 44, ops::Activation::Gelu, true, false, false, 1.0f, 0, 0, "bias+gelu"},
    {70, 96, 64, ops::Activation::Tanh, true, true, true, 0.5f, 68, 100, "bias+tanh+layerscale+alpha+residual, strided"},
    {9, 24, 40, ops::Activation::GeluTanh, true, false, true, 1.0f, 0, 0, "bias+tanh-gelu+residual"},
    {5, 8, 12, ops::Activation::Relu, false, false, false, 1.0f, 0, 0, "relu"},
};

const char* precision_label(SelftestPrecision p) {
  switch (p) {
    case SelftestPrecision::F32: return "fp32";
    case SelftestPrecision::F16Weights: return "fp16 weights";
    case SelftestPrecision::F16Math: return "fp16 math";
  }
  return "?";
}

void linear_problem(vk::Context& ctx, const LinearSelftest& t, const LinearProblem& s, uint32_t seed,
                    SelftestResult& r) {
  const uint32_t lda = s.lda ? s.lda : s.K, ldy = s.ldy ? s.ldy : s.N;
  const bool f16w = t.precision != SelftestPrecision::F32;
  const bool coop = t.kernel == ops::LinearKernel::Coopmat || t.kernel == ops::LinearKernel::CoopmatEmulated;
  Floats x = random_floats(size_t(s.M) * lda, seed), w = random_floats(size_t(s.N) * s.K, seed + 1, 1.0f / std::sqrt(float(s.K)));
  Floats b = random_floats(s.N, seed + 2, 0.5f), g = random_floats(s.N, seed + 3, 0.3f, 1.0f);
  Floats y0 = random_floats(size_t(s.M) * ldy, seed + 4);
  Floats lng = random_floats(s.K, seed + 5, 0.5f, 1.5f), lnb = random_floats(s.K, seed + 6, 0.5f);
  if (t.fused_ln)  // rows far from zero mean and unit variance, as a residual stream's are
    for (float& v : x) v = 3.0f + 4.0f * v;
  if (f16w)
    for (float& v : w) v = round_half(v);

  const uint32_t group = t.packed ? 4 * ctx.info().subgroup_size : 0;
  Floats wdev;
  if (group) {
    wdev.assign(ops::packed_weight_elements(s.N, s.K, group), 0.0f);
    for (uint32_t first = 0; first < s.N; first += group) {
      Floats rows(size_t(group) * s.K, 0.0f);
      std::copy_n(w.begin() + std::ptrdiff_t(size_t(first) * s.K), size_t(std::min(group, s.N - first)) * s.K,
                  rows.begin());
      ops::pack_weight_group(rows.data(), s.K, group, wdev.data() + size_t(first) * s.K);
    }
  } else {
    wdev = w;
  }
  auto dw = f16w ? upload_half(ctx, wdev, "w") : upload(ctx, wdev, "w");
  auto dx = upload(ctx, x, "x"), db = upload(ctx, b, "bias"), dg = upload(ctx, g, "gamma"), dy = upload(ctx, y0, "y");
  auto dlng = upload(ctx, lng, "ln gamma"), dlnb = upload(ctx, lnb, "ln beta");
  ops::LinearArgs a;
  a.x = view(dx);
  a.w = view(dw);
  if (s.bias) a.bias = view(db);
  if (s.gamma) a.gamma = view(dg);
  a.y = view(dy);
  a.M = s.M;
  a.N = s.N;
  a.K = s.K;
  a.lda = lda;
  a.ldy = ldy;
  a.act = s.act;
  a.residual = s.residual;
  a.alpha = s.alpha;
  a.w_format = f16w ? ops::WeightFormat::F16 : ops::WeightFormat::F32;
  a.math_f16 = t.precision == SelftestPrecision::F16Math;
  a.w_group = group;
  if (t.fused_ln) a.ln = ops::FusedLayerNorm{view(dlng), view(dlnb), 1e-6f};
  a.kernel = t.kernel;
  a.coopmat_shape = t.coopmat_shape;
  if (!ops::linear_kernel_supported(ctx.info(), a, t.kernel))
    throw Error(std::string("the device cannot run it on ") + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                std::to_string(s.K));
  run(ctx, [&](vk::Recorder& rec) { ops::linear(ctx, rec, a, "linear"); }, r.kernel);
  Floats got = download(ctx, *dy, y0.size());

  // Reference: LayerNorm (if fused), then x W^T + b in double, then the epilogue.
  Floats xs(size_t(s.M) * s.K), t0(size_t(s.M) * s.N);
  for (uint32_t m = 0; m < s.M; ++m)
    std::copy_n(x.begin() + std::ptrdiff_t(size_t(m) * lda), s.K, xs.begin() + std::ptrdiff_t(size_t(m) * s.K));
  if (t.fused_ln) ref::layernorm(xs.data(), lng.data(), lnb.data(), xs.data(), int(s.M), int(s.K), 1e-6f);
  if (t.precision == SelftestPrecision::F16Math || coop)
    for (float& v : xs) v = round_half(v);
  if (coop && !f16w)
    for (float& v : w) v = round_half(v);
  ref::linear(xs.data(), w.data(), s.bias ? b.data() : nullptr, t0.data(), int(s.M), int(s.N), int(s.K));
  Floats want(size_t(s.M) * s.N), prev(size_t(s.M) * s.N), out(size_t(s.M) * s.N);
  for (uint32_t m = 0; m < s.M; ++m)
    for (uint32_t n = 0; n < s.N; ++n) {
      float v = t0[size_t(m) * s.N + n];
      v = ref::activate(v, ops::activation_name(s.act));
      if (s.gamma) v *= g[n];
      v *= s.alpha;
      const size_t o = size_t(m) * ldy + n;
      want[size_t(m) * s.N + n] = s.residual ? y0[o] + v : v;
      out[size_t(m) * s.N + n] = got[o];
    }
  Floats tol;
  if (t.precision == SelftestPrecision::F16Math) {
    // 16 fp16 roundings per K slice of sum |x_k w_k| (as tests/test_ops_perf_paths.cpp).
    tol.resize(want.size());
    for (uint32_t m = 0; m < s.M; ++m)
      for (uint32_t n = 0; n < s.N; ++n) {
        double mass = 0;
        for (uint32_t k = 0; k < s.K; ++k) mass += std::fabs(double(xs[size_t(m) * s.K + k]) * w[size_t(n) * s.K + k]);
        tol[size_t(m) * s.N + n] = float(2e-5 + 1.5 * std::fabs(s.alpha) * 16 * std::ldexp(1.0, -11) * mass);
      }
  } else {
    // fp32 sums in another order (cooperative matrices: on exactly rounded fp16 products).
    tol = uniform_tol(want, 2e-5, coop ? 1e-4 : 2e-5);
  }
  score(r, out, want, tol);
  // Rows and columns outside the output (the strides' gaps) must be untouched.
  for (uint32_t m = 0; m < s.M; ++m)
    for (uint32_t n = s.N; n < ldy; ++n)
      if (got[size_t(m) * ldy + n] != y0[size_t(m) * ldy + n]) {
        r.ok = false;
        r.error = "wrote outside its output";
      }
}

std::string linear_name(const LinearSelftest& t) {
  std::string s = std::string("linear ") + ops::linear_kernel_name(t.kernel) + " " + precision_label(t.precision);
  if (t.packed) s += ", packed weights";
  if (t.fused_ln) s += ", fused LayerNorm";
  if (t.coopmat_shape)
    s += ", " + std::to_string(t.coopmat_shape->m) + "x" + std::to_string(t.coopmat_shape->n) + "x" +
         std::to_string(t.coopmat_shape->k) + " fragments";
  return s;
}

template <class F>
SelftestResult guarded(const std::string& name, F&& body) {
  SelftestResult r;
  r.kernel = name;
  try {
    body(r);
  } catch (const std::exception& e) {
    r.ok = false;
    r.error = e.what();
  }
  return r;
}

// --- the other ops ---

SelftestResult selftest_layernorm(vk::Context& ctx, ops::LayerNormKernel k, const char* name) {
  return guarded(std::string("layernorm ") + name, [&](SelftestResult& r) {
    struct P {
      uint32_t rows, C, ldx, ldy;
    };
    r.shapes = "37 rows x 64 (strides 68, 72); 5 rows x 20";
    uint32_t seed = 300;
    for (P s : {P{37, 64, 68, 72}, P{5, 20, 20, 20}}) {
      Floats x = random_floats(size_t(s.rows) * s.ldx, seed, 4.0f, 3.0f), g = random_floats(s.C, seed + 1, 0.3f, 1.0f),
             b = random_floats(s.C, seed + 2, 0.3f), y0 = random_floats(size_t(s.rows) * s.ldy, seed + 3);
      seed += 10;
      auto dx = upload(ctx, x, "x"), dg = upload(ctx, g, "gamma"), db = upload(ctx, b, "beta"), dy = upload(ctx, y0, "y");
      ops::LayerNormArgs a{view(dx), view(dg), view(db), view(dy), s.rows, s.C, s.ldx, s.ldy, 1e-6f, k};
      if (!ops::layernorm_kernel_supported(ctx.info(), a, k)) continue;
      run(ctx, [&](vk::Recorder& rec) { ops::layernorm(ctx, rec, a, "layernorm"); }, r.kernel);
      Floats got = download(ctx, *dy, y0.size()), xs(size_t(s.rows) * s.C), want(xs.size()), out(xs.size());
      for (uint32_t i = 0; i < s.rows; ++i)
        for (uint32_t c = 0; c < s.C; ++c) {
          xs[size_t(i) * s.C + c] = x[size_t(i) * s.ldx + c];
          out[size_t(i) * s.C + c] = got[size_t(i) * s.ldy + c];
        }
      ref::layernorm(xs.data(), g.data(), b.data(), want.data(), int(s.rows), int(s.C), 1e-6f);
      score(r, out, want, uniform_tol(want, 1e-5, 1e-5));
    }
  });
}

SelftestResult selftest_attention(vk::Context& ctx, ops::AttentionKernel k, bool write_prob, const char* name) {
  return guarded(std::string("attention ") + name + (write_prob ? ", probabilities written" : ""),
                 [&](SelftestResult& r) {
                   struct P {
                     uint32_t B, N, H, D;
                   };
                   r.shapes = "B=2 N=19 H=3 D=16; B=1 N=50 H=2 D=32";
                   uint32_t seed = 400;
                   for (P s : {P{2, 19, 3, 16}, P{1, 50, 2, 32}}) {
                     const uint32_t C = s.H * s.D;
                     Floats qkv = random_floats(size_t(s.B) * s.N * 3 * C, seed++, 1.5f);
                     auto dq = upload(ctx, qkv, "qkv");
                     auto dp = upload(ctx, Floats(size_t(s.B) * s.H * s.N * s.N, 0.0f), "prob");
                     auto dout = upload(ctx, Floats(size_t(s.B) * s.N * C, 0.0f), "out");
                     ops::AttentionArgs a{view(dq), view(dp), view(dout), s.B, s.N, s.H, s.D};
                     a.write_prob = write_prob;
                     a.kernel = k;
                     if (!ops::attention_kernel_supported(ctx.info(), a, k)) throw Error("the device cannot run it");
                     run(ctx, [&](vk::Recorder& rec) { ops::attention(ctx, rec, a, "attention"); }, r.kernel);
                     Floats prob(size_t(s.B) * s.H * s.N * s.N), out(size_t(s.B) * s.N * C);
                     ref::attention(qkv.data(), prob.data(), out.data(), int(s.B), int(s.N), int(s.H), int(s.D));
                     score(r, download(ctx, *dout, out.size()), out, uniform_tol(out, 1e-5, 1e-5));
                     if (write_prob) score(r, download(ctx, *dp, prob.size()), prob, uniform_tol(prob, 1e-6, 1e-5));
                   }
                 });
}

SelftestResult selftest_patch_embed(vk::Context& ctx) {
  return guarded("patch embedding (unfold + linear) and tokens", [&](SelftestResult& r) {
    const uint32_t B = 2, Cin = 3, H = 24, W = 40, P = 8, C = 13, T = 2, pos_prefix = 1;
    const uint32_t Gw = W / P, Np = (H / P) * Gw, KK = Cin * P * P;
    r.shapes = "2 x 3 x 24 x 40 in 8x8 patches, 13 channels, 2 prefix tokens";
    Floats img = random_floats(size_t(B) * Cin * H * W, 50), w = random_floats(size_t(C) * KK, 51, 0.1f),
           b = random_floats(C, 52), prefix = random_floats(size_t(T) * C, 53),
           pos = random_floats(size_t(pos_prefix + Np) * C, 54);
    auto di = upload(ctx, img, "image"), dw = upload(ctx, w, "w"), db = upload(ctx, b, "b"),
         dpre = upload(ctx, prefix, "prefix"), dpos = upload(ctx, pos, "pos");
    auto dcols = upload(ctx, Floats(size_t(B) * Np * KK, 0.0f), "cols"),
         dpatch = upload(ctx, Floats(size_t(B) * Np * C, 0.0f), "patches"),
         dz = upload(ctx, Floats(size_t(B) * (T + Np) * C, 0.0f), "z");
    run(ctx,
        [&](vk::Recorder& rec) {
          ops::PatchEmbedArgs pe{view(di), view(dcols), view(dw), view(db), view(dpatch), B, Cin, H, W, P, C};
          ops::patch_embed(ctx, rec, pe);
          ops::TokensArgs tk{view(dpre), view(dpatch), view(dpos), view(dz), B, T, Np, C, pos_prefix};
          ops::assemble_tokens(ctx, rec, tk);
        },
        r.kernel);
    // A direct stride-P convolution, then [prefix; patches] + pos.
    Floats want(size_t(B) * (T + Np) * C);
    for (uint32_t bb = 0; bb < B; ++bb) {
      for (uint32_t t = 0; t < T; ++t)
        for (uint32_t c = 0; c < C; ++c)
          want[(size_t(bb) * (T + Np) + t) * C + c] = prefix[size_t(t) * C + c] + (t < pos_prefix ? pos[size_t(t) * C + c] : 0.f);
      for (uint32_t p = 0; p < Np; ++p)
        for (uint32_t c = 0; c < C; ++c) {
          const uint32_t gy = p / Gw, gx = p % Gw;
          double s = b[c];
          for (uint32_t ci = 0; ci < Cin; ++ci)
            for (uint32_t ky = 0; ky < P; ++ky)
              for (uint32_t kx = 0; kx < P; ++kx)
                s += double(w[((size_t(c) * Cin + ci) * P + ky) * P + kx]) *
                     img[((size_t(bb) * Cin + ci) * H + gy * P + ky) * W + gx * P + kx];
          want[(size_t(bb) * (T + Np) + T + p) * C + c] = float(s) + pos[size_t(pos_prefix + p) * C + c];
        }
    }
    score(r, download(ctx, *dz, want.size()), want, uniform_tol(want, 1e-5, 1e-5));
  });
}

SelftestResult selftest_pool_softmax(vk::Context& ctx) {
  return guarded("mean pooling and softmax", [&](SelftestResult& r) {
    const uint32_t B = 3, N = 11, T = 2, C = 9, K = 1000;
    r.shapes = "3 x 11 tokens x 9 (2 prefix); 3 x 1000 logits";
    Floats x = random_floats(size_t(B) * N * C, 60), logits = random_floats(size_t(B) * K, 61, 4.0f);
    auto dx = upload(ctx, x, "x"), dl = upload(ctx, logits, "logits");
    auto dpool = upload(ctx, Floats(size_t(B) * C, 0.0f), "pool"), dprob = upload(ctx, Floats(size_t(B) * K, 0.0f), "prob");
    run(ctx,
        [&](vk::Recorder& rec) {
          ops::pool_mean(ctx, rec, view(dx), view(dpool), B, N, T, C);
          ops::softmax_rows(ctx, rec, view(dl), view(dprob), B, K);
        },
        r.kernel);
    Floats pool(size_t(B) * C), prob(size_t(B) * K);
    for (uint32_t b = 0; b < B; ++b)
      for (uint32_t c = 0; c < C; ++c) {
        double s = 0;
        for (uint32_t t = T; t < N; ++t) s += x[(size_t(b) * N + t) * C + c];
        pool[size_t(b) * C + c] = float(s / (N - T));
      }
    ref::softmax(logits.data(), prob.data(), int(B), int(K));
    score(r, download(ctx, *dpool, pool.size()), pool, uniform_tol(pool, 1e-6, 1e-6));
    score(r, download(ctx, *dprob, prob.size()), prob, uniform_tol(prob, 1e-7, 1e-5));
  });
}

}  // namespace

SelftestResult selftest_linear(vk::Context& ctx, const LinearSelftest& t) {
  return guarded(linear_name(t), [&](SelftestResult& r) {
    uint32_t seed = 100 + uint32_t(t.kernel) * 10 + uint32_t(t.precision);
    for (const LinearProblem& s : kLinearProblems) {
      r.shapes += (r.shapes.empty() ? "" : "; ") + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                  std::to_string(s.K) + " " + s.epilogue;
      linear_problem(ctx, t, s, seed, r);
      seed += 7;
    }
  });
}

std::vector<SelftestResult> run_selftest(vk::Context& ctx, const std::function<void(const SelftestResult&)>& on_result) {
  const vk::DeviceInfo& d = ctx.info();
  const vk::KernelFamily fam = d.kernels;
  using LK = ops::LinearKernel;
  std::vector<SelftestResult> out;
  auto add = [&](SelftestResult r) {
    if (on_result) on_result(r);
    out.push_back(std::move(r));
  };

  // Linear: the kernels of the family (auto: all of them), in every precision the device
  // can run them in; the texel kernel also with packed weights and a fused LayerNorm.
  std::vector<LK> kernels;
  switch (fam) {
    case vk::KernelFamily::Auto:
      kernels = {LK::Portable, LK::Texel, LK::TiledSmall, LK::TiledMedium, LK::TiledLarge, LK::Coopmat};
      break;
    case vk::KernelFamily::Portable: kernels = {LK::Portable}; break;
    case vk::KernelFamily::Tiled: kernels = {LK::TiledSmall, LK::TiledMedium, LK::TiledLarge}; break;
    case vk::KernelFamily::Coopmat: kernels = {LK::Coopmat, LK::TiledSmall, LK::TiledMedium, LK::TiledLarge}; break;
  }
  for (LK k : kernels)
    for (SelftestPrecision p : {SelftestPrecision::F32, SelftestPrecision::F16Weights, SelftestPrecision::F16Math}) {
      ops::LinearArgs probe;
      probe.M = kLinearProblems[0].M;
      probe.N = kLinearProblems[0].N;
      probe.K = kLinearProblems[0].K;
      probe.w_format = p == SelftestPrecision::F32 ? ops::WeightFormat::F32 : ops::WeightFormat::F16;
      probe.math_f16 = p == SelftestPrecision::F16Math;
      if (!ops::linear_kernel_supported(d, probe, k)) {
        if (k == LK::Coopmat && p == SelftestPrecision::F32) {  // say why the tensor-core GEMM did not run
          SelftestResult r;
          r.kernel = linear_name({k, p});
          r.skipped = true;
          r.error = vk::coopmat_problem(d);
          if (r.error.empty()) r.error = "its tiles do not fit this device's shared memory";
          add(r);
        }
        continue;
      }
      add(selftest_linear(ctx, {k, p}));
      if (k == LK::Texel && p == SelftestPrecision::F32) {
        add(selftest_linear(ctx, {k, p, true, false}));
        if (d.subgroup_arithmetic) add(selftest_linear(ctx, {k, p, false, true}));
      }
    }

  // LayerNorm and attention: the kernels the family can pick (auto: every one).
  using LN = ops::LayerNormKernel;
  const std::pair<LN, const char*> lns[] = {{LN::Rows, "rows"}, {LN::Texel, "texel"}, {LN::Subgroup, "subgroup"}};
  for (const auto& [k, name] : lns) {
    bool in_family = fam == vk::KernelFamily::Auto ||
                     (fam == vk::KernelFamily::Portable ? k == LN::Rows
                                                        : k == (ops::layernorm_kernel_supported(d, LN::Subgroup)
                                                                    ? LN::Subgroup
                                                                    : LN::Rows));
    if (in_family && ops::layernorm_kernel_supported(d, k)) add(selftest_layernorm(ctx, k, name));
  }
  using AK = ops::AttentionKernel;
  const std::pair<AK, const char*> attns[] = {{AK::TwoPass, "two-pass"}, {AK::Fused, "fused"}};
  for (const auto& [k, name] : attns) {
    ops::AttentionArgs probe;
    probe.N = 50;
    probe.D = 32;
    probe.H = 2;
    const bool in_family = fam == vk::KernelFamily::Auto || ops::choose_attention_kernel(d, probe) == k;
    if (!in_family || !ops::attention_kernel_supported(d, probe, k)) continue;
    if (k == AK::Fused) add(selftest_attention(ctx, k, false, name));
    add(selftest_attention(ctx, k, true, name));
  }
  add(selftest_patch_embed(ctx));
  add(selftest_pool_softmax(ctx));
  return out;
}

}  // namespace vitscope
