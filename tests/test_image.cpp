// Preprocessing against the frameworks themselves: tensors produced by torchvision's
// transforms on PIL images (timm's and torchvision's eval pipelines) and by PIL resizes
// (Hugging Face), from tools/make_preprocess_goldens.py. PIL's 8-bit fixed-point
// resampling is reproduced exactly, so the tensors agree to float rounding.
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "image.h"
#include "io/npy.h"
#include "io/png.h"
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

TEST_CASE("images: empty IDAT chunks decode like the PNG without them") {
  // stb_image would memcpy zero bytes to a null pointer for an empty IDAT before the first
  // non-empty one (undefined behaviour: the fuzzer's find, kept in tests/fuzz/corpus/image).
  const std::string dir = test::temp_dir("img");
  const int w = 5, h = 3;
  std::vector<unsigned char> px(size_t(w) * h * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 37 + 11);
  write_png(dir + "/plain.png", w, h, 3, px.data());
  std::ifstream in(dir + "/plain.png", std::ios::binary);
  std::vector<uint8_t> plain((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
  size_t idat = 0;
  for (size_t i = 8; i + 8 <= plain.size(); ++i)
    if (std::memcmp(plain.data() + i + 4, "IDAT", 4) == 0) { idat = i; break; }
  REQUIRE(idat > 0);
  std::vector<uint8_t> odd(plain.begin(), plain.begin() + long(idat));
  odd.insert(odd.end(), empty_idat, empty_idat + 12);  // before the data
  odd.insert(odd.end(), empty_idat, empty_idat + 12);
  odd.insert(odd.end(), plain.begin() + long(idat), plain.end() - 12);
  odd.insert(odd.end(), empty_idat, empty_idat + 12);  // after it, before IEND
  odd.insert(odd.end(), plain.end() - 12, plain.end());
  Image a = decode_image(plain.data(), plain.size(), "plain.png");
  Image b = decode_image(odd.data(), odd.size(), "odd.png");
  CHECK(b.width == w);
  CHECK(b.height == h);
  CHECK(b.pixels == a.pixels);
  CHECK(a.pixels == px);

  // The fuzzer's input itself: a damaged PNG whose first IDAT is empty. Whatever it decodes
  // to, it must not reach stb_image's null memcpy (the sanitizer suite runs this).
  std::ifstream crash(std::string(VITSCOPE_SOURCE_DIR) + "/tests/fuzz/corpus/image/regress-png-empty-idat.png",
                      std::ios::binary);
  REQUIRE(crash.good());
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(crash)), std::istreambuf_iterator<char>());
  try {
    Image c = decode_image(bytes.data(), bytes.size(), "crash.png");
    CHECK(c.pixels.size() == size_t(c.width) * size_t(c.height) * size_t(c.channels));
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("crash.png") == 0);
  }
}
