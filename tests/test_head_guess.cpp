// Fixes from issue 14 item 9: (a) a head count that is only guessed (from an architecture,
// file or folder name, or the width) says so in a warning naming where it came from, and a
// config.json {"num_heads": N} or --heads comes first for every layout; (b) a timm model
// built with dynamic_img_size runs an image at pretrained_cfg.input_size, as timm does.
#include <filesystem>
#include <fstream>

#include "golden_util.h"
#include "io/npy.h"
#include "vit.h"

using namespace vitscope;
namespace fs = std::filesystem;

namespace {

// Copies golden case `golden`'s model.safetensors into <temp>/<folder>/<file>, with
// `config` as its config.json unless null.
std::string copy_model(const std::string& golden, const std::string& folder, const nlohmann::json& config,
                       const std::string& file = "model.safetensors") {
  const std::string dir = test::temp_dir("heads") + "/" + folder;
  fs::create_directories(dir);
  fs::copy_file(test::source_dir() + "/tests/golden/" + golden + "/model.safetensors", dir + "/" + file);
  if (!config.is_null()) std::ofstream(dir + "/config.json") << config.dump(1);
  return dir + "/" + file;
}

std::string warnings_of(const LoadedModel& m) {
  std::string all;
  for (const auto& w : m.warnings) all += w + "\n";
  return all;
}

nlohmann::json golden_config(const std::string& golden) {
  std::ifstream in(test::source_dir() + "/tests/golden/" + golden + "/config.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("heads: a guess from a folder or file name is a warning naming it; config.json and --heads come first") {
  // torchvision file (width 32) in a folder whose name says "small": 6 heads would not even
  // divide the width, so use an nn.TransformerEncoder file of width 48 for the guess itself.
  std::string path = copy_model("enc_prenorm_gelu", "runs_small", nullptr);
  LoadedModel m = load_model(path);
  CHECK(m.config.num_heads == 6);
  CHECK(warnings_of(m).find("guessed 6 from the folder name 'runs_small'") != std::string::npos);
  fs::remove_all(fs::path(path).parent_path().parent_path());

  path = copy_model("enc_prenorm_gelu", "runs", nullptr, "vit-tiny.safetensors");
  m = load_model(path);
  CHECK(m.config.num_heads == 3);
  CHECK(warnings_of(m).find("guessed 3 from the file name 'vit-tiny.safetensors'") != std::string::npos);
  fs::remove_all(fs::path(path).parent_path().parent_path());

  // {"num_heads": N} beside the file, and --heads, come before any guess, for every layout.
  for (const char* golden : {"tv_native", "hf_vit_classifier", "timm_resized", "enc_postnorm_relu"}) {
    nlohmann::json cfg = fs::exists(test::source_dir() + "/tests/golden/" + golden + "/config.json")
                             ? golden_config(golden)
                             : nlohmann::json::object();
    cfg["num_heads"] = 8;
    if (cfg.contains("model_args")) cfg["model_args"].erase("num_heads");
    cfg.erase("num_attention_heads");
    path = copy_model(golden, std::string(golden) + "_small", cfg);
    m = load_model(path);
    CHECK_MESSAGE(m.config.num_heads == 8, golden);
    CHECK_MESSAGE(warnings_of(m).find("head count") == std::string::npos, golden << ": " << warnings_of(m));
    LoadOptions o;
    o.heads = 2;
    CHECK_MESSAGE(load_model(path, o).config.num_heads == 2, golden);
    fs::remove_all(fs::path(path).parent_path().parent_path());
  }

  // timm: a count taken from the architecture name is a guess too.
  nlohmann::json cfg = golden_config("timm_resized");
  cfg["model_args"].erase("num_heads");
  cfg["architecture"] = "vit_large_patch8_48";
  path = copy_model("timm_resized", "timm", cfg);
  m = load_model(path);
  CHECK(m.config.num_heads == 16);
  CHECK(warnings_of(m).find("guessed 16 from the architecture name 'vit_large_patch8_48'") != std::string::npos);
  fs::remove_all(fs::path(path).parent_path().parent_path());
}

TEST_CASE("timm dynamic_img_size: an image runs at pretrained_cfg.input_size, the table resampled as timm does") {
  nlohmann::json cfg = golden_config("timm_resized");  // model_args.img_size 48, patch 8
  cfg["model_args"]["dynamic_img_size"] = true;
  cfg["pretrained_cfg"]["input_size"] = {3, 64, 40};
  std::string path = copy_model("timm_resized", "dynamic", cfg);
  LoadedModel dyn = load_model(path);
  CHECK(dyn.config.img_h == 64);
  CHECK(dyn.config.img_w == 40);
  CHECK(dyn.config.pos_grid_h == 6);
  CHECK(dyn.config.pre.height == 64);
  CHECK(dyn.config.pre.width == 40);
  // The same as running the fixed-size model at 64x40 (whose resampling is checked against
  // torch in the layout goldens).
  LoadOptions o;
  o.height = 64;
  o.width = 40;
  LoadedModel fixed = load_model(test::source_dir() + "/tests/golden/timm_resized", o);
  auto input = test::random_vector(size_t(3) * 64 * 40, 5);
  VitModel a(test::context(), std::move(dyn));
  auto ra = a.forward(input.data(), 1);
  VitModel b(test::context(), std::move(fixed));
  auto rb = b.forward(input.data(), 1);
  CHECK(ra.logits == rb.logits);
  // Without dynamic_img_size, timm runs at model_args.img_size.
  cfg["model_args"].erase("dynamic_img_size");
  std::ofstream(fs::path(path).parent_path() / "config.json") << cfg.dump(1);
  CHECK(load_model(path).config.img_h == 48);
  fs::remove_all(fs::path(path).parent_path().parent_path());
  test::require_no_validation_messages();
}
