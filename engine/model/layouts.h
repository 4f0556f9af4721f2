// Naming-specific loaders: each turns a checkpoint's tensors and config files into
// a VitConfig and VitWeights.
#pragma once
#include <nlohmann/json.hpp>

#include "model/tensor_set.h"
#include "model/weights.h"

namespace vitscope {

struct LayoutInput {
  TensorSet& tensors;
  const nlohmann::json& config;        // config.json ({} if absent)
  const nlohmann::json& preprocessor;  // preprocessor_config.json ({} if absent)
  const LoadOptions& options;
  std::vector<std::string>& warnings;
  const std::string& config_path;
};

void load_timm(LayoutInput& in, VitConfig& cfg, VitWeights& w);
void load_hf(LayoutInput& in, VitConfig& cfg, VitWeights& w);
void load_torchvision(LayoutInput& in, VitConfig& cfg, VitWeights& w);
void load_nn_encoder(LayoutInput& in, VitConfig& cfg, VitWeights& w);
void load_paddleclas(LayoutInput& in, VitConfig& cfg, VitWeights& w);
void load_paddle_tutorial(LayoutInput& in, VitConfig& cfg, VitWeights& w);

// config.json's `preprocess` object (README, "nn.TransformerEncoder ViTs"): torchvision's
// Resize (a number: the shorter side; [H, W]: straight to that size; PIL's antialiased
// filters), CenterCrop, ToTensor and Normalize, into `pre` for the input size of `c`.
// Without one, Resize + CenterCrop to the input size, bilinear, ImageNet mean and std, with
// a warning.
void read_torchvision_preprocess(LayoutInput& in, const VitConfig& c, Preprocess& pre);

// Head count from the architecture name (tiny 3, small 6, base 12, large 16, huge 16,
// giant 24), or 0 when the name says nothing.
int heads_from_name(const std::string& architecture);

// Where a head count can come from, in the order resolve_heads tries them.
struct HeadSources {
  std::vector<std::pair<const nlohmann::json*, std::string>> stated;  // config object + key ("model_args.num_heads")
  std::string architecture;  // a name to guess from (timm's "architecture"), or ""
  bool from_path = true;     // guess from the weights file's and its folders' names
  int width_default = 0;     // a known default for this width (torchvision's official models), or 0
};
// The head count: --heads, then `num_heads` in config.json (every layout), then the stated
// keys; otherwise a guess - from the architecture name, a file or folder name, the width,
// or 64 per head - with a warning that names where it came from.
int resolve_heads(LayoutInput& in, int64_t width, const HeadSources& sources);

// Resamples the patch rows of a position table (prefix rows kept) from the stored grid
// to the run grid the way `layout`'s framework does. `table` is (prefix + gh*gw, C).
std::vector<float> resample_pos_embed(const std::vector<float>& table, int prefix, int C,
                                      int old_h, int old_w, int new_h, int new_w,
                                      const std::string& method);

// Labels for a 1000-class model without names: ImageNet-1k from assets/labels.
std::vector<std::string> imagenet_labels();

// Sets embed_dim, in_chans and patch from the patch-embedding weight `pe` (C, Cin, P, P) of
// `weights_file`; throws naming the tensor unless its patches are square.
void read_patch_embedding(const TensorInfo& pe, const std::string& weights_file, VitConfig& c);
// A size a config file states (`stated`, 0 when absent) must equal the one tensor `tensor`
// implies (`found`); `key` is the name the message shows.
void check_config_size(const std::string& file, const std::string& key, int stated, int found,
                       const std::string& tensor);

// JSON helpers with messages that name the config file.
int json_int(const nlohmann::json& j, const char* key, int fallback, const std::string& file);
float json_float(const nlohmann::json& j, const char* key, float fallback, const std::string& file);

}  // namespace vitscope
