// PaddlePaddle ViTs. Paddle's nn.Linear stores its weight [in, out] (y = x W + b): every
// Dense weight is read transposed from the file (transposed_from_file, no copy); Conv2D
// weights are [out, in, kh, kw] as in PyTorch.
//  - PaddleClas (ppcls/arch/backbone/model_zoo/vision_transformer.py): timm's names; the
//    sizes, qkv bias and LayerNorm epsilon from the YAML config's Arch (a ViT_* name or
//    explicit fields), its preprocessing from Infer.transforms.
//  - Seed 000's tutorial VisualTransformer: patch_embedding.*, encoder.layers.N.*,
//    classifier; its code never adds position_embedding, builds EncoderLayer() with its
//    defaults (4 heads) and keeps Paddle's LayerNorm epsilon 1e-5.
#include <cmath>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

// What a PaddleClas VisionTransformer is built with (its constructor's defaults, then the
// ViT_* functions' arguments).
struct PaddleArch {
  int img = 224, patch = 16, embed = 768, depth = 12, heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = false;
  double eps = 1e-5;
  double qk_scale = 0.0;  // 0: head_dim ** -0.5
};

bool paddle_arch_by_name(const std::string& name, PaddleArch& a) {
  struct Entry {
    const char* name;
    PaddleArch arch;
  };
  static const Entry table[] = {
      {"ViT_small_patch16_224", {224, 16, 768, 8, 8, 3.0, false, 1e-5, 1.0 / std::sqrt(768.0)}},
      {"ViT_base_patch16_224", {224, 16, 768, 12, 12, 4.0, true, 1e-6, 0.0}},
      {"ViT_base_patch16_384", {384, 16, 768, 12, 12, 4.0, true, 1e-6, 0.0}},
      {"ViT_base_patch32_384", {384, 32, 768, 12, 12, 4.0, true, 1e-6, 0.0}},
      {"ViT_large_patch16_224", {224, 16, 1024, 24, 16, 4.0, true, 1e-6, 0.0}},
      {"ViT_large_patch16_384", {384, 16, 1024, 24, 16, 4.0, true, 1e-6, 0.0}},
      {"ViT_large_patch32_384", {384, 32, 1024, 24, 16, 4.0, true, 1e-6, 0.0}},
      {"ViT_huge_patch16_224", {224, 16, 1280, 32, 16, 4.0, false, 1e-5, 0.0}},
      {"ViT_huge_patch32_384", {384, 32, 1280, 32, 16, 4.0, false, 1e-5, 0.0}},
  };
  for (const auto& e : table)
    if (name == e.name) {
      a = e.arch;
      return true;
    }
  return false;
}

// A Paddle Linear weight [in, out] as the engine's [out, in].
HostTensor dense(TensorSet& ts, const std::string& name, int64_t in, int64_t out) {
  const TensorInfo* t = ts.info(name);
  if (!t) return ts.take(name, {in, out});  // reports it missing
  ts.take(name, {in, out});                  // checks the shape and marks it used
  return transposed_from_file(ts.file(), *t, in);
}

// The stored patch grid of a position table with one class-token row, or 0.
int square_grid(int64_t rows) {
  const int64_t g = int64_t(std::llround(std::sqrt(double(std::max<int64_t>(rows - 1, 0)))));
  return g > 0 && g * g == rows - 1 ? int(g) : 0;
}

float parse_scale(const nlohmann::json& v, const std::string& file) {
  // PaddleClas evaluates the text ("1.0/255.0"); accept a number or "a/b".
  if (v.is_number()) return float(v.get<double>());
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const size_t slash = s.find('/');
    try {
      size_t used = 0;
      if (slash == std::string::npos) {
        double x = std::stod(s, &used);
        if (used == s.size()) return float(x);
      } else {
        const std::string a = s.substr(0, slash), b = s.substr(slash + 1);
        size_t ua = 0, ub = 0;
        double x = std::stod(a, &ua), y = std::stod(b, &ub);
        if (ua == a.size() && ub == b.size() && y != 0.0) return float(x / y);
      }
    } catch (const std::exception&) {
    }
  }
  throw ModelError(file + ": NormalizeImage scale must be a number or \"a/b\", found " + v.dump());
}

