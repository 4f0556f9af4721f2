#include "image_opencv.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "core/error.h"

namespace vitscope {

namespace {

constexpr int kCoefBits = 11;  // INTER_RESIZE_COEF_BITS
constexpr int kOne = 1 << kCoefBits;

// Source index and fixed-point weights of one output row or column.
struct Tap {
  int src = 0;
  int16_t w0 = kOne, w1 = 0;
  bool edge = false;  // past the last source pixel: the horizontal pass copies src * 2048
};

// OpenCV rounds a float to short with lrint (ties to even).
int16_t round_weight(float v) { return int16_t(std::lrint(v)); }

// `clamp_fraction`: the horizontal taps clamp at both borders (fraction 0 there); the
// vertical ones keep the fraction and clip the row indices instead, as OpenCV does.
std::vector<Tap> taps(int in, int out, bool clamp_fraction) {
  const double scale = 1.0 / (double(out) / double(in));
  std::vector<Tap> t(static_cast<size_t>(out));
  for (int d = 0; d < out; ++d) {
    float f = float((d + 0.5) * scale - 0.5);
    int s = int(std::floor(f));
    f -= float(s);
    Tap& tap = t[size_t(d)];
    if (clamp_fraction) {
      if (s < 0) f = 0.0f, s = 0;
      if (s + 1 >= in) {
        tap.edge = true;
        if (s >= in - 1) f = 0.0f, s = in - 1;
      }
    }
    tap.src = s;
    tap.w0 = round_weight((1.0f - f) * float(kOne));
    tap.w1 = round_weight(f * float(kOne));
  }
  return t;
}

int16_t saturate16(int32_t v) { return int16_t(std::clamp<int32_t>(v, INT16_MIN, INT16_MAX)); }

Image half_size(const Image& im, int w, int h) {
  const int cn = im.channels;
  Image out{w, h, cn, std::vector<uint8_t>(size_t(w) * h * cn)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < cn; ++c) {
        int s = im.at(2 * x, 2 * y, c) + im.at(2 * x + 1, 2 * y, c) + im.at(2 * x, 2 * y + 1, c) +
                im.at(2 * x + 1, 2 * y + 1, c);
        out.pixels[(size_t(y) * w + x) * cn + c] = uint8_t((s + 2) >> 2);
      }
  return out;
}

}  // namespace

Image cv_resize_linear(const Image& im, int w, int h) {
  if (w <= 0 || h <= 0 || im.width <= 0 || im.height <= 0)
    throw Error("resize: empty image or target size " + std::to_string(w) + "x" + std::to_string(h));
  if (w == im.width && h == im.height) return im;
  const double sx = 1.0 / (double(w) / im.width), sy = 1.0 / (double(h) / im.height);
  if (std::abs(sx - 2.0) < DBL_EPSILON && std::abs(sy - 2.0) < DBL_EPSILON) return half_size(im, w, h);

  const int cn = im.channels, W = im.width, H = im.height, row = w * cn;
  const std::vector<Tap> tx = taps(W, w, true), ty = taps(H, h, false);
  // Horizontal pass over every source row (integer, exact): (H, w * cn).
  std::vector<int32_t> horiz(size_t(H) * row);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < w; ++x) {
      const Tap& t = tx[size_t(x)];
      for (int c = 0; c < cn; ++c) {
        int32_t a = im.at(t.src, y, c);
        horiz[size_t(y) * row + size_t(x) * cn + c] =
            t.edge ? a * kOne : a * t.w0 + int32_t(im.at(t.src + 1, y, c)) * t.w1;
      }
    }
  // Vertical pass in OpenCV's 16-bit SIMD arithmetic.
  Image out{w, h, cn, std::vector<uint8_t>(size_t(w) * h * cn)};
  for (int y = 0; y < h; ++y) {
    const Tap& t = ty[size_t(y)];
    const int32_t* r0 = &horiz[size_t(std::clamp(t.src, 0, H - 1)) * row];
    const int32_t* r1 = &horiz[size_t(std::clamp(t.src + 1, 0, H - 1)) * row];
    for (int i = 0; i < row; ++i) {
      int32_t a = (int32_t(saturate16(r0[i] >> 4)) * t.w0) >> 16;
      int32_t b = (int32_t(saturate16(r1[i] >> 4)) * t.w1) >> 16;
      int32_t v = saturate16(a + b);
      out.pixels[size_t(y) * row + i] = uint8_t(std::clamp<int32_t>((v + 2) >> 2, 0, 255));
    }
  }
  return out;
}

Image paddle_resize_crop(const Image& src, const Preprocess& pre, std::string& what) {
  Image im = src;
  int rw = 0, rh = 0;
  if (pre.resize && pre.squash) {
    rw = pre.resize_width;
    rh = pre.resize_height;
  } else if (pre.resize && pre.resize_shortest > 0) {
    const double percent = double(pre.resize_shortest) / double(std::min(im.width, im.height));
    rw = int(std::nearbyint(im.width * percent));
    rh = int(std::nearbyint(im.height * percent));
  }
  if (rw > 0 && rh > 0) {
    im = pre.opencv ? cv_resize_linear(im, rw, rh) : resize(im, rw, rh, "bilinear");
    what += " resize to " + std::to_string(rw) + "x" + std::to_string(rh) +
            (pre.opencv ? " (cv2 INTER_LINEAR)" : " (PIL bilinear)");
  }
  if (pre.center_crop) {
    // Python's floor division; a side smaller than the crop is zero-padded.
    auto start = [](int have, int want) { return have >= want ? (have - want) / 2 : -((want - have + 1) / 2); };
    const int w = pre.width, h = pre.height, x0 = start(im.width, w), y0 = start(im.height, h);
    Image out{w, h, im.channels, std::vector<uint8_t>(size_t(w) * h * im.channels, 0)};
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int sx = x + x0, sy = y + y0;
        if (sx < 0 || sy < 0 || sx >= im.width || sy >= im.height) continue;
        for (int c = 0; c < im.channels; ++c) out.pixels[(size_t(y) * w + x) * im.channels + c] = im.at(sx, sy, c);
      }
    im = std::move(out);
    what += ", crop " + std::to_string(w) + "x" + std::to_string(h);
  }
  return im;
}

}  // namespace vitscope
