// Push constants shared by overlay.vert and overlay.frag; mirrored by
// OverlayParams in app/gui/overlay.h (std430 push-constant layout, 96 bytes).
layout(push_constant) uniform OverlayParams {
  vec4 rect;        // screen rectangle x0, y0, x1, y1 in framebuffer pixels
  vec4 uv_rect;     // part of the image shown: u0, v0, u1, v1
  vec4 heat_rect;   // where the patch grid lies in image uv: u0, v0, u1, v1
  vec2 framebuffer; // framebuffer width, height
  ivec2 tile;       // texel origin of this heat grid in the atlas
  ivec2 grid;       // grid width (columns), height (rows)
  float opacity;
  float lo;         // value mapped to the colour map's first entry
  float hi;         // value mapped to its last entry
  int colormap;     // row of the colour-map texture
  int flags;        // kFlag* in overlay.h
  float dim;        // brightness of the image outside the patch grid
} pc;

const int kFlagHeat = 1;
const int kFlagBilinear = 2;
const int kFlagSmoothImage = 4;
