// Read-only ZIP archives through libzip (stored and deflated members, zip64): the
// container of .npz files and of PyTorch's zip checkpoints. Every error names the file.
//
// libzip (1.7) does not tell where a member's bytes sit in the file, so members are
// always read (copied) into memory; the size a member claims is checked before the
// buffer is allocated, and libzip verifies the CRC when the read reaches the end.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

typedef struct zip zip_t;

namespace vitscope {

struct ZipMember {
  std::string name;
  uint64_t index = 0;            // libzip's entry index
  uint64_t size = 0;             // uncompressed bytes
  uint64_t compressed_size = 0;
  int method = 0;                // 0 stored, 8 deflated, others as the ZIP spec numbers them
  bool stored() const { return method == 0; }
};

class ZipArchive {
 public:
  // Opens the archive at `path`.
  explicit ZipArchive(const std::string& path);
  // Opens an archive held in memory (tests, fuzzing); `data` must outlive the archive.
  ZipArchive(const uint8_t* data, size_t size, const std::string& name);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  uint64_t archive_size() const { return archive_size_; }
  const std::vector<ZipMember>& members() const { return members_; }
  const ZipMember* find(const std::string& name) const;

  // The whole member, uncompressed. Throws (naming the file and the member) when it claims
  // more than `max_bytes`, more than its compressed bytes can hold, or when it is corrupt.
  std::vector<uint8_t> read(const ZipMember& m, uint64_t max_bytes) const;
  // The first min(n, size) bytes of a member (e.g. a .npy header).
  std::vector<uint8_t> read_prefix(const ZipMember& m, uint64_t n) const;

  // True when the bytes start like a ZIP archive ("PK\3\4", or "PK\5\6" for an empty one).
  static bool has_magic(const uint8_t* bytes, size_t n);

 private:
  void list();
  std::vector<uint8_t> read_bytes(const ZipMember& m, uint64_t n) const;

  std::string path_;
  uint64_t archive_size_ = 0;
  zip_t* zip_ = nullptr;
  std::vector<ZipMember> members_;
};

}  // namespace vitscope
