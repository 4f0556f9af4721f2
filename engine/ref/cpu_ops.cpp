#include "ref/cpu_ops.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace vitscope::ref {

void linear(const float* x, const float* w, const float* b, float* y, int M, int N, int K) {
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = b ? b[n] : 0.0;
      for (int k = 0; k < K; ++k) s += double(x[size_t(m) * K + k]) * w[size_t(n) * K + k];
      y[size_t(m) * N + n] = float(s);
    }
}

void layernorm(const float* x, const float* g, const float* b, float* y, int rows, int C, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * C;
    double mean = 0, var = 0;
    for (int c = 0; c < C; ++c) mean += xr[c];
    mean /= C;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    double rstd = 1.0 / std::sqrt(var + eps);
    for (int c = 0; c < C; ++c) y[size_t(r) * C + c] = float((xr[c] - mean) * rstd * g[c] + b[c]);
  }
}

float gelu(float x) { return float(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))); }

float gelu_tanh(float x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return float(0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * double(x) * x * x))));
}

float relu(float x) { return x > 0.0f ? x : 0.0f; }

float activate(float x, const std::string& act) {
  if (act == "gelu") return gelu(x);
  if (act == "gelu_tanh") return gelu_tanh(x);
  if (act == "relu") return relu(x);
  if (act == "tanh") return std::tanh(x);
  if (act == "none") return x;
  throw std::invalid_argument("ref::activate: unknown activation '" + act + "'");
}

void attention(const float* qkv, float* prob, float* out, int B, int N, int H, int D) {
  int C = H * D;
  double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> s(size_t(N), 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < N; ++i) {
        const float* q = qkv + (size_t(b) * N + i) * 3 * C + h * D;
        double mx = -1e300;
        for (int j = 0; j < N; ++j) {
          const float* k = qkv + (size_t(b) * N + j) * 3 * C + C + h * D;
          double d = 0;
          for (int e = 0; e < D; ++e) d += double(q[e]) * k[e];
          s[size_t(j)] = d * scale;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (int j = 0; j < N; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - mx));
        float* p = prob + ((size_t(b) * H + h) * N + i) * N;
        for (int j = 0; j < N; ++j) p[j] = float(s[size_t(j)] / sum);
        for (int e = 0; e < D; ++e) {
          double acc = 0;
          for (int j = 0; j < N; ++j) acc += double(p[j]) * qkv[(size_t(b) * N + j) * 3 * C + 2 * C + h * D + e];
          out[(size_t(b) * N + i) * C + h * D + e] = float(acc);
        }
      }
}

void softmax(const float* x, float* y, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    double mx = -1e300, s = 0;
    for (int j = 0; j < cols; ++j) mx = std::max(mx, double(x[size_t(r) * cols + j]));
    for (int j = 0; j < cols; ++j) s += std::exp(x[size_t(r) * cols + j] - mx);
    for (int j = 0; j < cols; ++j) y[size_t(r) * cols + j] = float(std::exp(x[size_t(r) * cols + j] - mx) / s);
  }
}

