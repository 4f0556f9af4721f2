// OpenCV's cv2.resize(INTER_LINEAR) on 8-bit images (PaddleClas's ResizeImage), reproduced
// to the last bit: against Debian's OpenCV 4.6 outputs (tools/make_paddle_goldens.py) for
// sizes up, down, exactly half and double, one-pixel and lopsided.
#include <fstream>
#include <nlohmann/json.hpp>

#include "image.h"
#include "image_opencv.h"
#include "testutil.h"

using namespace vitscope;

TEST_CASE("opencv resize: INTER_LINEAR bit-exact against cv2.resize, up and down") {
  const std::string dir = test::source_dir() + "/tests/golden/opencv_resize";
  std::ifstream in(dir + "/cases.json");
  REQUIRE(in);
  auto index = nlohmann::json::parse(in);
  Image src = load_image(dir + "/" + index["source"].get<std::string>());
  REQUIRE(index["cases"].size() >= 8);
  for (const auto& c : index["cases"]) {
    const int w = c["width"], h = c["height"];
    Image want = load_image(dir + "/" + c["file"].get<std::string>());
    Image got = cv_resize_linear(src, w, h);
    REQUIRE(got.width == w);
    REQUIRE(got.height == h);
    REQUIRE(want.pixels.size() == got.pixels.size());
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i)
      if (got.pixels[i] != want.pixels[i] && differ++ == 0) first = i;
    CHECK_MESSAGE(differ == 0, w << "x" << h << ": " << differ << " bytes differ from cv2, first at byte " << first
                                   << " (" << int(got.pixels[first]) << " vs " << int(want.pixels[first]) << ")");
  }
}

TEST_CASE("opencv resize: grey images, the same size, and empty sizes") {
  Image grey{5, 3, 1, {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140}};
  Image same = cv_resize_linear(grey, 5, 3);
  CHECK(same.pixels == grey.pixels);
  // 5x3 -> 10x6: the corners keep the corner pixels (clamped borders).
  Image up = cv_resize_linear(grey, 10, 6);
  CHECK(up.channels == 1);
  CHECK(up.pixels.front() == 0);
  CHECK(up.pixels.back() == 140);
  CHECK_THROWS(cv_resize_linear(grey, 0, 3));
}
