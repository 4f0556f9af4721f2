// VitModel: a ViT's weights on the device and its forward pass recorded as GLSL
// compute dispatches (Dosovitskiy et al. 2021, eq. 1-4).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/weights.h"
#include "ops/linear.h"
#include "vk/buffer.h"
#include "vk/context.h"
#include "vk/recorder.h"

namespace vitscope {

// Precision of the matrix multiplies (every Dense layer; the patch embedding, LayerNorm,
// attention and activations stay fp32 in every mode):
//   Fp32     - fp32 weights and arithmetic;
//   Fp16     - fp16 weights (half the memory and weight traffic), fp32 arithmetic;
//   Fp16Math - fp16 weights, fp16 products and sums within each 16-wide slice of K, the
//              slices summed in fp32 (needs shaderFloat16).
enum class Precision { Fp32, Fp16, Fp16Math };
const char* precision_name(Precision p);
// `request` is "fp32", "fp16", "fp16-math" or "auto" (fp32 on CPU devices, whose fp16 is
// emulated; fp16 weights on GPUs that can read them). Throws InputError naming the missing
// device feature when the device cannot do what was asked.
Precision choose_precision(const vk::DeviceInfo& d, const std::string& request);

struct ForwardOptions {
  bool keep_attention = false;  // download every layer's attention probabilities
  // Also (or, without keep_attention, only) these layers (0-based). Layers not asked for
  // are never written on the device and read as zeros in ForwardResult::attention.
  std::vector<int> attention_layers;
  // Time every dispatch with timestamp queries (ForwardResult::op_times, gpu_ms). Off by
  // default: on lavapipe each timestamp flushes the driver's context, ~50 us per dispatch
  // (a third of the bundled model's latency).
  bool profile = false;
};

struct ForwardResult {
  int batch = 0;
  int outputs = 0;              // K classes, or D features for a headless model
  std::vector<float> logits;    // (B, outputs): class logits or pooled features
  std::vector<float> probs;     // (B, K) softmax of the logits; empty when headless
  // (L, B, H, N, N) post-softmax attention, when any layer was asked for (zeros for the others).
  std::vector<float> attention;
  std::vector<vk::OpTime> op_times;  // GPU time per dispatch (profiled passes on devices with timestamps)
  double gpu_ms = 0.0;   // sum of op times (0 unless profiled)
  double wall_ms = 0.0;  // submit to fence, as seen by the host
};

class VitModel {
 public:
  // Uploads the weights (streamed from the file through a staging buffer).
  VitModel(vk::Context& ctx, LoadedModel model, Precision precision = Precision::Fp32);
  ~VitModel();
  VitModel(const VitModel&) = delete;
  VitModel& operator=(const VitModel&) = delete;

  const VitConfig& config() const { return model_.config; }
  const LoadedModel& loaded() const { return model_; }
  Precision precision() const { return precision_; }
  int64_t parameter_count() const { return params_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  uint64_t activation_bytes() const;  // of the current plan
  double flops_per_image() const;

  // input: (B, Cin, H, W) float32, preprocessed. The pass for a (batch, options)
  // pair is recorded once and replayed on later calls (the latest pair is kept).
  ForwardResult forward(const float* input, int batch, const ForwardOptions& options = {});

 private:
  struct Tensor;
  struct Block;
  struct Plan;
  std::unique_ptr<Tensor> upload(vk::Uploader& up, const HostTensor& t, bool linear_weight = false);
  void set_weight(ops::LinearArgs& a, const std::unique_ptr<Tensor>& w) const;
  void record(Plan& plan);

  vk::Context& ctx_;
  LoadedModel model_;
  Precision precision_ = Precision::Fp32;
  int64_t params_ = 0;
  uint64_t weight_bytes_ = 0;
  std::unique_ptr<Tensor> patch_w_, patch_b_, prefix_, pos_, norm_w_, norm_b_, fc_norm_w_,
      fc_norm_b_, head_w_, head_b_, head_dist_w_, head_dist_b_, pooler_w_, pooler_b_;
  std::vector<Block> blocks_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace vitscope
