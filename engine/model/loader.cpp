// load_model: find the weights and config files, detect the naming, dispatch to the
// naming-specific loader, then check the result is a model the engine can run.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/paths.h"
#include "model/layouts.h"
#include "model/yaml_config.h"
#include "model/pickled_checkpoint.h"

namespace vitscope {

namespace fs = std::filesystem;

int64_t HostTensor::numel() const {
  int64_t n = 0;
  for (auto& p : pieces) n += p.numel();
  return n;
}

void WeightPiece::read(float* dst, int64_t first, int64_t count) const {
  if (!src) {
    std::copy(owned.begin() + first, owned.begin() + first + count, dst);
  } else if (transpose_rows <= 0) {
    file->read_f32(*src, dst, first, count);
  } else {
    // Element (o, i) of the [cols, rows] view is element (i, o) of the stored matrix.
    const int64_t rows = transpose_rows, cols = numel() / rows;
    for (int64_t e = first; e < first + count;) {
      const int64_t o = e / rows, i = e % rows, n = std::min(rows - i, first + count - e);
      file->read_f32_strided(*src, dst + (e - first), i * cols + o, n, cols);
      e += n;
    }
  }
}

void HostTensor::read(float* dst, int64_t first, int64_t count) const {
  int64_t base = 0;
  for (const auto& p : pieces) {
    int64_t n = p.numel();
    int64_t lo = std::max(first, base), hi = std::min(first + count, base + n);
    if (lo < hi) p.read(dst + (lo - first), lo - base, hi - lo);
    base += n;
  }
}

std::vector<float> HostTensor::to_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  read(v.data(), 0, numel());
  return v;
}

int64_t VitWeights::parameter_count() const {
  int64_t n = 0;
  auto add = [&](const std::optional<HostTensor>& t) { if (t) n += t->numel(); };
  n += patch_w.numel();
  add(patch_b); add(prefix); add(pos);
  for (auto& b : blocks) {
    n += b.norm1_w.numel() + b.norm1_b.numel() + b.qkv_w.numel() + b.proj_w.numel() +
         b.proj_b.numel() + b.norm2_w.numel() + b.norm2_b.numel() + b.fc1_w.numel() +
         b.fc1_b.numel() + b.fc2_w.numel() + b.fc2_b.numel();
    add(b.qkv_b); add(b.ls1); add(b.ls2);
  }
  add(norm_w); add(norm_b); add(fc_norm_w); add(fc_norm_b); add(head_w); add(head_b);
  add(head_dist_w); add(head_dist_b); add(pooler_w); add(pooler_b);
  return n;
}

HostTensor transposed_from_file(const TensorFile& f, const TensorInfo& t, int64_t rows) {
  VIT_ASSERT(rows > 0 && t.numel() % rows == 0, "transposed view of " + t.name);
  HostTensor h;
  h.name = t.name;
  h.shape = {t.numel() / rows, rows};
  WeightPiece p;
  p.file = &f;
  p.src = &t;
  p.transpose_rows = rows;
  h.pieces.push_back(std::move(p));
  return h;
}

HostTensor from_file(const TensorFile& f, const TensorInfo& t) {
  HostTensor h;
  h.name = t.name;
  h.shape = t.shape;
  WeightPiece p;
  p.file = &f;
  p.src = &t;
  h.pieces.push_back(std::move(p));
  return h;
}

HostTensor owned_tensor(std::string name, std::vector<int64_t> shape, std::vector<float> data) {
  HostTensor h;
  h.name = std::move(name);
  h.shape = std::move(shape);
  WeightPiece p;
  p.owned = std::move(data);
  h.pieces.push_back(std::move(p));
  return h;
}

bool is_weight_file_name(const std::string& filename) {
  std::string n = filename;
  for (char& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : weight_file_extensions())
    if (n.size() > e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0) return true;
  return false;
}

int heads_from_name(const std::string& a) {
  struct { const char* key; int heads; } table[] = {
      {"_tiny", 3}, {"_small", 6}, {"_base", 12}, {"_large", 16}, {"_huge", 16}, {"_giant", 24},
      {"-tiny", 3}, {"-small", 6}, {"-base", 12}, {"-large", 16}, {"-huge", 16}, {"-giant", 24},
      {"vit_b_", 12}, {"vit_l_", 16}, {"vit_h_", 16},  // torchvision's model names
  };
  for (auto& e : table)
    if (a.find(e.key) != std::string::npos) return e.heads;
  return 0;
}

