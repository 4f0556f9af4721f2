#include "viz/attention_maps.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace vitscope::viz {

namespace {

void check(const AttentionShape& s, int layer, int query) {
  if (layer < 0 || layer >= s.layers) throw Error("layer " + std::to_string(layer + 1) + " out of range 1.." + std::to_string(s.layers));
  if (query < 0 || query >= s.tokens) throw Error("query token " + std::to_string(query) + " out of range");
  if (s.grid_h * s.grid_w + s.prefix != s.tokens) throw Error("attention shape does not match the patch grid");
}

float fuse(const float* attn, const AttentionShape& s, int layer, int head, HeadFusion f, int i, int j) {
  size_t N = size_t(s.tokens);
  auto at = [&](int h) { return attn[((size_t(layer) * s.heads + h) * N + i) * N + j]; };
  if (head >= 0) return at(head);
  float r = at(0);
  for (int h = 1; h < s.heads; ++h) {
    float v = at(h);
    if (f == HeadFusion::Mean) r += v;
    else if (f == HeadFusion::Max) r = std::max(r, v);
    else r = std::min(r, v);
  }
  return f == HeadFusion::Mean ? r / float(s.heads) : r;
}

}  // namespace

std::vector<float> query_attention(const float* attn, const AttentionShape& s, int layer, int head,
                                   HeadFusion fusion, int query) {
  check(s, layer, query);
  if (head >= s.heads) throw Error("head " + std::to_string(head + 1) + " out of range 1.." + std::to_string(s.heads));
  std::vector<float> out(size_t(s.grid_h) * s.grid_w);
  for (size_t p = 0; p < out.size(); ++p) out[p] = fuse(attn, s, layer, head, fusion, query, s.prefix + int(p));
  return out;
}

std::vector<float> rollout(const float* attn, const AttentionShape& s, int last_layer, HeadFusion fusion,
                           float discard, int query) {
  check(s, last_layer, query);
  const size_t N = size_t(s.tokens);
  // Only row `query` of R = Ã_last ... Ã_0 is needed: r = e_q^T Ã_last ... Ã_0, evaluated
  // as vector-matrix products from the last layer down (O(N^2) per layer, not O(N^3)).
  std::vector<double> r(N, 0.0), next(N), A(N * N);
  r[size_t(query)] = 1.0;
  std::vector<float> flat(N * N);
  std::vector<size_t> idx;
  for (int l = last_layer; l >= 0; --l) {
    for (size_t i = 0; i < N; ++i)
      for (size_t j = 0; j < N; ++j) flat[i * N + j] = fuse(attn, s, l, -1, fusion, int(i), int(j));
    if (discard > 0.f) {
      size_t k = size_t(double(N * N) * std::clamp(discard, 0.f, 1.f));
      if (k > 0) {
        idx.resize(N * N);
        std::iota(idx.begin(), idx.end(), 0);
        std::nth_element(idx.begin(), idx.begin() + long(k - 1), idx.end(),
                         [&](size_t a, size_t b) { return flat[a] < flat[b]; });
        size_t keep = size_t(query) * N + size_t(query);
        for (size_t t = 0; t < k; ++t)
          if (idx[t] != keep) flat[idx[t]] = 0.f;
      }
    }
    // Ã_l = (A_l + I) / 2 with each row renormalised to sum 1.
    for (size_t i = 0; i < N; ++i) {
      double sum = 0;
      for (size_t j = 0; j < N; ++j) {
        A[i * N + j] = 0.5 * (double(flat[i * N + j]) + (i == j ? 1.0 : 0.0));
        sum += A[i * N + j];
      }
      for (size_t j = 0; j < N; ++j) A[i * N + j] /= sum;
    }
    // r = r Ã_l
    std::fill(next.begin(), next.end(), 0.0);
    for (size_t i = 0; i < N; ++i) {
      if (r[i] == 0.0) continue;
      for (size_t j = 0; j < N; ++j) next[j] += r[i] * A[i * N + j];
    }
    r.swap(next);
  }
  std::vector<float> out(size_t(s.grid_h) * s.grid_w);
  for (size_t p = 0; p < out.size(); ++p) out[p] = float(r[size_t(s.prefix) + p]);
  return out;
}

std::vector<float> mass_mask(const std::vector<float>& map, float mass) {
  std::vector<size_t> idx(map.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return map[a] < map[b]; });
  double total = 0;
  for (float v : map) total += v;
  std::vector<float> out(map.size(), 0.f);
  if (total <= 0) return out;
  double cum = 0;
  for (size_t i : idx) {
    cum += map[i] / total;
    if (cum > 1.0 - double(mass)) out[i] = 1.f;
  }
  return out;
}