std::vector<float> three_floats(const nlohmann::json& v, const char* what, const std::string& file) {
  std::vector<float> out;
  if (v.is_array() && v.size() == 3)
    for (const auto& x : v)
      if (x.is_number()) out.push_back(float(x.get<double>()));
  if (out.size() != 3) throw ModelError(file + ": NormalizeImage " + what + " must be a list of 3 numbers");
  return out;
}

// An int or [w, h] as PaddleClas's ResizeImage size and CropImage size take them.
std::pair<int, int> paddle_size(const nlohmann::json& v, const char* what, const std::string& file) {
  auto ok = [](const nlohmann::json& x) { return x.is_number_integer() && x.get<int64_t>() > 0 && x.get<int64_t>() <= 8192; };
  if (ok(v)) return {v.get<int>(), v.get<int>()};
  if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) return {v[0].get<int>(), v[1].get<int>()};
  throw ModelError(file + ": " + what + " must be a positive integer or [w, h], found " + v.dump());
}

// Infer.transforms (or DataLoader.Eval's transform_ops): DecodeImage, ResizeImage,
// CropImage, NormalizeImage, ToCHWImage.
void read_paddle_transforms(LayoutInput& in, const VitConfig& c, Preprocess& pre) {
  const auto& j = in.config;
  const std::string& file = in.config_path;
  pre.pipeline = "paddle";
  pre.height = c.img_h;
  pre.width = c.img_w;
  pre.opencv = true;
  pre.interpolation = "bilinear";
  pre.resize = false;
  pre.squash = false;
  pre.center_crop = false;
  pre.rescale = 1.0f / 255.0f;
  pre.mean = {0.485f, 0.456f, 0.406f};
  pre.std = {0.229f, 0.224f, 0.225f};
  const nlohmann::json* ops = nullptr;
  if (j.contains("Infer") && j["Infer"].is_object() && j["Infer"].contains("transforms"))
    ops = &j["Infer"]["transforms"];
  else if (j.contains("DataLoader") && j["DataLoader"].is_object() && j["DataLoader"].contains("Eval") &&
           j["DataLoader"]["Eval"].is_object() && j["DataLoader"]["Eval"].contains("dataset") &&
           j["DataLoader"]["Eval"]["dataset"].is_object() &&
           j["DataLoader"]["Eval"]["dataset"].contains("transform_ops"))
    ops = &j["DataLoader"]["Eval"]["dataset"]["transform_ops"];
  if (!ops) {
    pre.resize = true;
    pre.resize_shortest = std::max(c.img_h, c.img_w) * 256 / 224;
    pre.center_crop = true;
    pre.mean = pre.std = {0.5f, 0.5f, 0.5f};
    in.warnings.push_back("no Infer.transforms in " + file + "; assuming PaddleClas's ViT eval transform: resize_short " +
                          std::to_string(pre.resize_shortest) + ", crop, mean = std = 0.5");
    return;
  }
  if (!ops->is_array()) throw ModelError(file + ": Infer.transforms must be a list");
  for (const auto& op : *ops) {
    if (!op.is_object() || op.size() != 1) throw ModelError(file + ": each transform must be a one-key mapping");
    const std::string name = op.begin().key();
    const nlohmann::json args = op.begin().value().is_object() ? op.begin().value() : nlohmann::json::object();
    if (name == "DecodeImage") {
      if (args.value("channel_first", false)) throw ModelError(file + ": DecodeImage channel_first: True is not supported");
      pre.bgr = !args.value("to_rgb", true);
    } else if (name == "ResizeImage") {
      const std::string backend = args.contains("backend") && args["backend"].is_string() ? args["backend"].get<std::string>() : "cv2";
      const std::string interp = args.contains("interpolation") && args["interpolation"].is_string()
                                     ? args["interpolation"].get<std::string>()
                                     : "bilinear";
      if ((backend != "cv2" && backend != "pil" && backend != "PIL") || interp != "bilinear")
        throw ModelError(file + ": ResizeImage with backend '" + backend + "' and interpolation '" + interp +
                         "' is not supported (bilinear with cv2 or PIL)");
      pre.opencv = backend == "cv2";
      pre.resize = true;
      if (args.contains("resize_short") && !args["resize_short"].is_null()) {
        pre.resize_shortest = paddle_size(args["resize_short"], "ResizeImage resize_short", file).first;
      } else if (args.contains("size") && !args["size"].is_null()) {
        auto [w, h] = paddle_size(args["size"], "ResizeImage size", file);
        pre.squash = true;
        pre.resize_width = w;
        pre.resize_height = h;
      } else {
        throw ModelError(file + ": ResizeImage needs resize_short or size");
      }
    } else if (name == "CropImage") {
      auto [w, h] = paddle_size(args.value("size", nlohmann::json()), "CropImage size", file);
      if ((w != c.img_w || h != c.img_h) && in.options.height == 0 && in.options.width == 0)
        throw ModelError(file + ": CropImage size " + std::to_string(w) + "x" + std::to_string(h) +
                         " differs from the model's input size " + std::to_string(c.img_w) + "x" + std::to_string(c.img_h));
      pre.center_crop = true;
    } else if (name == "NormalizeImage") {
      if (args.contains("scale") && !args["scale"].is_null()) pre.rescale = parse_scale(args["scale"], file);
      if (args.contains("mean") && !args["mean"].is_null()) pre.mean = three_floats(args["mean"], "mean", file);
      if (args.contains("std") && !args["std"].is_null()) pre.std = three_floats(args["std"], "std", file);
      if (args.value("channel_num", 3) != 3) throw ModelError(file + ": NormalizeImage channel_num must be 3");
    } else if (name != "ToCHWImage") {
      throw ModelError(file + ": transform '" + name +
                       "' is not supported (DecodeImage, ResizeImage, CropImage, NormalizeImage, ToCHWImage)");
    }
  }
}

}  // namespace

