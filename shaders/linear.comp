#version 450
// Linear layer, y = x W^T + b with a fused epilogue (paper: every Dense layer of the ViT).
//   x: (M, K) rows lda apart;  W: (N, K) as stored by PyTorch (rows ldw apart);
//   y: (M, N) rows ldy apart.
//   y = (RESIDUAL ? y : 0) + alpha * gamma[n] * act(x W^T + b)
// Portable kernel: 16x16 invocations, each computing 4x4 outputs (a 64x64 tile).
// Variant W_F16 (shaders/CMakeLists.txt) reads fp16 weights (storageBuffer16BitAccess).
#extension GL_GOOGLE_include_directive : require
#ifdef W_F16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"

layout(local_size_x = 16, local_size_y = 16) in;

layout(constant_id = 0) const uint HAS_BIAS = 1;
layout(constant_id = 1) const uint ACT = 0;
layout(constant_id = 2) const uint RESIDUAL = 0;
layout(constant_id = 3) const uint HAS_GAMMA = 0;

layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef W_F16
layout(std430, binding = 1) readonly buffer W { float16_t w[]; };
#else
layout(std430, binding = 1) readonly buffer W { float w[]; };
#endif
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint M, N, K, lda, ldw, ldy;
  float alpha;
} p;

void main() {
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint n0 = gl_WorkGroupID.x * 64u + tx;
  uint m0 = gl_WorkGroupID.y * 64u + ty;
  uint rows[4], cols[4];
  for (uint i = 0; i < 4u; ++i) {
    rows[i] = min(m0 + 16u * i, p.M - 1u);
    cols[i] = min(n0 + 16u * i, p.N - 1u);
  }
  float acc[4][4];
  for (uint i = 0; i < 4u; ++i)
    for (uint j = 0; j < 4u; ++j) acc[i][j] = 0.0;
  for (uint k = 0; k < p.K; ++k) {
    float a[4], b[4];
    for (uint i = 0; i < 4u; ++i) a[i] = x[rows[i] * p.lda + k];
    for (uint j = 0; j < 4u; ++j) b[j] = float(w[cols[j] * p.ldw + k]);
    for (uint i = 0; i < 4u; ++i)
      for (uint j = 0; j < 4u; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
  }
  for (uint i = 0; i < 4u; ++i) {
    uint m = m0 + 16u * i;
    if (m >= p.M) continue;
    for (uint j = 0; j < 4u; ++j) {
      uint n = n0 + 16u * j;
      if (n >= p.N) continue;
      float v = acc[i][j];
      if (HAS_BIAS != 0u) v += bias[n];
      v = vit_activate(v, ACT);
      if (HAS_GAMMA != 0u) v *= gamma[n];
      v *= p.alpha;
      uint o = m * p.ldy + n;
      if (RESIDUAL != 0u) v += y[o];
      y[o] = v;
    }
  }
}
