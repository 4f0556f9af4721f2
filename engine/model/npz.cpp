#include "model/npz.h"

#include <filesystem>

#include "core/error.h"
#include "io/npy.h"
#include "io/zip_archive.h"

namespace vitscope {

namespace {

DType dtype_of(NpyType t) {
  switch (t) {
    case NpyType::F16: return DType::F16;
    case NpyType::F64: return DType::F64;
    default: return DType::F32;
  }
}

uint64_t archive_size(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

NpzFile::NpzFile(const std::string& path) : TensorFile(path, archive_size(path)) {
  ZipArchive zip(path);
  // A member can hold at most the whole model; 64 GiB keeps a lying size from allocating.
  constexpr uint64_t kMaxMember = 64ull << 30;
  for (const ZipMember& m : zip.members()) {
    if (!m.name.empty() && m.name.back() == '/') continue;  // a folder entry
    const std::string where = "member '" + m.name + "'";
    if (m.name.size() < 5 || m.name.compare(m.name.size() - 4, 4, ".npy") != 0)
      throw ModelError(path + ": " + where + " is not a .npy array; not an .npz checkpoint");
    std::vector<uint8_t> bytes = zip.read(m, kMaxMember);
    NpyHeader h;
    try {
      h = parse_npy_header(bytes.data(), bytes.size(), path + ": " + where);
    } catch (const InputError& e) {
      throw ModelError(e.what());
    }
    TensorInfo t;
    t.name = m.name.substr(0, m.name.size() - 4);
    t.dtype = dtype_of(h.type);
    t.dtype_str = h.descr;
    t.shape = h.shape;
    const size_t offset = h.data_offset;
    t.data = own(std::move(bytes)) + offset;
    add(std::move(t));
  }
}

}  // namespace vitscope