int resolve_heads(LayoutInput& in, int64_t C, const HeadSources& src) {
  if (in.options.heads > 0) return in.options.heads;
  const std::string& file = in.config_path;
  if (int h = json_int(in.config, "num_heads", 0, file)) return h;
  for (const auto& [obj, key] : src.stated) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    if (int h = json_int(*obj, leaf.c_str(), 0, file)) return h;
  }
  const std::string fix = "; put {\"num_heads\": N} in a config.json beside the weights or pass --heads";
  auto guessed = [&](int h, const std::string& where) {
    in.warnings.push_back("head count not stated; guessed " + std::to_string(h) + " from " + where + fix);
    return h;
  };
  if (!src.architecture.empty())
    if (int h = heads_from_name(src.architecture))
      return guessed(h, "the architecture name '" + src.architecture + "'");
  if (src.from_path) {
    // The weights file's name, then its folder's.
    const fs::path p = fs::absolute(fs::path(in.tensors.file().path()));
    if (int h = heads_from_name(p.filename().string()))
      return guessed(h, "the file name '" + p.filename().string() + "'");
    const std::string folder = p.parent_path().filename().string();
    if (int h = heads_from_name(folder)) return guessed(h, "the folder name '" + folder + "'");
  }
  if (src.width_default) return guessed(src.width_default, "the width " + std::to_string(C) + " of the official models");
  return guessed(std::max<int>(1, int(C / 64)), "the width " + std::to_string(C) + " at 64 dimensions per head");
}

void read_patch_embedding(const TensorInfo& pe, const std::string& weights_file, VitConfig& c) {
  if (pe.shape.size() != 4 || pe.shape[2] != pe.shape[3])
    throw ModelError(weights_file + ": tensor '" + pe.name + "': expected [C,Cin,P,P] with square patches, found " +
                     pe.shape_str());
  c.embed_dim = int(pe.shape[0]);
  c.in_chans = int(pe.shape[1]);
  c.patch = int(pe.shape[2]);
}

void check_config_size(const std::string& file, const std::string& key, int stated, int found,
                       const std::string& tensor) {
  if (stated > 0 && stated != found)
    throw ModelError(file + ": " + key + " is " + std::to_string(stated) + " but tensor '" + tensor + "' implies " +
                     std::to_string(found));
}

int json_int(const nlohmann::json& j, const char* key, int fallback, const std::string& file) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > (1 << 24))
    throw ModelError(file + ": '" + key + "' must be a non-negative integer, found " + j[key].dump());
  return j[key].get<int>();
}

float json_float(const nlohmann::json& j, const char* key, float fallback, const std::string& file) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) throw ModelError(file + ": '" + key + "' must be a number, found " + j[key].dump());
  return j[key].get<float>();
}

std::vector<std::string> imagenet_labels() {
  std::string p = find_asset("labels/imagenet1k.txt");
  std::vector<std::string> out;
  if (p.empty()) return out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  if (out.size() != 1000) out.clear();
  return out;
}

namespace {

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw ModelError(p.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(ss.str());
    if (!j.is_object()) throw ModelError(p.string() + ": not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(p.string() + ": invalid JSON: " + e.what());
  }
}

// PaddleClas keeps its config as YAML (ppcls/configs/.../ViT_*.yaml): the only .yaml/.yml
// file beside the weights, or the one whose name begins the weights file's name
// (ViT_base_patch16_224.yaml for ViT_base_patch16_224_pretrained.pdparams).
std::string find_yaml_config(const fs::path& dir, const std::string& weights, std::vector<std::string>& warnings) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) found.push_back(e.path());
  }
  if (found.size() == 1) return found[0].string();
  const std::string stem = fs::path(weights).filename().string();
  for (const auto& y : found)
    if (stem.rfind(y.stem().string(), 0) == 0) return y.string();
  if (found.size() > 1)
    warnings.push_back(dir.string() + " holds several YAML files and none is named after " + stem +
                       "; none of them is read");
  return "";
}

