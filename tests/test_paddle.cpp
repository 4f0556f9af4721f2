// PaddlePaddle checkpoints (issue 14 items 4 and 5): PaddleClas's YAML configs read with
// yaml-cpp into the JSON structure the loaders take; PaddleClas and seed 000's tutorial ViTs
// against Paddle's maths; PaddleClas's OpenCV preprocessing against cv2.
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "golden_util.h"
#include "image.h"
#include "io/npy.h"
#include "model/yaml_config.h"
#include "vit.h"

using namespace vitscope;

TEST_CASE("yaml: PaddleClas config values keep their YAML types") {
  const char* text = R"(Arch:
  name: ViT_base_patch16_224
  class_num: 1000
  qkv_bias: True
  epsilon: 1.0e-6
  mlp_ratio: 4.0
Infer:
  transforms:
    - DecodeImage:
        to_rgb: True
        channel_first: False
    - ResizeImage:
        resize_short: 256
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.5, 0.5, 0.5]
        order: ''
        quoted: "12"
    - ToCHWImage:
)";
  nlohmann::json j = parse_yaml(text, "ViT.yaml");
  CHECK(j["Arch"]["name"] == "ViT_base_patch16_224");
  CHECK(j["Arch"]["class_num"].is_number_integer());
  CHECK(j["Arch"]["class_num"] == 1000);
  CHECK(j["Arch"]["qkv_bias"] == true);
  CHECK(j["Arch"]["epsilon"].get<double>() == doctest::Approx(1e-6));
  CHECK(j["Arch"]["mlp_ratio"].is_number_float());
  const auto& t = j["Infer"]["transforms"];
  REQUIRE(t.size() == 4);
  CHECK(t[0]["DecodeImage"]["channel_first"] == false);
  CHECK(t[1]["ResizeImage"]["resize_short"] == 256);
  CHECK(t[2]["NormalizeImage"]["scale"] == "1.0/255.0");  // PaddleClas evaluates this text
  CHECK(t[2]["NormalizeImage"]["mean"] == nlohmann::json::array({0.5, 0.5, 0.5}));
  CHECK(t[2]["NormalizeImage"]["order"] == "");
  CHECK(t[2]["NormalizeImage"]["quoted"] == "12");
  CHECK(t[3]["ToCHWImage"].is_null());
}

TEST_CASE("yaml: syntax errors and hostile documents name the file") {
  auto error = [](const std::string& text) {
    try {
      parse_yaml(text, "bad.yaml");
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error("Arch: [1, 2\n").find("bad.yaml: invalid YAML at line") == 0);
  CHECK(error("a: b: c\n").find("bad.yaml: invalid YAML") == 0);
  std::string deep(200, '[');
  CHECK(error(deep).find("bad.yaml") == 0);
  // A "billion laughs" of aliases is cut off, not expanded.
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c)
    laughs += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
              ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
              char(c - 1) + "]\n";
  CHECK(error(laughs).find("bad.yaml: YAML document has over") == 0);
}

// ---------------------------------------------------------------------------------------
// Models written by tools/make_paddle_goldens.py (Paddle's model code in PyTorch, state
// dicts with Paddle's [in, out] Linear weights, saved by np.savez).

