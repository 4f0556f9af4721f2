// Hugging Face transformers naming (shared/docs/checkpoints.md §3):
//   ViTModel / ViTForImageClassification     [vit.]embeddings.*, encoder.layer.i.{layernorm_before,
//                                             attention.attention.{query,key,value}, attention.output.dense,
//                                             layernorm_after, intermediate.dense, output.dense}, layernorm,
//                                             [pooler.dense], classifier
//   DeiTForImageClassification(WithTeacher)  deit.* as ViT plus embeddings.distillation_token;
//                                             classifier, or cls_classifier + distillation_classifier
//   Dinov2Model / Dinov2WithRegistersModel   [dinov2.]embeddings.{cls_token, mask_token, register_tokens},
//                                             encoder.layer.i.{norm1, attention.*, layer_scale1.lambda1,
//                                             norm2, mlp.fc1, mlp.fc2, layer_scale2.lambda1}, layernorm
// plus config.json (dimensions, eps, activation, id2label) and preprocessor_config.json.
// The separate query/key/value tensors become one (3C, C) qkv weight made of three
// pieces of the mapped file; nothing is copied.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

const char* kPatchSuffix = "embeddings.patch_embeddings.projection.weight";

// The name prefix in front of "embeddings.*" ("", "vit.", "deit.", "dinov2.", ...).
std::string find_prefix(const TensorFile& f) {
  std::string found;
  int count = 0;
  const std::string suffix = kPatchSuffix;
  for (const auto& t : f.tensors()) {
    if (t.name.size() < suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string p = t.name.substr(0, t.name.size() - suffix.size());
    if (!p.empty() && p.back() != '.') continue;
    found = p;
    ++count;
  }
  if (count != 1)
    throw ModelError(f.path() + ": expected one '" + suffix + "' tensor for Hugging Face naming, found " +
                     std::to_string(count));
  return found;
}

HostTensor concat_rows(std::string name, std::vector<HostTensor> parts, int64_t cols) {
  HostTensor out;
  out.name = std::move(name);
  int64_t rows = 0;
  for (auto& p : parts) {
    rows += p.shape.empty() ? 0 : p.shape[0];
    for (auto& piece : p.pieces) out.pieces.push_back(std::move(piece));
  }
  out.shape = cols > 0 ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{rows};
  return out;
}

std::vector<float> float_list(const nlohmann::json& j, const char* key, std::vector<float> fallback, size_t n,
                              const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const auto& v = j[key];
  std::vector<float> out;
  if (v.is_number()) return std::vector<float>(n, v.get<float>());
  if (!v.is_array()) throw ModelError(file + ": '" + key + "' must be a number or a list of numbers");
  for (const auto& x : v) {
    if (!x.is_number()) throw ModelError(file + ": '" + key + "' must be a list of numbers");
    out.push_back(x.get<float>());
  }
  return out;
}

bool json_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw ModelError(file + ": '" + key + "' must be true or false, found " + j[key].dump());
  return j[key].get<bool>();
}

int positive(const nlohmann::json& v, const std::string& what, const std::string& file) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 8192)
    throw ModelError(file + ": '" + what + "' must be a positive integer up to 8192, found " + v.dump());
  return v.get<int>();
}

// config.json image_size / patch_size: an integer or [height, width].
bool hw_value(const nlohmann::json& j, const char* key, int& h, int& w, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return false;
  const auto& v = j[key];
  if (v.is_array() && v.size() == 2) {
    h = positive(v[0], key, file);
    w = positive(v[1], key, file);
  } else {
    h = w = positive(v, key, file);
  }
  return true;
}

// preprocessor_config.json sizes: an int (square, or the shorter edge for processors
// that default to it), {"height", "width"} or {"shortest_edge"}.
struct ProcSize {
  int h = 0, w = 0, shortest = 0;
};

