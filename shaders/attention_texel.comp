#version 450
// Multi-head self-attention for CPU Vulkan devices (lavapipe), one dispatch per layer:
//   out[b, i, h*D:(h+1)*D] = softmax_j(q_i . k_j * D^-0.5) v_j          (paper eq. 5)
// q, k, v come from the fused qkv activation (B*N, 3C) read as RGBA32F texels.
// One subgroup (SG lanes) handles RM = 4 queries of one head:
//   scores: lanes split the keys (lane l: keys jb + l + SG*c, c < CK); the queries' vec4s
//           are shared with subgroupBroadcast, like linear_texel.comp, but once per
//           subgroup rather than once per key block: every lane keeps all RM x D/4 of them
//           (qs), which cut the kernel's time by ~20% on lavapipe (docs/performance.md);
//   softmax: online (running max and sum, rescaling the output), so the N x N matrix is
//            never stored unless WRITE_P asks for it;
//   P.V:    lanes split the head dimension (lane l: dims 4(db*SG + l)..+3); each key's
//           probability is broadcast from the lane that computed it.
// WRITE_P = 1 makes two passes over the keys: the first finds each row's max and sum, the
// second writes the normalised probabilities (B, H, N, N) and accumulates P.V.
// Needs D a multiple of 4 and D <= 16 * SG (DB <= 4 blocks of 4*SG dims).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(constant_id = 0) const uint SG = 8;       // lanes per subgroup == local_size_x
layout(constant_id = 1) const uint WY = 1;       // subgroups per workgroup
layout(constant_id = 2) const uint DB = 2;       // head-dim blocks of 4*SG floats (<= 4)
layout(constant_id = 3) const uint CK = 8;       // keys per lane per block (<= 8)
layout(constant_id = 4) const uint WRITE_P = 0;  // also write the probabilities

#define RM 4
#define NEG_BIG -3.0e38

layout(binding = 0) uniform samplerBuffer QKV;  // (B*N, 3C) floats as vec4 texels
layout(std430, binding = 1) writeonly buffer P { float prob[]; };  // (B, H, N, N)
layout(std430, binding = 2) writeonly buffer O { vec4 outp[]; };  // (B*N, C), a vec4 per store

layout(push_constant) uniform Push {
  uint N, H, D, C;
  float scale;  // D^-0.5
} p;

vec4 qs[RM][DB * SG];  // vec4 d4 of each query row, the same in every lane
float s[RM][8];     // scores of this lane's keys in the current block
int krow[8];        // texel index of this lane's keys' k vectors (head offset included)
vec4 o[RM][4];      // output accumulators: this lane's dims, per block
float mrow[RM], lsum[RM];

uint lane;
int D4;

// q_r . k over the 4*SG dims of block DBI, step I: lane I's q vec4s, shared in qs.
#define QK_STEP(DBI, I)                                                   \
  if (I < SG && DBI * SG + I < D4) {                                      \
    vec4 a0 = qs[0][DBI * SG + I];                                        \
    vec4 a1 = qs[1][DBI * SG + I];                                        \
    vec4 a2 = qs[2][DBI * SG + I];                                        \
    vec4 a3 = qs[3][DBI * SG + I];                                        \
    for (uint c = 0; c < CK; ++c) {                                       \
      vec4 kv = texelFetch(QKV, krow[c] + int(DBI * SG + I));             \
      s[0][c] += dot(a0, kv);                                             \
      s[1][c] += dot(a1, kv);                                             \
      s[2][c] += dot(a2, kv);                                             \
      s[3][c] += dot(a3, kv);                                             \
    }                                                                     \
  }

#define QK_BLOCK(DBI)                                                     \
  if (DBI < DB) {                                                         \
    QK_STEP(DBI, 0) QK_STEP(DBI, 1) QK_STEP(DBI, 2) QK_STEP(DBI, 3)       \
    QK_STEP(DBI, 4) QK_STEP(DBI, 5) QK_STEP(DBI, 6) QK_STEP(DBI, 7)       \
    QK_STEP(DBI, 8) QK_STEP(DBI, 9) QK_STEP(DBI, 10) QK_STEP(DBI, 11)     \
    QK_STEP(DBI, 12) QK_STEP(DBI, 13) QK_STEP(DBI, 14) QK_STEP(DBI, 15)   \
  }

