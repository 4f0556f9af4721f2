#version 450
// Linear layer for CPU Vulkan devices (lavapipe): y = x W^T + b with the fused epilogue of
// linear.comp. See docs/performance.md and ../shared/docs/lavapipe-gemm.md for why:
//  - x and W are read through uniform texel buffers (RGBA32F, texelFetch): on lavapipe a texel
//    fetch is a branch-free gather, while an SSBO load is scalarised per lane;
//  - one subgroup (SG lanes, one SIMD register on the CPU) computes RM = 8 rows x SG*CN
//    columns (which columns a lane owns: below);
//  - along K the lanes fetch one vec4 of x each (SG vec4 = 4*SG values of K per block) and
//    share them with subgroupBroadcast, then fetch their own W rows.
// W may be an RGBA16F view (fp16 weights, half the bytes per fetch): texelFetch returns the
// same vec4 either way and the arithmetic stays fp32.
// LN = 1 fuses the LayerNorm before the layer into the read of x: each subgroup first takes
// the mean and (two-pass) variance of its RM rows with subgroupAdd, then normalises every
// vec4 of x it fetches, (x - mean) * rstd * ln_gamma + ln_beta, as layernorm.comp does. The
// statistics are recomputed by every column tile, so this pays only for narrow layers, where
// a separate LayerNorm dispatch costs more than the arithmetic (ops::linear_fuses_layernorm).
// Built twice: linear_texel stores y a float at a time (any N); linear_texel_v4 (VEC4_OUT)
// reads bias and LayerScale as texels and loads and stores y a vec4 at a time (N and ldy
// multiples of 4): on lavapipe every SSBO access is a loop over the lanes, so this quarters
// the epilogue's loops, which matter for small K. Both give each lane runs of 4 adjacent
// columns (4*SG columns per run of 4 accumulators) unless W is row-major and the epilogue
// scalar, where lane l owns columns n0 + l + SG*j (a narrower gather in row-major W).
// PACKED = 1: W is stored as ops::pack_weight_group lays it out, in groups of G = 4*SG
// columns; within a group the K/4 texels of the columns are interleaved so that the SG
// texels the lanes fetch for one accumulator and one k4 are adjacent (128 bytes for SG = 8)
// and each accumulator's fetches walk one sequential stream. In row-major W each fetch
// gathers SG rows (SG cache lines) and a subgroup walks SG*CN row streams at once.
// Needs K, lda and (row-major W) ldw multiples of 4 (vec4 texels) and the views aligned to
// 16 bytes.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "common.glsl"

layout(local_size_x_id = 4, local_size_y_id = 5) in;

layout(constant_id = 0) const uint HAS_BIAS = 1;
layout(constant_id = 1) const uint ACT = 0;
layout(constant_id = 2) const uint RESIDUAL = 0;
layout(constant_id = 3) const uint HAS_GAMMA = 0;
layout(constant_id = 4) const uint SG = 8;   // lanes per subgroup == local_size_x
layout(constant_id = 5) const uint WY = 1;   // subgroups per workgroup
layout(constant_id = 6) const uint CN = 8;   // columns per lane (<= CN_MAX)
layout(constant_id = 7) const uint LN = 0;   // LayerNorm fused into the read of x
layout(constant_id = 8) const uint PACKED = 0;  // W in groups of 4*SG columns (see above)

#define RM 8
#define CN_MAX 16

layout(binding = 0) uniform samplerBuffer X;  // (M, lda) floats as vec4 texels
layout(binding = 1) uniform samplerBuffer W;  // (N, ldw) floats as vec4 texels
#ifdef VEC4_OUT
layout(binding = 2) uniform samplerBuffer BIAS;   // (N)
layout(binding = 3) uniform samplerBuffer GAMMA;  // (N)
layout(std430, binding = 4) buffer Y { vec4 y4[]; };
layout(binding = 7) uniform samplerBuffer YIN;  // y itself, read for the residual add
#else
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) buffer Y { float y[]; };
#endif
layout(binding = 5) uniform samplerBuffer LNG;  // (K) LayerNorm weight, when LN = 1
layout(binding = 6) uniform samplerBuffer LNB;  // (K) LayerNorm bias