void load_paddleclas(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const auto& f = ts.file();
  const auto& j = in.config;
  const std::string& file = in.config_path;
  auto bad = [&](const std::string& m) { return ModelError(f.path() + ": " + m); };
  c.layout = "paddleclas";

  // Arch: a ViT_* name, and/or VisionTransformer's arguments.
  const nlohmann::json arch = j.contains("Arch") && j["Arch"].is_object() ? j["Arch"] : nlohmann::json::object();
  PaddleArch a;
  const std::string name = arch.contains("name") && arch["name"].is_string() ? arch["name"].get<std::string>() : "";
  const bool named = paddle_arch_by_name(name, a);
  if (!named && arch.empty())
    in.warnings.push_back("no PaddleClas Arch in " + file + "; sizes from the tensors, LayerNorm epsilon 1e-5 and no " +
                          "qkv bias as VisionTransformer's defaults");
  c.architecture = name.empty() ? "PaddleClas VisionTransformer" : name;
  const int img = json_int(arch, "img_size", named ? a.img : 0, file);
  const double eps = arch.contains("epsilon") ? arch["epsilon"].get<double>() : a.eps;
  const double ratio = arch.contains("mlp_ratio") ? arch["mlp_ratio"].get<double>() : (named ? a.mlp_ratio : 0.0);
  const double qk_scale = arch.contains("qk_scale") && !arch["qk_scale"].is_null() ? arch["qk_scale"].get<double>() : a.qk_scale;

  read_patch_embedding(*ts.info("patch_embed.proj.weight"), f.path(), c);
  const int64_t C = c.embed_dim;
  auto check = [&](const char* key, int stated, int found, const std::string& tensor) {
    check_config_size(file, std::string("Arch ") + (named && !arch.contains(key) ? name + " " : "") + key, stated,
                      found, tensor);
  };
  check("embed_dim", json_int(arch, "embed_dim", named ? a.embed : 0, file), c.embed_dim, "patch_embed.proj.weight");
  check("patch_size", json_int(arch, "patch_size", named ? a.patch : 0, file), c.patch, "patch_embed.proj.weight");
  c.depth = count_indexed(f, "blocks.");
  if (c.depth == 0) throw bad("no tensors 'blocks.N.*'");
  check("depth", json_int(arch, "depth", named ? a.depth : 0, file), c.depth, "blocks.*");
  const TensorInfo* fc1 = ts.info("blocks.0.mlp.fc1.weight");
  if (!fc1 || fc1->shape.size() != 2 || fc1->shape[0] != C)
    throw bad("tensor 'blocks.0.mlp.fc1.weight' is missing or not [" + std::to_string(C) + ",M] (Paddle's [in,out])");
  c.mlp_hidden = int(fc1->shape[1]);
  if (ratio > 0 && int(double(C) * ratio) != c.mlp_hidden)
    throw ModelError(file + ": Arch mlp_ratio " + std::to_string(ratio) + " gives " + std::to_string(int(double(C) * ratio)) +
                     " hidden units but tensor 'blocks.0.mlp.fc1.weight' has " + std::to_string(c.mlp_hidden));

  HeadSources heads;
  nlohmann::json stated_heads = arch;
  if (named && !arch.contains("num_heads")) stated_heads["num_heads"] = a.heads;
  heads.stated.push_back({&stated_heads, "Arch.num_heads"});
  c.num_heads = resolve_heads(in, C, heads);
  if (qk_scale > 0.0 && std::abs(qk_scale * std::sqrt(double(C / c.num_heads)) - 1.0) > 1e-6)
    throw ModelError(file + ": Arch qk_scale " + std::to_string(qk_scale) + " scales the attention scores otherwise "
                     "than head_dim ** -0.5 (as ViT_small_patch16_224 does); not supported");
  c.eps = float(eps);
  if (!(c.eps > 0.0f && c.eps < 1.0f)) throw ModelError(file + ": Arch epsilon out of range");
  c.hidden_act = "gelu";  // paddle.nn.GELU() is the exact form
  c.norm_first = true;
  c.qkv_bias = ts.has("blocks.0.attn.qkv.bias");
  if (arch.contains("qkv_bias") && arch["qkv_bias"].is_boolean() && arch["qkv_bias"].get<bool>() != c.qkv_bias)
    throw ModelError(file + ": Arch qkv_bias is " + arch["qkv_bias"].dump() + " but tensor 'blocks.0.attn.qkv.bias' is " +
                     (c.qkv_bias ? "present" : "absent"));

  // Tokens and position table (class token row first).
  c.class_token = true;
  w.prefix = ts.take("cls_token", {1, 1, C});
  w.prefix->shape = {1, C};
  const TensorInfo* pos = ts.info("pos_embed");
  if (!pos || pos->shape.size() != 3 || pos->shape[0] != 1 || pos->shape[2] != C)
    throw bad("tensor 'pos_embed' is missing or not [1,N," + std::to_string(C) + "]");
  const int g = square_grid(pos->shape[1]);
  const int nat = img ? img : g * c.patch;
  if (!g || g * c.patch != nat)
    throw bad("tensor 'pos_embed' has " + std::to_string(pos->shape[1]) + " rows; a " + std::to_string(nat) +
              "-pixel input with " + std::to_string(c.patch) + "-pixel patches needs " +
              std::to_string((nat / c.patch) * (nat / c.patch) + 1));
  c.pos_prefix = 1;
  c.pos_grid_h = c.pos_grid_w = g;
  c.img_h = in.options.height > 0 ? in.options.height : nat;
  c.img_w = in.options.width > 0 ? in.options.width : nat;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  auto table = ts.take("pos_embed", {1, pos->shape[1], C});
  table.shape = {pos->shape[1], C};
  if (c.grid_h() != g || c.grid_w() != g)
    w.pos = owned_tensor("pos_embed (resampled)", {int64_t(1 + c.num_patches()), C},
                         resample_pos_embed(table.to_vector(), 1, int(C), g, g, c.grid_h(), c.grid_w(), "timm"));
  else
    w.pos = std::move(table);

  w.patch_w = ts.take("patch_embed.proj.weight", {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe("patch_embed.proj.bias", {C});
  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    BlockWeights bw;
    bw.norm1_w = ts.take(b + "norm1.weight", {C});
    bw.norm1_b = ts.take(b + "norm1.bias", {C});
    bw.qkv_w = dense(ts, b + "attn.qkv.weight", C, 3 * C);
    if (c.qkv_bias) bw.qkv_b = ts.take(b + "attn.qkv.bias", {3 * C});
    bw.proj_w = dense(ts, b + "attn.proj.weight", C, C);
    bw.proj_b = ts.take(b + "attn.proj.bias", {C});
    bw.norm2_w = ts.take(b + "norm2.weight", {C});
    bw.norm2_b = ts.take(b + "norm2.bias", {C});
    bw.fc1_w = dense(ts, b + "mlp.fc1.weight", C, M);
    bw.fc1_b = ts.take(b + "mlp.fc1.bias", {M});
    bw.fc2_w = dense(ts, b + "mlp.fc2.weight", M, C);
    bw.fc2_b = ts.take(b + "mlp.fc2.bias", {C});
    w.blocks.push_back(std::move(bw));
  }
  c.final_norm = true;
  w.norm_w = ts.take("norm.weight", {C});
  w.norm_b = ts.take("norm.bias", {C});
  c.global_pool = "token";
  if (const TensorInfo* h = ts.info("head.weight")) {
    if (h->shape.size() != 2 || h->shape[0] != C)
      throw bad("tensor 'head.weight': expected [" + std::to_string(C) + ",K] (Paddle's [in,out]), found " + h->shape_str());
    c.num_classes = int(h->shape[1]);
    w.head_w = dense(ts, "head.weight", C, c.num_classes);
    w.head_b = ts.take("head.bias", {c.num_classes});
  } else {
    c.num_classes = 0;
  }
  check_config_size(file, "Arch class_num", json_int(arch, "class_num", 0, file), c.num_classes, "head.weight");
  read_paddle_transforms(in, c, c.pre);
}

void load_paddle_tutorial(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const auto& f = ts.file();
  const auto& j = in.config;
  const std::string& file = in.config_path;
  auto bad = [&](const std::string& m) { return ModelError(f.path() + ": " + m); };
  c.layout = "paddle_tutorial";
  c.architecture = "VisualTransformer (Paddle tutorial)";
  read_patch_embedding(*ts.info("patch_embedding.patch_embedding.weight"), f.path(), c);
  const int64_t C = c.embed_dim;
  c.depth = count_indexed(f, "encoder.layers.");
  if (c.depth == 0) throw bad("no tensors 'encoder.layers.N.*'");
  const TensorInfo* fc1 = ts.info("encoder.layers.0.mlp.fc1.weight");
  if (!fc1 || fc1->shape.size() != 2 || fc1->shape[0] != C)
    throw bad("tensor 'encoder.layers.0.mlp.fc1.weight' is missing or not [" + std::to_string(C) + ",M] (Paddle's [in,out])");
  c.mlp_hidden = int(fc1->shape[1]);

  // The tutorial's code decides these; config.json may say otherwise.
  std::vector<std::string> assumed;
  if (in.options.heads > 0 || json_int(j, "num_heads", 0, file)) {
    c.num_heads = resolve_heads(in, C, HeadSources{});
  } else {
    c.num_heads = 4;
    assumed.push_back("4 heads (EncoderLayer()'s default; config.json num_heads or --heads)");
  }
  c.eps = json_float(j, "layer_norm_eps", 0.0f, file);
  if (c.eps == 0.0f) {
    c.eps = 1e-5f;
    assumed.push_back("LayerNorm epsilon 1e-5 (Paddle's default; layer_norm_eps)");
  } else if (!(c.eps > 0.0f && c.eps < 1.0f)) {
    throw ModelError(file + ": layer_norm_eps out of range");
  }
  bool add_pos = false;
  if (j.contains("add_position_embedding")) {
    if (!j["add_position_embedding"].is_boolean()) throw ModelError(file + ": 'add_position_embedding' must be true or false");
    add_pos = j["add_position_embedding"].get<bool>();
  } else {
    assumed.push_back("no position embedding: PatchEmbedding.forward never adds patch_embedding.position_embedding "
                      "(add_position_embedding: true adds it)");
  }
  if (!assumed.empty()) {
    std::string msg = "Paddle tutorial ViT, as its code runs it:";
    for (size_t i = 0; i < assumed.size(); ++i) msg += (i ? "; " : " ") + assumed[i];
    in.warnings.push_back(msg + " - set in config.json to override");
  }
  c.hidden_act = "gelu";
  c.norm_first = true;
  c.qkv_bias = true;

  c.class_token = true;
  w.prefix = ts.take("patch_embedding.class_token", {1, 1, C});
  w.prefix->shape = {1, C};
  const TensorInfo* pos = ts.info("patch_embedding.position_embedding");
  if (!pos || pos->shape.size() != 3 || pos->shape[0] != 1 || pos->shape[2] != C)
    throw bad("tensor 'patch_embedding.position_embedding' is missing or not [1,N," + std::to_string(C) + "]");
  const int g = square_grid(pos->shape[1]);
  int nat_h = 0, nat_w = 0;
  if (j.contains("img_size")) nat_h = nat_w = json_int(j, "img_size", 0, file);
  if (!nat_h) nat_h = nat_w = g * c.patch;
  if (!nat_h) throw bad("tensor 'patch_embedding.position_embedding' is not a square grid; give img_size in config.json");
  c.img_h = in.options.height > 0 ? in.options.height : nat_h;
  c.img_w = in.options.width > 0 ? in.options.width : nat_w;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  auto table = ts.take("patch_embedding.position_embedding", {1, pos->shape[1], C});
  c.has_pos_embed = add_pos;
  c.pos_prefix = 1;
  c.pos_grid_h = c.pos_grid_w = g;
  if (add_pos) {
    if (!g) throw bad("tensor 'patch_embedding.position_embedding' is not a square grid");
    table.shape = {pos->shape[1], C};
    if (c.grid_h() != g || c.grid_w() != g)
      w.pos = owned_tensor("position_embedding (resampled)", {int64_t(1 + c.num_patches()), C},
                           resample_pos_embed(table.to_vector(), 1, int(C), g, g, c.grid_h(), c.grid_w(), "timm"));
    else
      w.pos = std::move(table);
  }

  w.patch_w = ts.take("patch_embedding.patch_embedding.weight", {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe("patch_embedding.patch_embedding.bias", {C});
  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = "encoder.layers." + std::to_string(i) + ".";
    BlockWeights bw;
    bw.norm1_w = ts.take(b + "attn_norm.weight", {C});
    bw.norm1_b = ts.take(b + "attn_norm.bias", {C});
    bw.qkv_w = dense(ts, b + "attn.qkv.weight", C, 3 * C);
    bw.qkv_b = ts.take(b + "attn.qkv.bias", {3 * C});
    bw.proj_w = dense(ts, b + "attn.proj.weight", C, C);
    bw.proj_b = ts.take(b + "attn.proj.bias", {C});
    bw.norm2_w = ts.take(b + "mlp_norm.weight", {C});
    bw.norm2_b = ts.take(b + "mlp_norm.bias", {C});
    bw.fc1_w = dense(ts, b + "mlp.fc1.weight", C, M);
    bw.fc1_b = ts.take(b + "mlp.fc1.bias", {M});
    bw.fc2_w = dense(ts, b + "mlp.fc2.weight", M, C);
    bw.fc2_b = ts.take(b + "mlp.fc2.bias", {C});
    w.blocks.push_back(std::move(bw));
  }
  c.final_norm = true;
  w.norm_w = ts.take("encoder.norm.weight", {C});
  w.norm_b = ts.take("encoder.norm.bias", {C});
  c.global_pool = "token";
  const TensorInfo* h = ts.info("classifier.weight");
  if (!h || h->shape.size() != 2 || h->shape[0] != C)
    throw bad("tensor 'classifier.weight' is missing or not [" + std::to_string(C) + ",K] (Paddle's [in,out])");
  c.num_classes = int(h->shape[1]);
  w.head_w = dense(ts, "classifier.weight", C, c.num_classes);
  w.head_b = ts.take("classifier.bias", {c.num_classes});
  check_config_size(file, "num_classes", json_int(j, "num_classes", 0, file), c.num_classes, "classifier.weight");
  read_torchvision_preprocess(in, c, c.pre);
}

}  // namespace vitscope
