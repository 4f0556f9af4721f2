#include "views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vitscope::gui {

viz::AttentionShape attention_shape(const VitConfig& c) {
  return viz::AttentionShape{c.depth, c.num_heads, c.tokens(), c.prefix_tokens(), c.grid_h(), c.grid_w()};
}

int query_token(const viz::AttentionShape& s, const ViewSettings& v) {
  if (v.query_patch >= 0 && v.query_patch < s.grid_h * s.grid_w) return s.prefix + v.query_patch;
  return 0;  // the class token (the first patch when a model has no prefix tokens)
}

ViewMaps compute_maps(const float* attention, const viz::AttentionShape& s, const ViewSettings& v) {
  ViewMaps m;
  const int q = query_token(s, v);
  const int layer = std::clamp(v.layer, 0, s.layers - 1);
  if (v.rollout)
    m.values = viz::rollout(attention, s, layer, v.rollout_fusion, v.discard, q);
  else
    m.values = viz::query_attention(attention, s, layer, v.head, v.fusion, q);
  auto shown = [&](std::vector<float> map) { return v.mask ? viz::mass_mask(map, v.mass) : map; };
  m.main = shown(m.values);
  m.heads.reserve(size_t(s.heads));
  for (int h = 0; h < s.heads; ++h) m.heads.push_back(shown(viz::query_attention(attention, s, layer, h, v.fusion, q)));
  m.cells.reserve(size_t(s.layers) * size_t(s.heads));
  for (int l = 0; l < s.layers; ++l)
    for (int h = 0; h < s.heads; ++h) m.cells.push_back(shown(viz::query_attention(attention, s, l, h, v.fusion, q)));
  return m;
}

const char* fusion_name(viz::HeadFusion f) {
  switch (f) {
    case viz::HeadFusion::Mean: return "mean";
    case viz::HeadFusion::Max: return "max";
    case viz::HeadFusion::Min: return "min";
  }
  return "?";
}

std::string head_name(int head, viz::HeadFusion fusion) {
  if (head >= 0) return "head " + std::to_string(head + 1);
  return std::string(fusion_name(fusion)) + " over heads";
}

std::string describe_view(const ViewSettings& v, const viz::AttentionShape& s) {
  std::string query;
  if (v.query_patch >= 0 && v.query_patch < s.grid_h * s.grid_w)
    query = "patch (" + std::to_string(v.query_patch / s.grid_w + 1) + ", " + std::to_string(v.query_patch % s.grid_w + 1) + ")";
  else
    query = s.prefix > 0 ? "[CLS]" : "token 0";
  std::string out;
  char buf[160];
  if (v.rollout) {
    std::snprintf(buf, sizeof buf, "Rollout over layers 1-%d, %s fusion, discard %.2f (textbook, row-normalised)",
                  v.layer + 1, fusion_name(v.rollout_fusion), double(v.discard));
    out = buf;
  } else {
    out = "Layer " + std::to_string(v.layer + 1) + ", " + head_name(v.head, v.fusion);
  }
  out += "  |  query " + query;
  if (v.mask) {
    std::snprintf(buf, sizeof buf, "  |  mask keeps %.0f%% of the mass", double(v.mass) * 100.0);
    out += buf;
  }
  return out;
}

std::pair<float, float> value_range(const std::vector<float>& map) {
  if (map.empty()) return {0.f, 1.f};
  auto [lo, hi] = std::minmax_element(map.begin(), map.end());
  float a = *lo, b = *hi;
  if (!(b > a)) b = a + 1e-6f;
  return {a, b};
}

std::array<float, 4> crop_uv(int width, int height, const Preprocess& pre) {
  if (width <= 0 || height <= 0) return {0.f, 0.f, 1.f, 1.f};
  const double W = pre.width, H = pre.height, w = width, h = height;
  // Size of the resized image the centre crop is taken from; it spans the whole original.
  double rw = w, rh = h;
  auto shorter_side_to = [&](double side) {
    const double s = side / std::min(w, h);
    rw = w * s;
    rh = h * s;
  };
  if (pre.pipeline == "timm") {
    const double sh = std::floor(H / double(pre.crop_pct)), sw = std::floor(W / double(pre.crop_pct));
    if (sh == sw) {
      shorter_side_to(sh);
    } else {  // keep the aspect ratio
      const double ratio = std::min(h / sh, w / sw);
      rw = w / ratio;
      rh = h / ratio;
    }
  } else if (pre.pipeline == "hf") {
    if (pre.resize && pre.squash) {
      rw = pre.resize_width > 0 ? pre.resize_width : W;
      rh = pre.resize_height > 0 ? pre.resize_height : H;
    } else if (pre.resize && pre.resize_shortest > 0) {
      shorter_side_to(pre.resize_shortest);
    }
  } else if (pre.pipeline == "torchvision") {
    shorter_side_to(pre.resize_shortest > 0 ? pre.resize_shortest : std::floor(std::min(H, W) * 256.0 / 224.0));
    if (!pre.center_crop) return {0.f, 0.f, 1.f, 1.f};
  } else {
    return {0.f, 0.f, 1.f, 1.f};  // squashed straight to the input size
  }
  const float u0 = float(0.5 - W / (2.0 * rw)), v0 = float(0.5 - H / (2.0 * rh));
  return {u0, v0, 1.f - u0, 1.f - v0};
}

}  // namespace vitscope::gui
