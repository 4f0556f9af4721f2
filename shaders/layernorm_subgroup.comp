#version 450
// LayerNorm over the last dimension, one subgroup per row (GPUs): the lanes stride along
// the row, so the loads of a row are contiguous, and the two sums (mean, then the squared
// deviations: the same two-pass variance as layernorm.comp) are subgroupAdd reductions.
// WY subgroups per workgroup take WY consecutive rows.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint SG = 32;  // lanes per subgroup == local_size_x
layout(constant_id = 1) const uint WY = 4;   // rows per workgroup

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer B { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint rows, C, ldx, ldy;  // row strides in floats
  float eps;
} p;

void main() {
  uint r = gl_WorkGroupID.x * WY + gl_LocalInvocationID.y;
  if (r >= p.rows) return;  // a whole subgroup leaves together
  uint lane = gl_LocalInvocationID.x;
  uint xo = r * p.ldx, yo = r * p.ldy;
  float s = 0.0;
  for (uint c = lane; c < p.C; c += SG) s += x[xo + c];
  float mean = subgroupAdd(s) / float(p.C);
  float q = 0.0;
  for (uint c = lane; c < p.C; c += SG) {
    float d = x[xo + c] - mean;
    q += d * d;
  }
  float rstd = inversesqrt(subgroupAdd(q) / float(p.C) + p.eps);
  for (uint c = lane; c < p.C; c += SG) y[yo + c] = (x[xo + c] - mean) * rstd * gamma[c] + beta[c];
}