namespace {

std::string arch_yaml(const std::string& transforms, const std::string& arch_extra = "") {
  return "Arch:\n  name: VisionTransformer\n  img_size: 32\n  patch_size: 8\n  embed_dim: 32\n  depth: 2\n"
         "  num_heads: 4\n  mlp_ratio: 2\n  qkv_bias: True\n  epsilon: 1.0e-6\n  class_num: 10\n" +
         arch_extra + "Infer:\n  transforms:\n" + transforms;
}

// A copy of the paddle_clas model with `yaml` as its config.
std::string paddle_dir(const std::string& yaml, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir(name);
  fs::copy_file(test::source_dir() + "/tests/golden/paddle_clas/model.npz", dir + "/ViT_test_pretrained.npz");
  std::ofstream(dir + "/ViT_test.yaml") << yaml;
  return dir;
}

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("paddle: a PaddleClas ViT (.npz, [in,out] Linears, YAML config) matches Paddle's maths") {
  test::GoldenCase c = test::golden_case("paddle_clas");
  LoadedModel lm = load_model(c.model_dir);
  CHECK(lm.config.layout == "paddleclas");
  CHECK(lm.config_path.find("ViT_test_patch8_32.yaml") != std::string::npos);
  CHECK(lm.warnings.empty());
  CHECK(lm.config.eps == doctest::Approx(1e-6));
  CHECK(lm.config.num_heads == 4);
  CHECK(lm.config.pre.pipeline == "paddle");
  CHECK(lm.config.pre.opencv);
  CHECK(lm.config.pre.resize_shortest == 40);
  test::GoldenResult g = test::check_golden_case(c);
  MESSAGE("paddle_clas: logits max|diff| " << g.output.max_abs << " (bound " << g.output_tol << "), attention "
                                           << g.attention.max_abs);
}

TEST_CASE("paddle: seed 000's tutorial ViT runs as its code does (no position embedding, 4 heads, eps 1e-5)") {
  test::GoldenCase c = test::golden_case("paddle_tutorial");
  LoadedModel lm = load_model(c.model_dir);
  CHECK(lm.config.layout == "paddle_tutorial");
  CHECK(lm.config.num_heads == 4);
  CHECK(lm.config.eps == doctest::Approx(1e-5));
  CHECK(!lm.config.has_pos_embed);
  std::string all;
  for (const auto& w : lm.warnings) all += w + "\n";
  CHECK(all.find("never adds patch_embedding.position_embedding") != std::string::npos);
  test::GoldenResult g = test::check_golden_case(c);
  MESSAGE("paddle_tutorial: logits max|diff| " << g.output.max_abs << " (bound " << g.output_tol << ")");

  // config.json overrides: the table added, another head count, another epsilon.
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir("paddle-tutorial-config");
  fs::copy_file(c.model_dir + "/model.npz", dir + "/model.npz");
  std::ofstream(dir + "/config.json") << R"({"add_position_embedding": true, "num_heads": 2, "layer_norm_eps": 1e-6})";
  LoadedModel o = load_model(dir);
  CHECK(o.config.has_pos_embed);
  CHECK(o.config.num_heads == 2);
  CHECK(o.config.eps == doctest::Approx(1e-6));
  for (const auto& w : o.warnings) CHECK(w.find("as its code runs it") == std::string::npos);
  NpyArray input = read_npy(c.dir + "/input.npy");
  VitModel m(test::context(), std::move(o));
  auto r = m.forward(input.data.data(), 1);
  NpyArray ref = read_npy(c.dir + "/logits.npy");
  CHECK(test::compare(r.logits, ref.data).max_abs > 1e-3);  // a different model now
  fs::remove_all(dir);
}

TEST_CASE("paddle: PaddleClas's eval transforms match cv2 + numpy (ResizeImage, CropImage, NormalizeImage)") {
  const std::string dir = test::source_dir() + "/tests/golden/paddle_preprocess";
  std::ifstream in(dir + "/cases.json");
  REQUIRE(in);
  auto index = nlohmann::json::parse(in);
  REQUIRE(index["cases"].size() >= 4);
  for (const auto& c : index["cases"]) {
    const std::string name = c["case"];
    const int crop = c["crop"];
    std::string t = "    - DecodeImage:\n        to_rgb: " + std::string(c["to_rgb"].get<bool>() ? "True" : "False") +
                    "\n        channel_first: False\n    - ResizeImage:\n        resize_short: " +
                    std::to_string(c["resize_short"].get<int>()) + "\n    - CropImage:\n        size: " +
                    std::to_string(crop) + "\n    - NormalizeImage:\n        scale: 1.0/255.0\n        mean: " +
                    c["mean"].dump() + "\n        std: " + c["std"].dump() + "\n        order: ''\n    - ToCHWImage:\n";
    const std::string model = paddle_dir(arch_yaml(t), "paddle-pre-" + name);
    LoadOptions o;
    o.height = o.width = crop;
    LoadedModel lm = load_model(model, o);
    Preprocessed p = preprocess(load_image(test::source_dir() + "/tests/golden/" + c["source"].get<std::string>()),
                                lm.config.pre, 3);
    NpyArray want = read_npy(dir + "/" + name + ".npy");
    REQUIRE(want.shape == std::vector<int64_t>{3, crop, crop});
    test::check_close(p.tensor, want.data, 1e-5, 0, name + " (" + p.description + ")");
    std::filesystem::remove_all(model);
  }
}

TEST_CASE("paddle: config problems name the YAML file and the field") {
  const std::string plain = "    - ToCHWImage:\n";
  struct Bad {
    std::string yaml, says;
  };
  for (const Bad& b : {
           Bad{"Arch:\n  name: ViT_base_patch16_224\n  class_num: 10\n", "Arch ViT_base_patch16_224 embed_dim is 768"},
           Bad{"Arch:\n  name: ViT_small_patch16_224\n", "Arch ViT_small_patch16_224 embed_dim is 768"},
           Bad{arch_yaml(plain, "  qk_scale: 0.05\n"), "qk_scale"},
           Bad{"Arch:\n  name: VisionTransformer\n  depth: 3\n", "Arch depth is 3"},
           Bad{arch_yaml("    - RandCropImage:\n        size: 32\n"), "transform 'RandCropImage' is not supported"},
           Bad{arch_yaml("    - CropImage:\n        size: 24\n"), "CropImage size 24x24 differs"},
           Bad{arch_yaml("    - ResizeImage:\n        resize_short: 40\n        interpolation: bicubic\n"),
               "interpolation 'bicubic' is not supported"},
           Bad{arch_yaml("    - NormalizeImage:\n        scale: 1.0/x\n"), "NormalizeImage scale"},
           Bad{"Arch: [unclosed\n", "invalid YAML at line"}}) {
    const std::string dir = paddle_dir(b.yaml, "paddle-bad");
    const std::string e = load_error(dir);
    CHECK_MESSAGE(e.find(b.says) != std::string::npos, e);
    CHECK_MESSAGE(e.find("ViT_test.yaml") != std::string::npos, e);
    std::filesystem::remove_all(dir);
  }
}