ProcSize proc_size(const nlohmann::json& v, const char* key, bool int_is_shortest, const std::string& file,
                   std::vector<std::string>& warnings) {
  ProcSize s;
  if (v.is_number_integer()) {
    if (int_is_shortest)
      s.shortest = positive(v, key, file);
    else
      s.h = s.w = positive(v, key, file);
  } else if (v.is_array() && v.size() == 2) {
    s.h = positive(v[0], key, file);
    s.w = positive(v[1], key, file);
  } else if (v.is_object()) {
    if (v.contains("height") || v.contains("width")) {
      if (!v.contains("height") || !v.contains("width"))
        throw ModelError(file + ": '" + key + "' needs both height and width");
      s.h = positive(v["height"], std::string(key) + ".height", file);
      s.w = positive(v["width"], std::string(key) + ".width", file);
    } else if (v.contains("shortest_edge")) {
      s.shortest = positive(v["shortest_edge"], std::string(key) + ".shortest_edge", file);
      if (v.contains("longest_edge") && !v["longest_edge"].is_null())
        warnings.push_back(file + ": " + key + ".longest_edge is ignored");
    } else {
      throw ModelError(file + ": '" + key + "' has neither height/width nor shortest_edge: " + v.dump());
    }
  } else {
    throw ModelError(file + ": '" + key + "' must be an integer or an object, found " + v.dump());
  }
  return s;
}

std::string pil_filter(const nlohmann::json& v, const std::string& file) {
  if (!v.is_number_integer()) throw ModelError(file + ": 'resample' must be a PIL filter code, found " + v.dump());
  switch (v.get<int>()) {
    case 0: return "nearest";
    case 1: return "lanczos";
    case 2: return "bilinear";
    case 3: return "bicubic";
    case 4: return "box";
    case 5: return "hamming";
    default: throw ModelError(file + ": unknown PIL resample code " + v.dump());
  }
}

enum class Family { ViT, DeiT, Dinov2 };

// Fills c.pre from preprocessor_config.json (or the processor defaults) for a model that
// runs at c.img_h x c.img_w; nat_h x nat_w is the size the processor file produces.
void hf_preprocess(const nlohmann::json& pj, const std::string& pfile, Family fam, VitConfig& c, int& nat_h,
                   int& nat_w, std::vector<std::string>& warnings) {
  Preprocess& p = c.pre;
  p = Preprocess{};
  p.pipeline = "hf";
  const std::vector<float> imagenet_mean{0.485f, 0.456f, 0.406f}, imagenet_std{0.229f, 0.224f, 0.225f};
  const size_t nch = size_t(c.in_chans);
  std::vector<float> half(nch, 0.5f);
  ProcSize size, crop;
  bool do_crop = false;
  if (pj.empty()) {
    // The processors' own defaults (ViTImageProcessor, DeiTImageProcessor, BitImageProcessor
    // as configured for DINOv2), scaled to the model's size.
    if (fam == Family::ViT) {
      size.h = nat_h;
      size.w = nat_w;
      p.interpolation = "bilinear";
      p.mean = p.std = half;
    } else {
      if (fam == Family::DeiT) {
        size.h = nat_h * 256 / 224;
        size.w = nat_w * 256 / 224;
      } else {
        size.shortest = std::min(nat_h, nat_w) * 256 / 224;
      }
      crop.h = nat_h;
      crop.w = nat_w;
      do_crop = true;
      p.interpolation = "bicubic";
      p.mean = imagenet_mean;
      p.std = imagenet_std;
    }
    warnings.push_back("no preprocessor_config.json; using the " +
                       std::string(fam == Family::ViT ? "ViT" : fam == Family::DeiT ? "DeiT" : "DINOv2") +
                       " image processor defaults");
  } else {
    std::string type;
    for (const char* key : {"image_processor_type", "feature_extractor_type"})
      if (type.empty() && pj.contains(key) && pj[key].is_string()) type = pj[key].get<std::string>();
    bool int_is_shortest = type.find("Bit") != std::string::npos || type.find("CLIP") != std::string::npos;
    p.resize = json_bool(pj, "do_resize", true, pfile);
    if (pj.contains("size") && !pj["size"].is_null())
      size = proc_size(pj["size"], "size", int_is_shortest, pfile, warnings);
    else if (p.resize)
      throw ModelError(pfile + ": do_resize is set but there is no 'size'");
    do_crop = json_bool(pj, "do_center_crop", false, pfile);
    if (do_crop) {
      if (!pj.contains("crop_size") || pj["crop_size"].is_null())
        throw ModelError(pfile + ": do_center_crop is set but there is no 'crop_size'");
      crop = proc_size(pj["crop_size"], "crop_size", false, pfile, warnings);
      if (crop.shortest) throw ModelError(pfile + ": 'crop_size' must give height and width");
    }
    p.interpolation = pj.contains("resample") && !pj["resample"].is_null()
                          ? pil_filter(pj["resample"], pfile)
                          : (fam == Family::ViT ? "bilinear" : "bicubic");
    if (json_bool(pj, "do_rescale", true, pfile))
      p.rescale = json_float(pj, "rescale_factor", 1.0f / 255.0f, pfile);
    else
      p.rescale = 1.0f;
    if (json_bool(pj, "do_normalize", true, pfile)) {
      p.mean = float_list(pj, "image_mean", half, nch, pfile);
      p.std = float_list(pj, "image_std", half, nch, pfile);
    } else {
      p.mean.assign(nch, 0.0f);
      p.std.assign(nch, 1.0f);
    }
    // The size the processor produces: the crop, else the squash size.
    if (do_crop) {
      nat_h = crop.h;
      nat_w = crop.w;
    } else if (p.resize && size.h) {
      nat_h = size.h;
      nat_w = size.w;
    }
  }
  // At another run size the resize scales with it (as for torchvision's 256 -> 224).
  const double sy = double(c.img_h) / nat_h, sx = double(c.img_w) / nat_w;
  p.height = c.img_h;
  p.width = c.img_w;
  p.center_crop = do_crop;
  auto scaled = [](int v, double f) { return int(std::clamp(v * f, 1.0, 16384.0)); };
  if (size.h) {
    p.squash = true;
    p.resize_height = scaled(size.h, sy);
    p.resize_width = scaled(size.w, sx);
  } else if (size.shortest) {
    p.squash = false;
    // The larger factor, so that the crop still fits inside the resized image.
    p.resize_shortest = scaled(size.shortest, std::max(sy, sx));
  }
}