namespace {
struct Stop {
  float t;
  unsigned char r, g, b;
};
// Control points read off the published colour maps at even steps; linear in between.
const std::vector<Stop> kViridis = {{0.00f, 68, 1, 84},    {0.125f, 71, 44, 122}, {0.25f, 59, 81, 139},
                                    {0.375f, 44, 113, 142}, {0.5f, 33, 145, 140},  {0.625f, 39, 173, 129},
                                    {0.75f, 92, 200, 99},   {0.875f, 170, 220, 50}, {1.0f, 253, 231, 37}};
const std::vector<Stop> kInferno = {{0.00f, 0, 0, 4},      {0.125f, 31, 12, 72},  {0.25f, 85, 15, 109},
                                    {0.375f, 136, 34, 106}, {0.5f, 186, 54, 85},   {0.625f, 227, 89, 51},
                                    {0.75f, 249, 140, 10},  {0.875f, 249, 201, 50}, {1.0f, 252, 255, 164}};
const std::vector<Stop> kJet = {{0.0f, 0, 0, 128},   {0.11f, 0, 0, 255},   {0.125f, 0, 0, 255}, {0.34f, 0, 219, 255},
                                {0.35f, 0, 229, 246}, {0.64f, 255, 255, 0}, {0.65f, 255, 234, 0}, {0.89f, 255, 0, 0},
                                {0.91f, 241, 0, 0},   {1.0f, 128, 0, 0}};
const std::vector<Stop> kGrey = {{0.0f, 0, 0, 0}, {1.0f, 255, 255, 255}};
}  // namespace

const std::vector<std::string>& colormap_names() {
  static const std::vector<std::string> names = {"viridis", "inferno", "jet", "grey"};
  return names;
}

void colormap(const std::string& name, float t, unsigned char rgb[3]) {
  const std::vector<Stop>* s = &kViridis;
  if (name == "inferno") s = &kInferno;
  else if (name == "jet") s = &kJet;
  else if (name == "grey" || name == "gray") s = &kGrey;
  if (!(t >= 0.f)) t = 0.f;
  if (t > 1.f) t = 1.f;
  for (size_t i = 1; i < s->size(); ++i) {
    const Stop &a = (*s)[i - 1], &b = (*s)[i];
    if (t <= b.t) {
      float u = b.t > a.t ? (t - a.t) / (b.t - a.t) : 0.f;
      rgb[0] = (unsigned char)std::lround(a.r + (b.r - a.r) * u);
      rgb[1] = (unsigned char)std::lround(a.g + (b.g - a.g) * u);
      rgb[2] = (unsigned char)std::lround(a.b + (b.b - a.b) * u);
      return;
    }
  }
  rgb[0] = s->back().r;
  rgb[1] = s->back().g;
  rgb[2] = s->back().b;
}

std::vector<unsigned char> overlay(const unsigned char* image, int width, int height, int channels,
                                   const std::vector<float>& grid, int gh, int gw, const std::string& cmap,
                                   float opacity, bool bilinear, float lo, float hi) {
  if (lo >= hi) {
    auto [mn, mx] = std::minmax_element(grid.begin(), grid.end());
    lo = *mn;
    hi = *mx;
    if (hi <= lo) hi = lo + 1e-12f;
  }
  std::vector<unsigned char> out(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float gy = (y + 0.5f) * gh / height - 0.5f, gx = (x + 0.5f) * gw / width - 0.5f;
      float v;
      if (bilinear) {
        int y0 = int(std::floor(gy)), x0 = int(std::floor(gx));
        float fy = gy - y0, fx = gx - x0;
        auto g = [&](int yy, int xx) {
          yy = std::clamp(yy, 0, gh - 1);
          xx = std::clamp(xx, 0, gw - 1);
          return grid[size_t(yy) * gw + xx];
        };
        v = (1 - fy) * ((1 - fx) * g(y0, x0) + fx * g(y0, x0 + 1)) + fy * ((1 - fx) * g(y0 + 1, x0) + fx * g(y0 + 1, x0 + 1));
      } else {
        int yy = std::clamp(int(float(y) * gh / height), 0, gh - 1), xx = std::clamp(int(float(x) * gw / width), 0, gw - 1);
        v = grid[size_t(yy) * gw + xx];
      }
      unsigned char c[3];
      colormap(cmap, (v - lo) / (hi - lo), c);
      for (int k = 0; k < 3; ++k) {
        float base = image[(size_t(y) * width + x) * channels + (channels == 1 ? 0 : k)];
        out[(size_t(y) * width + x) * 3 + k] = (unsigned char)std::lround(base * (1 - opacity) + c[k] * opacity);
      }
    }
  return out;
}

}  // namespace vitscope::viz
