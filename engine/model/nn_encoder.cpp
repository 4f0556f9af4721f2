// ViTs built on torch.nn.TransformerEncoder (seed 003's approach): patch_embed.proj,
// cls_token, pos_embed and head named as timm does, and the encoder's own names,
//   encoder.layers.N.{self_attn.in_proj_weight/in_proj_bias (rows q|k|v), self_attn.out_proj,
//   linear1, linear2, norm1, norm2}, optional encoder.norm.
// config.json (README, "nn.TransformerEncoder ViTs"): norm_first, activation, layer_norm_eps,
// embed_dim, depth, num_heads, mlp_dim, img_size, patch_size, num_classes, final_norm and a
// `preprocess` object. nn.TransformerEncoderLayer's defaults apply to what it leaves out:
// post-norm, ReLU, eps 1e-5.
#include <cmath>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

const char* kLayers = "encoder.layers.";

bool json_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw ModelError(file + ": '" + key + "' must be true or false, found " + j[key].dump());
  return j[key].get<bool>();
}

// An int or [height, width] (0 when absent).
std::pair<int, int> json_size(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return {0, 0};
  const auto& v = j[key];
  auto ok = [](const nlohmann::json& x) { return x.is_number_integer() && x.get<int64_t>() > 0 && x.get<int64_t>() <= 8192; };
  if (ok(v)) return {v.get<int>(), v.get<int>()};
  if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) return {v[0].get<int>(), v[1].get<int>()};
  throw ModelError(file + ": '" + key + "' must be a positive integer or [height, width], found " + v.dump());
}

std::vector<float> json_floats(const nlohmann::json& j, const char* key, size_t n, const std::string& file) {
  const auto& v = j[key];
  if (!v.is_array() || v.size() != n)
    throw ModelError(file + ": preprocess." + key + " must be a list of " + std::to_string(n) + " numbers");
  std::vector<float> out;
  for (const auto& x : v) {
    if (!x.is_number()) throw ModelError(file + ": preprocess." + key + " must be a list of numbers");
    out.push_back(x.get<float>());
  }
  return out;
}

}  // namespace

