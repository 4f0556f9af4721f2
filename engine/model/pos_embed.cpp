// Position-embedding resampling for inputs whose patch grid differs from the table's.
//
// Each framework resizes the (gh, gw, C) grid of a position table with its own flavour
// of torch.nn.functional.interpolate(mode="bicubic"); they give different numbers, so
// the engine reproduces each one (shared/docs/checkpoints.md §8 item 4):
//   "timm", "hf_aa"  antialias=True, align_corners=False, size-based: the separable
//                    PIL-style filter (cubic a = -0.5) whose support widens by the scale
//                    when shrinking, weights renormalised over the taps inside the grid.
//   "hf"             antialias=False, align_corners=False, size-based: the 4-tap cubic
//                    convolution (a = -0.75) with edge indices clamped.
//   "torchvision"    antialias=False, align_corners=True (interpolate_embeddings).
// Rows before `prefix` (class / distillation tokens) pass through untouched. Source
// coordinates and tap weights are computed in float32 as torch's CPU kernels do for a
// float32 table (doing it in double moves values by up to ~1e-5 on a 37 -> 16 resize);
// the weighted sums run in double. Measured against torch 1.13: antialiased results agree
// to ~1e-7, the plain bicubic ones to ~4e-6 (torch's own weights carry float noise).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

// One output sample along one axis: taps[first .. first+weights.size()) of the input.
struct Taps {
  int first = 0;
  std::vector<double> weights;
};

// torch's antialiased bicubic filter (the same kernel as PIL's BICUBIC), a = -0.5.
float aa_cubic(float x) {
  const double a = -0.5;
  double d = std::abs(double(x));
  if (d < 1.0) return float(((a + 2.0) * d - (a + 3.0)) * d * d + 1.0);
  if (d < 2.0) return float((((d - 5.0) * d + 8.0) * d - 4.0) * a);
  return 0.0f;
}

// Weights of torch's _upsample_bicubic2d_aa along one axis (align_corners=False,
// size-based): the support widens with the scale when shrinking, taps outside the grid
// are dropped and the rest renormalised.
std::vector<Taps> antialias_taps(int in, int out) {
  const float scale = float(in) / float(out);
  const float support = scale >= 1.0f ? 2.0f * scale : 2.0f;
  const float inv = scale >= 1.0f ? 1.0f / scale : 1.0f;
  std::vector<Taps> taps(static_cast<size_t>(out));
  std::vector<float> w;
  for (int i = 0; i < out; ++i) {
    const float center = scale * (float(i) + 0.5f);
    // torch truncates toward zero before clamping at 0.
    int lo = std::max(int(int64_t(double(center) - double(support) + 0.5)), 0);
    int hi = std::min(int(int64_t(double(center) + double(support) + 0.5)), in);
    Taps& t = taps[size_t(i)];
    t.first = lo;
    w.clear();
    float total = 0.0f;
    for (int j = lo; j < hi; ++j) {
      w.push_back(aa_cubic(float((double(float(j) - center) + 0.5) * double(inv))));
      total += w.back();
    }
    for (float x : w) t.weights.push_back(total != 0.0f ? double(x / total) : double(x));
  }
  return taps;
}

// Cubic convolution (Keys, a = -0.75) as torch's upsample_bicubic2d: four taps around
// floor(src), indices clamped to the grid, so edge taps may repeat.
float keys1(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }
float keys2(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }

std::vector<Taps> cubic_taps(int in, int out, bool align_corners) {
  const float a = -0.75f;
  float scale;
  if (align_corners)
    scale = out > 1 ? float(in - 1) / float(out - 1) : 0.0f;
  else
    scale = float(in) / float(out);
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int i = 0; i < out; ++i) {
    const float src = align_corners ? scale * float(i) : scale * (float(i) + 0.5f) - 0.5f;
    const float fl = std::floor(src);
    const float t = src - fl;
    const double w[4] = {keys2(t + 1.0f, a), keys1(t, a), keys1(1.0f - t, a), keys2(2.0f - t, a)};
    // Expand into a dense run over [first, last] so clamped duplicates add up.
    const int base = int(fl) - 1;
    int first = std::clamp(base, 0, in - 1), last = std::clamp(base + 3, 0, in - 1);
    Taps& tp = taps[size_t(i)];
    tp.first = first;
    tp.weights.assign(size_t(last - first + 1), 0.0);
    for (int k = 0; k < 4; ++k) tp.weights[size_t(std::clamp(base + k, 0, in - 1) - first)] += w[k];
  }
  return taps;
}

std::vector<Taps> taps_for(const std::string& method, int in, int out) {
  if (method == "timm" || method == "hf_aa") return antialias_taps(in, out);
  if (method == "hf") return cubic_taps(in, out, false);
  if (method == "torchvision") return cubic_taps(in, out, true);
  throw ModelError("unknown position-embedding resampling method '" + method +
                   "' (timm, hf, hf_aa, torchvision)");
}

}  // namespace

std::vector<float> resample_pos_embed(const std::vector<float>& table, int prefix, int C, int old_h, int old_w,
                                      int new_h, int new_w, const std::string& method) {
  if (prefix < 0 || C <= 0 || old_h <= 0 || old_w <= 0 || new_h <= 0 || new_w <= 0)
    throw ModelError("position table resampling: bad sizes");
  const size_t old_rows = size_t(prefix) + size_t(old_h) * size_t(old_w);
  if (table.size() != old_rows * size_t(C))
    throw ModelError("position table has " + std::to_string(table.size() / size_t(C)) + " rows, expected " +
                     std::to_string(old_rows) + " (" + std::to_string(prefix) + " prefix + " +
                     std::to_string(old_h) + "x" + std::to_string(old_w) + " grid)");
  const std::vector<Taps> ty = taps_for(method, old_h, new_h), tx = taps_for(method, old_w, new_w);
  const float* grid = table.data() + size_t(prefix) * C;

  // Separable: rows first (old_h x new_w), then columns.
  std::vector<double> tmp(size_t(old_h) * new_w * C, 0.0);
  for (int y = 0; y < old_h; ++y)
    for (int x = 0; x < new_w; ++x) {
      const Taps& t = tx[size_t(x)];
      double* dst = &tmp[(size_t(y) * new_w + x) * C];
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const float* src = grid + (size_t(y) * old_w + size_t(t.first) + k) * C;
        for (int c = 0; c < C; ++c) dst[c] += t.weights[k] * double(src[c]);
      }
    }
  std::vector<float> out((size_t(prefix) + size_t(new_h) * new_w) * C);
  std::copy(table.begin(), table.begin() + long(size_t(prefix) * C), out.begin());
  std::vector<double> acc(static_cast<size_t>(C));
  for (int y = 0; y < new_h; ++y) {
    const Taps& t = ty[size_t(y)];
    for (int x = 0; x < new_w; ++x) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const double* src = &tmp[((size_t(t.first) + k) * new_w + x) * C];
        for (int c = 0; c < C; ++c) acc[size_t(c)] += t.weights[k] * src[c];
      }
      float* dst = &out[(size_t(prefix) + size_t(y) * new_w + x) * C];
      for (int c = 0; c < C; ++c) dst[c] = float(acc[size_t(c)]);
    }
  }
  return out;
}

}  // namespace vitscope
