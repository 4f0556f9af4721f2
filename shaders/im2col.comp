#version 450
// Patch unfolding for the patch embedding (paper eq. 1: x_p^i E):
//   cols[b*Np + gy*Gw + gx, c*P*P + ky*P + kx] = img[b, c, gy*P + ky, gx*P + kx]
// so the conv weight (C, Cin, P, P) flattened row-major is the Linear weight.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer I { float img[]; };
layout(std430, binding = 1) writeonly buffer O { float cols[]; };

layout(push_constant) uniform Push {
  uint B, Cin, H, W;  // input NCHW
  uint P, Gh, Gw;     // patch size and grid
} p;

void main() {
  uint k = gl_GlobalInvocationID.x;  // column within a patch row
  uint r = gl_GlobalInvocationID.y;  // patch row index over the batch
  uint KK = p.Cin * p.P * p.P;
  uint Np = p.Gh * p.Gw;
  if (k >= KK || r >= p.B * Np) return;
  uint b = r / Np, t = r % Np;
  uint gy = t / p.Gw, gx = t % p.Gw;
  uint c = k / (p.P * p.P), rem = k % (p.P * p.P);
  uint ky = rem / p.P, kx = rem % p.P;
  cols[r * KK + k] = img[((b * p.Cin + c) * p.H + gy * p.P + ky) * p.W + gx * p.P + kx];
}
