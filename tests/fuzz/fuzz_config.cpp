// libFuzzer target: the config readers. A fixed tiny checkpoint (timm or Hugging Face
// naming) sits in a scratch folder; the input becomes its config.json or
// preprocessor_config.json and load_model runs on the folder. What loads is then
// preprocessed, so fuzzed mean/std/crop/interpolation values reach image.cpp too.
//
// Input: byte 0 selects the case (bit 0: hf naming; bit 1: input is
// preprocessor_config.json; bits 2-3: --heads / --size overrides), the rest is the JSON.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_common.h"
#include "image.h"
#include "model/weights.h"

namespace {

struct Dirs {
  std::string timm, hf;
};

const Dirs& dirs() {
  static const Dirs d = [] {
    Dirs out;
    out.timm = fuzz::scratch_dir() + "/timm";
    out.hf = fuzz::scratch_dir() + "/hf";
    for (const std::string* dir : {&out.timm, &out.hf}) {
      if (mkdir(dir->c_str(), 0700) != 0 && errno != EEXIST) std::abort();
    }
    fuzz::write_file(out.timm + "/model.safetensors", fuzz::make_safetensors(fuzz::tiny_timm()));
    fuzz::write_file(out.hf + "/model.safetensors", fuzz::make_safetensors(fuzz::tiny_hf()));
    return out;
  }();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t sel = data[0];
  const std::string& dir = (sel & 1) ? dirs().hf : dirs().timm;
  const bool pre_file = (sel & 2) != 0;
  const std::string target = dir + (pre_file ? "/preprocessor_config.json" : "/config.json");
  const std::string other = dir + (pre_file ? "/config.json" : "/preprocessor_config.json");
  std::remove(other.c_str());
  fuzz::write_file(target, data + 1, size - 1);
  vitscope::LoadOptions opt;
  if (sel & 4) opt.heads = 4;
  if (sel & 8) opt.height = opt.width = 12;
  try {
    vitscope::LoadedModel m = vitscope::load_model(dir, opt);
    const vitscope::VitConfig& c = m.config;
    if (int64_t(c.img_h) * c.img_w <= 256 * 256) {
      vitscope::Image im{7, 5, 3, std::vector<uint8_t>(7 * 5 * 3)};
      for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 37);
      (void)vitscope::preprocess(im, c.pre, c.in_chans);
    }
  } catch (const vitscope::Error&) {
  }
  std::remove(target.c_str());
  return 0;
}
