// NumPy .npy files (format versions 1 to 3), float32 only: enough for preprocessed
// inputs, logits, features and attention probabilities.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vitscope {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Reads a little-endian float32 ('<f4'), C-order array; anything else is an InputError.
NpyArray read_npy(const std::string& path);
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace vitscope
