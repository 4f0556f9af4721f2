// The bundled Fashion-MNIST ViT (assets/models/fashion-vit) against PyTorch on the
// sample images (tests/golden/fashion_samples, from tools/make_goldens.py), and the
// CLI's default-model path end to end.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "image.h"
#include "io/npy.h"
#include "testutil.h"
#include "vit.h"

using namespace vitscope;

namespace {

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  status = ::pclose(p);
  return out;
}

}  // namespace

TEST_CASE("bundled model: preprocessing, logits and attention match PyTorch on the samples") {
  const std::string root = test::source_dir();
  const std::string golden = root + "/tests/golden/fashion_samples";
  std::ifstream mf(golden + "/meta.json");
  REQUIRE_MESSAGE(mf, "missing " << golden << "/meta.json (run tools/make_goldens.py --only fashion_samples)");
  auto meta = nlohmann::json::parse(mf);
  LoadedModel lm = load_model(root + "/assets/models/fashion-vit");
  const VitConfig c = lm.config;
  CHECK(c.in_chans == 1);
  CHECK(c.img_h == 28);
  CHECK(c.labels.size() == 10);

  NpyArray input = read_npy(golden + "/input.npy");
  NpyArray logits = read_npy(golden + "/logits.npy");
  NpyArray att = read_npy(golden + "/attention.npy");
  // Our decoding + preprocessing of the PNGs gives PyTorch's input tensor.
  std::vector<float> ours;
  for (const auto& f : meta["samples"]) {
    std::string file = f.get<std::string>();
    std::string path = std::filesystem::path(file).is_absolute() ? file : root + "/" + file;
    if (!std::filesystem::exists(path)) path = root + "/assets/samples/" + std::filesystem::path(file).filename().string();
    Preprocessed p = preprocess(load_image(path), c.pre, c.in_chans);
    ours.insert(ours.end(), p.tensor.begin(), p.tensor.end());
  }
  test::check_close(ours, input.data, 1e-6, 0, "preprocessed samples");

  VitModel model(test::context(), std::move(lm));
  ForwardOptions fo;
  fo.keep_attention = true;
  auto r = model.forward(input.data.data(), int(input.shape[0]), fo);
  test::check_close(r.logits, logits.data, 0, 1e-4, "bundled model logits vs PyTorch");
  // Our attention is (L, B, H, N, N); the golden holds image 0 as (L, H, N, N).
  const size_t L = size_t(c.depth), B = size_t(input.shape[0]), per = size_t(c.num_heads) * c.tokens() * c.tokens();
  std::vector<float> first;
  for (size_t l = 0; l < L; ++l)
    first.insert(first.end(), r.attention.begin() + long(l * B * per), r.attention.begin() + long(l * B * per + per));
  test::check_close(first, att.data, 1e-5, 0, "bundled model attention vs PyTorch");
  test::require_no_validation_messages();
}

TEST_CASE("CLI: classify with no --model uses the bundled model and names the bag") {
  const std::string root = test::source_dir();
  std::string bag;
  for (const auto& e : std::filesystem::directory_iterator(root + "/assets/samples"))
    if (e.path().filename().string().rfind("bag_", 0) == 0 && e.path().extension() == ".png") bag = e.path().string();
  REQUIRE_MESSAGE(!bag.empty(), "no assets/samples/bag_*.png");
  int status = 0;
  // Run from another folder: the bundled model is found next to the executable, not the cwd.
  std::string out = run_command("cd / && '" VITSCOPE_CLI_PATH "' classify --image '" + bag + "' --json", status);
  REQUIRE(status == 0);
  auto j = nlohmann::json::parse(out);
  CHECK(j["top"][0]["label"] == "Bag");
  CHECK(j["top"].size() == 5);
}
