// Whole random-weight ViTs (timm naming, written by the test) on the GPU against the
// CPU reference forward pass, for each variant the engine supports.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ref/cpu_ops.h"
#include "testutil.h"
#include "vit.h"

using namespace vitscope;

namespace {

struct Variant {
  std::string name;
  int C = 32, L = 2, H = 4, P = 4, img = 16, Cin = 3, classes = 7, mlp = 64;
  bool dist = false, layer_scale = false, qkv_bias = true, avg = false, headless = false;
  int registers = 0;
  bool no_embed_class = false;
  // Block style and MLP activation, set on the loaded config (timm files are pre-norm GELU).
  bool norm_first = true;
  std::string act = "gelu";
};

std::string write_model(const Variant& v, uint32_t seed) {
  std::map<std::string, test::TensorF32> t;
  uint32_t s = seed;
  auto rnd = [&](std::vector<int64_t> shape, float scale, float offset = 0.f) {
    size_t n = 1;
    for (auto d : shape) n *= size_t(d);
    return test::TensorF32{shape, test::random_vector(n, s++, scale, offset)};
  };
  const int64_t C = v.C, M = v.mlp, G = (v.img / v.P) * (v.img / v.P);
  int T = 1 + (v.dist ? 1 : 0) + v.registers;
  t["patch_embed.proj.weight"] = rnd({C, v.Cin, v.P, v.P}, 0.2f);
  t["patch_embed.proj.bias"] = rnd({C}, 0.1f);
  t["cls_token"] = rnd({1, 1, C}, 0.5f);
  if (v.dist) t["dist_token"] = rnd({1, 1, C}, 0.5f);
  if (v.registers) t["reg_token"] = rnd({1, v.registers, C}, 0.5f);
  t["pos_embed"] = rnd({1, (v.no_embed_class ? 0 : T) + G, C}, 0.3f);
  for (int i = 0; i < v.L; ++i) {
    std::string b = "blocks." + std::to_string(i) + ".";
    t[b + "norm1.weight"] = rnd({C}, 0.1f, 1.f);
    t[b + "norm1.bias"] = rnd({C}, 0.1f);
    t[b + "attn.qkv.weight"] = rnd({3 * C, C}, 0.3f);
    if (v.qkv_bias) t[b + "attn.qkv.bias"] = rnd({3 * C}, 0.1f);
    t[b + "attn.proj.weight"] = rnd({C, C}, 0.2f);
    t[b + "attn.proj.bias"] = rnd({C}, 0.1f);
    t[b + "norm2.weight"] = rnd({C}, 0.1f, 1.f);
    t[b + "norm2.bias"] = rnd({C}, 0.1f);
    t[b + "mlp.fc1.weight"] = rnd({M, C}, 0.2f);
    t[b + "mlp.fc1.bias"] = rnd({M}, 0.1f);
    t[b + "mlp.fc2.weight"] = rnd({C, M}, 0.15f);
    t[b + "mlp.fc2.bias"] = rnd({C}, 0.1f);
    if (v.layer_scale) {
      t[b + "ls1.gamma"] = rnd({C}, 0.3f, 0.5f);
      t[b + "ls2.gamma"] = rnd({C}, 0.3f, 0.5f);
    }
  }
  t[v.avg ? "fc_norm.weight" : "norm.weight"] = rnd({C}, 0.1f, 1.f);
  t[v.avg ? "fc_norm.bias" : "norm.bias"] = rnd({C}, 0.1f);
  if (!v.headless) {
    t["head.weight"] = rnd({v.classes, C}, 0.2f);
    t["head.bias"] = rnd({v.classes}, 0.1f);
    if (v.dist) {
      t["head_dist.weight"] = rnd({v.classes, C}, 0.2f);
      t["head_dist.bias"] = rnd({v.classes}, 0.1f);
    }
  }
  std::string dir = test::temp_dir("model-" + v.name);
  test::write_safetensors(dir + "/model.safetensors", t);
  nlohmann::json margs = {{"img_size", v.img}, {"patch_size", v.P}, {"in_chans", v.Cin}, {"embed_dim", v.C},
                          {"depth", v.L}, {"num_heads", v.H}, {"mlp_ratio", double(v.mlp) / v.C},
                          {"qkv_bias", v.qkv_bias}};
  if (v.no_embed_class) margs["no_embed_class"] = true;
  if (v.registers) margs["reg_tokens"] = v.registers;
  nlohmann::json cfg = {{"architecture", "vit_test_" + v.name}, {"num_classes", v.headless ? 0 : v.classes},
                        {"global_pool", v.avg ? "avg" : "token"}, {"model_args", margs},
                        {"pretrained_cfg", {{"input_size", {v.Cin, v.img, v.img}}, {"crop_pct", 1.0},
                                            {"mean", std::vector<float>(size_t(v.Cin), 0.5f)},
                                            {"std", std::vector<float>(size_t(v.Cin), 0.5f)}}}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  return dir;
}

void check_variant(const Variant& v, int batch) {
  std::string dir = write_model(v, 100);
  LoadedModel lm = load_model(dir);
  lm.config.norm_first = v.norm_first;
  lm.config.hidden_act = v.act;
  const VitConfig c = lm.config;
  CHECK(c.num_heads == v.H);
  CHECK(c.tokens() == 1 + (v.dist ? 1 : 0) + v.registers + (v.img / v.P) * (v.img / v.P));
  auto input = test::random_vector(size_t(batch) * v.Cin * v.img * v.img, 7);
  auto want = ref::vit_forward(c, lm.weights, input.data(), batch);
  VitModel model(test::context(), std::move(lm));
  ForwardOptions fo;
  fo.keep_attention = true;
  auto r = model.forward(input.data(), batch, fo);
  test::check_close(r.logits, want.logits, 1e-5, 1e-4, v.name + " logits/features");
  test::check_close(r.attention, want.attention, 1e-5, 0, v.name + " attention");
  if (!v.headless) {
    // Probabilities sum to one per image.
    for (int b = 0; b < batch; ++b) {
      double s = 0;
      for (int k = 0; k < v.classes; ++k) s += r.probs[size_t(b) * v.classes + k];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
  // A second forward replays the recorded pass and gives the same numbers.
  auto r2 = model.forward(input.data(), batch, fo);
  CHECK(r2.logits == r.logits);
  test::require_no_validation_messages();
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("random ViT: class token, batch 1 and 3") {
  Variant v;
  v.name = "plain";
  check_variant(v, 1);
  check_variant(v, 3);
}

TEST_CASE("random ViT: distilled (DeiT) two heads averaged") {
  Variant v;
  v.name = "distilled";
  v.dist = true;
  check_variant(v, 2);
}

TEST_CASE("random ViT: registers, no_embed_class, LayerScale, headless (DINOv2-style)") {
  Variant v;
  v.name = "dinov2reg";
  v.registers = 4;
  v.no_embed_class = true;
  v.layer_scale = true;
  v.headless = true;
  check_variant(v, 1);
}

TEST_CASE("random ViT: average pooling with fc_norm, no qkv bias, grey input, odd sizes") {
  Variant v;
  v.name = "avgpool";
  v.avg = true;
  v.qkv_bias = false;
  v.Cin = 1;
  v.C = 30;
  v.H = 5;
  v.mlp = 50;
  v.img = 20;
  v.P = 5;
  v.classes = 13;
  check_variant(v, 2);
}

TEST_CASE("random ViT: post-norm blocks with ReLU (nn.TransformerEncoderLayer's default)") {
  Variant v;
  v.name = "postnorm_relu";
  v.norm_first = false;
  v.act = "relu";
  check_variant(v, 2);
}

TEST_CASE("random ViT: post-norm with tanh GELU, pre-norm with ReLU and with tanh GELU") {
  Variant v;
  v.name = "postnorm_gelu_tanh";
  v.norm_first = false;
  v.act = "gelu_tanh";
  v.C = 64;
  v.mlp = 128;
  check_variant(v, 1);
  v = Variant{};
  v.name = "prenorm_relu";
  v.act = "relu";
  check_variant(v, 1);
  v.name = "prenorm_gelu_tanh";
  v.act = "gelu_tanh";
  check_variant(v, 1);
}
