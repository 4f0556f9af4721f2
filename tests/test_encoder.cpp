// ViTs built on torch's nn.TransformerEncoder (issue 14 item 6): post-norm/ReLU and
// pre-norm/GELU models saved by torch itself (tools/make_encoder_goldens.py) against the
// outputs torch gave, their `preprocess` object against torchvision's transforms, and the
// config.json keys' errors.
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "golden_util.h"
#include "image.h"
#include "io/npy.h"
#include "vit.h"

using namespace vitscope;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  return nlohmann::json::parse(in);
}

// A copy of a golden model folder with its config.json replaced.
std::string with_config(const std::string& golden, const nlohmann::json& cfg, const std::string& name) {
  const std::string src = test::source_dir() + "/tests/golden/" + golden;
  const std::string dir = test::temp_dir(name);
  fs::copy_file(src + "/model.safetensors", dir + "/model.safetensors");
  if (!cfg.is_null()) std::ofstream(dir + "/config.json") << cfg.dump(1);
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

TEST_CASE("nn.TransformerEncoder: post-norm ReLU and pre-norm GELU models match torch") {
  for (const char* name : {"enc_postnorm_relu", "enc_prenorm_gelu"}) {
    test::GoldenCase c = test::golden_case(name);
    REQUIRE(c.framework == "nn_encoder");
    LoadedModel lm = load_model(c.model_dir);
    CHECK(lm.config.layout == "nn_encoder");
    CHECK(lm.warnings.empty());
    test::GoldenResult g = test::check_golden_case(c);
    MESSAGE(std::string(name) << ": logits max|diff| " << g.output.max_abs << " (bound " << g.output_tol << "), attention max|diff| "
                 << g.attention.max_abs);
  }
  const VitConfig post = load_model(test::golden_case("enc_postnorm_relu").model_dir).config;
  CHECK(!post.norm_first);
  CHECK(post.hidden_act == "relu");
  CHECK(post.eps == doctest::Approx(1e-5));
  CHECK(!post.final_norm);
  const VitConfig pre = load_model(test::golden_case("enc_prenorm_gelu").model_dir).config;
  CHECK(pre.norm_first);
  CHECK(pre.hidden_act == "gelu");
  CHECK(pre.final_norm);
  CHECK(pre.num_heads == 3);
}

TEST_CASE("nn.TransformerEncoder: the preprocess object matches torchvision's transforms") {
  const std::string dir = test::source_dir() + "/tests/golden/enc_preprocess";
  auto index = read_json(dir + "/cases.json");
  REQUIRE(index["cases"].size() >= 4);
  for (const auto& c : index["cases"]) {
    const std::string name = c["case"];
    nlohmann::json cfg = read_json(test::source_dir() + "/tests/golden/enc_postnorm_relu/config.json");
    cfg["preprocess"] = c["preprocess"];
    const std::string model = with_config("enc_postnorm_relu", cfg, "enc-pre-" + name);
    LoadOptions o;
    o.height = c["img_size"][0];
    o.width = c["img_size"][1];
    LoadedModel lm = load_model(model, o);
    Preprocessed p = preprocess(load_image(test::source_dir() + "/tests/golden/" + c["source"].get<std::string>()),
                                lm.config.pre, 3);
    NpyArray want = read_npy(dir + "/" + name + ".npy");
    REQUIRE(want.shape == std::vector<int64_t>{3, o.height, o.width});
    test::check_close(p.tensor, want.data, 1e-5, 0, name + " (" + p.description + ")");
    fs::remove_all(model);
  }
}

TEST_CASE("nn.TransformerEncoder: defaults without config.json, and config errors name the key") {
  // No config: torch's defaults (post-norm, ReLU, eps 1e-5), heads guessed, each said in a warning.
  std::string dir = with_config("enc_postnorm_relu", nullptr, "enc-noconfig");
  LoadedModel lm = load_model(dir);
  CHECK(!lm.config.norm_first);
  CHECK(lm.config.hidden_act == "relu");
  CHECK(lm.config.img_h == 32);
  std::string all;
  for (const auto& w : lm.warnings) all += w + "\n";
  CHECK(all.find("post-norm, ReLU") != std::string::npos);
  CHECK(all.find("head count not stated") != std::string::npos);
  CHECK(all.find("preprocess") != std::string::npos);
  fs::remove_all(dir);

  nlohmann::json base = read_json(test::source_dir() + "/tests/golden/enc_postnorm_relu/config.json");
  struct Bad {
    const char* key;
    nlohmann::json value;
    const char* says;
  };
  for (const Bad& b : {Bad{"activation", "swish", "activation 'swish'"}, Bad{"norm_first", "yes", "'norm_first'"},
                       Bad{"embed_dim", 48, "embed_dim is 48"}, Bad{"depth", 3, "depth is 3"},
                       Bad{"mlp_dim", 128, "mlp_dim is 128"}, Bad{"final_norm", true, "encoder.norm.weight"},
                       Bad{"num_classes", 5, "num_classes is 5"},
                       Bad{"preprocess", {{"resize", "big"}}, "preprocess.resize"},
                       Bad{"preprocess", {{"crop", 16}}, "preprocess.crop 16x16"},
                       Bad{"preprocess", {{"interpolation", "lanczos"}}, "preprocess.interpolation"},
                       Bad{"preprocess", {{"mean", {0.5, 0.5}}}, "preprocess.mean"},
                       Bad{"preprocess", {{"size", 3}}, "unknown key preprocess.size"}}) {
    nlohmann::json cfg = base;
    cfg[b.key] = b.value;
    dir = with_config("enc_postnorm_relu", cfg, "enc-bad");
    const std::string e = load_error(dir);
    CHECK_MESSAGE(e.find(b.says) != std::string::npos, b.key << ": " << e);
    CHECK_MESSAGE(e.find("config.json") != std::string::npos, e);
    fs::remove_all(dir);
  }
}
