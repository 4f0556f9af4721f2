// Strict, memory-mapped .safetensors reader (format rules: shared/docs/checkpoints.md §1).
// Every tensor is checked at open: header cap, offsets contiguous from 0 with no gaps
// or overlaps, byte size == prod(shape) * dtype size, and data end == file end.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/tensor_file.h"

namespace vitscope {

class SafetensorsFile : public TensorFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile() override;

  const char* format() const override { return "safetensors"; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  std::map<std::string, std::string> metadata_;
};

}  // namespace vitscope
