// Naive CPU loops for every op and for a whole ViT forward pass: the test oracle.
// Written for clarity, in double accumulation, never for speed.
#pragma once
#include <string>
#include <vector>

#include "model/weights.h"

namespace vitscope::ref {

// y (M, N) = x (M, K) W^T (W: N x K) + b
void linear(const float* x, const float* w, const float* b, float* y, int M, int N, int K);
void layernorm(const float* x, const float* g, const float* b, float* y, int rows, int C, float eps);
float gelu(float x);       // exact: 0.5 x (1 + erf(x / sqrt 2))
float gelu_tanh(float x);  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
float relu(float x);
// By name: "gelu", "gelu_tanh", "relu" (VitConfig::hidden_act), "tanh" or "none".
float activate(float x, const std::string& act);
// qkv: (B*N, 3C) rows [q|k|v]; prob: (B, H, N, N); out: (B*N, C)
void attention(const float* qkv, float* prob, float* out, int B, int N, int H, int D);
void softmax(const float* x, float* y, int rows, int cols);

struct RefResult {
  std::vector<float> logits;     // (B, outputs)
  std::vector<float> attention;  // (L, B, H, N, N)
};

// The whole forward pass on the CPU from the host weights.
RefResult vit_forward(const VitConfig& c, const VitWeights& w, const float* input, int B);

}  // namespace vitscope::ref
