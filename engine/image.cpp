#include "image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <tuple>

#include "core/error.h"
#include "image_opencv.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
// Our own limit (kMaxImageSide) is checked first and gives the clearer message.
#define STBI_MAX_DIMENSIONS (1 << 20)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace vitscope {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InputError(name + ": " + what);
}

bool starts_with(const uint8_t* d, size_t n, std::initializer_list<uint8_t> sig) {
  if (n < sig.size()) return false;
  size_t i = 0;
  for (uint8_t s : sig)
    if (d[i++] != s) return false;
  return true;
}

// The big-endian 32-bit number at d (PNG chunk lengths, IHDR sizes).
uint32_t be32(const uint8_t* d) {
  return (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | d[3];
}

// What walk_jpeg learns about a JPEG's structure.
struct JpegLayout {
  int width = 0, height = 0;
  uint64_t first_scan_bytes = 0;  // entropy-coded bytes of the first scan
};

// Walks every marker segment of a JPEG before stb_image sees it. Refuses files cut short
// in the headers, Huffman tables with more than 256 codes (stb_image 2.27 writes past its
// tables on those), and CMYK/YCCK JPEGs: stb_image converts those with its own formula,
// which does not match PIL's CMYK->RGB conversion, so a model would see other pixels
// than in its framework.
// stb_image takes any run of 0xFF fill bytes before the start-of-image marker; returns
// the offset just past that marker, or 0 when the data is not a JPEG.
size_t jpeg_start(const uint8_t* d, size_t n) {
  size_t i = 0;
  while (i < n && d[i] == 0xFF) ++i;
  return i >= 1 && i < n && d[i] == 0xD8 ? i + 1 : 0;
}

JpegLayout walk_jpeg(const uint8_t* d, size_t n, const std::string& name) {
  JpegLayout out;
  size_t i = jpeg_start(d, n);
  bool frame = false, scan = false;
  for (;;) {
    if (scan) {
      // Entropy-coded data: skip to the next marker (0xFF then neither 0x00, 0xFF nor RSTn).
      size_t start = i;
      while (i + 1 < n && !(d[i] == 0xFF && d[i + 1] != 0x00 && d[i + 1] != 0xFF && (d[i + 1] < 0xD0 || d[i + 1] > 0xD7)))
        ++i;
      if (out.first_scan_bytes == 0) out.first_scan_bytes = (i + 1 < n ? i : n) - start;
      if (i + 1 >= n) return out;  // no end marker: check_complete reports it
      scan = false;
    }
    if (i + 4 > n) {
      if (frame && out.first_scan_bytes > 0) return out;  // a last marker cut short: check_complete decides
      fail(name, "truncated JPEG (file ends inside the headers)");
    }
    if (d[i] != 0xFF) fail(name, "damaged JPEG (no marker at byte " + std::to_string(i) + ")");
    const uint8_t m = d[i + 1];
    if (m == 0xFF) { ++i; continue; }  // fill byte
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { i += 2; continue; }  // markers without a length
    if (m == 0xD9) {
      if (out.first_scan_bytes == 0 && !frame) fail(name, "JPEG has no image data (end-of-image marker before any scan)");
      return out;
    }
    const size_t len = (size_t(d[i + 2]) << 8) | d[i + 3];
    if (len < 2 || len > n - i - 2) fail(name, "truncated JPEG (a header segment runs past the end of the file)");
    const size_t end = i + 2 + len;
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && !frame) {
      if (len < 8) fail(name, "damaged JPEG (frame header too short)");
      out.height = (int(d[i + 5]) << 8) | d[i + 6];
      out.width = (int(d[i + 7]) << 8) | d[i + 8];
      if (d[i + 9] == 4)
        fail(name, "CMYK JPEGs are not supported (their colours would not match PIL's conversion); "
                   "convert the image to RGB first");
      frame = true;
    }
    if (m == 0xC4) {  // DHT: one or more tables of (class/id, 16 counts, values)
      for (size_t t = i + 4; t < end;) {
        if (end - t < 17) fail(name, "damaged JPEG (Huffman table header cut short)");
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += d[t + k];
        if (codes > 256) fail(name, "damaged JPEG (Huffman table with " + std::to_string(codes) + " codes; at most 256)");
        if (codes > end - t - 17) fail(name, "damaged JPEG (Huffman table runs past its segment)");
        t += 17 + codes;
      }
    }
    if (m == 0xDA) {
      if (!frame) fail(name, "damaged JPEG (scan before the frame header)");
      scan = true;
    }
    i = end;
  }
}

