#version 450
// Token sequence z_0 (paper eq. 1): [prefix tokens; patch embeddings] + E_pos.
//   prefix: (T, C) = class token, then distillation / register tokens
//   patches: (B*Np, C) from the patch-embedding Linear
//   pos: (pos_prefix + Np, C); prefix token t < pos_prefix gets pos[t], patch p gets
//        pos[pos_prefix + p]; prefix tokens at or after pos_prefix get no position.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer PF { float prefix[]; };
layout(std430, binding = 1) readonly buffer PA { float patches[]; };
layout(std430, binding = 2) readonly buffer PO { float pos[]; };
layout(std430, binding = 3) writeonly buffer Z { float z[]; };

layout(push_constant) uniform Push {
  uint B, T, Np, C, pos_prefix, has_pos;
} p;

void main() {
  uint c = gl_GlobalInvocationID.x;
  uint t = gl_GlobalInvocationID.y;
  uint b = gl_GlobalInvocationID.z;
  uint N = p.T + p.Np;
  if (c >= p.C || t >= N) return;
  float v;
  if (t < p.T) {
    v = prefix[t * p.C + c];
    if (p.has_pos != 0u && t < p.pos_prefix) v += pos[t * p.C + c];
  } else {
    uint q = t - p.T;
    v = patches[(b * p.Np + q) * p.C + c];
    if (p.has_pos != 0u) v += pos[(p.pos_prefix + q) * p.C + c];
  }
  z[(b * N + t) * p.C + c] = v;
}
