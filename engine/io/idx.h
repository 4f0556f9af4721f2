// IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed: unsigned-byte
// arrays only, with strict checks on the magic, the element type and the size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vitscope {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> data;  // row-major, prod(dims) bytes
};

// Largest array read_idx accepts (bytes after decompression): 1 GiB.
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 30;

// Reads PATH (gzip is detected from its first two bytes). Throws InputError naming the
// file and the problem: bad magic, an element type other than 0x08 (unsigned byte),
// zero dimensions, a size that does not match the dimensions, or a damaged gzip stream.
IdxArray read_idx(const std::string& path);
// Parses an uncompressed IDX image already in memory (`name` is used in messages).
IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace vitscope