// stb_image decodes some truncated files without complaint; check their end markers.
void check_complete(const uint8_t* d, size_t n, const std::string& name, const JpegLayout& jpeg) {
  if (starts_with(d, n, {0x89, 'P', 'N', 'G'})) {
    // A complete PNG ends with an IEND chunk (possibly followed by junk we tolerate).
    bool found = false;
    size_t from = n > 4096 ? n - 4096 : 0;
    for (size_t i = n >= 8 ? n - 8 : 0; i + 4 <= n && i >= from; --i) {
      if (std::memcmp(d + i, "IEND", 4) == 0) { found = true; break; }
      if (i == 0) break;
    }
    if (!found) fail(name, "truncated PNG (no IEND chunk)");
  } else if (jpeg_start(d, n) > 0) {
    bool found = false;
    size_t from = n > 4096 ? n - 4096 : 0;
    for (size_t i = n - 2; i >= from; --i) {
      if (d[i] == 0xFF && d[i + 1] == 0xD9) { found = true; break; }
      if (i == 0) break;
    }
    if (!found) fail(name, "truncated JPEG (no end-of-image marker)");
    // Every MCU of the first scan takes at least one bit, and an MCU covers at most 32x32
    // pixels (4x4 chroma subsampling): fewer bytes than that means image data is missing.
    const uint64_t mcus = uint64_t((jpeg.width + 31) / 32) * uint64_t((jpeg.height + 31) / 32);
    if (jpeg.first_scan_bytes * 8 < mcus)
      fail(name, "truncated JPEG (" + std::to_string(jpeg.first_scan_bytes) + " bytes of image data for a " +
                     std::to_string(jpeg.width) + "x" + std::to_string(jpeg.height) + " image)");
  }
}

// stb_image copies every IDAT chunk into a buffer that it allocates at the first non-empty
// one, so an empty IDAT before that has it memcpy zero bytes to a null pointer (undefined
// behaviour, found by the fuzzer). Empty IDAT chunks hold no image data: the PNG without them
// decodes to the same pixels. Returns that copy, or nothing when there is no empty IDAT.
std::vector<uint8_t> without_empty_idat(const uint8_t* d, size_t n) {
  std::vector<uint8_t> out;
  size_t copied = 0;  // d[0, copied) is in `out`; 0 until an empty IDAT turns up
  for (size_t i = 8; i + 12 <= n;) {  // chunks: length, type, data, CRC
    const size_t len = be32(d + i);
    if (len > n - i - 12) break;  // runs past the end: stb_image reports it
    if (len == 0 && std::memcmp(d + i + 4, "IDAT", 4) == 0) {
      out.insert(out.end(), d + copied, d + i);
      copied = i + 12;
    }
    i += 12 + len;
  }
  if (copied) out.insert(out.end(), d + copied, d + n);
  return out;
}

// --- PIL resampling (Pillow's Resample.c, 8 bits per channel) ---------------------

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double (*fn)(double);
  double support;
};

