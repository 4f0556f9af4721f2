#version 450
// Linear layer for GPUs: y = x W^T + b with the fused epilogue of linear.comp.
// Classic shared-memory tiling with register blocking: a workgroup of NT threads computes a
// BM x BN tile of y; per BK-slice of K it stages x (BM x BK) and W (BN x BK) in shared memory
// (transposed, so the inner loop reads consecutive addresses) and every thread accumulates
// TM x TN outputs spaced BM/TM rows and BN/TN columns apart (no bank conflicts on reads).
// Tile sizes are specialization constants; the host picks small/medium/large by shape.
// Variants (shaders/CMakeLists.txt): W_F16 reads fp16 weights (storageBuffer16BitAccess);
// MATH_F16 also stages both tiles as fp16 and multiplies and adds in fp16 within one BK
// slice of K (shaderFloat16), adding each slice's sum into the fp32 accumulator.
#extension GL_GOOGLE_include_directive : require
#if defined(W_F16) || defined(MATH_F16)
#extension GL_EXT_shader_16bit_storage : require
#endif
#ifdef MATH_F16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "common.glsl"

layout(local_size_x_id = 9) in;

layout(constant_id = 0) const uint HAS_BIAS = 1;
layout(constant_id = 1) const uint ACT = 0;
layout(constant_id = 2) const uint RESIDUAL = 0;
layout(constant_id = 3) const uint HAS_GAMMA = 0;
layout(constant_id = 4) const uint BM = 64;
layout(constant_id = 5) const uint BN = 64;
layout(constant_id = 6) const uint BK = 16;
layout(constant_id = 7) const uint TM = 4;  // <= 8
layout(constant_id = 8) const uint TN = 4;  // <= 8
layout(constant_id = 9) const uint NT = 256;  // == (BM / TM) * (BN / TN)

layout(std430, binding = 0) readonly buffer X { float x[]; };
#if defined(W_F16) || defined(MATH_F16)
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

#ifdef MATH_F16
#define TILE_T float16_t
#else
#define TILE_T float
#endif
shared TILE_T xs[BK * BM];  // xs[k * BM + m]
shared TILE_T ws[BK * BN];  // ws[k * BN + n]

void main() {
  const uint TX = BN / TN, SY = BM / TM;
  uint tid = gl_LocalInvocationIndex;
  uint tx = tid % TX, ty = tid / TX;
  uint mb = gl_WorkGroupID.y * BM, nb = gl_WorkGroupID.x * BN;
  float acc[8][8];
  for (uint i = 0; i < TM; ++i)
    for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // Consecutive threads read consecutive k of one row (coalesced).
    for (uint e = tid; e < BM * BK; e += NT) {
      uint r = e / BK, kk = e % BK, m = mb + r, k = k0 + kk;
      xs[kk * BM + r] = TILE_T((m < p.M && k < p.K) ? x[m * p.lda + k] : 0.0);
    }
    for (uint e = tid; e < BN * BK; e += NT) {
      uint c = e / BK, kk = e % BK, n = nb + c, k = k0 + kk;
      ws[kk * BN + c] = (n < p.N && k < p.K) ? TILE_T(w[n * p.ldw + k]) : TILE_T(0.0);
    }
    barrier();
#ifdef MATH_F16
    float16_t part[8][8];
    for (uint i = 0; i < TM; ++i)
      for (uint j = 0; j < TN; ++j) part[i][j] = float16_t(0.0);
    for (uint kk = 0; kk < BK; ++kk) {
      float16_t a[8], b[8];
      for (uint i = 0; i < TM; ++i) a[i] = xs[kk * BM + ty + i * SY];
      for (uint j = 0; j < TN; ++j) b[j] = ws[kk * BN + tx + j * TX];
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) part[i][j] = fma(a[i], b[j], part[i][j]);
    }
    for (uint i = 0; i < TM; ++i)
      for (uint j = 0; j < TN; ++j) acc[i][j] += float(part[i][j]);
#else
    for (uint kk = 0; kk < BK; ++kk) {
      float a[8], b[8];
      for (uint i = 0; i < TM; ++i) a[i] = xs[kk * BM + ty + i * SY];
      for (uint j = 0; j < TN; ++j) b[j] = float(ws[kk * BN + tx + j * TX]);
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
#endif
    barrier();
  }

  for (uint i = 0; i < TM; ++i) {
    uint m = mb + ty + i * SY;
    if (m >= p.M) continue;
    for (uint j = 0; j < TN; ++j) {
      uint n = nb + tx + j * TX;
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
