// What the engine needs to know about a ViT, whatever the checkpoint's naming:
// dimensions (ViT paper notation), token layout, head, preprocessing and labels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vitscope {

// How an image becomes the model's input tensor.
struct Preprocess {
  std::string pipeline = "timm";  // timm | hf | torchvision | paddle | none
  int height = 224, width = 224;   // model input (after crop)
  std::string interpolation = "bicubic";  // bicubic | bilinear | nearest
  float crop_pct = 0.9f;           // timm: shorter side -> floor(size / crop_pct)
  int resize_shortest = 0;         // hf/torchvision: shorter side to this (0: unused)
  bool squash = false;             // hf: resize straight to resize_height x resize_width
  int resize_height = 0, resize_width = 0;  // hf squash size before the crop (0: height x width)
  bool resize = true;              // hf do_resize
  bool center_crop = true;
  float rescale = 1.0f / 255.0f;
  bool opencv = false;             // paddle: cv2.resize (INTER_LINEAR, 8-bit) instead of PIL
  bool bgr = false;                // paddle: channels in BGR order (DecodeImage to_rgb: False)
  std::vector<float> mean{0.5f, 0.5f, 0.5f};
  std::vector<float> std{0.5f, 0.5f, 0.5f};
};

struct VitConfig {
  std::string architecture;   // e.g. vit_base_patch16_224
  std::string layout;         // naming the weights came in: timm | hf | torchvision
  int in_chans = 3;
  int patch = 16;             // P
  int img_h = 224, img_w = 224;  // the size the model runs at
  int embed_dim = 768;        // C
  int depth = 12;             // L
  int num_heads = 12;         // H
  int mlp_hidden = 3072;      // M
  bool qkv_bias = true;
  bool layer_scale = false;
  float eps = 1e-6f;
  std::string hidden_act = "gelu";  // MLP activation: gelu (erf) | gelu_tanh | relu
  // Block style. Pre-norm (the ViT paper, timm): z' = z + MSA(LN(z)); z = z' + MLP(LN(z')).
  // Post-norm (nn.TransformerEncoderLayer's default, norm_first=False):
  // z' = LN1(z + MSA(z)); z = LN2(z' + MLP(z')).
  bool norm_first = true;
  // Tokens: [cls][dist][registers...][patches...]
  bool class_token = true;
  bool dist_token = false;
  int num_registers = 0;
  int pos_prefix = 1;  // prefix tokens that have a position-embedding row
  bool has_pos_embed = true;
  int pos_grid_h = 14, pos_grid_w = 14;  // grid of the stored position table
  // Head
  std::string global_pool = "token";  // token | avg
  bool fc_norm = false;               // avg pooling normalises after pooling
  bool final_norm = true;             // `norm` applied to the token sequence
  int num_classes = 1000;             // 0: headless, output = pooled features
  bool pooler_tanh = false;           // HF ViTModel pooler: tanh(dense(cls))
  std::vector<std::string> labels;
  Preprocess pre;

  int prefix_tokens() const { return (class_token ? 1 : 0) + (dist_token ? 1 : 0) + num_registers; }
  int grid_h() const { return img_h / patch; }
  int grid_w() const { return img_w / patch; }
  int num_patches() const { return grid_h() * grid_w(); }
  int tokens() const { return prefix_tokens() + num_patches(); }
  int head_dim() const { return embed_dim / num_heads; }
  int output_dim() const { return num_classes > 0 ? num_classes : embed_dim; }
};

}  // namespace vitscope
