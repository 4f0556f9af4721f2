// torchvision VisionTransformer state-dict naming (shared/docs/checkpoints.md §4):
//   class_token, conv_proj.{weight,bias}, encoder.pos_embedding,
//   encoder.layers.encoder_layer_i.{ln_1, self_attention.in_proj_weight/in_proj_bias,
//   self_attention.out_proj, ln_2, mlp.0, mlp.3 (legacy mlp.linear_1, mlp.linear_2)},
//   encoder.ln, heads.head.
// torchvision files carry no config: the head count comes from --heads, an optional
// config.json ({"num_heads": H, "image_size": S} as the constructor names them), the
// file name (vit_b_*, vit_l_*, vit_h_*), the width of the official models, else 64
// dimensions per head.
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

const char* kLayers = "encoder.layers.encoder_layer_";

int count_layers(const TensorFile& f) { return count_indexed(f, kLayers); }

}  // namespace

void load_torchvision(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const TensorFile& f = ts.file();
  const auto& j = in.config;
  const std::string& file = in.config_path;
  auto bad = [&](const std::string& m) -> ModelError { return ModelError(f.path() + ": " + m); };

  c.layout = "torchvision";
  c.architecture = j.contains("architecture") && j["architecture"].is_string() ? j["architecture"].get<std::string>()
                                                                                : std::string("VisionTransformer");

  read_patch_embedding(*ts.info("conv_proj.weight"), f.path(), c);
  const int64_t C = c.embed_dim;
  auto check = [&](const char* key, int found, const std::string& tensor) {
    check_config_size(file, key, json_int(j, key, 0, file), found, tensor);
  };
  check("hidden_dim", c.embed_dim, "conv_proj.weight");
  check("patch_size", c.patch, "conv_proj.weight");

  if (ts.has("heads.pre_logits.weight"))
    throw bad("tensor 'heads.pre_logits.weight': torchvision models with a representation layer "
              "(representation_size) are not supported");

  c.depth = count_layers(f);
  if (c.depth == 0) {
    ts.note_missing(std::string(kLayers) + "0.ln_1.weight");
    throw bad("tensor '" + std::string(kLayers) + "0.ln_1.weight' is missing (no encoder layers found)");
  }
  check("num_layers", c.depth, std::string(kLayers) + "*");
  const std::string l0 = std::string(kLayers) + "0.";
  const bool legacy = ts.has(l0 + "mlp.linear_1.weight");
  const std::string fc1n = legacy ? "mlp.linear_1." : "mlp.0.", fc2n = legacy ? "mlp.linear_2." : "mlp.3.";
  const TensorInfo* fc1 = ts.info(l0 + fc1n + "weight");
  if (!fc1 || fc1->shape.size() != 2) {
    ts.note_missing(l0 + fc1n + "weight");
    throw bad("tensor '" + l0 + fc1n + "weight' is missing or not 2-D");
  }
  c.mlp_hidden = int(fc1->shape[0]);
  check("mlp_dim", c.mlp_hidden, l0 + fc1n + "weight");

  HeadSources heads;
  heads.width_default = C == 768 ? 12 : C == 1024 || C == 1280 ? 16 : 0;  // vit_b, vit_l, vit_h
  c.num_heads = resolve_heads(in, C, heads);
  c.eps = 1e-6f;
  c.qkv_bias = ts.has(l0 + "self_attention.in_proj_bias");
  c.layer_scale = false;
  c.class_token = true;
  c.dist_token = false;
  c.num_registers = 0;
  c.pos_prefix = 1;
  w.prefix = ts.take("class_token", {1, 1, C});
  w.prefix->shape = {1, C};

  // Position table [1, 1 + G*G, C]: torchvision models are square.
  const TensorInfo* pos = ts.info("encoder.pos_embedding");
  if (!pos) {
    ts.note_missing("encoder.pos_embedding");
    throw bad("tensor 'encoder.pos_embedding' is missing");
  }
  if (pos->shape.size() != 3 || pos->shape[0] != 1 || pos->shape[2] != C || pos->shape[1] < 2)
    throw bad("tensor 'encoder.pos_embedding': expected [1,N," + std::to_string(C) + "], found " + pos->shape_str());
  const int64_t npos = pos->shape[1];
  const int64_t g = int64_t(std::llround(std::sqrt(double(npos - 1))));
  if (g * g != npos - 1)
    throw bad("tensor 'encoder.pos_embedding' has " + std::to_string(npos - 1) + " patch rows, not a square grid");
  c.pos_grid_h = c.pos_grid_w = int(g);
  check("image_size", int(g) * c.patch, "encoder.pos_embedding");
  const int nat = int(g) * c.patch;
  c.img_h = in.options.height > 0 ? in.options.height : nat;
  c.img_w = in.options.width > 0 ? in.options.width : nat;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  auto pos_t = ts.take("encoder.pos_embedding", {1, npos, C});
  if (c.grid_h() != c.pos_grid_h || c.grid_w() != c.pos_grid_w) {
    // torchvision.models.vision_transformer.interpolate_embeddings: bicubic, align_corners=True.
    auto resampled = resample_pos_embed(pos_t.to_vector(), 1, int(C), c.pos_grid_h, c.pos_grid_w, c.grid_h(),
                                        c.grid_w(), "torchvision");
    w.pos = owned_tensor("encoder.pos_embedding (resampled)", {int64_t(1 + c.num_patches()), C},
                         std::move(resampled));
  } else {
    pos_t.shape = {npos, C};
    w.pos = std::move(pos_t);
  }

  w.patch_w = ts.take("conv_proj.weight", {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe("conv_proj.bias", {C});

  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = std::string(kLayers) + std::to_string(i) + ".";
    BlockWeights bw;
    bw.norm1_w = ts.take(b + "ln_1.weight", {C});
    bw.norm1_b = ts.take(b + "ln_1.bias", {C});
    bw.qkv_w = ts.take(b + "self_attention.in_proj_weight", {3 * C, C});
    if (c.qkv_bias) bw.qkv_b = ts.take(b + "self_attention.in_proj_bias", {3 * C});
    bw.proj_w = ts.take(b + "self_attention.out_proj.weight", {C, C});
    bw.proj_b = ts.take(b + "self_attention.out_proj.bias", {C});
    bw.norm2_w = ts.take(b + "ln_2.weight", {C});
    bw.norm2_b = ts.take(b + "ln_2.bias", {C});
    bw.fc1_w = ts.take(b + fc1n + "weight", {M, C});
    bw.fc1_b = ts.take(b + fc1n + "bias", {M});
    bw.fc2_w = ts.take(b + fc2n + "weight", {C, M});
    bw.fc2_b = ts.take(b + fc2n + "bias", {C});
    w.blocks.push_back(std::move(bw));
  }

  c.global_pool = "token";
  c.fc_norm = false;
  c.final_norm = true;
  w.norm_w = ts.take("encoder.ln.weight", {C});
  w.norm_b = ts.take("encoder.ln.bias", {C});
  c.num_classes = 0;
  if (const TensorInfo* h = ts.info("heads.head.weight")) {
    if (h->shape.size() != 2 || h->shape[1] != C)
      throw bad("tensor 'heads.head.weight': expected [K," + std::to_string(C) + "], found " + h->shape_str());
    c.num_classes = int(h->shape[0]);
    w.head_w = ts.take("heads.head.weight", {c.num_classes, C});
    w.head_b = ts.take("heads.head.bias", {c.num_classes});
  }
  check("num_classes", c.num_classes, "heads.head.weight");

  // ImageClassification(crop_size=224): shorter side to 256 (bilinear), centre crop 224,
  // ImageNet mean/std; the 256 scales with the input size (its longer side when the size
  // is not square, so that the crop fits).
  c.pre = Preprocess{};
  c.pre.pipeline = "torchvision";
  c.pre.height = c.img_h;
  c.pre.width = c.img_w;
  c.pre.interpolation = "bilinear";
  c.pre.resize_shortest = std::max(c.img_h, c.img_w) * 256 / 224;
  c.pre.center_crop = true;
  c.pre.crop_pct = 224.0f / 256.0f;
  if (c.in_chans == 3) {
    c.pre.mean = {0.485f, 0.456f, 0.406f};
    c.pre.std = {0.229f, 0.224f, 0.225f};
  } else {
    c.pre.mean.assign(size_t(c.in_chans), 0.5f);
    c.pre.std.assign(size_t(c.in_chans), 0.5f);
  }
}

}  // namespace vitscope
