// Strict, memory-mapped .safetensors reader (format rules: shared/docs/checkpoints.md §1).
// Every tensor is checked at open: header cap, offsets contiguous from 0 with no gaps
// or overlaps, byte size == prod(shape) * dtype size, and data end == file end.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vitscope {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, Other };

const char* dtype_name(DType d);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::string dtype_str;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the data buffer
  int64_t numel() const;
  std::string shape_str() const;
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Converts elements [first, first+count) of a floating-point tensor to float32.
  void read_f32(const TensorInfo& t, float* dst, int64_t first, int64_t count) const;
  std::vector<float> read_f32(const TensorInfo& t) const;
  // Number of NaN or infinite elements of a floating-point tensor (0 for other dtypes);
  // checks the raw bits, so it is as fast as reading the bytes.
  uint64_t count_nonfinite(const TensorInfo& t) const;
  // Tells the OS it may drop the mapped pages of this tensor (keeps RSS low after upload).
  void release(const TensorInfo& t) const;

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace vitscope
