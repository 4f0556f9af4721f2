#version 450
// Configure-time probe (shaders/CMakeLists.txt): can this glslang compile GL_NV_cooperative_matrix?
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Y { float y[]; };
shared float16_t t[256];
void main() {
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a;
  coopMatLoadNV(a, t, 0, 16, false);
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  c = coopMatMulAddNV(a, a, c);
  coopMatStoreNV(c, y, 0, 16, false);
}
