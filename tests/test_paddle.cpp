// PaddlePaddle checkpoints (issue 14 items 4 and 5): PaddleClas's YAML configs read with
// yaml-cpp into the JSON structure the loaders take.
#include "core/error.h"
#include "model/yaml_config.h"
#include "testutil.h"

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
