#version 450
// Linear layer on tensor cores: y = x W^T + b with the fused epilogue of linear.comp, the
// products taken by cooperative matrices (fp16 fragments of x and W, fp32 accumulators).
// A workgroup of 4 subgroups computes a BM x BN tile of y; per BK-slice of K it stages x
// (BM x BK) and W (BN x BK) as fp16 in shared memory, rows BK + 8 halves apart (16-byte
// aligned, skewed against bank conflicts). Each subgroup owns a WM x WN block of the tile:
// CM x CN accumulators of MS x NS, fed by MS x KS fragments of x (row-major) and KS x NS
// fragments of W^T (W's rows read column-major). The fragment shape MS x NS x KS comes from
// the device's list at run time (specialization constants, never assumed here). The
// epilogue goes through shared memory one accumulator at a time per subgroup, so bias, the
// activation, LayerScale, alpha and the residual add are applied element by element exactly
// as in the other linear kernels, with bounds checks for partial tiles.
//
// The fragment operations are the macros below, one set per backend:
//   COOPMAT_NV  - GL_NV_cooperative_matrix (glslang 12; VK_NV_cooperative_matrix);
//   COOPMAT_KHR - GL_KHR_cooperative_matrix, the same kernel once the toolchain can compile
//                 it (not built by this project yet: Debian's glslang 12 cannot);
//   neither     - emulation with plain loops over shared memory, a lane owning elements
//                 lane, lane + SG, ... of each accumulator: it runs the same staging,
//                 fragment offsets and strides, and epilogue on any device (tests on lavapipe).
// Variants (shaders/CMakeLists.txt): W_F16 reads fp16 weights (storageBuffer16BitAccess).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#ifdef W_F16
#extension GL_EXT_shader_16bit_storage : require
#endif
#if defined(COOPMAT_NV)
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#elif defined(COOPMAT_KHR)
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#endif
#include "common.glsl"

layout(local_size_x_id = 13) in;

layout(constant_id = 0) const uint HAS_BIAS = 1;
layout(constant_id = 1) const uint ACT = 0;
layout(constant_id = 2) const uint RESIDUAL = 0;
layout(constant_id = 3) const uint HAS_GAMMA = 0;
layout(constant_id = 4) const uint BM = 64;
layout(constant_id = 5) const uint BN = 64;
layout(constant_id = 6) const uint BK = 32;   // a multiple of 8 and of KS
layout(constant_id = 7) const uint WM = 32;   // a multiple of MS
layout(constant_id = 8) const uint WN = 32;   // a multiple of NS
layout(constant_id = 9) const uint MS = 16;   // fragment shape, from the device
layout(constant_id = 10) const uint NS = 16;
layout(constant_id = 11) const uint KS = 16;
layout(constant_id = 12) const uint SG = 32;  // subgroup size
layout(constant_id = 13) const uint NT = 128; // (BM / WM) * (BN / WN) * SG

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

const uint LDS = BK + 8;                   // row stride of the staged tiles, in halves
const uint CM = WM / MS, CN = WN / NS;     // accumulators per subgroup
const uint WX = BN / WN;                   // subgroups along N
const uint NSG = (BM / WM) * WX;           // subgroups per workgroup
shared float16_t xs[BM * LDS];  // x tile, row-major: xs[r * LDS + k]
shared float16_t ws[BN * LDS];  // W tile, row-major: ws[c * LDS + k] (= W^T column-major)
shared float cs[NSG * MS * NS]; // one accumulator per subgroup on its way to y

#if defined(COOPMAT_NV)
#define ACC_T fcoopmatNV<32, gl_ScopeSubgroup, MS, NS>
#define FRAG_A_T fcoopmatNV<16, gl_ScopeSubgroup, MS, KS>
#define FRAG_B_T fcoopmatNV<16, gl_ScopeSubgroup, KS, NS>
#define ACC_DECLARE(acc) ACC_T acc[CM * CN]
#define ACC_ZERO(acc, i) acc[i] = ACC_T(0.0)
#define LOAD_A(frag, buf, off, stride) coopMatLoadNV(frag, buf, off, stride, false)
#define LOAD_B(frag, buf, off, stride) coopMatLoadNV(frag, buf, off, stride, true)
#define MUL_ADD(acc, i, a, b) acc[i] = coopMatMulAddNV(a, b, acc[i])
#define STORE_ACC(acc, i, buf, off, stride) coopMatStoreNV(acc[i], buf, off, stride, false)
#elif defined(COOPMAT_KHR)
#define ACC_T coopmat<float, gl_ScopeSubgroup, MS, NS, gl_MatrixUseAccumulator>
#define FRAG_A_T coopmat<float16_t, gl_ScopeSubgroup, MS, KS, gl_MatrixUseA>
#define FRAG_B_T coopmat<float16_t, gl_ScopeSubgroup, KS, NS, gl_MatrixUseB>
#define ACC_DECLARE(acc) ACC_T acc[CM * CN]
#define ACC_ZERO(acc, i) acc[i] = ACC_T(0.0)
#define LOAD_A(frag, buf, off, stride) coopMatLoad(frag, buf, off, stride, gl_CooperativeMatrixLayoutRowMajor)
#define LOAD_B(frag, buf, off, stride) coopMatLoad(frag, buf, off, stride, gl_CooperativeMatrixLayoutColumnMajor)
#define MUL_ADD(acc, i, a, b) acc[i] = coopMatMulAdd(a, b, acc[i])
#define STORE_ACC(acc, i, buf, off, stride) \
  coopMatStore(acc[i], buf, off, stride, gl_CooperativeMatrixLayoutRowMajor)
