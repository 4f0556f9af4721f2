#version 450
// One screen rectangle as a 4-vertex triangle strip built from gl_VertexIndex; no
// vertex buffer. The rectangle comes in framebuffer pixels through push constants.
#extension GL_GOOGLE_include_directive : require
#include "overlay_params.glsl"

layout(location = 0) out vec2 v_uv;

void main() {
  vec2 corner = vec2(float(gl_VertexIndex & 1), float(gl_VertexIndex >> 1));
  v_uv = mix(pc.uv_rect.xy, pc.uv_rect.zw, corner);
  vec2 pixel = mix(pc.rect.xy, pc.rect.zw, corner);
  gl_Position = vec4(pixel / pc.framebuffer * 2.0 - 1.0, 0.0, 1.0);
}