RefResult vit_forward(const VitConfig& c, const VitWeights& w, const float* input, int B) {
  const int C = c.embed_dim, H = c.num_heads, D = c.head_dim(), M = c.mlp_hidden, T = c.prefix_tokens(),
            Np = c.num_patches(), N = c.tokens(), P = c.patch, Gw = c.grid_w(), L = c.depth;
  const int KK = c.in_chans * P * P;
  auto V = [](const std::optional<HostTensor>& t) { return t ? t->to_vector() : std::vector<float>(); };
  auto pw = w.patch_w.to_vector(), pb = V(w.patch_b), prefix = V(w.prefix), pos = V(w.pos);

  std::vector<float> x(size_t(B) * N * C);
  std::vector<float> col(static_cast<size_t>(KK)), emb(static_cast<size_t>(C));
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t)
      for (int ch = 0; ch < C; ++ch) {
        float v = prefix[size_t(t) * C + ch];
        if (!pos.empty() && t < c.pos_prefix) v += pos[size_t(t) * C + ch];
        x[(size_t(b) * N + t) * C + ch] = v;
      }
    for (int p = 0; p < Np; ++p) {
      int gy = p / Gw, gx = p % Gw;
      for (int ci = 0; ci < c.in_chans; ++ci)
        for (int ky = 0; ky < P; ++ky)
          for (int kx = 0; kx < P; ++kx)
            col[size_t((ci * P + ky) * P + kx)] =
                input[((size_t(b) * c.in_chans + ci) * c.img_h + gy * P + ky) * c.img_w + gx * P + kx];
      linear(col.data(), pw.data(), pb.empty() ? nullptr : pb.data(), emb.data(), 1, C, KK);
      for (int ch = 0; ch < C; ++ch) {
        float v = emb[size_t(ch)];
        if (!pos.empty()) v += pos[size_t(c.pos_prefix + p) * C + ch];
        x[(size_t(b) * N + T + p) * C + ch] = v;
      }
    }
  }

  RefResult r;
  size_t att = size_t(B) * H * N * N;
  r.attention.resize(att * L);
  const int rows = B * N;
  std::vector<float> ln(size_t(rows) * C), qkv(size_t(rows) * 3 * C), ao(size_t(rows) * C),
      proj(size_t(rows) * C), hid(size_t(rows) * M), mlp(size_t(rows) * C);
  // Adds `delta` (times LayerScale `ls`, when present) to the residual stream `z`.
  auto add_residual = [&](std::vector<float>& z, const std::vector<float>& delta, const std::vector<float>& ls) {
    for (size_t i = 0; i < z.size(); ++i) z[i] += delta[i] * (ls.empty() ? 1.f : ls[i % size_t(C)]);
  };
  for (int l = 0; l < L; ++l) {
    const BlockWeights& bw = w.blocks[size_t(l)];
    auto g1 = bw.norm1_w.to_vector(), b1 = bw.norm1_b.to_vector(), g2 = bw.norm2_w.to_vector(),
         b2 = bw.norm2_b.to_vector();
    auto qw = bw.qkv_w.to_vector(), qb = V(bw.qkv_b);
    auto prw = bw.proj_w.to_vector(), prb = bw.proj_b.to_vector(), ls1 = V(bw.ls1);
    auto f1w = bw.fc1_w.to_vector(), f1b = bw.fc1_b.to_vector();
    auto f2w = bw.fc2_w.to_vector(), f2b = bw.fc2_b.to_vector(), ls2 = V(bw.ls2);
    // MSA(in) -> proj, keeping this layer's attention probabilities.
    auto msa = [&](const std::vector<float>& in) {
      linear(in.data(), qw.data(), qb.empty() ? nullptr : qb.data(), qkv.data(), rows, 3 * C, C);
      attention(qkv.data(), r.attention.data() + att * size_t(l), ao.data(), B, N, H, D);
      linear(ao.data(), prw.data(), prb.data(), proj.data(), rows, C, C);
    };
    // MLP(in) -> mlp
    auto mlp_of = [&](const std::vector<float>& in) {
      linear(in.data(), f1w.data(), f1b.data(), hid.data(), rows, M, C);
      for (auto& v : hid) v = activate(v, c.hidden_act);
      linear(hid.data(), f2w.data(), f2b.data(), mlp.data(), rows, C, M);
    };
    if (c.norm_first) {
      // z' = z + MSA(LN1(z)); z = z' + MLP(LN2(z'))
      layernorm(x.data(), g1.data(), b1.data(), ln.data(), rows, C, c.eps);
      msa(ln);
      add_residual(x, proj, ls1);
      layernorm(x.data(), g2.data(), b2.data(), ln.data(), rows, C, c.eps);
      mlp_of(ln);
      add_residual(x, mlp, ls2);
    } else {
      // z' = LN1(z + MSA(z)); z = LN2(z' + MLP(z'))
      msa(x);
      add_residual(x, proj, ls1);
      layernorm(x.data(), g1.data(), b1.data(), x.data(), rows, C, c.eps);
      mlp_of(x);
      add_residual(x, mlp, ls2);
      layernorm(x.data(), g2.data(), b2.data(), x.data(), rows, C, c.eps);
    }
  }

  // Final norm, pooling, head.
  auto nw = V(w.norm_w), nb = V(w.norm_b);
  std::vector<float> normed = x;
  if (!nw.empty()) layernorm(x.data(), nw.data(), nb.data(), normed.data(), rows, C, c.eps);
  std::vector<float> pooled(size_t(B) * C), pooled2(size_t(B) * C);
  for (int b = 0; b < B; ++b)
    for (int ch = 0; ch < C; ++ch) {
      if (c.global_pool == "token") {
        pooled[size_t(b) * C + ch] = normed[(size_t(b) * N) * C + ch];
        if (c.dist_token) pooled2[size_t(b) * C + ch] = normed[(size_t(b) * N + 1) * C + ch];
      } else {
        double s = 0;
        for (int t = T; t < N; ++t) s += normed[(size_t(b) * N + t) * C + ch];
        pooled[size_t(b) * C + ch] = float(s / (N - T));
      }
    }
  if (w.fc_norm_w) {
    auto fw = w.fc_norm_w->to_vector(), fb = w.fc_norm_b->to_vector();
    std::vector<float> t(pooled.size());
    layernorm(pooled.data(), fw.data(), fb.data(), t.data(), B, C, c.eps);
    pooled = t;
  }
  const int K = c.output_dim();
  r.logits.resize(size_t(B) * K);
  if (w.head_w) {
    auto hw = w.head_w->to_vector(), hb = w.head_b->to_vector();
    linear(pooled.data(), hw.data(), hb.data(), r.logits.data(), B, K, C);
    if (w.head_dist_w) {
      auto dw = w.head_dist_w->to_vector(), db = w.head_dist_b->to_vector();
      std::vector<float> l2(r.logits.size());
      linear(pooled2.data(), dw.data(), db.data(), l2.data(), B, K, C);
      for (size_t i = 0; i < l2.size(); ++i) r.logits[i] = 0.5f * (r.logits[i] + l2[i]);
    }
  } else if (w.pooler_w) {
    auto pw2 = w.pooler_w->to_vector(), pb2 = w.pooler_b->to_vector();
    linear(pooled.data(), pw2.data(), pb2.data(), r.logits.data(), B, K, C);
    for (auto& v : r.logits) v = std::tanh(v);
  } else {
    r.logits = pooled;
  }
  return r;
}

}  // namespace vitscope::ref
