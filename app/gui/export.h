// Saving what the viewer shows as PNG files, composited on the CPU with the same
// arithmetic as the overlay shader: nearest image texel, heat grid upsampled by
// nearest patch or bilinear between patch centres, 256-entry colour map, blend.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "image.h"

namespace vitscope::gui {

struct CompositeStyle {
  int colormap = 0;  // index into viz::colormap_names()
  float opacity = 0.6f;
  bool heat = true;
  bool bilinear = false;
  float lo = 0.f, hi = 1.f;
  float dim = 1.0f;  // outside the patch grid
};

// RGB pixels of `image` scaled to out_w x out_h with `grid` (gw x gh) blended over
// the part heat_uv (u0, v0, u1, v1) of the image.
std::vector<unsigned char> composite(const Image& image, int out_w, int out_h, const std::vector<float>& grid, int gw,
                                     int gh, const std::array<float, 4>& heat_uv, const CompositeStyle& style);

// Tiles of equal size laid out in `columns` columns with `gap` pixels between them
// on a dark background: returns RGB and sets width/height.
std::vector<unsigned char> tile_images(const std::vector<std::vector<unsigned char>>& tiles, int tile_w, int tile_h,
                                       int columns, int gap, int& width, int& height);

}  // namespace vitscope::gui
