// timm naming (shared/docs/checkpoints.md §2): patch_embed.proj, cls_token, reg_token,
// dist_token, pos_embed, blocks.i.{norm1,attn.qkv,attn.proj,ls1,norm2,mlp.fc1,mlp.fc2,ls2},
// norm / fc_norm, head, head_dist; config.json in timm's hub style.
#include <cmath>

#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

namespace {

int count_blocks(const TensorFile& f, const std::string& prefix, const std::string& probe) {
  int n = 0;
  while (f.find(prefix + std::to_string(n) + probe)) ++n;
  return n;
}

std::vector<float> float_list(const nlohmann::json& j, const char* key, std::vector<float> fallback,
                              const std::string& file) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  const auto& v = j[key];
  std::vector<float> out;
  if (v.is_number()) return {v.get<float>()};
  if (!v.is_array()) throw ModelError(file + ": '" + key + "' must be a list of numbers");
  for (auto& x : v) {
    if (!x.is_number()) throw ModelError(file + ": '" + key + "' must be a list of numbers");
    out.push_back(x.get<float>());
  }
  return out;
}

// img_size may be an int or [h, w].
bool read_size(const nlohmann::json& j, const char* key, int& h, int& w, const std::string& file) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return false;
  const auto& v = j[key];
  if (v.is_number_integer()) {
    h = w = v.get<int>();
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    h = v[0].get<int>();
    w = v[1].get<int>();
  } else {
    throw ModelError(file + ": '" + key + "' must be an integer or [height, width]");
  }
  if (h <= 0 || w <= 0 || h > 8192 || w > 8192) throw ModelError(file + ": '" + key + "' is out of range");
  return true;
}

}  // namespace

