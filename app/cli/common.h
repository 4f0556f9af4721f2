// Shared pieces of the vitscope-cli subcommands.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "image.h"
#include "model/weights.h"
#include "vit.h"
#include "vk/context.h"

namespace vitscope::cli {

// Options every model-running subcommand takes.
struct ModelOptions {
  std::string model;   // empty: the bundled model
  int device = -1;
  int heads = 0;
  std::string size;    // "HxW" or "S"
  std::string precision = "fp32";  // bench defaults to "auto"
  std::string kernels;  // empty: VITSCOPE_KERNELS or auto
  std::string checkpoint_key;      // pickled checkpoints: where the state dict is
  void add(CLI::App& cmd);
  LoadOptions load_options() const;
  std::string resolved_model() const;  // model or the bundled default
};

// A subcommand registers its options and sets `run`, called after parsing.
using Action = std::function<int()>;
void register_classify(CLI::App& app, Action& run);
void register_devices(CLI::App& app, Action& run);
void register_info(CLI::App& app, Action& run);
void register_eval(CLI::App& app, Action& run);
void register_bench(CLI::App& app, Action& run);
void register_selftest(CLI::App& app, Action& run);
// --kernels, as every model-running subcommand and selftest take it.
void add_kernels_option(CLI::App& cmd, std::string& kernels);

std::string bundled_model_path();
// --preprocess NAME (timm, hf, torchvision, none): another framework's eval transform.
void add_preprocess_option(CLI::App& cmd, std::string& pipeline);
// Applies --preprocess (when given) to the loaded model's preprocessing.
void apply_preprocess_option(LoadedModel& m, const std::string& pipeline);
// An image file as the model takes it: decoded, then the model's own preprocessing. The one
// path every subcommand uses for image files.
Preprocessed model_input(const std::string& image_path, const VitConfig& c);
// ImageNet-1k's synset ids in class order (assets/labels/imagenet1k_synsets.txt).
std::vector<std::string> imagenet_synsets();
nlohmann::json model_json(const VitModel& m);
void print_warnings(const LoadedModel& m);
// "HxW" or "S" -> height, width; throws CLI::ValidationError.
void parse_size(const std::string& s, int& h, int& w);

// Thrown for usage errors found after parsing (exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace vitscope::cli
