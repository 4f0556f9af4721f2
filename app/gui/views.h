// What the heat map shows: the settings of the attention view and the maps they
// give (main map, heads of the current layer, layers x heads), computed with the
// engine's viz::attention_maps (shared/docs/checkpoints.md §5).
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "model/vit_config.h"
#include "viz/attention_maps.h"

namespace vitscope::gui {

struct ViewSettings {
  bool rollout = false;
  int layer = 0;  // 0-based; for rollout the last layer included
  int head = -1;  // -1: fused over heads with `fusion`
  viz::HeadFusion fusion = viz::HeadFusion::Mean;
  viz::HeadFusion rollout_fusion = viz::HeadFusion::Mean;
  float discard = 0.0f;  // rollout: fraction of the smallest fused entries dropped
  int query_patch = -1;  // -1: the class token (token 0) is the query
  bool mask = false;     // DINO-style mass mask instead of the values
  float mass = 0.6f;     // fraction of the attention mass the mask keeps
  bool operator==(const ViewSettings&) const = default;
};

struct ViewMaps {
  std::vector<float> main;                // what the main view shows (mask applied)
  std::vector<float> values;              // the main map's values before masking
  std::vector<std::vector<float>> heads;  // the current layer's heads
  std::vector<std::vector<float>> cells;  // every layer's heads, layer-major
};

viz::AttentionShape attention_shape(const VitConfig& c);
int query_token(const viz::AttentionShape& s, const ViewSettings& v);
ViewMaps compute_maps(const float* attention, const viz::AttentionShape& s, const ViewSettings& v);

const char* fusion_name(viz::HeadFusion f);
std::string head_name(int head, viz::HeadFusion fusion);
// One line saying what the main map is.
std::string describe_view(const ViewSettings& v, const viz::AttentionShape& s);

// Smallest and largest value (a non-empty range even for constant maps).
std::pair<float, float> value_range(const std::vector<float>& map);

// Where the model's input (after resize and centre crop) lies in the original image,
// as uv: u0, v0, u1, v1. Mirrors the arithmetic of vitscope::preprocess.
std::array<float, 4> crop_uv(int width, int height, const Preprocess& pre);

}  // namespace vitscope::gui