layout(push_constant) uniform Push {
  uint M, N, K, lda, ldw, ldy;
  float alpha;
  float eps;  // LayerNorm epsilon (LN = 1)
} p;

float acc[RM][CN_MAX];
vec4 xv[RM];
int wrow[CN_MAX];  // texel of this lane's column j at k4 = 0
const uint WSTEP = PACKED != 0u ? 4u * SG : 1u;  // texels from one k4 to the next
float mean[RM], rstd[RM];

// x texels kb + lane of the RM rows (LayerNorm applied when LN = 1); zeros where `valid` is false.
void fetch_x(int xrow[RM], uint kb, bool valid) {
  vec4 g = vec4(1.0), b = vec4(0.0);
  if (LN != 0u && valid) {
    g = texelFetch(LNG, int(kb + gl_SubgroupInvocationID));
    b = texelFetch(LNB, int(kb + gl_SubgroupInvocationID));
  }
  for (uint r = 0; r < RM; ++r) {
    vec4 v = valid ? texelFetch(X, xrow[r] + int(kb + gl_SubgroupInvocationID)) : vec4(0.0);
    xv[r] = LN != 0u && valid ? (v - mean[r]) * rstd[r] * g + b : v;
  }
}

// Mean and 1/sqrt(var + eps) of each of the RM rows over K (two passes, like layernorm.comp).
void row_stats(int xrow[RM], uint K4) {
  uint lane = gl_SubgroupInvocationID;
  for (uint r = 0; r < RM; ++r) {
    vec4 s = vec4(0.0);
    for (uint k4 = lane; k4 < K4; k4 += SG) s += texelFetch(X, xrow[r] + int(k4));
    mean[r] = subgroupAdd(s.x + s.y + s.z + s.w) / float(p.K);
    vec4 q = vec4(0.0);
    for (uint k4 = lane; k4 < K4; k4 += SG) {
      vec4 d = texelFetch(X, xrow[r] + int(k4)) - mean[r];
      q += d * d;
    }
    rstd[r] = inversesqrt(subgroupAdd(q.x + q.y + q.z + q.w) / float(p.K) + p.eps);
  }
}

// One vec4 step along K: broadcast lane I's x values and multiply with this lane's W rows.
#define STEP(I, KB)                                                      \
  if (I < SG) {                                                          \
    int wk = int(min(KB + I, K4 - 1u) * WSTEP);                          \
    vec4 a0 = subgroupBroadcast(xv[0], I);                               \
    vec4 a1 = subgroupBroadcast(xv[1], I);                               \
    vec4 a2 = subgroupBroadcast(xv[2], I);                               \
    vec4 a3 = subgroupBroadcast(xv[3], I);                               \
    vec4 a4 = subgroupBroadcast(xv[4], I);                               \
    vec4 a5 = subgroupBroadcast(xv[5], I);                               \
    vec4 a6 = subgroupBroadcast(xv[6], I);                               \
    vec4 a7 = subgroupBroadcast(xv[7], I);                               \
    for (uint j = 0; j < CN; ++j) {                                      \
      vec4 wv = texelFetch(W, wrow[j] + wk);                             \
      acc[0][j] += dot(a0, wv);                                          \
      acc[1][j] += dot(a1, wv);                                          \
      acc[2][j] += dot(a2, wv);                                          \
      acc[3][j] += dot(a3, wv);                                          \
      acc[4][j] += dot(a4, wv);                                          \
      acc[5][j] += dot(a5, wv);                                          \
      acc[6][j] += dot(a6, wv);                                          \
      acc[7][j] += dot(a7, wv);                                          \
    }                                                                    \
  }

