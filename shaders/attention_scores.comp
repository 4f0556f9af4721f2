#version 450
// Scaled dot-product attention probabilities (paper eq. 5-7):
//   P[b, h, i, :] = softmax_j( q_i . k_j * D^-0.5 )
// q, k come from the fused qkv activation (B*N, 3C): q at column h*D, k at C + h*D.
// One invocation per (query i, head h, image b).
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 1) buffer P { float prob[]; };

layout(push_constant) uniform Push {
  uint N, H, D, C;   // tokens, heads, head dim, embed dim
  float scale;       // D^-0.5
} p;

void main() {
  uint i = gl_GlobalInvocationID.x;
  uint h = gl_GlobalInvocationID.y;
  uint b = gl_GlobalInvocationID.z;
  if (i >= p.N) return;
  uint row3 = 3u * p.C;
  uint qo = (b * p.N + i) * row3 + h * p.D;
  uint po = ((b * p.H + h) * p.N + i) * p.N;
  float mx = -3.4e38;
  for (uint j = 0; j < p.N; ++j) {
    uint ko = (b * p.N + j) * row3 + p.C + h * p.D;
    float s = 0.0;
    for (uint d = 0; d < p.D; ++d) s = fma(qkv[qo + d], qkv[ko + d], s);
    s *= p.scale;
    prob[po + j] = s;
    mx = max(mx, s);
  }
  // The same invocation wrote these scores, so program order makes them visible.
  float sum = 0.0;
  for (uint j = 0; j < p.N; ++j) {
    float e = exp(prob[po + j] - mx);
    prob[po + j] = e;
    sum += e;
  }
  float inv = 1.0 / sum;
  for (uint j = 0; j < p.N; ++j) prob[po + j] *= inv;
}
