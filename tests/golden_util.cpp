#include "golden_util.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "io/npy.h"
#include "model/safetensors.h"
#include "vit.h"

namespace vitscope::test {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  return nlohmann::json::parse(in);
}

}  // namespace

GoldenCase golden_case(const std::string& name) {
  GoldenCase c;
  c.name = name;
  c.dir = source_dir() + "/tests/golden/" + name;
  c.meta = read_json_file(c.dir + "/meta.json");
  c.model_dir = c.meta.contains("model") ? source_dir() + "/" + c.meta["model"].get<std::string>() : c.dir;
  c.framework = c.meta.value("framework", std::string());
  c.output = fs::exists(c.dir + "/logits.npy") ? "logits.npy" : "features.npy";
  return c;
}

std::vector<GoldenCase> golden_cases() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(source_dir() + "/tests/golden")) {
    if (!e.is_directory() || !fs::exists(e.path() / "meta.json")) continue;
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<GoldenCase> out;
  for (const auto& n : names) {
    GoldenCase c = golden_case(n);
    if (fs::exists(c.model_dir + "/model.safetensors") && fs::exists(c.dir + "/input.npy")) out.push_back(c);
  }
  return out;
}

LoadOptions golden_load_options(const GoldenCase& c) {
  NpyArray input = read_npy(c.dir + "/input.npy");
  REQUIRE(input.shape.size() == 4);
  LoadOptions o;
  o.height = int(input.shape[2]);
  o.width = int(input.shape[3]);
  if (c.framework == "torchvision" && !fs::exists(c.model_dir + "/config.json"))
    o.heads = c.meta.at("num_heads").get<int>();
  return o;
}

GoldenResult check_golden_case(const GoldenCase& c, double out_rtol, double attn_atol) {
  INFO("golden case " << c.name << " (" << c.framework << ")");
  NpyArray input = read_npy(c.dir + "/input.npy");
  NpyArray ref = read_npy(c.dir + "/" + c.output);
  const bool has_attention = fs::exists(c.dir + "/attention.npy");
  LoadedModel lm = load_model(c.model_dir, golden_load_options(c));
  const int batch = int(input.shape[0]);
  VitModel model(context(), std::move(lm));
  ForwardOptions fo;
  fo.keep_attention = has_attention;
  ForwardResult r = model.forward(input.data.data(), batch, fo);

  GoldenResult g;
  check_close(r.logits, ref.data, 0, out_rtol, c.name + " " + c.output + " vs PyTorch");
  g.output = compare(r.logits, ref.data);
  g.output_tol = out_rtol * g.output.max_ref;
  bool ok = r.logits.size() == ref.data.size() && g.output.max_abs <= g.output_tol;
  if (has_attention) {
    // Reference: (L, H, N, N) for batch item 0; the engine returns (L, B, H, N, N).
    NpyArray att = read_npy(c.dir + "/attention.npy");
    const VitConfig& cfg = model.config();
    const size_t L = size_t(cfg.depth), one = size_t(cfg.num_heads) * cfg.tokens() * cfg.tokens();
    std::vector<float> first(L * one);
    for (size_t l = 0; l < L && (l + 1) * one * batch <= r.attention.size(); ++l)
      std::copy_n(r.attention.begin() + long(l * one * batch), one, first.begin() + long(l * one));
    check_close(first, att.data, attn_atol, 0, c.name + " attention vs PyTorch");
    g.attention = compare(first, att.data);
    g.attention_tol = attn_atol;
    ok = ok && first.size() == att.data.size() && g.attention.max_abs <= attn_atol;
  }
  g.passed = ok;
  require_no_validation_messages();
  return g;
}

std::map<std::string, TensorF32> read_tensors(const std::string& path) {
  SafetensorsFile f(path);
  std::map<std::string, TensorF32> out;
  for (const auto& t : f.tensors()) out[t.name] = TensorF32{t.shape, f.read_f32(t)};
  return out;
}

void write_model_dir(const std::string& src_dir, const std::string& dst_dir,
                     const std::map<std::string, TensorF32>& tensors) {
  fs::create_directories(dst_dir);
  for (const char* name : {"config.json", "preprocessor_config.json"})
    if (fs::exists(src_dir + "/" + name))
      fs::copy_file(src_dir + "/" + name, dst_dir + "/" + name, fs::copy_options::overwrite_existing);
  write_safetensors(dst_dir + "/model.safetensors", tensors);
}

}  // namespace vitscope::test
