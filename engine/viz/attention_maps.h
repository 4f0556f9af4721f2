// Views of the attention probabilities (shared/docs/checkpoints.md §5): the class
// token's (or any query token's) attention to the patches per layer and head, head
// fusion, attention rollout and DINO-style mass masks. Inputs are one image's
// probabilities laid out (L, H, N, N).
#pragma once
#include <string>
#include <vector>

namespace vitscope::viz {

struct AttentionShape {
  int layers = 0, heads = 0, tokens = 0, prefix = 1, grid_h = 0, grid_w = 0;
};

enum class HeadFusion { Mean, Max, Min };

// Row `query` of layer `layer` (0-based), head `head` (>= 0) or fused over heads
// (head < 0 uses `fusion`), restricted to the patch columns: grid_h*grid_w values.
std::vector<float> query_attention(const float* attn, const AttentionShape& s, int layer, int head,
                                   HeadFusion fusion, int query);

// Attention rollout over layers 0..last (Abnar & Zuidema), textbook row-normalised form:
// A_l = fuse_h(attn_l); drop the `discard` fraction of smallest entries (the query's
// own entry kept); Ã_l = (A_l + I)/2 with rows renormalised; R = Ã_last ... Ã_0.
// Returns row `query` of R over the patch columns.
std::vector<float> rollout(const float* attn, const AttentionShape& s, int last_layer, HeadFusion fusion,
                           float discard, int query = 0);

// DINO mask: 1 for the patches that together hold `mass` of the map's total, else 0.
std::vector<float> mass_mask(const std::vector<float>& map, float mass);

// RGB colour for t in [0, 1] from a named map: viridis, inferno, jet, grey.
void colormap(const std::string& name, float t, unsigned char rgb[3]);
const std::vector<std::string>& colormap_names();

// Blends a heat grid over an 8-bit RGB or grey image of the same field of view.
// range_lo/hi: value range mapped to [0, 1] (auto when lo >= hi).
std::vector<unsigned char> overlay(const unsigned char* image, int width, int height, int channels,
                                   const std::vector<float>& grid, int grid_h, int grid_w,
                                   const std::string& cmap, float opacity, bool bilinear,
                                   float range_lo = 0.f, float range_hi = 0.f);

}  // namespace vitscope::viz