std::vector<std::string> id2label(const nlohmann::json& j, const std::string& file) {
  std::vector<std::string> labels;
  if (!j.contains("id2label") || !j["id2label"].is_object()) return labels;
  std::map<long, std::string> m;
  for (auto it = j["id2label"].begin(); it != j["id2label"].end(); ++it) {
    char* end = nullptr;
    long i = std::strtol(it.key().c_str(), &end, 10);
    if (!end || *end || i < 0 || i > (1 << 24)) throw ModelError(file + ": id2label key '" + it.key() + "' is not an index");
    m[i] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  }
  // transformers writes LABEL_0, LABEL_1, ... when a model has no names.
  static const std::regex generic("LABEL_[0-9]+");
  bool all_generic = true;
  for (auto& [i, name] : m) all_generic = all_generic && std::regex_match(name, generic);
  if (all_generic || m.empty() || m.rbegin()->first + 1 != long(m.size())) return labels;
  for (auto& [i, name] : m) labels.push_back(name);
  return labels;
}

}  // namespace

void load_hf(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const TensorFile& f = ts.file();
  const auto& j = in.config;
  const std::string& file = in.config_path;
  const bool have_config = !j.empty();
  auto bad = [&](const std::string& m) -> ModelError { return ModelError(f.path() + ": " + m); };

  const std::string pre = find_prefix(f);
  const std::string emb = pre + "embeddings.", enc = pre + "encoder.layer.";
  const bool dinov2 = ts.has(enc + "0.norm1.weight") || ts.has(enc + "0.layer_scale1.lambda1");
  const bool deit = ts.has(emb + "distillation_token");
  const Family fam = dinov2 ? Family::Dinov2 : deit ? Family::DeiT : Family::ViT;
  if (dinov2 && (ts.has(enc + "0.mlp.weights_in.weight") || ts.has(enc + "0.mlp.w12.weight")))
    throw bad("DINOv2 SwiGLU feed-forward layers (mlp.weights_in, the 'giant' models) are not supported");

  c.layout = "hf";
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  else
    c.architecture = j.contains("model_type") && j["model_type"].is_string()
                         ? j["model_type"].get<std::string>()
                         : std::string(dinov2 ? "dinov2" : deit ? "deit" : "vit");

  // Patch embedding (C, Cin, P, P).
  const TensorInfo* pe = ts.info(emb + "patch_embeddings.projection.weight");
  read_patch_embedding(*pe, f.path(), c);
  const int64_t C = c.embed_dim;
  auto check = [&](const char* key, int found, const std::string& tensor) {
    check_config_size(file, key, json_int(j, key, 0, file), found, tensor);
  };
  check("hidden_size", c.embed_dim, pe->name);
  check("num_channels", c.in_chans, pe->name);
  int cfg_ph = 0, cfg_pw = 0;
  if (hw_value(j, "patch_size", cfg_ph, cfg_pw, file) && (cfg_ph != c.patch || cfg_pw != c.patch))
    throw ModelError(file + ": patch_size does not match tensor '" + pe->name + "' " + pe->shape_str());

  c.depth = count_indexed(f, enc);
  if (c.depth == 0) {
    ts.note_missing(enc + "0.attention.attention.query.weight");
    throw bad("tensor '" + enc + "0.attention.attention.query.weight' is missing (no encoder layers found)");
  }
  check("num_hidden_layers", c.depth, enc + "*");
  const std::string fc1_name = enc + "0." + (dinov2 ? "mlp.fc1.weight" : "intermediate.dense.weight");
  const TensorInfo* fc1 = ts.info(fc1_name);
  if (!fc1 || fc1->shape.size() != 2) {
    ts.note_missing(fc1_name);
    throw bad("tensor '" + fc1_name + "' is missing or not 2-D");
  }
  c.mlp_hidden = int(fc1->shape[0]);
  check("intermediate_size", c.mlp_hidden, fc1_name);
  if (j.contains("mlp_ratio") && j["mlp_ratio"].is_number() &&
      int(j["mlp_ratio"].get<double>() * double(C)) != c.mlp_hidden)
    throw ModelError(file + ": mlp_ratio " + j["mlp_ratio"].dump() + " does not match tensor '" + fc1_name + "' " +
                     fc1->shape_str());

  // Heads: --heads, config.json (transformers' default is 12 when it leaves the count out),
  // else a guess with a warning.
  HeadSources heads;
  heads.stated.push_back({&j, "num_attention_heads"});
  const bool config_decides = have_config && !in.options.heads && !json_int(j, "num_heads", 0, file);
  c.num_heads = config_decides ? json_int(j, "num_attention_heads", 12, file) : resolve_heads(in, C, heads);
  if (j.contains("hidden_act")) {
    if (!j["hidden_act"].is_string()) throw ModelError(file + ": hidden_act must be a string");
    // transformers' names: gelu is the erf form; gelu_new, gelu_pytorch_tanh and gelu_fast
    // are the tanh form (the last one factored differently, the same function).
    const std::string act = j["hidden_act"].get<std::string>();
    c.hidden_act = act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast" ? "gelu_tanh" : act;
  }
  c.eps = json_float(j, "layer_norm_eps", dinov2 ? 1e-6f : 1e-12f, file);
  if (!have_config)
    in.warnings.push_back("layer_norm_eps not known without config.json; assuming " +
                          std::string(dinov2 ? "1e-6" : "1e-12"));
  if (!(c.eps > 0.0f && c.eps < 1.0f)) throw ModelError(file + ": layer_norm_eps out of range");
  c.qkv_bias = ts.has(enc + "0.attention.attention.query.bias");
  c.layer_scale = dinov2;

  // Tokens: [cls][dist][registers][patches]; positions cover cls (and dist) and patches.
  c.class_token = true;
  c.dist_token = deit;
  c.num_registers = 0;
  if (const TensorInfo* r = ts.info(emb + "register_tokens")) {
    if (r->shape.size() != 3 || r->shape[0] != 1 || r->shape[2] != C)
      throw bad("tensor '" + r->name + "': expected [1,R," + std::to_string(C) + "], found " + r->shape_str());
    c.num_registers = int(r->shape[1]);
  }
  const int T = c.prefix_tokens();
  c.pos_prefix = deit ? 2 : 1;
  {
    std::vector<HostTensor> parts;
    parts.push_back(ts.take(emb + "cls_token", {1, 1, C}));
    if (deit) parts.push_back(ts.take(emb + "distillation_token", {1, 1, C}));
    if (c.num_registers) parts.push_back(ts.take(emb + "register_tokens", {1, c.num_registers, C}));
    HostTensor pt;
    pt.name = emb + "cls_token" + (deit ? " + distillation_token" : "") + (c.num_registers ? " + register_tokens" : "");
    for (auto& p : parts)
      for (auto& piece : p.pieces) pt.pieces.push_back(std::move(piece));
    pt.shape = {T, C};
    w.prefix = std::move(pt);
  }
  ts.ignore(emb + "mask_token");  // only used for masked-image pretraining

  // The stored position grid: the config's image size, else a square table.
  const std::string pos_name = emb + "position_embeddings";
  const TensorInfo* pos = ts.info(pos_name);
  if (!pos) {
    ts.note_missing(pos_name);
    throw bad("tensor '" + pos_name + "' is missing");
  }
  if (pos->shape.size() != 3 || pos->shape[0] != 1 || pos->shape[2] != C || pos->shape[1] <= c.pos_prefix)
    throw bad("tensor '" + pos_name + "': expected [1,N," + std::to_string(C) + "], found " + pos->shape_str());
  const int64_t npos = pos->shape[1], grid_rows = npos - c.pos_prefix;
  int img_h = 0, img_w = 0;
  if (hw_value(j, "image_size", img_h, img_w, file) && int64_t(img_h / c.patch) * (img_w / c.patch) == grid_rows) {
    c.pos_grid_h = img_h / c.patch;
    c.pos_grid_w = img_w / c.patch;
  } else {
    int64_t g = int64_t(std::llround(std::sqrt(double(grid_rows))));
    if (g * g != grid_rows)
      throw bad("tensor '" + pos_name + "' has " + std::to_string(grid_rows) +
                " patch rows, which is not a square grid and does not match config.json's image_size");
    c.pos_grid_h = c.pos_grid_w = int(g);
    if (img_h && (img_h / c.patch != g || img_w / c.patch != g))
      in.warnings.push_back(file + ": image_size does not match the " + std::to_string(g) + "x" + std::to_string(g) +
                            " position table; using the table");
  }

  // Run size: --size / the input tensor, else what the image processor produces.
  const std::string pfile = (std::filesystem::path(f.path()).parent_path() / "preprocessor_config.json").string();
  int nat_h = c.pos_grid_h * c.patch, nat_w = c.pos_grid_w * c.patch;
  {
    // A dry run of the processor settings gives the size it produces.
    VitConfig probe = c;
    probe.img_h = nat_h;
    probe.img_w = nat_w;
    std::vector<std::string> ignored;
    hf_preprocess(in.preprocessor, pfile, fam, probe, nat_h, nat_w, ignored);
  }
  c.img_h = in.options.height > 0 ? in.options.height : nat_h;
  c.img_w = in.options.width > 0 ? in.options.width : nat_w;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  {
    int nh = nat_h, nw = nat_w;
    hf_preprocess(in.preprocessor, pfile, fam, c, nh, nw, in.warnings);
  }

  auto pos_t = ts.take(pos_name, {1, npos, C});
  if (c.grid_h() != c.pos_grid_h || c.grid_w() != c.pos_grid_w) {
    // transformers' interpolate_pos_encoding: bicubic, size-based; antialiased for
    // Dinov2WithRegisters.
    auto table = pos_t.to_vector();
    auto resampled = resample_pos_embed(table, c.pos_prefix, int(C), c.pos_grid_h, c.pos_grid_w, c.grid_h(),
                                        c.grid_w(), c.num_registers ? "hf_aa" : "hf");
    w.pos = owned_tensor(pos_name + " (resampled)", {int64_t(c.pos_prefix + c.num_patches()), C},
                         std::move(resampled));
  } else {
    pos_t.shape = {npos, C};
    w.pos = std::move(pos_t);
  }

  w.patch_w = ts.take(pe->name, {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe(emb + "patch_embeddings.projection.bias", {C});

  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = enc + std::to_string(i) + ".";
    const std::string att = b + "attention.attention.";
    BlockWeights bw;
    bw.norm1_w = ts.take(b + (dinov2 ? "norm1.weight" : "layernorm_before.weight"), {C});
    bw.norm1_b = ts.take(b + (dinov2 ? "norm1.bias" : "layernorm_before.bias"), {C});
    bw.qkv_w = concat_rows(att + "{query,key,value}.weight",
                           {ts.take(att + "query.weight", {C, C}), ts.take(att + "key.weight", {C, C}),
                            ts.take(att + "value.weight", {C, C})},
                           C);
    if (c.qkv_bias)
      bw.qkv_b = concat_rows(att + "{query,key,value}.bias",
                             {ts.take(att + "query.bias", {C}), ts.take(att + "key.bias", {C}),
                              ts.take(att + "value.bias", {C})},
                             0);
    bw.proj_w = ts.take(b + "attention.output.dense.weight", {C, C});
    bw.proj_b = ts.take(b + "attention.output.dense.bias", {C});
    if (dinov2) {
      bw.ls1 = ts.take(b + "layer_scale1.lambda1", {C});
      bw.norm2_w = ts.take(b + "norm2.weight", {C});
      bw.norm2_b = ts.take(b + "norm2.bias", {C});
      bw.fc1_w = ts.take(b + "mlp.fc1.weight", {M, C});
      bw.fc1_b = ts.take(b + "mlp.fc1.bias", {M});
      bw.fc2_w = ts.take(b + "mlp.fc2.weight", {C, M});
      bw.fc2_b = ts.take(b + "mlp.fc2.bias", {C});
      bw.ls2 = ts.take(b + "layer_scale2.lambda1", {C});
    } else {
      bw.norm2_w = ts.take(b + "layernorm_after.weight", {C});
      bw.norm2_b = ts.take(b + "layernorm_after.bias", {C});
      bw.fc1_w = ts.take(b + "intermediate.dense.weight", {M, C});
      bw.fc1_b = ts.take(b + "intermediate.dense.bias", {M});
      bw.fc2_w = ts.take(b + "output.dense.weight", {C, M});
      bw.fc2_b = ts.take(b + "output.dense.bias", {C});
    }
    w.blocks.push_back(std::move(bw));
  }

  // Final norm and output: every HF ViT applies `layernorm` to the whole sequence.
  c.global_pool = "token";
  c.fc_norm = false;
  c.final_norm = true;
  w.norm_w = ts.take(pre + "layernorm.weight", {C});
  w.norm_b = ts.take(pre + "layernorm.bias", {C});
  c.num_classes = 0;
  auto head_shape = [&](const std::string& name) -> int {
    const TensorInfo* h = ts.info(name);
    if (!h) return 0;
    if (dinov2 && h->shape.size() == 2 && h->shape[1] == 2 * C)
      throw bad("tensor '" + name + "' " + h->shape_str() +
                ": the Dinov2ForImageClassification head (class token and mean patch token "
                "concatenated) is not supported; the backbone alone loads from a Dinov2Model checkpoint");
    if (h->shape.size() != 2 || h->shape[1] != C)
      throw bad("tensor '" + name + "': expected [K," + std::to_string(C) + "], found " + h->shape_str());
    return int(h->shape[0]);
  };
  if (int K = head_shape("cls_classifier.weight")) {
    // DeiTForImageClassificationWithTeacher: mean of the class and distillation heads.
    if (!deit) throw bad("tensor 'cls_classifier.weight' needs a distillation token, which the checkpoint lacks");
    c.num_classes = K;
    w.head_w = ts.take("cls_classifier.weight", {K, C});
    w.head_b = ts.take("cls_classifier.bias", {K});
    w.head_dist_w = ts.take("distillation_classifier.weight", {K, C});
    w.head_dist_b = ts.take("distillation_classifier.bias", {K});
  } else if (int K2 = head_shape("classifier.weight")) {
    c.num_classes = K2;
    w.head_w = ts.take("classifier.weight", {K2, C});
    w.head_b = ts.take("classifier.bias", {K2});
  } else if (ts.has(pre + "pooler.dense.weight")) {
    // ViTModel(add_pooling_layer=True): pooler_output = tanh(dense(layernorm(x)[:, 0])).
    if (j.contains("pooler_act") && j["pooler_act"] != "tanh")
      throw ModelError(file + ": pooler_act " + j["pooler_act"].dump() + " is not supported (only tanh)");
    c.pooler_tanh = true;
    w.pooler_w = ts.take(pre + "pooler.dense.weight", {C, C});
    w.pooler_b = ts.take(pre + "pooler.dense.bias", {C});
  }
  if (c.num_classes > 0 && ts.has(pre + "pooler.dense.weight")) {
    in.warnings.push_back("the pooler (" + pre + "pooler.dense) is unused: the classifier reads the class token");
    ts.ignore(pre + "pooler.dense.weight");
    ts.ignore(pre + "pooler.dense.bias");
  }
  if (c.num_classes > 0) c.labels = id2label(j, file);
}

}  // namespace vitscope
