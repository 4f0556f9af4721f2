// The one translation unit that compiles stb_image_write (Debian's libstb-dev).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include "io/png.h"

#include "core/error.h"

namespace vitscope {

void write_png(const std::string& path, int width, int height, int channels, const unsigned char* pixels) {
  if (!stbi_write_png(path.c_str(), width, height, channels, pixels, width * channels))
    throw Error(path + ": cannot write PNG");
}

}  // namespace vitscope
