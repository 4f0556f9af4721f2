// Preprocessing against the frameworks themselves: tensors produced by torchvision's
// transforms on PIL images (timm's and torchvision's eval pipelines) and by PIL resizes
// (Hugging Face), from tools/make_preprocess_goldens.py. PIL's 8-bit fixed-point
// resampling is reproduced exactly, so the tensors agree to float rounding.
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "image.h"
#include "io/npy.h"
#include "testutil.h"

using namespace vitscope;

TEST_CASE("preprocessing matches torchvision/PIL for timm, torchvision and HF pipelines") {
  std::string dir = test::source_dir() + "/tests/golden/preprocess";
  std::ifstream in(dir + "/cases.json");
  REQUIRE(in);
  auto cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() >= 6);
  for (const auto& c : cases) {
    std::string name = c["case"];
    Image im = load_image(dir + "/" + c["source"].get<std::string>());
    Preprocess pre;
    pre.pipeline = c["pipeline"];
    pre.height = c["size"][0];
    pre.width = c["size"][1];
    pre.interpolation = c["interpolation"];
    pre.crop_pct = c.value("crop_pct", 1.0f);
    pre.resize_shortest = c.value("resize_shortest", 0);
    pre.squash = c.value("squash", false);
    pre.mean = c["mean"].get<std::vector<float>>();
    pre.std = c["std"].get<std::vector<float>>();
    int channels = c.value("channels", 3);
    Preprocessed p = preprocess(im, pre, channels);
    NpyArray want = read_npy(dir + "/" + name + ".npy");
    CHECK(want.shape == std::vector<int64_t>{channels, pre.height, pre.width});
    // One 8-bit step is 1/255/std ~ 0.017; exact resampling leaves only float rounding.
    test::check_close(p.tensor, want.data, 1e-5, 0, name + " (" + p.description + ")");
  }
}

TEST_CASE("images: grey and RGB conversions and centre crop padding") {
  Image rgb{2, 1, 3, {255, 0, 0, 10, 20, 30}};
  Image g = to_grey(rgb);
  CHECK(g.channels == 1);
  CHECK(int(g.pixels[0]) == 76);  // PIL: (255 * 19595 + 0x8000) >> 16
  CHECK(int(g.pixels[1]) == (10 * 19595 + 20 * 38470 + 30 * 7471 + 0x8000) >> 16);
  Image back = to_rgb(g);
  CHECK(back.pixels[3] == back.pixels[4]);
  Image small{2, 2, 1, {1, 2, 3, 4}};
  Image padded = center_crop(small, 4, 4);
  CHECK(padded.width == 4);
  CHECK(int(padded.pixels[5]) == 1);  // (1,1) holds the old (0,0)
  CHECK(int(padded.pixels[0]) == 0);
}

TEST_CASE("images: undecodable input names the file") {
  std::string bad = test::temp_dir("img") + "/not_an_image.png";
  std::ofstream(bad) << "this is text, not pixels";
  try {
    load_image(bad);
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(bad) == 0);
  }
}
