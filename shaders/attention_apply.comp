#version 450
// Attention output (paper eq. 5): out[b, i, h*D + d] = sum_j P[b, h, i, j] v[b, j, h*D + d]
// v comes from the fused qkv activation at column 2C + h*D. Heads are concatenated.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 1) readonly buffer P { float prob[]; };
layout(std430, binding = 2) writeonly buffer O { float outp[]; };

layout(push_constant) uniform Push {
  uint N, H, D, C;
} p;

void main() {
  uint c = gl_GlobalInvocationID.x;
  uint i = gl_GlobalInvocationID.y;
  uint b = gl_GlobalInvocationID.z;
  if (c >= p.C || i >= p.N) return;
  uint h = c / p.D;
  uint po = ((b * p.H + h) * p.N + i) * p.N;
  uint row3 = 3u * p.C;
  float acc = 0.0;
  for (uint j = 0; j < p.N; ++j) acc = fma(prob[po + j], qkv[(b * p.N + j) * row3 + 2u * p.C + c], acc);
  outp[(b * p.N + i) * p.C + c] = acc;
}
