// Models whose reference outputs come from PyTorch (tools/make_goldens.py): torchvision
// VisionTransformers with random weights, written in timm naming. Logits must match
// within 1e-4 of the largest |logit|, attention probabilities within 1e-5.
#include <filesystem>

#include "io/npy.h"
#include "testutil.h"
#include "vit.h"

using namespace vitscope;

namespace {

void run_golden(const std::string& name, const std::string& input_file, const std::string& logits_file,
                bool check_attention) {
  std::string dir = test::source_dir() + "/tests/golden/" + name;
  NpyArray input = read_npy(dir + "/" + input_file);
  NpyArray logits = read_npy(dir + "/" + logits_file);
  LoadedModel lm = load_model(dir);
  const int batch = int(input.shape[0]);
  VitModel model(test::context(), std::move(lm));
  ForwardOptions fo;
  fo.keep_attention = check_attention;
  auto r = model.forward(input.data.data(), batch, fo);
  test::check_close(r.logits, logits.data, 0, 1e-4, name + " logits vs PyTorch");
  if (check_attention) {
    NpyArray att = read_npy(dir + "/attention.npy");  // (L, H, N, N), batch item 0
    test::check_close(r.attention, att.data, 1e-5, 0, name + " attention vs PyTorch");
  }
  test::require_no_validation_messages();
}

}  // namespace

TEST_CASE("golden: torchvision ViT in timm naming, 17 tokens") {
  run_golden("tv_timm_small", "input.npy", "logits.npy", true);
}

TEST_CASE("golden: torchvision ViT in timm naming, batch of 3") {
  run_golden("tv_timm_small", "input_b3.npy", "logits_b3.npy", false);
}

TEST_CASE("golden: torchvision ViT in timm naming, 197 tokens, 5 heads of 12") {
  run_golden("tv_timm_197", "input.npy", "logits.npy", true);
}