void read_torchvision_preprocess(LayoutInput& in, const VitConfig& c, Preprocess& pre) {
  const std::string& file = in.config_path;
  pre.pipeline = "torchvision";
  pre.height = c.img_h;
  pre.width = c.img_w;
  pre.rescale = 1.0f / 255.0f;
  pre.squash = false;
  pre.resize_height = pre.resize_width = 0;
  if (!in.config.contains("preprocess") || in.config["preprocess"].is_null()) {
    pre.interpolation = "bilinear";
    pre.resize_shortest = std::max(c.img_h, c.img_w);
    pre.center_crop = true;
    pre.mean = {0.485f, 0.456f, 0.406f};
    pre.std = {0.229f, 0.224f, 0.225f};
    if (c.in_chans != 3) pre.mean = pre.std = std::vector<float>(size_t(c.in_chans), 0.5f);
    in.warnings.push_back("no 'preprocess' object in " + (in.config.empty() ? std::string("a config.json") : file) +
                          "; assuming Resize(" + std::to_string(pre.resize_shortest) +
                          ") + CenterCrop, bilinear, ImageNet mean and std");
    return;
  }
  const auto& p = in.config["preprocess"];
  if (!p.is_object()) throw ModelError(file + ": 'preprocess' must be an object");
  for (const auto& [key, v] : p.items())
    if (key != "resize" && key != "crop" && key != "mean" && key != "std" && key != "interpolation")
      throw ModelError(file + ": unknown key preprocess." + key + " (resize, crop, mean, std, interpolation)");
  const auto& r = p.contains("resize") ? p["resize"] : nlohmann::json();
  if (r.is_number_integer() && r.get<int64_t>() > 0 && r.get<int64_t>() <= 8192) {
    pre.resize_shortest = r.get<int>();
  } else if (r.is_array()) {
    auto [h, w] = json_size(p, "resize", file);
    pre.squash = true;
    pre.resize_height = h;
    pre.resize_width = w;
  } else if (!r.is_null()) {
    throw ModelError(file + ": preprocess.resize must be a positive integer (shorter side) or [height, width]");
  }
  pre.resize = !r.is_null();
  auto [ch, cw] = json_size(p, "crop", file);
  pre.center_crop = ch > 0;
  if (ch > 0 && (ch != c.img_h || cw != c.img_w) && in.options.height == 0 && in.options.width == 0)
    throw ModelError(file + ": preprocess.crop " + std::to_string(ch) + "x" + std::to_string(cw) +
                     " differs from the model's input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w));
  pre.interpolation = p.value("interpolation", std::string("bilinear"));
  if (pre.interpolation != "bilinear" && pre.interpolation != "bicubic")
    throw ModelError(file + ": preprocess.interpolation must be \"bilinear\" or \"bicubic\"");
  pre.mean = p.contains("mean") ? json_floats(p, "mean", size_t(c.in_chans), file) : std::vector<float>(size_t(c.in_chans), 0.0f);
  pre.std = p.contains("std") ? json_floats(p, "std", size_t(c.in_chans), file) : std::vector<float>(size_t(c.in_chans), 1.0f);
}

void load_nn_encoder(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const auto& f = ts.file();
  const auto& j = in.config;
  const std::string& file = in.config_path;
  auto bad = [&](const std::string& m) { return ModelError(f.path() + ": " + m); };

  c.layout = "nn_encoder";
  c.architecture = j.contains("architecture") && j["architecture"].is_string()
                       ? j["architecture"].get<std::string>()
                       : std::string("ViT on nn.TransformerEncoder");
  const TensorInfo* pe = ts.info("patch_embed.proj.weight");
  if (!pe) throw bad("tensor 'patch_embed.proj.weight' is missing (the patch embedding of an nn.TransformerEncoder ViT)");
  read_patch_embedding(*pe, f.path(), c);
  const int64_t C = c.embed_dim;
  auto check = [&](const char* key, int found, const std::string& tensor) {
    check_config_size(file, key, json_int(j, key, 0, file), found, tensor);
  };
  check("embed_dim", c.embed_dim, "patch_embed.proj.weight");
  check("patch_size", c.patch, "patch_embed.proj.weight");

  c.depth = count_indexed(f, kLayers);
  if (c.depth == 0) throw bad("no tensors 'encoder.layers.N.*'");
  check("depth", c.depth, "encoder.layers.*");
  const TensorInfo* fc1 = ts.info("encoder.layers.0.linear1.weight");
  if (!fc1 || fc1->shape.size() != 2) throw bad("tensor 'encoder.layers.0.linear1.weight' is missing or not 2-D");
  c.mlp_hidden = int(fc1->shape[0]);
  check("mlp_dim", c.mlp_hidden, "encoder.layers.0.linear1.weight");

  // Block maths: nn.TransformerEncoderLayer's defaults unless config.json says otherwise.
  if (j.empty())
    in.warnings.push_back("no config.json next to " + f.path() +
                          "; assuming nn.TransformerEncoderLayer's defaults: post-norm, ReLU, LayerNorm eps 1e-5");
  c.norm_first = json_bool(j, "norm_first", false, file);
  const std::string act = j.contains("activation") ? j["activation"].get<std::string>() : "relu";
  if (act != "relu" && act != "gelu")
    throw ModelError(file + ": activation '" + act + "' is not supported (\"relu\" or \"gelu\", as nn.TransformerEncoderLayer names them)");
  c.hidden_act = act;  // torch's "gelu" is the exact (erf) form
  c.eps = json_float(j, "layer_norm_eps", 1e-5f, file);
  if (!(c.eps > 0.0f && c.eps < 1.0f)) throw ModelError(file + ": layer_norm_eps out of range");
  c.num_heads = resolve_heads(in, C, HeadSources{});
  c.qkv_bias = ts.has("encoder.layers.0.self_attn.in_proj_bias");
  c.layer_scale = false;

  // Tokens and position table.
  c.class_token = true;
  c.dist_token = false;
  c.num_registers = 0;
  w.prefix = ts.take("cls_token", {1, 1, C});
  w.prefix->shape = {1, C};
  const TensorInfo* pos = ts.info("pos_embed");
  if (!pos) throw bad("tensor 'pos_embed' is missing");
  if (pos->shape.size() < 2 || pos->shape.size() > 3 || pos->shape.back() != C || (pos->shape.size() == 3 && pos->shape[0] != 1))
    throw bad("tensor 'pos_embed': expected [1,N," + std::to_string(C) + "], found " + pos->shape_str());
  const int64_t npos = pos->shape[pos->shape.size() - 2];
  auto [nat_h, nat_w] = json_size(j, "img_size", file);
  if (!nat_h) {  // from a square table with or without the class token's row
    for (int64_t pp : {1, 0}) {
      const int64_t g = int64_t(std::llround(std::sqrt(double(std::max<int64_t>(npos - pp, 0)))));
      if (g > 0 && g * g == npos - pp) {
        nat_h = nat_w = int(g) * c.patch;
        break;
      }
    }
    if (!nat_h) throw bad("tensor 'pos_embed' is not a square grid; give img_size in config.json");
  }
  const int64_t grid = int64_t(nat_h / c.patch) * (nat_w / c.patch);
  if (npos != grid + 1 && npos != grid)
    throw bad("tensor 'pos_embed' has " + std::to_string(npos) + " rows, but a " + std::to_string(nat_h) + "x" +
              std::to_string(nat_w) + " input with " + std::to_string(c.patch) + "-pixel patches has " +
              std::to_string(grid) + " patches and a class token");
  c.pos_prefix = int(npos - grid);
  c.has_pos_embed = true;
  c.pos_grid_h = nat_h / c.patch;
  c.pos_grid_w = nat_w / c.patch;
  c.img_h = in.options.height > 0 ? in.options.height : nat_h;
  c.img_w = in.options.width > 0 ? in.options.width : nat_w;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  auto table = ts.take("pos_embed", pos->shape);
  table.shape = {npos, C};
  if (c.grid_h() != c.pos_grid_h || c.grid_w() != c.pos_grid_w) {
    in.warnings.push_back("the model's own forward adds pos_embed as stored (" + std::to_string(nat_h) + "x" +
                          std::to_string(nat_w) + " input only); resampled bicubically, as timm does, for " +
                          std::to_string(c.img_h) + "x" + std::to_string(c.img_w));
    w.pos = owned_tensor("pos_embed (resampled)", {int64_t(c.pos_prefix + c.num_patches()), C},
                         resample_pos_embed(table.to_vector(), c.pos_prefix, int(C), c.pos_grid_h, c.pos_grid_w,
                                            c.grid_h(), c.grid_w(), "timm"));
  } else {
    w.pos = std::move(table);
  }

  w.patch_w = ts.take("patch_embed.proj.weight", {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe("patch_embed.proj.bias", {C});

  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = kLayers + std::to_string(i) + ".";
    BlockWeights bw;
    bw.qkv_w = ts.take(b + "self_attn.in_proj_weight", {3 * C, C});
    if (c.qkv_bias) bw.qkv_b = ts.take(b + "self_attn.in_proj_bias", {3 * C});
    bw.proj_w = ts.take(b + "self_attn.out_proj.weight", {C, C});
    bw.proj_b = ts.take(b + "self_attn.out_proj.bias", {C});
    bw.fc1_w = ts.take(b + "linear1.weight", {M, C});
    bw.fc1_b = ts.take(b + "linear1.bias", {M});
    bw.fc2_w = ts.take(b + "linear2.weight", {C, M});
    bw.fc2_b = ts.take(b + "linear2.bias", {C});
    bw.norm1_w = ts.take(b + "norm1.weight", {C});
    bw.norm1_b = ts.take(b + "norm1.bias", {C});
    bw.norm2_w = ts.take(b + "norm2.weight", {C});
    bw.norm2_b = ts.take(b + "norm2.bias", {C});
    w.blocks.push_back(std::move(bw));
  }

  // TransformerEncoder(norm=...) adds a final LayerNorm, saved as encoder.norm.
  const bool has_norm = ts.has("encoder.norm.weight");
  c.final_norm = json_bool(j, "final_norm", has_norm, file);
  if (c.final_norm && !has_norm) throw bad("config.json says final_norm but tensor 'encoder.norm.weight' is missing");
  if (c.final_norm) {
    w.norm_w = ts.take("encoder.norm.weight", {C});
    w.norm_b = ts.take("encoder.norm.bias", {C});
  } else if (has_norm) {
    ts.ignore("encoder.norm.weight");
    ts.ignore("encoder.norm.bias");
    in.warnings.push_back(file + " sets final_norm false: tensor 'encoder.norm.weight' is not applied");
  }
  c.global_pool = "token";
  c.fc_norm = false;
  if (const TensorInfo* h = ts.info("head.weight")) {
    if (h->shape.size() != 2 || h->shape[1] != C)
      throw bad("tensor 'head.weight': expected [K," + std::to_string(C) + "], found " + h->shape_str());
    c.num_classes = int(h->shape[0]);
    w.head_w = ts.take("head.weight", {c.num_classes, C});
    w.head_b = ts.take("head.bias", {c.num_classes});
  } else {
    c.num_classes = 0;
  }
  check("num_classes", c.num_classes, "head.weight");

  read_torchvision_preprocess(in, c, c.pre);
  if (j.contains("labels") && j["labels"].is_array())
    for (const auto& l : j["labels"]) c.labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
}

}  // namespace vitscope