double bilinear_filter(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic_filter(double x) {
  const double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

// PIL's HAMMING and LANCZOS (a = 3) windowed sincs; PIL writes the Hamming constants as
// floats, kept here so the weights match.
double hamming_filter(double x) {
  x = std::abs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  return std::sin(x) / x * (double(0.54f) + double(0.46f) * std::cos(x));
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_filter(double x) { return (x >= -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;   // (xmin, count) per output
  std::vector<int32_t> k;    // fixed-point weights, ksize per output
};

Coeffs precompute(int in_size, int out_size, const Filter& f) {
  double scale = double(in_size) / out_size;
  double filterscale = std::max(scale, 1.0);
  double support = f.support * filterscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.bounds.resize(size_t(out_size) * 2);
  c.k.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> kk(size_t(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      double w = f.fn((x + xmin - center + 0.5) * ss);
      kk[size_t(x)] = w;
      ww += w;
    }
    for (int x = 0; x < c.ksize; ++x) {
      double v = x < xmax ? (ww != 0.0 ? kk[size_t(x)] / ww : kk[size_t(x)]) : 0.0;
      c.k[size_t(xx) * c.ksize + x] =
          int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[size_t(xx) * 2] = xmin;
    c.bounds[size_t(xx) * 2 + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t v) {
  if (v >= (int64_t(256) << kPrecisionBits)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

Image resample_horizontal(const Image& in, int out_w, int y0, int rows, const Coeffs& c) {
  Image out{out_w, rows, in.channels, std::vector<uint8_t>(size_t(out_w) * rows * in.channels)};
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < out_w; ++x) {
      int xmin = c.bounds[size_t(x) * 2], n = c.bounds[size_t(x) * 2 + 1];
      const int32_t* k = &c.k[size_t(x) * c.ksize];
      for (int ch = 0; ch < in.channels; ++ch) {
        int64_t ss = int64_t(1) << (kPrecisionBits - 1);
        for (int i = 0; i < n; ++i) ss += int64_t(in.at(xmin + i, y + y0, ch)) * k[i];
        out.pixels[(size_t(y) * out_w + x) * in.channels + ch] = clip8(ss);
      }
    }
  return out;
}

Image resample_vertical(const Image& in, int out_h, const Coeffs& c, int shift) {
  Image out{in.width, out_h, in.channels, std::vector<uint8_t>(size_t(in.width) * out_h * in.channels)};
  for (int y = 0; y < out_h; ++y) {
    int ymin = c.bounds[size_t(y) * 2] - shift, n = c.bounds[size_t(y) * 2 + 1];
    const int32_t* k = &c.k[size_t(y) * c.ksize];
    for (int x = 0; x < in.width; ++x)
      for (int ch = 0; ch < in.channels; ++ch) {
        int64_t ss = int64_t(1) << (kPrecisionBits - 1);
        for (int i = 0; i < n; ++i) ss += int64_t(in.at(x, ymin + i, ch)) * k[i];
        out.pixels[(size_t(y) * in.width + x) * in.channels + ch] = clip8(ss);
      }
  }
  return out;
}

Image resize_nearest(const Image& in, int w, int h) {
  Image out{w, h, in.channels, std::vector<uint8_t>(size_t(w) * h * in.channels)};
  double sx = double(in.width) / w, sy = double(in.height) / h;
  for (int y = 0; y < h; ++y) {
    int yi = std::min(in.height - 1, int((y + 0.5) * sy));
    for (int x = 0; x < w; ++x) {
      int xi = std::min(in.width - 1, int((x + 0.5) * sx));
      for (int ch = 0; ch < in.channels; ++ch)
        out.pixels[(size_t(y) * w + x) * in.channels + ch] = in.at(xi, yi, ch);
    }
  }
  return out;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) fail(name, "file is empty");
  if (size > (size_t(1) << 31)) fail(name, "file is larger than 2 GiB");
  // JPEG structure first: stb_image must not see a malformed Huffman table.
  JpegLayout jpeg;
  if (jpeg_start(data, size) > 0) jpeg = walk_jpeg(data, size, name);
  auto check_size = [&](int64_t w, int64_t h) {
    if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
      fail(name, "image is " + std::to_string(w) + "x" + std::to_string(h) + ", over the limit of " +
                     std::to_string(kMaxImageSide) + " pixels a side and " +
                     std::to_string(kMaxImagePixels / 1000000) + " megapixels");
  };
  // The size from the header, before stb_image (which refuses some huge PNGs with only
  // "unknown image type") and before any pixel buffer exists.
  if (jpeg.width > 0) check_size(jpeg.width, jpeg.height);
  const bool png = starts_with(data, size, {0x89, 'P', 'N', 'G'});
  if (png && size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) check_size(be32(data + 16), be32(data + 20));
  int w = 0, h = 0, n = 0;
  if (!stbi_info_from_memory(data, int(size), &w, &h, &n))
    fail(name, std::string("not a supported image (PNG, JPEG, BMP, TGA, GIF): ") + stbi_failure_reason());
  if (w <= 0 || h <= 0) fail(name, "image has no pixels");
  check_size(w, h);
  check_complete(data, size, name, jpeg);
  std::vector<uint8_t> cleaned;
  if (png && !(cleaned = without_empty_idat(data, size)).empty()) {
    data = cleaned.data();
    size = cleaned.size();
  }
  int comp = 0;
  stbi_uc* px = stbi_load_from_memory(data, int(size), &w, &h, &comp, 0);
  if (!px) fail(name, std::string("cannot decode image: ") + stbi_failure_reason());
  Image im;
  im.width = w;
  im.height = h;
  bool grey = comp <= 2;
  im.channels = grey ? 1 : 3;
  im.pixels.resize(size_t(w) * h * im.channels);
  for (size_t i = 0; i < size_t(w) * h; ++i)
    for (int c = 0; c < im.channels; ++c) im.pixels[i * im.channels + c] = px[i * comp + c];  // alpha dropped
  stbi_image_free(px);
  return im;
}

Image load_image(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an image");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error (is it a directory?)");
  return decode_image(bytes.data(), bytes.size(), path);
}

Image to_grey(const Image& im) {
  if (im.channels == 1) return im;
  Image out{im.width, im.height, 1, std::vector<uint8_t>(size_t(im.width) * im.height)};
  for (size_t i = 0; i < out.pixels.size(); ++i) {
    uint32_t r = im.pixels[i * 3], g = im.pixels[i * 3 + 1], b = im.pixels[i * 3 + 2];
    out.pixels[i] = uint8_t((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
  }
  return out;
}

Image to_rgb(const Image& im) {
  if (im.channels == 3) return im;
  Image out{im.width, im.height, 3, std::vector<uint8_t>(size_t(im.width) * im.height * 3)};
  for (size_t i = 0; i < size_t(im.width) * im.height; ++i)
    out.pixels[i * 3] = out.pixels[i * 3 + 1] = out.pixels[i * 3 + 2] = im.pixels[i];
  return out;
}

Image resize(const Image& im, int w, int h, const std::string& interpolation) {
  if (w <= 0 || h <= 0) throw Error("resize to an empty size");
  if (w == im.width && h == im.height) return im;
  if (interpolation == "nearest") return resize_nearest(im, w, h);
  Filter f;
  if (interpolation == "bicubic")
    f = {bicubic_filter, 2.0};
  else if (interpolation == "bilinear")
    f = {bilinear_filter, 1.0};
  else if (interpolation == "box")
    f = {box_filter, 0.5};
  else if (interpolation == "hamming")
    f = {hamming_filter, 1.0};
  else if (interpolation == "lanczos")
    f = {lanczos_filter, 3.0};
  else
    throw Error("unknown interpolation '" + interpolation + "' (bicubic, bilinear, nearest, box, hamming, lanczos)");
  Coeffs ch = precompute(im.width, w, f), cv = precompute(im.height, h, f);
  bool need_h = w != im.width, need_v = h != im.height;
  if (need_h) {
    int first = cv.bounds[0];
    int last = cv.bounds[size_t(h) * 2 - 2] + cv.bounds[size_t(h) * 2 - 1];
    if (!need_v) { first = 0; last = im.height; }
    Image tmp = resample_horizontal(im, w, first, last - first, ch);
    return need_v ? resample_vertical(tmp, h, cv, first) : tmp;
  }
  return resample_vertical(im, h, cv, 0);
}

Image center_crop(const Image& src, int w, int h) {
  Image im = src;
  if (w > im.width || h > im.height) {
    // torchvision pads symmetrically with zeros first.
    int pw = std::max(w, im.width), ph = std::max(h, im.height);
    int left = (w - im.width) > 0 ? (w - im.width) / 2 : 0;
    int top = (h - im.height) > 0 ? (h - im.height) / 2 : 0;
    Image padded{pw, ph, im.channels, std::vector<uint8_t>(size_t(pw) * ph * im.channels, 0)};
    for (int y = 0; y < im.height; ++y)
      std::memcpy(&padded.pixels[(size_t(y + top) * pw + left) * im.channels],
                  &im.pixels[size_t(y) * im.width * im.channels], size_t(im.width) * im.channels);
    im = std::move(padded);
    if (im.width == w && im.height == h) return im;
  }
  int top = int(std::nearbyint((im.height - h) / 2.0));
  int left = int(std::nearbyint((im.width - w) / 2.0));
  Image out{w, h, im.channels, std::vector<uint8_t>(size_t(w) * h * im.channels)};
  for (int y = 0; y < h; ++y)
    std::memcpy(&out.pixels[size_t(y) * w * im.channels],
                &im.pixels[(size_t(y + top) * im.width + left) * im.channels], size_t(w) * im.channels);
  return out;
}

namespace {

// transformers' image_transforms.center_crop: offsets rounded down, and an image smaller
// than the crop is zero-padded with the extra pixel on the top/left (torchvision puts it
// on the bottom/right).
Image hf_center_crop(const Image& im, int w, int h) {
  auto offset = [](int have, int want) { return have >= want ? (have - want) / 2 : -((want - have + 1) / 2); };
  const int top = offset(im.height, h), left = offset(im.width, w);
  Image out{w, h, im.channels, std::vector<uint8_t>(size_t(w) * h * im.channels, 0)};
  for (int y = 0; y < h; ++y) {
    int sy = y + top;
    if (sy < 0 || sy >= im.height) continue;
    for (int x = 0; x < w; ++x) {
      int sx = x + left;
      if (sx < 0 || sx >= im.width) continue;
      for (int c = 0; c < im.channels; ++c) out.pixels[(size_t(y) * w + x) * im.channels + c] = im.at(sx, sy, c);
    }
  }
  return out;
}

// torchvision Resize(int): shorter side to `s`, longer side int(s * long / short).
std::pair<int, int> shorter_side_to(int w, int h, int s) {
  if (w <= h) return {s, int(int64_t(s) * h / w)};
  return {int(int64_t(s) * w / h), s};
}
}  // namespace

Preprocess with_pipeline(const Preprocess& model, const std::string& pipeline) {
  Preprocess p = model;
  if (pipeline == model.pipeline) return p;
  p.pipeline = pipeline;
  p.resize = true;
  if (pipeline == "timm") {
    // timm's eval transform with its defaults, keeping the model's mean/std.
    p.interpolation = "bicubic";
    if (model.pipeline == "torchvision") p.crop_pct = 224.0f / 256.0f;
    else p.crop_pct = 0.9f;
    p.center_crop = true;
  } else if (pipeline == "hf") {
    // ViTImageProcessor: squash to the input size, bilinear.
    p.interpolation = "bilinear";
    p.squash = true;
    p.resize_height = p.resize_width = 0;
    p.resize_shortest = 0;
    p.center_crop = false;
  } else if (pipeline == "torchvision") {
    p.interpolation = "bilinear";
    p.squash = false;
    p.resize_shortest = std::max(p.height, p.width) * 256 / 224;
    p.center_crop = true;
  } else if (pipeline == "none") {
    p.center_crop = false;
  } else {
    throw Error("unknown preprocessing pipeline '" + pipeline + "' (timm, hf, torchvision, none)");
  }
  return p;
}

Preprocessed preprocess(const Image& src, const Preprocess& pre, int in_chans) {
  if (in_chans != 1 && in_chans != 3)
    throw Error("models with " + std::to_string(in_chans) + " input channels cannot take images; use --input-npy");
  Image im = in_chans == 1 ? to_grey(src) : to_rgb(src);
  const int H = pre.height, W = pre.width;
  Preprocessed out;
  char buf[256];
  if (pre.pipeline == "timm") {
    if (!(pre.crop_pct > 0.0f)) throw Error("crop_pct must be positive");
    int sh = int(std::floor(H / double(pre.crop_pct))), sw = int(std::floor(W / double(pre.crop_pct)));
    int rw, rh;
    if (sh == sw) {
      std::tie(rw, rh) = shorter_side_to(im.width, im.height, sh);
    } else {  // timm ResizeKeepRatio
      double ratio = std::min(im.height / double(sh), im.width / double(sw));
      rh = int(std::lround(im.height / ratio));
      rw = int(std::lround(im.width / ratio));
    }
    im = center_crop(resize(im, rw, rh, pre.interpolation), W, H);
    std::snprintf(buf, sizeof buf, "timm: resize to %dx%d (%s, crop_pct %.3g), centre crop %dx%d", rw, rh,
                  pre.interpolation.c_str(), double(pre.crop_pct), W, H);
  } else if (pre.pipeline == "hf") {
    // transformers' slow image processors: PIL resize (squash or shorter edge), then crop.
    std::string what = "hf:";
    if (pre.resize && pre.squash) {
      int rw = pre.resize_width > 0 ? pre.resize_width : W, rh = pre.resize_height > 0 ? pre.resize_height : H;
      im = resize(im, rw, rh, pre.interpolation);
      what += " resize to " + std::to_string(rw) + "x" + std::to_string(rh) + " (" + pre.interpolation + ")";
    } else if (pre.resize && pre.resize_shortest > 0) {
      auto [rw, rh] = shorter_side_to(im.width, im.height, pre.resize_shortest);
      im = resize(im, rw, rh, pre.interpolation);
      what += " resize shorter side to " + std::to_string(pre.resize_shortest) + " (" + pre.interpolation + ")";
    } else {
      what += " no resize";
    }
    if (pre.center_crop || im.width != W || im.height != H) {
      im = hf_center_crop(im, W, H);
      what += ", centre crop " + std::to_string(W) + "x" + std::to_string(H);
    }
    std::snprintf(buf, sizeof buf, "%s", what.c_str());
  } else if (pre.pipeline == "torchvision") {
    // torchvision's transforms on a PIL image: Resize(S) (shorter side; ImageClassification
    // takes 256 for a 224 crop, scaled with the size) or Resize([H, W]), then CenterCrop.
    std::string what = "torchvision:";
    if (pre.resize && pre.squash) {
      im = resize(im, pre.resize_width, pre.resize_height, pre.interpolation);
      what += " resize to " + std::to_string(pre.resize_width) + "x" + std::to_string(pre.resize_height);
    } else if (pre.resize) {
      int s = pre.resize_shortest > 0 ? pre.resize_shortest : std::max(H, W) * 256 / 224;
      auto [rw, rh] = shorter_side_to(im.width, im.height, s);
      im = resize(im, rw, rh, pre.interpolation);
      what += " resize shorter side to " + std::to_string(s);
    }
    what += pre.resize ? " (" + pre.interpolation + ")," : " no resize,";
    if (pre.center_crop) im = center_crop(im, W, H);
    what += " centre crop " + std::to_string(W) + "x" + std::to_string(H);
    std::snprintf(buf, sizeof buf, "%s", what.c_str());
  } else if (pre.pipeline == "paddle") {
    std::string what = "paddle:";
    im = paddle_resize_crop(im, pre, what);
    std::snprintf(buf, sizeof buf, "%s", what.c_str());
  } else if (pre.pipeline == "none") {
    im = resize(im, W, H, pre.interpolation);
    std::snprintf(buf, sizeof buf, "%s: resize to %dx%d (%s)", pre.pipeline.c_str(), W, H, pre.interpolation.c_str());
  } else {
    throw Error("unknown preprocessing pipeline '" + pre.pipeline + "' (timm, hf, torchvision, none)");
  }
  if (im.width != W || im.height != H) im = center_crop(im, W, H);
  out.description = buf;
  out.tensor.resize(size_t(in_chans) * H * W);
  // torchvision's ToTensor divides by 255; PaddleClas's NormalizeImage multiplies by its
  // float32 scale.
  const bool exact_255 = pre.pipeline != "paddle" && std::abs(pre.rescale - 1.0f / 255.0f) < 1e-9f;
  for (int c = 0; c < in_chans; ++c) {
    float m = pre.mean[size_t(c)], s = pre.std[size_t(c)];
    const int from = pre.bgr && in_chans == 3 ? 2 - c : c;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        {
          float v = float(im.at(x, y, from));
          v = exact_255 ? v / 255.0f : v * pre.rescale;
          out.tensor[(size_t(c) * H + y) * W + x] = (v - m) / s;
        }
  }
  out.view = std::move(im);
  return out;
}

}  // namespace vitscope