std::string detect_layout(const TensorFile& f) {
  // nn.TransformerEncoder and PaddleClas ViTs share timm's patch_embed.proj name: test for
  // them first (PaddleClas stores Linear weights [in,out]: qkv is [C,3C], timm's [3C,C]).
  if (f.find("encoder.layers.0.self_attn.in_proj_weight")) return "nn_encoder";
  if (f.find("patch_embedding.patch_embedding.weight")) return "paddle_tutorial";
  const TensorInfo* pe = f.find("patch_embed.proj.weight");
  const TensorInfo* qkv = f.find("blocks.0.attn.qkv.weight");
  if (pe && qkv && pe->shape.size() == 4 && qkv->shape.size() == 2 && qkv->shape[0] == pe->shape[0] &&
      qkv->shape[1] == 3 * pe->shape[0])
    return "paddleclas";
  for (const char* timm : {"patch_embed.proj.weight"})
    if (f.find(timm)) return "timm";
  for (const char* prefix : {"", "vit.", "deit.", "dinov2.", "model."})
    if (f.find(std::string(prefix) + "embeddings.patch_embeddings.projection.weight")) return "hf";
  if (f.find("conv_proj.weight")) return "torchvision";
  std::string first = f.tensors().empty() ? "(none)" : f.tensors().front().name;
  throw ModelError(f.path() + ": not a recognised ViT checkpoint: no patch-embedding tensor "
                   "('patch_embed.proj.weight' for timm, 'embeddings.patch_embeddings.projection.weight' "
                   "for Hugging Face, 'conv_proj.weight' for torchvision, 'encoder.layers.0.self_attn.in_proj_weight' for "
                   "nn.TransformerEncoder, 'patch_embedding.patch_embedding.weight' for the Paddle tutorial); first "
                   "tensor is '" + first + "'");
}