// Output column of this lane's accumulator j.
uint column(uint n0, uint lane, uint j) {
#ifndef VEC4_OUT
  if (PACKED == 0u) return n0 + lane + SG * j;
#endif
  return n0 + 4u * lane + 4u * SG * (j / 4u) + (j % 4u);
}

void main() {
  uint lane = gl_SubgroupInvocationID;
  uint m0 = (gl_WorkGroupID.y * WY + gl_SubgroupID) * RM;
  uint n0 = gl_WorkGroupID.x * SG * CN;
  uint K4 = p.K / 4u, lda4 = p.lda / 4u, ldw4 = p.ldw / 4u;
  int xrow[RM];
  for (uint r = 0; r < RM; ++r) xrow[r] = int(min(m0 + r, p.M - 1u) * lda4);
  if (PACKED != 0u) {
    // Group (n0 / G + j / 4) holds this lane's run of 4 columns; its texel for column
    // 4 * lane + j % 4 of the group sits at slot (j % 4) * SG + lane of each k4.
    uint G = 4u * SG, last = (p.N + G - 1u) / G - 1u;
    for (uint j = 0; j < CN; ++j)
      wrow[j] = int(min(n0 / G + j / 4u, last) * K4 * G + (j % 4u) * SG + lane);
  } else {
    for (uint j = 0; j < CN; ++j) wrow[j] = int(min(column(n0, lane, j), p.N - 1u) * ldw4);
  }
  for (uint r = 0; r < RM; ++r)
    for (uint j = 0; j < CN; ++j) acc[r][j] = 0.0;
  if (LN != 0u) row_stats(xrow, K4);

  // Blocks of SG vec4s along K. In the last one (K4 not a multiple of SG) the lanes past K4
  // fetch zeros of x and the W fetches stay on the last real texel: one copy of the unrolled
  // block (a separate tail would double the code lavapipe compiles, seconds per pipeline).
  for (uint kb = 0; kb < K4; kb += SG) {
    fetch_x(xrow, kb, kb + lane < K4);
    STEP(0, kb) STEP(1, kb) STEP(2, kb) STEP(3, kb) STEP(4, kb) STEP(5, kb) STEP(6, kb) STEP(7, kb)
    STEP(8, kb) STEP(9, kb) STEP(10, kb) STEP(11, kb) STEP(12, kb) STEP(13, kb) STEP(14, kb) STEP(15, kb)
  }

#ifdef VEC4_OUT
  for (uint r = 0; r < RM; ++r) {
    uint m = m0 + r;
    if (m >= p.M) break;
    for (uint j4 = 0; j4 < CN / 4u; ++j4) {
      uint n = column(n0, lane, 4u * j4);
      if (n >= p.N) break;
      vec4 v = vec4(acc[r][4u * j4], acc[r][4u * j4 + 1u], acc[r][4u * j4 + 2u], acc[r][4u * j4 + 3u]);
      if (HAS_BIAS != 0u) v += texelFetch(BIAS, int(n / 4u));
      v = vec4(vit_activate(v.x, ACT), vit_activate(v.y, ACT), vit_activate(v.z, ACT), vit_activate(v.w, ACT));
      if (HAS_GAMMA != 0u) v *= texelFetch(GAMMA, int(n / 4u));
      v *= p.alpha;
      uint o = (m * p.ldy + n) / 4u;
      if (RESIDUAL != 0u) v += texelFetch(YIN, int(o));
      y4[o] = v;
    }
  }
#else
  for (uint r = 0; r < RM; ++r) {
    uint m = m0 + r;
    if (m >= p.M) break;
    for (uint j = 0; j < CN; ++j) {
      uint n = column(n0, lane, j);
      if (n >= p.N) break;
      float v = acc[r][j];
      if (HAS_BIAS != 0u) v += bias[n];
      v = vit_activate(v, ACT);
      if (HAS_GAMMA != 0u) v *= gamma[n];
      v *= p.alpha;
      uint o = m * p.ldy + n;
      if (RESIDUAL != 0u) v += y[o];
      y[o] = v;
    }
  }
#endif
}
