// PNG writing (stb_image_write).
#pragma once
#include <string>

namespace vitscope {

void write_png(const std::string& path, int width, int height, int channels, const unsigned char* pixels);

}  // namespace vitscope
