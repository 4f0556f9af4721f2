#version 450
// Average pooling over patch tokens (timm global_pool='avg'): out[b, c] = mean_t x[b, T + t, c].
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
  uint B, N, T, C;
} p;

void main() {
  uint c = gl_GlobalInvocationID.x;
  uint b = gl_GlobalInvocationID.y;
  if (c >= p.C || b >= p.B) return;
  float s = 0.0;
  for (uint t = p.T; t < p.N; ++t) s += x[(b * p.N + t) * p.C + c];
  o[b * p.C + c] = s / float(p.N - p.T);
}