// qs[r][DBI * SG + I] = lane I's vec4 of block DBI of query row r, for every row.
#define Q_SHARE(DBI, I)                                                   \
  if (I < SG && DBI < DB)                                                 \
    for (uint r = 0; r < RM; ++r) qs[r][DBI * SG + I] = subgroupBroadcast(qv[r][DBI], I);

#define Q_SHARE_BLOCK(DBI)                                                \
  Q_SHARE(DBI, 0) Q_SHARE(DBI, 1) Q_SHARE(DBI, 2) Q_SHARE(DBI, 3)         \
  Q_SHARE(DBI, 4) Q_SHARE(DBI, 5) Q_SHARE(DBI, 6) Q_SHARE(DBI, 7)         \
  Q_SHARE(DBI, 8) Q_SHARE(DBI, 9) Q_SHARE(DBI, 10) Q_SHARE(DBI, 11)       \
  Q_SHARE(DBI, 12) Q_SHARE(DBI, 13) Q_SHARE(DBI, 14) Q_SHARE(DBI, 15)

// Scores of keys jb + lane + SG*c, scaled; keys past N get a huge negative score.
void scores(uint jb, uint kbase, uint ld4, uint koff4) {
  for (uint c = 0; c < CK; ++c) {
    uint j = min(jb + lane + SG * c, p.N - 1u);
    krow[c] = int((kbase + j) * ld4 + koff4);
    for (uint r = 0; r < RM; ++r) s[r][c] = 0.0;
  }
  QK_BLOCK(0) QK_BLOCK(1) QK_BLOCK(2) QK_BLOCK(3)
  for (uint c = 0; c < CK; ++c) {
    bool valid = jb + lane + SG * c < p.N;
    for (uint r = 0; r < RM; ++r) s[r][c] = valid ? s[r][c] * p.scale : NEG_BIG;
  }
}

// o += p_j v_j for key j = jb + SRC + SG*CI, its probabilities held by lane SRC.
#define PV_KEY(CI, SRC)                                                    \
  if (SRC < SG && jb + SRC + SG * CI < p.N) {                              \
    uint j = jb + SRC + SG * CI;                                           \
    float p0 = subgroupBroadcast(pr[0][CI], SRC);                          \
    float p1 = subgroupBroadcast(pr[1][CI], SRC);                          \
    float p2 = subgroupBroadcast(pr[2][CI], SRC);                          \
    float p3 = subgroupBroadcast(pr[3][CI], SRC);                          \
    int vrow = int((kbase + j) * ld4 + voff4);                             \
    for (uint db = 0; db < DB; ++db) {                                     \
      vec4 vv = texelFetch(QKV, vrow + dcol[db]);                          \
      o[0][db] += p0 * vv;                                                 \
      o[1][db] += p1 * vv;                                                 \
      o[2][db] += p2 * vv;                                                 \
      o[3][db] += p3 * vv;                                                 \
    }                                                                      \
  }

#define PV_GROUP(CI)                                                       \
  if (CI < CK) {                                                           \
    PV_KEY(CI, 0) PV_KEY(CI, 1) PV_KEY(CI, 2) PV_KEY(CI, 3)                \
    PV_KEY(CI, 4) PV_KEY(CI, 5) PV_KEY(CI, 6) PV_KEY(CI, 7)                \
    PV_KEY(CI, 8) PV_KEY(CI, 9) PV_KEY(CI, 10) PV_KEY(CI, 11)              \
    PV_KEY(CI, 12) PV_KEY(CI, 13) PV_KEY(CI, 14) PV_KEY(CI, 15)            \
  }

