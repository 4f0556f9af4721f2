// Image decoding (stb_image) and preprocessing that reproduces the frameworks' eval
// transforms: PIL's antialiased resampling in 8-bit fixed point, torchvision's resize
// and centre-crop arithmetic, then /255 and mean/std normalisation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/vit_config.h"

namespace vitscope {

// 8-bit image, interleaved; channels is 1 (grey) or 3 (RGB).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;
  uint8_t at(int x, int y, int c) const { return pixels[(size_t(y) * width + x) * channels + c]; }
};

// Images larger than this (either side) are refused before any pixel is decoded.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = 100'000'000;

Image load_image(const std::string& path);
Image decode_image(const uint8_t* data, size_t size, const std::string& name);

// PIL-equivalent operations on 8-bit images.
Image to_grey(const Image& im);  // ITU-R 601-2 luma, as PIL's convert("L")
Image to_rgb(const Image& im);
Image resize(const Image& im, int width, int height, const std::string& interpolation);
Image center_crop(const Image& im, int width, int height);  // pads with black when smaller

struct Preprocessed {
  std::vector<float> tensor;  // (Cin, H, W)
  Image view;                 // what the model sees (after resize and crop), 8-bit
  std::string description;    // e.g. "timm: resize shorter side to 248 (bicubic), centre crop 224x224"
};

// pipeline: "timm", "hf", "torchvision" or "none" (resize straight to the input size).
Preprocessed preprocess(const Image& im, const Preprocess& pre, int in_chans);

// The model's preprocessing switched to another framework's eval transform (for
// --preprocess): that framework's resize and crop at the model's input size, keeping the
// model's mean, std and rescale factor. The same pipeline returns `model` unchanged.
Preprocess with_pipeline(const Preprocess& model, const std::string& pipeline);

}  // namespace vitscope
