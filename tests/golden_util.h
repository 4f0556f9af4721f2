// Helpers for the PyTorch golden cases under tests/golden/<case>/ (tools/make_goldens.py,
// tools/make_layout_goldens.py): find the cases, run one through the engine on the GPU
// and compare its output and attention with the stored reference, and build modified
// copies of a checkpoint (renamed or replaced tensors) for error tests.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/weights.h"
#include "testutil.h"

namespace vitscope::test {

struct GoldenCase {
  std::string name;       // folder name under tests/golden
  std::string dir;        // that folder
  std::string model_dir;  // where model.safetensors lives (meta.json "model", else dir)
  std::string framework;  // timm | hf | torchvision
  std::string output;     // "logits.npy" or "features.npy"
  nlohmann::json meta;
};

// Every tests/golden/<case> with a meta.json and a model.safetensors, sorted by name.
std::vector<GoldenCase> golden_cases();
GoldenCase golden_case(const std::string& name);

// Load options for a case: the run size is input.npy's H x W; torchvision files without a
// config.json get the head count from meta.json (the file cannot say it).
LoadOptions golden_load_options(const GoldenCase& c);

struct GoldenResult {
  Diff output, attention;
  double output_tol = 0, attention_tol = 0;
  bool passed = false;
};

// Runs input.npy through the case's model on the process-wide context and CHECKs the
// output within out_rtol * max|ref| and the attention probabilities within attn_atol.
GoldenResult check_golden_case(const GoldenCase& c, double out_rtol = 1e-4, double attn_atol = 1e-5);

// All tensors of a safetensors file as float32 (name -> shape + data).
std::map<std::string, TensorF32> read_tensors(const std::string& safetensors_path);

// Copies a model folder's config files into dst and writes `tensors` as its model.safetensors.
void write_model_dir(const std::string& src_dir, const std::string& dst_dir,
                     const std::map<std::string, TensorF32>& tensors);

}  // namespace vitscope::test