void validate(const std::string& path, const VitConfig& c) {
  auto bad = [&](const std::string& m) { throw ModelError(path + ": " + m); };
  if (c.embed_dim <= 0 || c.depth <= 0 || c.patch <= 0) bad("empty model dimensions");
  if (c.num_heads <= 0 || c.embed_dim % c.num_heads != 0)
    bad("embedding width " + std::to_string(c.embed_dim) + " is not divisible by " +
        std::to_string(c.num_heads) + " heads (use --heads to override)");
  if (c.img_h < c.patch || c.img_w < c.patch)
    bad("input " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
        " is smaller than one " + std::to_string(c.patch) + "-pixel patch");
  if (c.img_h > 8192 || c.img_w > 8192) bad("input size over 8192 pixels is not supported");
  if (c.pre.mean.size() != size_t(c.in_chans) || c.pre.std.size() != size_t(c.in_chans))
    bad("mean/std have " + std::to_string(c.pre.mean.size()) + "/" + std::to_string(c.pre.std.size()) +
        " values for " + std::to_string(c.in_chans) + " input channels");
  for (float s : c.pre.std)
    if (!(s > 0)) bad("std values must be positive");
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_tanh" && c.hidden_act != "relu")
    bad("activation '" + c.hidden_act + "' is not supported (gelu, gelu_tanh or relu)");
}

}  // namespace

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  LoadedModel m;
  fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) throw ModelError(path + ": no such file or directory");
  fs::path dir;
  if (fs::is_directory(p, ec)) {
    dir = p;
    // Search order (README "File formats"): model.safetensors, any other .safetensors,
    // pytorch_model.bin, other PyTorch files (.pth .pt .bin .pth.tar), .pdparams, .npz. The
    // first rank that has files must have exactly one; files of later ranks are skipped
    // with a warning.
    auto rank = [](std::string n) {
      for (char& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
      auto ends = [&](const char* e) { return n.size() > std::strlen(e) && n.compare(n.size() - std::strlen(e), std::string::npos, e) == 0; };
      if (n == "model.safetensors") return 0;
      if (ends(".safetensors")) return 1;
      if (n == "pytorch_model.bin") return 2;
      if (ends(".pth") || ends(".pt") || ends(".bin") || ends(".pth.tar")) return 3;
      if (ends(".pdparams")) return 4;
      return 5;
    };
    std::vector<fs::path> found;
    if (fs::exists(p / "model.safetensors", ec)) found.push_back(p / "model.safetensors");  // even a bad one
    else
      for (auto& e : fs::directory_iterator(p, ec))
        if (e.is_regular_file(ec) && is_weight_file_name(e.path().filename().string())) found.push_back(e.path());
    if (found.empty())
      throw ModelError(path + ": folder holds no weights file (model.safetensors, or one .safetensors, .npz, "
                       ".pth, .pt, .bin, .pdparams or .pth.tar file)");
    std::sort(found.begin(), found.end(), [&](const fs::path& a, const fs::path& b) {
      int ra = rank(a.filename().string()), rb = rank(b.filename().string());
      return ra != rb ? ra < rb : a < b;
    });
    const int best = rank(found[0].filename().string());
    if (found.size() > 1 && rank(found[1].filename().string()) == best)
      throw ModelError(path + ": folder holds several weights files of the same kind ('" +
                       found[0].filename().string() + "', '" + found[1].filename().string() +
                       "'); give the file's path instead");
    fs::path st = found[0];
    if (found.size() > 1 && best > 0) {
      std::string skipped;
      for (size_t i = 1; i < found.size(); ++i) skipped += (i > 1 ? ", '" : "'") + found[i].filename().string() + "'";
      m.warnings.push_back(path + ": using '" + st.filename().string() + "'; also in the folder: " + skipped);
    }
    m.path = st.string();
  } else {
    dir = p.parent_path();
    if (dir.empty()) dir = ".";
    m.path = p.string();
  }
  m.file = open_tensor_file(m.path, options.checkpoint_key);
  if (auto* pickled = dynamic_cast<const PickledCheckpoint*>(m.file.get()))  // where the weights were found
    m.warnings.insert(m.warnings.end(), pickled->notes().begin(), pickled->notes().end());

  const std::string layout = detect_layout(*m.file);
  nlohmann::json config = nlohmann::json::object(), pre = nlohmann::json::object();
  fs::path cfg_path = dir / "config.json";
  const std::string yaml = layout == "paddleclas" ? find_yaml_config(dir, m.path, m.warnings) : "";
  if (fs::exists(cfg_path, ec)) {
    config = read_json(cfg_path);
    m.config_path = cfg_path.string();
  } else if (!yaml.empty()) {
    config = read_yaml_file(yaml);
    if (!config.is_object()) throw ModelError(yaml + ": not a YAML mapping");
    m.config_path = yaml;
  } else {
    m.warnings.push_back("no config.json next to " + m.path + "; dimensions inferred from the tensors");
  }
  fs::path pre_path = dir / "preprocessor_config.json";
  if (fs::exists(pre_path, ec)) pre = read_json(pre_path);

  TensorSet tensors(*m.file);
  LayoutInput in{tensors, config, pre, options, m.warnings, m.config_path.empty() ? m.path : m.config_path};
  m.config.layout = layout;
  try {
    if (layout == "timm")
      load_timm(in, m.config, m.weights);
    else if (layout == "hf")
      load_hf(in, m.config, m.weights);
    else if (layout == "nn_encoder")
      load_nn_encoder(in, m.config, m.weights);
    else if (layout == "paddleclas")
      load_paddleclas(in, m.config, m.weights);
    else if (layout == "paddle_tutorial")
      load_paddle_tutorial(in, m.config, m.weights);
    else
      load_torchvision(in, m.config, m.weights);
  } catch (const nlohmann::json::exception& e) {  // e.g. a string where a number belongs
    throw ModelError(in.config_path + ": a config value has the wrong type (" + e.what() + ")");
  }
  tensors.finish(layout);
  for (const auto& t : m.file->tensors())  // NaN/Inf weights: the model runs, outputs may be NaN
    if (uint64_t bad = m.file->count_nonfinite(t))
      m.warnings.push_back(m.path + ": tensor '" + t.name + "' has " + std::to_string(bad) +
                           " NaN or infinite value(s); outputs may be NaN");

  if (m.config.labels.empty() && m.config.num_classes == 1000) m.config.labels = imagenet_labels();
  if (!m.config.labels.empty() && int(m.config.labels.size()) != m.config.num_classes) {
    m.warnings.push_back("config lists " + std::to_string(m.config.labels.size()) + " labels for " +
                         std::to_string(m.config.num_classes) + " classes; labels ignored");
    m.config.labels.clear();
  }
  validate(m.path, m.config);
  return m;
}

}  // namespace vitscope
