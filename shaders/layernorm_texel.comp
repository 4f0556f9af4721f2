#version 450
// LayerNorm for CPU Vulkan devices (lavapipe), same equation and two-pass variance as
// layernorm.comp, one row per invocation; but x, gamma and beta are read as RGBA32F texels
// (on lavapipe a texelFetch is a branch-free gather, while every SSBO load is scalarised
// into a loop over the lanes) and y is written a vec4 at a time (one such loop per 4 floats).
// Needs C and both row strides multiples of 4 and 16-byte aligned views.
layout(local_size_x = 8) in;  // one lavapipe subgroup: small row counts still spread over threads

layout(binding = 0) uniform samplerBuffer X;     // (rows, ldx)
layout(binding = 1) uniform samplerBuffer G;     // (C)
layout(binding = 2) uniform samplerBuffer Beta;  // (C)
layout(std430, binding = 3) writeonly buffer Y { vec4 y[]; };  // (rows, ldy)

layout(push_constant) uniform Push {
  uint rows, C, ldx, ldy;  // row strides in floats
  float eps;
} p;

void main() {
  uint r = gl_GlobalInvocationID.x;
  if (r >= p.rows) return;
  int xo = int(r * (p.ldx / 4u));
  uint yo = r * (p.ldy / 4u), C4 = p.C / 4u;
  vec4 s = vec4(0.0);
  for (uint c = 0; c < C4; ++c) s += texelFetch(X, xo + int(c));
  float mean = (s.x + s.y + s.z + s.w) / float(p.C);
  vec4 q = vec4(0.0);
  for (uint c = 0; c < C4; ++c) {
    vec4 d = texelFetch(X, xo + int(c)) - mean;
    q += d * d;
  }
  float rstd = inversesqrt((q.x + q.y + q.z + q.w) / float(p.C) + p.eps);
  for (uint c = 0; c < C4; ++c)
    y[yo + c] = (texelFetch(X, xo + int(c)) - mean) * rstd * texelFetch(G, int(c)) + texelFetch(Beta, int(c));
}
