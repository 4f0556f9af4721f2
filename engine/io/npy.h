// NumPy .npy files (format versions 1 to 3) holding little-endian float32, float16 or
// float64 C-order arrays: preprocessed inputs, logits, features and attention
// probabilities, and the members of .npz checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vitscope {

enum class NpyType { F32, F16, F64 };

struct NpyHeader {
  std::string descr;           // '<f4', '<f2' or '<f8'
  NpyType type = NpyType::F32;
  std::vector<int64_t> shape;
  uint64_t count = 0;          // elements
  size_t data_offset = 0;      // where the data starts within the .npy bytes
  uint64_t data_bytes = 0;     // count * element size
};

// Parses and checks the header of a .npy held in `bytes` (`size` of them: the whole file,
// whose data must be exactly the shape's size); anything but a C-order '<f4', '<f2' or
// '<f8' array is an InputError naming `name`.
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& name);

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Reads a C-order '<f4', '<f2' or '<f8' array as float32; anything else is an InputError.
NpyArray read_npy(const std::string& path);
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace vitscope
