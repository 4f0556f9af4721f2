#version 450
// Row softmax for the class probabilities: y[r, :] = softmax(x[r, :]). One invocation per row.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint rows, cols;
} p;

void main() {
  uint r = gl_GlobalInvocationID.x;
  if (r >= p.rows) return;
  uint o = r * p.cols;
  float mx = -3.4e38;
  for (uint j = 0; j < p.cols; ++j) mx = max(mx, x[o + j]);
  float s = 0.0;
  for (uint j = 0; j < p.cols; ++j) s += exp(x[o + j] - mx);
  float inv = 1.0 / s;
  for (uint j = 0; j < p.cols; ++j) y[o + j] = exp(x[o + j] - mx) * inv;
}
