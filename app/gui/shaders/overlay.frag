#version 450
// Image with the attention heat grid over it. The grid is upsampled here by hand
// (nearest patch, or bilinear between patch centres at (i + 0.5) / grid), mapped
// through a 256-entry colour map and blended: mix(image, colour, opacity).
#extension GL_GOOGLE_include_directive : require
#include "overlay_params.glsl"

layout(set = 0, binding = 0) uniform sampler2D u_image;     // RGBA8, linear sampler
layout(set = 0, binding = 1) uniform sampler2D u_heat;      // R32F atlas, texelFetch only
layout(set = 0, binding = 2) uniform sampler2D u_colormaps; // 256 x maps, RGBA8

layout(location = 0) in vec2 v_uv;
layout(location = 0) out vec4 o_colour;

float heat_at(ivec2 cell) {
  cell = clamp(cell, ivec2(0), pc.grid - 1);
  return texelFetch(u_heat, pc.tile + cell, 0).r;
}

void main() {
  vec3 base;
  if ((pc.flags & kFlagSmoothImage) != 0) {
    base = texture(u_image, v_uv).rgb;
  } else {
    ivec2 size = textureSize(u_image, 0);
    ivec2 texel = clamp(ivec2(floor(v_uv * vec2(size))), ivec2(0), size - 1);
    base = texelFetch(u_image, texel, 0).rgb;
  }
  vec3 colour = base;
  vec2 h = (v_uv - pc.heat_rect.xy) / (pc.heat_rect.zw - pc.heat_rect.xy);
  bool inside = all(greaterThanEqual(h, vec2(0.0))) && all(lessThan(h, vec2(1.0)));
  if (!inside) {
    colour = base * pc.dim;
  } else if ((pc.flags & kFlagHeat) != 0) {
    vec2 g = h * vec2(pc.grid);
    float value;
    if ((pc.flags & kFlagBilinear) != 0) {
      vec2 q = g - 0.5;
      ivec2 c0 = ivec2(floor(q));
      vec2 f = q - vec2(c0);
      float top = mix(heat_at(c0), heat_at(c0 + ivec2(1, 0)), f.x);
      float bottom = mix(heat_at(c0 + ivec2(0, 1)), heat_at(c0 + ivec2(1, 1)), f.x);
      value = mix(top, bottom, f.y);
    } else {
      value = heat_at(ivec2(floor(g)));
    }
    float t = clamp((value - pc.lo) / max(pc.hi - pc.lo, 1e-30), 0.0, 1.0);
    int entry = int(t * 255.0 + 0.5);
    vec3 mapped = texelFetch(u_colormaps, ivec2(entry, pc.colormap), 0).rgb;
    colour = mix(base, mapped, pc.opacity);
  }
  o_colour = vec4(colour, 1.0);
}
