// Shared helpers for vitscope compute shaders.
#ifndef VITSCOPE_COMMON_GLSL
#define VITSCOPE_COMMON_GLSL

// erf(x) by Abramowitz & Stegun 7.1.26 with |error| <= 1.5e-7, enough for fp32 GELU.
float vit_erf(float x) {
  float s = sign(x);
  float a = abs(x);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
                   0.254829592) * t * exp(-a * a);
  return s * y;
}

// GELU as in torch.nn.GELU() (approximate='none'): 0.5 x (1 + erf(x / sqrt(2))).
float vit_gelu(float x) { return 0.5 * x * (1.0 + vit_erf(x * 0.7071067811865476)); }

// tanh with its argument clamped: the drivers' tanh may compute (e^2x - 1) / (e^2x + 1) and
// give NaN once e^2x overflows; |x| > 15 gives +-1 in float32 anyway.
float vit_tanh(float x) { return tanh(clamp(x, -15.0, 15.0)); }

// GELU in the tanh form, as torch.nn.GELU(approximate='tanh') and Flax's nn.gelu default:
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
float vit_gelu_tanh(float x) { return 0.5 * x * (1.0 + vit_tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

// The activations a Dense layer's epilogue can apply (ops::Activation).
#define ACT_NONE 0
#define ACT_GELU 1
#define ACT_TANH 2
#define ACT_GELU_TANH 3
#define ACT_RELU 4

float vit_activate(float x, uint act) {
  if (act == ACT_GELU) return vit_gelu(x);
  if (act == ACT_TANH) return vit_tanh(x);
  if (act == ACT_GELU_TANH) return vit_gelu_tanh(x);
  if (act == ACT_RELU) return max(x, 0.0);
  return x;
}

#endif
