// Shared helpers for the doctest suite: one Vulkan context per process, random data,
// device round trips, comparisons that report llm.c-style "first values + max diff",
// and a tiny safetensors writer for building test checkpoints.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vk/buffer.h"
#include "vk/context.h"

namespace vitscope::test {

// The process-wide context (validation from VITSCOPE_VALIDATE, which ctest sets).
vk::Context& context();
// Fails the current test if the validation layer said anything since the last call.
void require_no_validation_messages();

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f, float offset = 0.0f);

std::unique_ptr<vk::Buffer> to_device(const std::vector<float>& v, const std::string& name);
std::unique_ptr<vk::Buffer> device_zeros(size_t floats, const std::string& name);
std::vector<float> from_device(const vk::Buffer& b, size_t floats);

struct Diff {
  double max_abs = 0, max_ref = 0;
  size_t worst = 0;
};
Diff compare(const std::vector<float>& got, const std::vector<float>& ref);
// CHECKs got ≈ ref within atol + rtol * max|ref|, printing the first values and the max diff.
void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                 const std::string& what);

// Writes a safetensors file from F32 tensors (the reference writer's layout: sorted by
// name, packed, header padded with spaces to 8 bytes).
struct TensorF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
void write_safetensors(const std::string& path, const std::map<std::string, TensorF32>& tensors);

std::string source_dir();
std::string temp_dir(const std::string& name);  // fresh empty folder under the system temp dir

}  // namespace vitscope::test
