#include "common.h"

#include <cstdio>

#include "core/paths.h"
#include "io/image_folder.h"

namespace vitscope::cli {

void ModelOptions::add(CLI::App& cmd) {
  cmd.add_option("-m,--model", model,
                 "Model: a weights file (.safetensors, .pth, .pt, .bin, .pth.tar, .pdparams, .npz; config.json beside "
                 "it) or a folder holding one (default: the bundled Fashion-MNIST ViT)");
  cmd.add_option("-d,--device", device, "Vulkan device index (see `vitscope-cli devices`; default: "
                                        "VITSCOPE_DEVICE or the best device)");
  cmd.add_option("--checkpoint-key", checkpoint_key,
                 "PyTorch/Paddle checkpoints: the top-level key holding the weights (default: the file itself "
                 "when it is a state dict, else the first of model, state_dict, model_ema, state_dict_ema, "
                 "teacher)");
  cmd.add_option("--heads", heads, "Override the number of attention heads")->check(CLI::PositiveNumber);
  cmd.add_option("--size", size, "Run at this input size, HxW or S (position embeddings are resampled)");
  cmd.add_option("--precision", precision,
                 "Dense-layer precision: fp32; fp16 (fp16 weights, fp32 arithmetic); fp16-math (fp16 weights "
                 "and products, fp32 sums across 16-wide K slices); auto (fp32 on CPU devices, fp16 on GPUs "
                 "that can read it)")
      ->check(CLI::IsMember({"fp32", "fp16", "fp16-math", "auto"}))
      ->capture_default_str();
  add_kernels_option(cmd, kernels);
}

void add_kernels_option(CLI::App& cmd, std::string& kernels) {
  cmd.add_option("--kernels", kernels,
                 "Kernel family for every op: auto (each op chooses for the device: texel kernels on CPU "
                 "devices, tiled ones on GPUs; never coopmat yet); portable (plain SSBO kernels); tiled (the GPU "
                 "kernels: shared-memory tiled GEMM, subgroup LayerNorm); coopmat (tiled, with the "
                 "cooperative-matrix GEMM, VK_NV_cooperative_matrix). Default: VITSCOPE_KERNELS or auto")
      ->check(CLI::IsMember({"auto", "portable", "tiled", "coopmat"}));
}

void parse_size(const std::string& s, int& h, int& w) {
  int a = 0, b = 0;
  char x = 0, extra = 0;
  int n = std::sscanf(s.c_str(), "%d%c%d%c", &a, &x, &b, &extra);
  if (n == 1) b = a;
  else if (!(n == 3 && (x == 'x' || x == 'X'))) throw UsageError("--size must be HxW or S, got '" + s + "'");
  if (a <= 0 || b <= 0 || a > 8192 || b > 8192) throw UsageError("--size out of range: '" + s + "'");
  h = a;
  w = b;
}

LoadOptions ModelOptions::load_options() const {
  LoadOptions o;
  o.heads = heads;
  o.checkpoint_key = checkpoint_key;
  if (!size.empty()) parse_size(size, o.height, o.width);
  return o;
}

std::string bundled_model_path() { return find_asset("models/fashion-vit"); }

void add_preprocess_option(CLI::App& cmd, std::string& pipeline) {
  cmd.add_option("--preprocess", pipeline, "Override the preprocessing pipeline")
      ->check(CLI::IsMember({"timm", "hf", "torchvision", "none"}));
}

void apply_preprocess_option(LoadedModel& m, const std::string& pipeline) {
  if (!pipeline.empty()) m.config.pre = with_pipeline(m.config.pre, pipeline);
}

Preprocessed model_input(const std::string& image_path, const VitConfig& c) {
  return preprocess(load_image(image_path), c.pre, c.in_chans);
}

std::vector<std::string> imagenet_synsets() {
  std::string path = find_asset("labels/imagenet1k_synsets.txt");
  if (path.empty()) throw Error("assets/labels/imagenet1k_synsets.txt was not found next to the executable or in the install prefix");
  auto names = read_name_list(path);
  if (names.size() != 1000) throw Error(path + ": expected 1000 synsets, found " + std::to_string(names.size()));
  return names;
}

std::string ModelOptions::resolved_model() const {
  if (!model.empty()) return model;
  std::string p = bundled_model_path();
  if (p.empty())
    throw Error("no --model given and the bundled model (assets/models/fashion-vit) was not found "
                "next to the executable or in the install prefix");
  return p;
}

void print_warnings(const LoadedModel& m) {
  for (const auto& w : m.warnings) std::fprintf(stderr, "vitscope: warning: %s\n", w.c_str());
}

nlohmann::json model_json(const VitModel& m) {
  const VitConfig& c = m.config();
  return {{"path", m.loaded().path},
          {"architecture", c.architecture},
          {"layout", c.layout},
          {"input", {c.in_chans, c.img_h, c.img_w}},
          {"patch_size", c.patch},
          {"embed_dim", c.embed_dim},
          {"depth", c.depth},
          {"heads", c.num_heads},
          {"mlp_hidden", c.mlp_hidden},
          {"tokens", c.tokens()},
          {"prefix_tokens", c.prefix_tokens()},
          {"global_pool", c.global_pool},
          {"num_classes", c.num_classes},
          {"parameters", m.parameter_count()},
          {"gflops_per_image", m.flops_per_image() * 1e-9}};
}

}  // namespace vitscope::cli
