// `vitscope-cli info`: what a checkpoint is, without running it.
#include <cstdio>

#include "common.h"

namespace vitscope::cli {

void register_info(CLI::App& app, Action& run) {
  auto* cmd = app.add_subcommand("info", "Architecture, parameter count, FLOPs per image and weight memory of a model");
  auto opts = std::make_shared<ModelOptions>();
  auto json = std::make_shared<bool>(false);
  opts->add(*cmd);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([&run, opts, json] {
    run = [opts, json] {
      LoadedModel m = load_model(opts->resolved_model(), opts->load_options());
      print_warnings(m);
      const VitConfig& c = m.config;
      int64_t params = m.weights.parameter_count();
      double N = c.tokens(), C = c.embed_dim, M = c.mlp_hidden;
      double flops = 2.0 * c.num_patches() * c.in_chans * c.patch * c.patch * C +
                     c.depth * (2 * N * C * 3 * C + 4 * N * N * C + 2 * N * C * C + 4 * N * C * M) +
                     2.0 * C * c.output_dim();
      nlohmann::json j = {{"path", m.path}, {"config", m.config_path}, {"architecture", c.architecture},
                          {"layout", c.layout}, {"input", {c.in_chans, c.img_h, c.img_w}},
                          {"patch_size", c.patch}, {"embed_dim", c.embed_dim}, {"depth", c.depth},
                          {"heads", c.num_heads}, {"mlp_hidden", c.mlp_hidden}, {"tokens", c.tokens()},
                          {"prefix_tokens", c.prefix_tokens()}, {"registers", c.num_registers},
                          {"distilled", c.dist_token}, {"layer_scale", c.layer_scale}, {"qkv_bias", c.qkv_bias},
                          {"global_pool", c.global_pool}, {"num_classes", c.num_classes},
                          {"parameters", params}, {"flops_per_image", flops},
                          {"weight_bytes_fp32", params * 4}, {"file_bytes", m.file->file_size()},
                          {"preprocess", c.pre.pipeline}};
      if (*json) {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("model:        %s\n", m.path.c_str());
      std::printf("architecture: %s (%s naming)\n", c.architecture.c_str(), c.layout.c_str());
      std::printf("input:        %d x %d x %d, patch %d -> %d x %d patches, %d prefix token(s), %d tokens\n",
                  c.in_chans, c.img_h, c.img_w, c.patch, c.grid_h(), c.grid_w(), c.prefix_tokens(), c.tokens());
      std::printf("encoder:      %d blocks, width %d, %d heads of %d, MLP %d%s%s\n", c.depth, c.embed_dim,
                  c.num_heads, c.head_dim(), c.mlp_hidden, c.layer_scale ? ", LayerScale" : "",
                  c.qkv_bias ? "" : ", no qkv bias");
      std::printf("head:         %s pooling, %s\n", c.global_pool.c_str(),
                  c.num_classes ? (std::to_string(c.num_classes) + " classes").c_str() : "none (features)");
      std::printf("parameters:   %lld (%.1f M)\n", (long long)params, double(params) * 1e-6);
      std::printf("compute:      %.3f GFLOPs per image\n", flops * 1e-9);
      std::printf("weights:      %.1f MiB as fp32 (file %.1f MiB)\n", double(params) * 4 / (1 << 20),
                  double(m.file->file_size()) / (1 << 20));
      return 0;
    };
  });
}

}  // namespace vitscope::cli
