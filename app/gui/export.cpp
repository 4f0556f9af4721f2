#include "export.h"

#include <algorithm>
#include <cmath>

#include "viz/attention_maps.h"

namespace vitscope::gui {

std::vector<unsigned char> composite(const Image& image, int out_w, int out_h, const std::vector<float>& grid, int gw,
                                     int gh, const std::array<float, 4>& heat_uv, const CompositeStyle& style) {
  const auto& names = viz::colormap_names();
  const std::string& cmap = names[size_t(std::clamp(style.colormap, 0, int(names.size()) - 1))];
  unsigned char lut[256][3];
  for (int i = 0; i < 256; ++i) viz::colormap(cmap, float(i) / 255.f, lut[i]);
  auto heat = [&](int cx, int cy) {
    cx = std::clamp(cx, 0, gw - 1);
    cy = std::clamp(cy, 0, gh - 1);
    return grid[size_t(cy) * size_t(gw) + size_t(cx)];
  };
  const float opacity = std::clamp(style.opacity, 0.f, 1.f);
  std::vector<unsigned char> out(size_t(out_w) * size_t(out_h) * 3);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      const float u = (float(x) + 0.5f) / float(out_w), v = (float(y) + 0.5f) / float(out_h);
      const int ix = std::clamp(int(std::floor(u * float(image.width))), 0, image.width - 1);
      const int iy = std::clamp(int(std::floor(v * float(image.height))), 0, image.height - 1);
      float base[3];
      for (int c = 0; c < 3; ++c) base[c] = float(image.at(ix, iy, image.channels == 1 ? 0 : c)) / 255.f;
      float colour[3] = {base[0], base[1], base[2]};
      const float hx = (u - heat_uv[0]) / (heat_uv[2] - heat_uv[0]), hy = (v - heat_uv[1]) / (heat_uv[3] - heat_uv[1]);
      const bool inside = hx >= 0.f && hy >= 0.f && hx < 1.f && hy < 1.f;
      if (!inside) {
        for (float& c : colour) c *= style.dim;
      } else if (style.heat && !grid.empty()) {
        const float gx = hx * float(gw), gy = hy * float(gh);
        float value;
        if (style.bilinear) {
          const float qx = gx - 0.5f, qy = gy - 0.5f;
          const int x0 = int(std::floor(qx)), y0 = int(std::floor(qy));
          const float fx = qx - float(x0), fy = qy - float(y0);
          const float top = heat(x0, y0) + (heat(x0 + 1, y0) - heat(x0, y0)) * fx;
          const float bottom = heat(x0, y0 + 1) + (heat(x0 + 1, y0 + 1) - heat(x0, y0 + 1)) * fx;
          value = top + (bottom - top) * fy;
        } else {
          value = heat(int(std::floor(gx)), int(std::floor(gy)));
        }
        const float t = std::clamp((value - style.lo) / std::max(style.hi - style.lo, 1e-30f), 0.f, 1.f);
        const unsigned char* m = lut[int(t * 255.f + 0.5f)];
        for (int c = 0; c < 3; ++c) colour[c] = base[c] + (float(m[c]) / 255.f - base[c]) * opacity;
      }
      for (int c = 0; c < 3; ++c)
        out[(size_t(y) * size_t(out_w) + size_t(x)) * 3 + size_t(c)] =
            static_cast<unsigned char>(std::lround(std::clamp(colour[c], 0.f, 1.f) * 255.f));
    }
  return out;
}

std::vector<unsigned char> tile_images(const std::vector<std::vector<unsigned char>>& tiles, int tile_w, int tile_h,
                                       int columns, int gap, int& width, int& height) {
  const int n = int(tiles.size());
  columns = std::max(1, std::min(columns, n));
  const int rows = (n + columns - 1) / columns;
  width = columns * tile_w + (columns + 1) * gap;
  height = rows * tile_h + (rows + 1) * gap;
  std::vector<unsigned char> out(size_t(width) * size_t(height) * 3, 24);
  for (int i = 0; i < n; ++i) {
    const int ox = gap + (i % columns) * (tile_w + gap), oy = gap + (i / columns) * (tile_h + gap);
    for (int y = 0; y < tile_h; ++y)
      std::copy_n(tiles[size_t(i)].begin() + long(size_t(y) * size_t(tile_w) * 3), size_t(tile_w) * 3,
                  out.begin() + long((size_t(oy + y) * size_t(width) + size_t(ox)) * 3));
  }
  return out;
}

}  // namespace vitscope::gui