#else
// Emulation. A fragment of x or W is where it starts in xs or ws and its stride (the
// element offsets and strides the real loads get); an accumulator's EPL elements per lane
// live in a flat array, element e of fragment i at acc[i * EPL + e / SG] in lane e % SG.
const uint EPL = MS * NS / SG;
#define FRAG_A_T uvec2
#define FRAG_B_T uvec2
#define ACC_DECLARE(acc) float acc[CM * CN * EPL]
#define ACC_ZERO(acc, i) for (uint t_ = 0; t_ < EPL; ++t_) acc[(i) * EPL + t_] = 0.0
#define LOAD_A(frag, buf, off, stride) frag = uvec2(off, stride)
#define LOAD_B(frag, buf, off, stride) frag = uvec2(off, stride)
// A is row-major in xs (A[r][k] = xs[a.x + r * a.y + k]), B column-major in ws
// (B[k][c] = ws[b.x + c * b.y + k]), products in fp32 as the tensor cores give them.
#define MUL_ADD(acc, i, a, b)                                                        \
  for (uint t_ = 0; t_ < EPL; ++t_) {                                              \
    uint e_ = t_ * SG + gl_SubgroupInvocationID, r_ = e_ / NS, c_ = e_ % NS;       \
    float s_ = 0.0;                                                                \
    for (uint k_ = 0; k_ < KS; ++k_)                                               \
      s_ += float(xs[a.x + r_ * a.y + k_]) * float(ws[b.x + c_ * b.y + k_]);        \
    acc[(i) * EPL + t_] += s_;                                                     \
  }
#define STORE_ACC(acc, i, buf, off, stride)                                          \
  for (uint t_ = 0; t_ < EPL; ++t_) {                                              \
    uint e_ = t_ * SG + gl_SubgroupInvocationID;                                   \
    buf[(off) + (e_ / NS) * (stride) + e_ % NS] = acc[(i) * EPL + t_];             \
  }
#endif

void main() {
  const uint tid = gl_LocalInvocationIndex;
  const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
  const uint mb = gl_WorkGroupID.y * BM, nb = gl_WorkGroupID.x * BN;
  const uint wm = (sg / WX) * WM, wn = (sg % WX) * WN;  // this subgroup's block in the tile

  ACC_DECLARE(acc);
  for (uint i = 0; i < CM * CN; ++i) ACC_ZERO(acc, i);

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // Consecutive invocations read consecutive k of one row (coalesced); zeros outside.
    for (uint e = tid; e < BM * BK; e += NT) {
      uint r = e / BK, kk = e % BK, m = mb + r, k = k0 + kk;
      xs[r * LDS + kk] = float16_t((m < p.M && k < p.K) ? x[m * p.lda + k] : 0.0);
    }
    for (uint e = tid; e < BN * BK; e += NT) {
      uint c = e / BK, kk = e % BK, n = nb + c, k = k0 + kk;
      ws[c * LDS + kk] = (n < p.N && k < p.K) ? float16_t(w[n * p.ldw + k]) : float16_t(0.0);
    }
    barrier();
    for (uint kk = 0; kk < BK; kk += KS) {
      FRAG_A_T a[CM];
      FRAG_B_T b[CN];
      for (uint i = 0; i < CM; ++i) LOAD_A(a[i], xs, (wm + i * MS) * LDS + kk, LDS);
      for (uint j = 0; j < CN; ++j) LOAD_B(b[j], ws, (wn + j * NS) * LDS + kk, LDS);
      for (uint i = 0; i < CM; ++i)
        for (uint j = 0; j < CN; ++j) MUL_ADD(acc, i * CN + j, a[i], b[j]);
    }
    barrier();
  }

  // Epilogue: each accumulator through this subgroup's MS x NS slot of cs.
  const uint slot = sg * MS * NS;
  for (uint i = 0; i < CM; ++i)
    for (uint j = 0; j < CN; ++j) {
      STORE_ACC(acc, i * CN + j, cs, slot, NS);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      for (uint e = lane; e < MS * NS; e += SG) {
        uint m = mb + wm + i * MS + e / NS, n = nb + wn + j * NS + e % NS;
        if (m >= p.M || n >= p.N) continue;
        float v = cs[slot + e];
        if (HAS_BIAS != 0u) v += bias[n];
        v = vit_activate(v, ACT);
        if (HAS_GAMMA != 0u) v *= gamma[n];
        v *= p.alpha;
        uint o = m * p.ldy + n;
        if (RESIDUAL != 0u) v += y[o];
        y[o] = v;
      }
      subgroupBarrier();  // every lane has read the slot before the next store
    }
}
