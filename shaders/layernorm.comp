#version 450
// LayerNorm over the last dimension (paper: LN before every block part and at the end).
//   y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, biased variance.
// One invocation per row; two passes for an accurate variance.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer B { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint rows, C, ldx, ldy;  // row strides in floats
  float eps;
} p;

void main() {
  uint r = gl_GlobalInvocationID.x;
  if (r >= p.rows) return;
  uint xo = r * p.ldx, yo = r * p.ldy;
  float mean = 0.0;
  for (uint c = 0; c < p.C; ++c) mean += x[xo + c];
  mean /= float(p.C);
  float var = 0.0;
  for (uint c = 0; c < p.C; ++c) {
    float d = x[xo + c] - mean;
    var += d * d;
  }
  var /= float(p.C);
  float rstd = inversesqrt(var + p.eps);
  for (uint c = 0; c < p.C; ++c) y[yo + c] = (x[xo + c] - mean) * rstd * gamma[c] + beta[c];
}
