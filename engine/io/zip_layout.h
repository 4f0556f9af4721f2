// Where a ZIP archive's stored (uncompressed) members lie in the file, so that a memory
// map can serve them without a copy (PyTorch's zip checkpoints store every storage at a
// 64-byte-aligned offset). libzip does not report data offsets, so this walks the central
// directory (ZIP64 included) and each member's local header itself. It only finds ranges:
// anything it cannot resolve exactly is left out and the caller reads the member through
// libzip (io/zip_archive.h) instead. Mapped bytes are not CRC-checked.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace vitscope {

struct ZipDataRange {
  uint64_t offset = 0;  // first data byte in the file
  uint64_t size = 0;    // bytes (stored: compressed size == uncompressed size)
};

// Member name -> data range, for stored members whose range lies inside the file.
std::map<std::string, ZipDataRange> zip_stored_ranges(const uint8_t* file, uint64_t size);

}  // namespace vitscope