void load_timm(LayoutInput& in, VitConfig& c, VitWeights& w) {
  TensorSet& ts = in.tensors;
  const auto& j = in.config;
  const std::string& file = in.config_path;
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& margs = j.contains("model_args") && j["model_args"].is_object() ? j["model_args"] : empty;
  const nlohmann::json& pcfg =
      j.contains("pretrained_cfg") && j["pretrained_cfg"].is_object() ? j["pretrained_cfg"] : empty;

  c.layout = "timm";
  c.architecture = j.value("architecture", std::string("vit (timm naming)"));

  // Patch embedding: (C, Cin, P, P).
  read_patch_embedding(*ts.info("patch_embed.proj.weight"), ts.file().path(), c);
  // model_args sizes must agree with the tensors.
  auto check_arg = [&](const char* key, int found, const std::string& tensor) {
    check_config_size(file, std::string("model_args.") + key, json_int(margs, key, 0, file), found, tensor);
  };
  check_arg("embed_dim", c.embed_dim, "patch_embed.proj.weight");
  check_arg("in_chans", c.in_chans, "patch_embed.proj.weight");
  check_arg("patch_size", c.patch, "patch_embed.proj.weight");
  const int64_t C = c.embed_dim;

  c.depth = count_blocks(ts.file(), "blocks.", ".norm1.weight");
  if (c.depth == 0) {
    ts.note_missing("blocks.0.norm1.weight");
    throw ModelError(ts.file().path() + ": tensor 'blocks.0.norm1.weight' is missing (no transformer blocks found)");
  }
  check_arg("depth", c.depth, "blocks.*");
  const TensorInfo* fc1 = ts.info("blocks.0.mlp.fc1.weight");
  if (!fc1 || fc1->shape.size() != 2)
    throw ModelError(ts.file().path() + ": tensor 'blocks.0.mlp.fc1.weight' is missing or not 2-D");
  c.mlp_hidden = int(fc1->shape[0]);
  if (margs.contains("mlp_ratio") && margs["mlp_ratio"].is_number()) {
    double r = margs["mlp_ratio"].get<double>();
    if (std::abs(r * double(C) - double(c.mlp_hidden)) >= 1.0)
      throw ModelError(file + ": model_args.mlp_ratio " + margs["mlp_ratio"].dump() + " gives " +
                       std::to_string(int(r * double(C))) + " hidden units but tensor 'blocks.0.mlp.fc1.weight' has " +
                       std::to_string(c.mlp_hidden));
  }

  // Heads: --heads, config.json, model_args, else a guess from the architecture name or the
  // width, with a warning.
  HeadSources heads;
  heads.stated.push_back({&margs, "model_args.num_heads"});
  heads.architecture = c.architecture;
  heads.from_path = false;
  c.num_heads = resolve_heads(in, C, heads);
  c.qkv_bias = ts.has("blocks.0.attn.qkv.bias");
  c.layer_scale = ts.has("blocks.0.ls1.gamma");
  c.eps = 1e-6f;

  // Tokens.
  c.class_token = ts.has("cls_token");
  c.dist_token = ts.has("dist_token");
  c.num_registers = 0;
  if (const TensorInfo* r = ts.info("reg_token")) {
    if (r->shape.size() != 3 || r->shape[0] != 1 || r->shape[2] != C)
      throw ModelError(ts.file().path() + ": tensor 'reg_token': expected [1,R," + std::to_string(C) + "], found " + r->shape_str());
    c.num_registers = int(r->shape[1]);
  }
  std::vector<WeightPiece> prefix;
  for (const char* name : {"cls_token", "dist_token", "reg_token"}) {
    if (!ts.has(name)) continue;
    auto t = ts.take(name, {1, -1, C});
    for (auto& p : t.pieces) prefix.push_back(std::move(p));
  }
  const int T = c.prefix_tokens();
  if (T > 0) {
    HostTensor pt;
    pt.name = "cls/dist/reg tokens";
    pt.shape = {T, C};
    pt.pieces = std::move(prefix);
    w.prefix = std::move(pt);
  }

  // Native image size, and the position table's layout.
  int nat_h = 0, nat_w = 0;
  bool have_size = read_size(margs, "img_size", nat_h, nat_w, file);
  const bool size_from_args = have_size;
  if (!have_size && pcfg.contains("input_size") && pcfg["input_size"].is_array() && pcfg["input_size"].size() == 3) {
    nat_h = pcfg["input_size"][1].get<int>();
    nat_w = pcfg["input_size"][2].get<int>();
    have_size = nat_h > 0 && nat_w > 0;
  }
  c.has_pos_embed = ts.has("pos_embed");
  int64_t npos = 0;
  if (c.has_pos_embed) {
    const TensorInfo* pos = ts.info("pos_embed");
    if (pos->shape.size() != 3 || pos->shape[0] != 1 || pos->shape[2] != C)
      throw ModelError(ts.file().path() + ": tensor 'pos_embed': expected [1,N," + std::to_string(C) + "], found " + pos->shape_str());
    npos = pos->shape[1];
  }
  bool no_embed_class = margs.value("no_embed_class", false);
  auto is_square = [](int64_t n) {
    if (n <= 0 || n > (int64_t(1) << 40)) return int64_t(0);  // also keeps r * r from overflowing
    int64_t r = int64_t(std::llround(std::sqrt(double(n))));
    return r * r == n ? r : int64_t(0);
  };
  bool table_known = false;
  if (have_size && !size_from_args && c.has_pos_embed) {
    // timm keeps pretrained_cfg.input_size from the architecture's defaults even for a model
    // built with another img_size, and its checkpoint filter resamples a square table to
    // the model's size. Do the same when the table does not fit pretrained_cfg.
    const int64_t grid = int64_t(nat_h / c.patch) * (nat_w / c.patch);
    const bool explicit_nec = margs.contains("no_embed_class");
    const bool fits = explicit_nec ? npos - (no_embed_class ? 0 : T) == grid : (npos == grid + T || npos == grid);
    if (!fits) {
      int64_t pp = explicit_nec ? (no_embed_class ? 0 : T) : T;
      int64_t g = is_square(npos - pp);
      if (!g && !explicit_nec && is_square(npos)) {
        pp = 0;
        g = is_square(npos);
      }
      if (g) {
        c.pos_prefix = int(pp);
        c.pos_grid_h = c.pos_grid_w = int(g);
        table_known = true;
        in.warnings.push_back("tensor 'pos_embed' holds a " + std::to_string(g) + "x" + std::to_string(g) +
                              " grid, not the " + std::to_string(nat_h) + "x" + std::to_string(nat_w) +
                              " input of pretrained_cfg.input_size; it is resampled as timm does");
      }
    }
  }
  if (have_size && !table_known) {
    int64_t grid = int64_t(nat_h / c.patch) * (nat_w / c.patch);
    if (c.has_pos_embed) {
      if (margs.contains("no_embed_class"))
        c.pos_prefix = no_embed_class ? 0 : T;
      else if (npos == grid + T)
        c.pos_prefix = T;
      else if (npos == grid)
        c.pos_prefix = 0;
      else
        throw ModelError(ts.file().path() + ": tensor 'pos_embed' has " + std::to_string(npos) +
                         " rows, but a " + std::to_string(nat_h) + "x" + std::to_string(nat_w) +
                         " input with " + std::to_string(c.patch) + "-pixel patches has " + std::to_string(grid) +
                         " patches and " + std::to_string(T) + " prefix tokens");
      if (npos - c.pos_prefix != grid)
        throw ModelError(ts.file().path() + ": tensor 'pos_embed' has " + std::to_string(npos) +
                         " rows, expected " + std::to_string(grid + c.pos_prefix));
    }
    c.pos_grid_h = nat_h / c.patch;
    c.pos_grid_w = nat_w / c.patch;
  } else if (!have_size) {
    // No size anywhere: the stored table must be square.
    int64_t pp = margs.contains("no_embed_class") ? (no_embed_class ? 0 : T) : T;
    int64_t g = is_square(npos - pp);
    if (!g && is_square(npos)) {
      pp = 0;
      g = is_square(npos);
    }
    if (!c.has_pos_embed || !g)
      throw ModelError(file + ": cannot tell the input size: no model_args.img_size or pretrained_cfg.input_size, "
                       "and the position table is not a square grid");
    c.pos_prefix = int(pp);
    c.pos_grid_h = c.pos_grid_w = int(g);
    nat_h = nat_w = int(g) * c.patch;
  }
  // A model built with dynamic_img_size takes any input size, and timm's eval transform
  // (from pretrained_cfg.input_size) decides the size an image runs at; the position table
  // stays at model_args.img_size and is resampled in the forward pass.
  int run_h = nat_h, run_w = nat_w;
  if (size_from_args && margs.value("dynamic_img_size", false) && pcfg.contains("input_size") &&
      pcfg["input_size"].is_array() && pcfg["input_size"].size() == 3 && pcfg["input_size"][1].is_number_integer() &&
      pcfg["input_size"][2].is_number_integer()) {
    const int ih = pcfg["input_size"][1].get<int>(), iw = pcfg["input_size"][2].get<int>();
    if (ih > 0 && iw > 0 && ih <= 8192 && iw <= 8192 && (ih != nat_h || iw != nat_w)) {
      run_h = ih;
      run_w = iw;
    }
  }
  c.img_h = in.options.height > 0 ? in.options.height : run_h;
  c.img_w = in.options.width > 0 ? in.options.width : run_w;
  if (c.img_h % c.patch || c.img_w % c.patch)
    throw ModelError("input size " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
                     " is not a multiple of the " + std::to_string(c.patch) + "-pixel patch size");
  if (c.has_pos_embed) {
    auto pos = ts.take("pos_embed", {1, npos, C});
    if (c.grid_h() != c.pos_grid_h || c.grid_w() != c.pos_grid_w) {
      auto table = pos.to_vector();
      auto resampled = resample_pos_embed(table, c.pos_prefix, int(C), c.pos_grid_h, c.pos_grid_w,
                                          c.grid_h(), c.grid_w(), "timm");
      w.pos = owned_tensor("pos_embed (resampled)", {int64_t(c.pos_prefix + c.num_patches()), C},
                           std::move(resampled));
    } else {
      pos.shape = {npos, C};
      w.pos = std::move(pos);
    }
  }

  // Patch embedding weights as a (C, Cin*P*P) Linear.
  w.patch_w = ts.take("patch_embed.proj.weight", {C, c.in_chans, c.patch, c.patch});
  w.patch_w.shape = {C, int64_t(c.in_chans) * c.patch * c.patch};
  w.patch_b = ts.maybe("patch_embed.proj.bias", {C});

  const int64_t M = c.mlp_hidden;
  for (int i = 0; i < c.depth; ++i) {
    std::string b = "blocks." + std::to_string(i) + ".";
    BlockWeights bw;
    bw.norm1_w = ts.take(b + "norm1.weight", {C});
    bw.norm1_b = ts.take(b + "norm1.bias", {C});
    bw.qkv_w = ts.take(b + "attn.qkv.weight", {3 * C, C});
    bw.qkv_b = c.qkv_bias ? std::optional(ts.take(b + "attn.qkv.bias", {3 * C})) : std::nullopt;
    if (!c.qkv_bias && ts.has(b + "attn.qkv.bias"))
      throw ModelError(ts.file().path() + ": tensor '" + b + "attn.qkv.bias' present in some blocks but not block 0");
    bw.proj_w = ts.take(b + "attn.proj.weight", {C, C});
    bw.proj_b = ts.take(b + "attn.proj.bias", {C});
    bw.norm2_w = ts.take(b + "norm2.weight", {C});
    bw.norm2_b = ts.take(b + "norm2.bias", {C});
    bw.fc1_w = ts.take(b + "mlp.fc1.weight", {M, C});
    bw.fc1_b = ts.take(b + "mlp.fc1.bias", {M});
    bw.fc2_w = ts.take(b + "mlp.fc2.weight", {C, M});
    bw.fc2_b = ts.take(b + "mlp.fc2.bias", {C});
    if (c.layer_scale) {
      bw.ls1 = ts.take(b + "ls1.gamma", {C});
      bw.ls2 = ts.take(b + "ls2.gamma", {C});
    }
    w.blocks.push_back(std::move(bw));
  }

  // Final norm, pooling and head.
  std::string pool = j.value("global_pool", margs.value("global_pool", std::string()));
  c.fc_norm = ts.has("fc_norm.weight");
  if (pool.empty()) pool = c.fc_norm ? "avg" : "token";
  if (pool != "token" && pool != "avg")
    throw ModelError(file + ": global_pool '" + pool + "' is not supported (token or avg)");
  c.global_pool = pool;
  if (!c.class_token && pool == "token")
    throw ModelError(file + ": global_pool 'token' needs a cls_token, which the checkpoint lacks");
  c.final_norm = ts.has("norm.weight");
  if (c.final_norm) {
    w.norm_w = ts.take("norm.weight", {C});
    w.norm_b = ts.take("norm.bias", {C});
  }
  if (c.fc_norm) {
    w.fc_norm_w = ts.take("fc_norm.weight", {C});
    w.fc_norm_b = ts.take("fc_norm.bias", {C});
  }
  if (const TensorInfo* h = ts.info("head.weight")) {
    if (h->shape.size() != 2 || h->shape[1] != C)
      throw ModelError(ts.file().path() + ": tensor 'head.weight': expected [K," + std::to_string(C) + "], found " + h->shape_str());
    c.num_classes = int(h->shape[0]);
    w.head_w = ts.take("head.weight", {c.num_classes, C});
    w.head_b = ts.take("head.bias", {c.num_classes});
    if (c.dist_token && ts.has("head_dist.weight")) {
      w.head_dist_w = ts.take("head_dist.weight", {c.num_classes, C});
      w.head_dist_b = ts.take("head_dist.bias", {c.num_classes});
    }
  } else {
    c.num_classes = 0;
  }
  int cfg_classes = json_int(j, "num_classes", -1, file);
  if (cfg_classes >= 0 && cfg_classes != c.num_classes)
    throw ModelError(file + ": num_classes is " + std::to_string(cfg_classes) + " but the checkpoint has " +
                     (c.num_classes ? "a " + std::to_string(c.num_classes) + "-class head ('head.weight')" : std::string("no head")));

  // Preprocessing (timm eval transform).
  c.pre.pipeline = "timm";
  c.pre.height = c.img_h;
  c.pre.width = c.img_w;
  c.pre.interpolation = pcfg.value("interpolation", std::string("bicubic"));
  c.pre.crop_pct = json_float(pcfg, "crop_pct", 0.9f, file);
  if (!(c.pre.crop_pct > 0.f && c.pre.crop_pct <= 4.f)) throw ModelError(file + ": crop_pct out of range");
  c.pre.center_crop = true;
  std::vector<float> def(size_t(c.in_chans), 0.5f);
  c.pre.mean = float_list(pcfg, "mean", def, file);
  c.pre.std = float_list(pcfg, "std", def, file);

  if (j.contains("label_names") && j["label_names"].is_array()) {
    for (auto& l : j["label_names"]) c.labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
  }
}

}  // namespace vitscope
