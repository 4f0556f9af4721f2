// libFuzzer target: image decoding (stb_image behind our checks) and every preprocessing
// pipeline on what decodes. The last input byte picks the pipeline and the model size.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t sel = data[size - 1];
  vitscope::Image im;
  try {
    im = vitscope::decode_image(data, size, "fuzz.img");
  } catch (const vitscope::Error&) {
    return 0;
  }
  if (im.width <= 0 || im.height <= 0 ||
      im.pixels.size() != size_t(im.width) * size_t(im.height) * size_t(im.channels))
    __builtin_trap();
  // Keep each run fast: preprocessing is linear in the pixels, so skip huge decodes.
  if (int64_t(im.width) * im.height > 1024 * 1024) return 0;
  static const char* const kPipelines[] = {"timm", "hf", "torchvision", "none"};
  static const char* const kInterp[] = {"bicubic", "bilinear", "nearest", "box"};
  vitscope::Preprocess pre;
  pre.pipeline = kPipelines[sel & 3];
  pre.interpolation = kInterp[(sel >> 2) & 3];
  pre.height = 8 + ((sel >> 4) & 3) * 12;
  pre.width = 8 + ((sel >> 6) & 3) * 12;
  pre.squash = (sel & 1) != 0;
  pre.resize_shortest = (sel & 0x20) ? pre.height + 3 : 0;
  pre.crop_pct = (sel & 0x10) ? 0.875f : 1.0f;
  const int chans = (sel & 0x80) ? 1 : 3;
  pre.mean.assign(size_t(chans), 0.5f);
  pre.std.assign(size_t(chans), 0.25f);
  try {
    vitscope::Preprocessed p = vitscope::preprocess(im, pre, chans);
    if (p.tensor.size() != size_t(chans) * size_t(pre.height) * size_t(pre.width)) __builtin_trap();
  } catch (const vitscope::Error&) {
  }
  return 0;
}
