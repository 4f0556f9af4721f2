// Checkpoint layouts (issue 5): timm, Hugging Face and torchvision files load and match
// their frameworks' outputs (PyTorch goldens, including inputs at non-native sizes),
// position tables are resampled as each framework does it, Hugging Face image processors
// are reproduced, and naming problems name the tensors involved.
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "golden_util.h"
#include "image.h"
#include "io/npy.h"
#include "model/layouts.h"
#include "vit.h"

using namespace vitscope;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  return nlohmann::json::parse(in);
}

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(1); }

// Runs every golden case of one framework; returns how many ran.
size_t check_framework(const std::string& framework) {
  size_t n = 0;
  for (const auto& c : test::golden_cases()) {
    if (c.framework != framework) continue;
    test::GoldenResult g = test::check_golden_case(c);
    MESSAGE(c.name << ": " << c.output << " max|diff| " << g.output.max_abs << " (bound " << g.output_tol
                   << "), attention max|diff| " << g.attention.max_abs);
    ++n;
  }
  return n;
}

std::string load_error(const std::string& dir, const LoadOptions& o = {}) {
  try {
    load_model(dir, o);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("layouts: the golden set covers every layout and variant") {
  std::set<std::string> names;
  for (const auto& c : test::golden_cases()) names.insert(c.name);
  for (const char* need :
       {"timm_deit_distilled", "timm_dinov2_reg", "timm_avgpool_noqkvbias", "timm_resized", "timm_f16", "timm_bf16",
        "timm_dinov2_resized", "hf_vit_classifier", "hf_vitmodel_pooler", "hf_vitmodel_resized", "hf_dinov2",
        "hf_dinov2_reg_resized", "hf_deit_teacher_resized", "tv_native", "tv_legacy_resized"})
    CHECK_MESSAGE(names.count(need), "missing golden case " << need);
}

TEST_CASE("layouts: timm checkpoints match PyTorch") { CHECK(check_framework("timm") >= 8); }

TEST_CASE("layouts: Hugging Face checkpoints match PyTorch") { CHECK(check_framework("hf") >= 6); }

TEST_CASE("layouts: torchvision checkpoints match PyTorch") { CHECK(check_framework("torchvision") >= 2); }

TEST_CASE("pos_embed: resampling matches torch F.interpolate for timm, hf, hf_aa and torchvision") {
  const std::string dir = test::source_dir() + "/tests/golden/pos_embed";
  auto index = read_json(dir + "/cases.json");
  REQUIRE(index["cases"].size() >= 40);
  std::set<std::string> methods;
  for (const auto& c : index["cases"]) {
    const std::string method = c["method"];
    methods.insert(method);
    NpyArray in = read_npy(dir + "/" + c["input"].get<std::string>());
    NpyArray want = read_npy(dir + "/" + c["output"].get<std::string>());
    const int C = c["channels"], prefix = c["prefix"];
    auto got = resample_pos_embed(in.data, prefix, C, c["old"][0], c["old"][1], c["new"][0], c["new"][1], method);
    // torch's float32 tap weights carry rounding noise of ~1e-6 (non-antialiased kernels);
    // the tables hold values up to ~3.5.
    test::check_close(got, want.data, 1e-5, 0, c["output"].get<std::string>());
  }
  CHECK(methods == std::set<std::string>{"timm", "hf", "hf_aa", "torchvision"});

  // The methods really differ (so a golden run with the wrong one would fail).
  auto table = [&](const std::string& method) {
    return read_npy(dir + "/" + method + "_5x7_p1_to_3x4.npy").data;
  };
  for (auto [a, b] : {std::pair{"timm", "hf"}, {"hf", "torchvision"}, {"timm", "torchvision"}}) {
    test::Diff d = test::compare(table(a), table(b));
    CHECK_MESSAGE(d.max_abs > 0.05, a << " vs " << b << " differ by only " << d.max_abs);
  }
  CHECK_THROWS_AS(resample_pos_embed(std::vector<float>(9), 1, 2, 2, 2, 3, 3, "timm"), ModelError);
  CHECK_THROWS_AS(resample_pos_embed(std::vector<float>(10), 1, 2, 2, 2, 3, 3, "lanczos"), ModelError);
}

TEST_CASE("layouts: a renamed tensor is reported with the first unexpected and the first missing name") {
  struct Rename {
    const char *golden, *from, *to, *layout;
  };
  const Rename cases[] = {
      {"tv_timm_small", "blocks.1.attn.proj.weight", "blocks.1.attn.out.weight", "timm"},
      {"hf_vit_classifier", "vit.encoder.layer.1.attention.attention.key.weight",
       "vit.encoder.layer.1.attention.attention.k.weight", "hf"},
      {"hf_dinov2", "encoder.layer.0.layer_scale2.lambda1", "encoder.layer.0.ls2.gamma", "hf"},
      {"hf_deit_teacher_resized", "distillation_classifier.bias", "dist_classifier.bias", "hf"},
      {"tv_native", "encoder.layers.encoder_layer_1.mlp.3.bias", "encoder.layers.encoder_layer_1.mlp.fc2.bias",
       "torchvision"},
  };
  const std::string root = test::temp_dir("renamed");
  for (const auto& r : cases) {
    test::GoldenCase g = test::golden_case(r.golden);
    auto tensors = test::read_tensors(g.model_dir + "/model.safetensors");
    REQUIRE(tensors.count(r.from));
    const std::string shape = shape_str(tensors[r.from].shape);
    tensors[r.to] = tensors[r.from];
    tensors.erase(r.from);
    const std::string dir = root + "/" + r.golden;
    test::write_model_dir(g.model_dir, dir, tensors);
    LoadOptions o;
    o.heads = g.meta.value("num_heads", 0);
    const std::string want = dir + "/model.safetensors: unexpected tensor '" + r.to + "' " + shape + " for a " +
                             r.layout + " ViT; first missing tensor: '" + r.from + "'";
    CHECK(load_error(dir, o) == want);

    // Only missing: the message names it with the expected shape.
    tensors.erase(r.to);
    test::write_model_dir(g.model_dir, dir, tensors);
    CHECK(load_error(dir, o) == dir + "/model.safetensors: tensor '" + r.from + "' is missing (expected shape " +
                                    shape + ")");
  }
}

TEST_CASE("layouts: 1000-class models without label names get the ImageNet-1k labels") {
  const std::string root = test::temp_dir("imagenet");
  {
    // timm: a 1000-class head and a config without label_names.
    test::GoldenCase g = test::golden_case("tv_timm_small");
    auto t = test::read_tensors(g.model_dir + "/model.safetensors");
    t["head.weight"] = {{1000, 48}, test::random_vector(48000, 1, 0.1f)};
    t["head.bias"] = {{1000}, test::random_vector(1000, 2, 0.1f)};
    const std::string dir = root + "/timm";
    test::write_model_dir(g.model_dir, dir, t);
    auto cfg = read_json(dir + "/config.json");
    cfg.erase("label_names");
    cfg["num_classes"] = 1000;
    write_json(dir + "/config.json", cfg);
    LoadedModel m = load_model(dir);
    REQUIRE(m.config.labels.size() == 1000);
    CHECK(m.config.labels[0] == "tench");
    CHECK(m.config.labels[134] == "crane bird");
    CHECK(m.config.labels[999] == "toilet tissue");
    // ... and the forward pass names the top class with them.
    VitModel model(test::context(), std::move(m));
    std::vector<float> x(3 * 32 * 32, 0.25f);
    auto r = model.forward(x.data(), 1);
    CHECK(r.outputs == 1000);
    test::require_no_validation_messages();
  }
  {
    // Hugging Face: transformers writes LABEL_i when a model has no names.
    test::GoldenCase g = test::golden_case("hf_vit_classifier");
    auto t = test::read_tensors(g.model_dir + "/model.safetensors");
    t["classifier.weight"] = {{1000, 48}, test::random_vector(48000, 3, 0.1f)};
    t["classifier.bias"] = {{1000}, test::random_vector(1000, 4, 0.1f)};
    const std::string dir = root + "/hf";
    test::write_model_dir(g.model_dir, dir, t);
    auto cfg = read_json(dir + "/config.json");
    cfg["id2label"] = nlohmann::json::object();
    for (int i = 0; i < 1000; ++i) cfg["id2label"][std::to_string(i)] = "LABEL_" + std::to_string(i);
    write_json(dir + "/config.json", cfg);
    LoadedModel m = load_model(dir);
    REQUIRE(m.config.labels.size() == 1000);
    CHECK(m.config.labels[1] == "goldfish");
  }
  // Real id2label names are kept.
  LoadedModel hf = load_model(test::golden_case("hf_vit_classifier").model_dir);
  CHECK(hf.config.labels == std::vector<std::string>{"cat", "dog", "bird", "fish", "horse", "frog"});
}

TEST_CASE("layouts: Hugging Face preprocessor_config.json is applied as transformers' image processors do") {
  const std::string dir = test::source_dir() + "/tests/golden/hf_preprocess";
  auto index = read_json(dir + "/cases.json");
  REQUIRE(index.size() >= 4);
  const std::string root = test::temp_dir("hfpre");
  for (const auto& c : index) {
    const std::string name = c["case"];
    test::GoldenCase g = test::golden_case(c["model"]);
    NpyArray want = read_npy(dir + "/" + name + ".npy");
    REQUIRE(want.shape.size() == 3);
    Preprocess pre;
    if (c.contains("preprocessor_config")) {
      // A copy of the model with this preprocessor_config.json: the loader must derive the
      // run size (the crop or the squash size) and the pipeline from it.
      const std::string mdir = root + "/" + name;
      fs::create_directories(mdir);
      for (const char* f : {"model.safetensors", "config.json"})
        fs::copy_file(g.model_dir + "/" + f, mdir + "/" + f, fs::copy_options::overwrite_existing);
      write_json(mdir + "/preprocessor_config.json", c["preprocessor_config"]);
      LoadedModel m = load_model(mdir);
      CHECK(m.config.img_h == want.shape[1]);
      CHECK(m.config.img_w == want.shape[2]);
      pre = m.config.pre;
      CHECK(pre.pipeline == "hf");
    } else {
      // --preprocess override of a timm model.
      LoadedModel m = load_model(g.model_dir);
      pre = with_pipeline(m.config.pre, c["override"]);
      CHECK(pre.pipeline == c["override"]);
    }
    Preprocessed p = preprocess(load_image(dir + "/" + c["source"].get<std::string>()), pre, 3);
    test::check_close(p.tensor, want.data, 2e-6, 0, name + " (" + p.description + ")");
  }
}

TEST_CASE("layouts: the run size follows --size for every layout, square or not") {
  // The same checkpoint at two sizes: the token count follows, the position table is
  // resampled, and a size that is not a multiple of the patch is refused.
  for (const char* name : {"timm_resized", "hf_vit_classifier", "hf_dinov2_reg_resized", "tv_native"}) {
    test::GoldenCase g = test::golden_case(name);
    LoadOptions o;
    o.heads = g.meta.value("num_heads", 0);
    const LoadedModel native = load_model(g.model_dir, o);
    const int P = native.config.patch;
    o.height = 3 * P;
    o.width = 5 * P;
    LoadedModel m = load_model(g.model_dir, o);
    CHECK(m.config.grid_h() == 3);
    CHECK(m.config.grid_w() == 5);
    CHECK(m.config.pre.height == 3 * P);
    CHECK(m.config.pre.width == 5 * P);
    REQUIRE(m.weights.pos);
    CHECK(m.weights.pos->numel() == int64_t(m.config.pos_prefix + 15) * m.config.embed_dim);
    VitModel model(test::context(), std::move(m));
    std::vector<float> x(size_t(3) * 3 * P * 5 * P, 0.1f);
    ForwardOptions fo;
    fo.keep_attention = true;
    auto r = model.forward(x.data(), 1, fo);
    const int N = model.config().tokens();
    CHECK(N == model.config().prefix_tokens() + 15);
    CHECK(r.attention.size() == size_t(model.config().depth) * model.config().num_heads * N * N);
    test::require_no_validation_messages();
    o.width = 5 * P + 1;
    CHECK_THROWS_AS(load_model(g.model_dir, o), ModelError);
  }
}

TEST_CASE("layouts: a timm table that does not fit pretrained_cfg.input_size is resampled as timm does") {
  // timm writes the architecture's default input_size even for a model built with another
  // img_size (and no model_args); its checkpoint filter then resamples the square table.
  test::GoldenCase g = test::golden_case("tv_timm_small");  // 4x4 table, patch 8
  const std::string dir = test::temp_dir("timm_cfg_size");
  test::write_model_dir(g.model_dir, dir, test::read_tensors(g.model_dir + "/model.safetensors"));
  auto cfg = read_json(dir + "/config.json");
  cfg["model_args"].erase("img_size");
  cfg["pretrained_cfg"]["input_size"] = {3, 64, 64};
  write_json(dir + "/config.json", cfg);
  LoadedModel m = load_model(dir);
  CHECK(m.config.img_h == 64);
  CHECK(m.config.pos_grid_h == 4);
  CHECK(m.config.grid_h() == 8);
  REQUIRE(m.warnings.size() == 1);
  CHECK(m.warnings[0].find("holds a 4x4 grid") != std::string::npos);
  // At the table's own size it is the golden model again.
  LoadOptions o;
  o.height = o.width = 32;
  VitModel model(test::context(), load_model(dir, o));
  NpyArray x = read_npy(g.dir + "/input.npy"), want = read_npy(g.dir + "/logits.npy");
  auto r = model.forward(x.data.data(), 1);
  test::check_close(r.logits, want.data, 0, 1e-4, "tv_timm_small via pretrained_cfg");
  test::require_no_validation_messages();
}
