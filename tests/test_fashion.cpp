// The bundled Fashion-MNIST ViT (assets/models/fashion-vit) against PyTorch on the
// sample images (tests/golden/fashion_samples, from tools/make_goldens.py), and the
// CLI's default-model path end to end.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "image.h"
#include "io/idx.h"
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

TEST_CASE("bundled model in fp16: top-1 agrees with fp32 on the samples and 1000 test images") {
  const std::string root = test::source_dir();
  auto& ctx = test::context();
  NpyArray input = read_npy(root + "/tests/golden/fashion_samples/input.npy");
  NpyArray logits = read_npy(root + "/tests/golden/fashion_samples/logits.npy");
  const int B = int(input.shape[0]), K = int(logits.shape[1]);
  auto argmax = [K](const std::vector<float>& v, int b) {
    return int(std::max_element(v.begin() + long(b) * K, v.begin() + long(b + 1) * K) - (v.begin() + long(b) * K));
  };
  // The 1000 first test images, when the dataset is installed (dataset-fashion-mnist).
  const std::string idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  std::vector<float> test_images;
  int n_test = 0;
  if (std::filesystem::exists(idx)) {
    IdxArray imgs = read_idx(idx);
    LoadedModel lm = load_model(root + "/assets/models/fashion-vit");
    n_test = std::min<int>(1000, int(imgs.dims[0]));
    for (int i = 0; i < n_test; ++i) {
      Image im{28, 28, 1, {imgs.data.begin() + long(i) * 784, imgs.data.begin() + long(i + 1) * 784}};
      Preprocessed p = preprocess(im, lm.config.pre, 1);
      test_images.insert(test_images.end(), p.tensor.begin(), p.tensor.end());
    }
  } else {
    MESSAGE("dataset-fashion-mnist not installed: the 1000-image agreement check is skipped");
  }
  std::vector<int> fp32_top;
  {
    VitModel m32(ctx, load_model(root + "/assets/models/fashion-vit"), Precision::Fp32);
    for (int i = 0; i < n_test; i += 100) {
      auto r = m32.forward(test_images.data() + size_t(i) * 784, 100);
      for (int b = 0; b < 100; ++b) fp32_top.push_back(argmax(r.logits, b));
    }
  }
  for (const char* request : {"fp16", "fp16-math"}) {
    Precision p;
    try {
      p = choose_precision(ctx.info(), request);
    } catch (const InputError& e) {
      MESSAGE((std::string("skipping ") + request + ": " + e.what()));
      continue;
    }
    VitModel model(ctx, load_model(root + "/assets/models/fashion-vit"), p);
    CHECK(model.precision() == p);
    auto r = model.forward(input.data.data(), B);
    float max_abs = 0;
    for (float v : logits.data) max_abs = std::max(max_abs, std::fabs(v));
    // fp16 weights move the logits by a fraction of a percent of their range.
    test::check_close(r.logits, logits.data, 0.02 * max_abs, 0, std::string(request) + " logits vs PyTorch fp32");
    for (int b = 0; b < B; ++b) CHECK_MESSAGE(argmax(r.logits, b) == argmax(logits.data, b), request << " sample " << b);
    if (p == Precision::Fp16Math) continue;  // emulated fp16 arithmetic on a CPU device is slow
    int same = 0;
    for (int i = 0; i < n_test; i += 100) {
      auto rr = model.forward(test_images.data() + size_t(i) * 784, 100);
      for (int b = 0; b < 100; ++b) same += argmax(rr.logits, b) == fp32_top[size_t(i + b)];
    }
    MESSAGE((std::string(request) + ": " + std::to_string(same) + "/" + std::to_string(n_test) +
            " test images with the fp32 top-1"));
    CHECK(same >= n_test * 999 / 1000);
  }
  test::require_no_validation_messages();
}

TEST_CASE("CLI: bench --json reports latency, per-op times and memory of the bundled model") {
  int status = 0;
  std::string out = run_command("'" VITSCOPE_CLI_PATH "' bench --batch 2 --warmup 1 --iters 3 --json", status);
  REQUIRE(status == 0);
  auto j = nlohmann::json::parse(out);
  const double med = j["latency_ms"]["median"], mn = j["latency_ms"]["min"], mx = j["latency_ms"]["max"];
  CHECK(mn > 0);
  CHECK(mn <= med);
  CHECK(med <= mx);
  CHECK(double(j["images_per_s"]) == doctest::Approx(2 / (med * 1e-3)).epsilon(1e-6));
  // The bundled model: C=64, 6 blocks, 28x28 in patches of 4 -> N = 49 + 1 tokens.
  const double N = 50, C = 64, L = 6, B = 2;
  const double flops = double(j["gflops"]) * 1e9 * med * 1e-3;
  CHECK(flops > B * L * 2 * N * C * C * 12);  // at least the Dense layers' multiply-adds
  CHECK(std::string(j["precision"]) == "fp32");  // auto: fp32 on lavapipe (the CI device)
  CHECK(!std::string(j["device"]).empty());
  CHECK(double(j["peak_rss_mb"]) > 10);
  CHECK(double(j["device_memory_mb"]) > double(j["weights_mb"]));
  CHECK(double(j["weights_mb"]) > 1.0);  // 1.2 MB of fp32 weights
  if (j["ops"].empty()) return;  // a device without timestamp queries
  double percent = 0;
  bool saw_qkv = false;
  for (const auto& op : j["ops"]) {
    percent += double(op["percent"]);
    CHECK(double(op["ms"]) >= 0);
    const std::string name = op["name"];
    if (name == "attn.qkv" || name == "norm1+attn.qkv") {  // LayerNorm fused into it on CPU devices
      saw_qkv = true;
      CHECK(int(op["count"]) == int(L));  // per forward, summed over the blocks
      const double qkv_flops = B * L * 2 * N * C * 3 * C;
      CHECK(double(op["gflops"]) * 1e9 * double(op["ms"]) * 1e-3 == doctest::Approx(qkv_flops).epsilon(1e-6));
    }
  }
  CHECK(saw_qkv);
  CHECK(percent == doctest::Approx(100).epsilon(1e-6));
}