void main() {
  lane = gl_SubgroupInvocationID;
  uint i0 = (gl_WorkGroupID.x * WY + gl_SubgroupID) * RM;
  uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  D4 = int(p.D / 4u);
  uint ld4 = 3u * p.C / 4u;             // texels per qkv row
  uint kbase = b * p.N;                 // first row of this image
  uint qoff4 = h * p.D / 4u, koff4 = (p.C + h * p.D) / 4u, voff4 = (2u * p.C + h * p.D) / 4u;
  int dcol[4];
  for (uint db = 0; db < DB; ++db) dcol[db] = min(int(db * SG + lane), D4 - 1);

  vec4 qv[RM][4];  // this lane's vec4 of each query row, per head-dim block

  for (uint r = 0; r < RM; ++r) {
    int qrow = int((kbase + min(i0 + r, p.N - 1u)) * ld4 + qoff4);
    for (uint db = 0; db < DB; ++db) {
      int d4 = int(db * SG + lane);
      qv[r][db] = d4 < D4 ? texelFetch(QKV, qrow + d4) : vec4(0.0);
      o[r][db] = vec4(0.0);
    }
    mrow[r] = NEG_BIG;
    lsum[r] = 0.0;
  }
  Q_SHARE_BLOCK(0) Q_SHARE_BLOCK(1) Q_SHARE_BLOCK(2) Q_SHARE_BLOCK(3)

  float pr[RM][8];
  const uint KB = SG * CK;  // keys per block
  if (WRITE_P == 0u) {
    for (uint jb = 0; jb < p.N; jb += KB) {
      scores(jb, kbase, ld4, koff4);
      for (uint r = 0; r < RM; ++r) {
        float mx = s[r][0];
        for (uint c = 1; c < CK; ++c) mx = max(mx, s[r][c]);
        float mnew = max(mrow[r], subgroupMax(mx));
        float corr = exp(mrow[r] - mnew);
        mrow[r] = mnew;
        float part = 0.0;
        for (uint c = 0; c < CK; ++c) {
          pr[r][c] = exp(s[r][c] - mnew);
          part += pr[r][c];
        }
        lsum[r] = lsum[r] * corr + part;  // per-lane partial sums, added up at the end
        for (uint db = 0; db < DB; ++db) o[r][db] *= corr;
      }
      PV_GROUP(0) PV_GROUP(1) PV_GROUP(2) PV_GROUP(3) PV_GROUP(4) PV_GROUP(5) PV_GROUP(6) PV_GROUP(7)
    }
    for (uint r = 0; r < RM; ++r) lsum[r] = subgroupAdd(lsum[r]);
  } else {
    // Pass 1: row max and sum.
    for (uint jb = 0; jb < p.N; jb += KB) {
      scores(jb, kbase, ld4, koff4);
      for (uint r = 0; r < RM; ++r) {
        float mx = s[r][0];
        for (uint c = 1; c < CK; ++c) mx = max(mx, s[r][c]);
        float mnew = max(mrow[r], subgroupMax(mx));
        float part = 0.0;
        for (uint c = 0; c < CK; ++c) part += exp(s[r][c] - mnew);
        lsum[r] = lsum[r] * exp(mrow[r] - mnew) + part;
        mrow[r] = mnew;
      }
    }
    for (uint r = 0; r < RM; ++r) lsum[r] = 1.0 / subgroupAdd(lsum[r]);
    // Pass 2: normalised probabilities, written once, and P.V.
    for (uint jb = 0; jb < p.N; jb += KB) {
      scores(jb, kbase, ld4, koff4);
      for (uint r = 0; r < RM; ++r) {
        uint i = i0 + r;
        for (uint c = 0; c < CK; ++c) {
          pr[r][c] = exp(s[r][c] - mrow[r]) * lsum[r];
          uint j = jb + lane + SG * c;
          if (i < p.N && j < p.N) prob[((b * p.H + h) * p.N + i) * p.N + j] = pr[r][c];
        }
      }
      PV_GROUP(0) PV_GROUP(1) PV_GROUP(2) PV_GROUP(3) PV_GROUP(4) PV_GROUP(5) PV_GROUP(6) PV_GROUP(7)
    }
    for (uint r = 0; r < RM; ++r) lsum[r] = 1.0;  // already normalised
  }

  for (uint r = 0; r < RM; ++r) {
    uint i = i0 + r;
    if (i >= p.N) break;
    float inv = WRITE_P == 0u ? 1.0 / lsum[r] : 1.0;
    uint obase4 = ((kbase + i) * p.C + h * p.D) / 4u;
    for (uint db = 0; db < DB; ++db) {
      int d4 = int(db * SG + lane);
      if (d4 >= D4) continue;
      outp[obase4 + uint(d4)] = o[r][db] * inv;
    }
  }
}
