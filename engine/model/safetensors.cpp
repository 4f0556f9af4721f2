#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace vitscope {

namespace {

struct DTypeDesc {
  const char* name;
  DType dtype;
  uint32_t bits;
};

// Every dtype the reference implementation knows; only the float ones can be converted.
constexpr DTypeDesc kDTypes[] = {
    {"BOOL", DType::BOOL, 8},     {"U8", DType::U8, 8},          {"I8", DType::I8, 8},
    {"F8_E5M2", DType::Other, 8}, {"F8_E4M3", DType::Other, 8},  {"F8_E8M0", DType::Other, 8},
    {"F8_E4M3FNUZ", DType::Other, 8}, {"F8_E5M2FNUZ", DType::Other, 8},
    {"F4", DType::Other, 4},      {"F6_E2M3", DType::Other, 6},  {"F6_E3M2", DType::Other, 6},
    {"I16", DType::I16, 16},      {"U16", DType::Other, 16},     {"F16", DType::F16, 16},
    {"BF16", DType::BF16, 16},    {"I32", DType::I32, 32},       {"U32", DType::Other, 32},
    {"F32", DType::F32, 32},      {"C64", DType::Other, 64},     {"F64", DType::F64, 64},
    {"I64", DType::I64, 64},      {"U64", DType::Other, 64},
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ModelError(path + ": " + what);
}

}  // namespace

namespace {
uint64_t file_size_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a .safetensors file");
  return uint64_t(st.st_size);
}
}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : TensorFile(path, file_size_of(path)) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  size_ = file_size();
  try {
    if (size_ < 8) fail(path, "file is " + std::to_string(size_) + " bytes, too small for a safetensors header");
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) fail(path, std::string("cannot map file: ") + std::strerror(errno));
    map_ = static_cast<const uint8_t*>(m);

    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | map_[i];
    if (n > kMaxHeaderBytes)
      fail(path, "header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
    if (n > size_ - 8)
      fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                     std::to_string(size_) + " bytes)");
    const uint64_t data_start = 8 + n;

    // Parse the header, rejecting duplicate top-level keys.
    std::set<std::string> seen;
    std::string dup;
    nlohmann::json header;
    try {
      auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
        if (ev == nlohmann::json::parse_event_t::key && depth == 1) {
          auto k = parsed.get<std::string>();
          if (!seen.insert(k).second && dup.empty()) dup = k;
        }
        return true;
      };
      header = nlohmann::json::parse(map_ + 8, map_ + 8 + n, cb);
    } catch (const nlohmann::json::exception& e) {
      fail(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!dup.empty()) fail(path, "header lists '" + dup + "' twice");
    if (!header.is_object()) fail(path, "header is not a JSON object");

    std::vector<TensorInfo> tensors;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail(path, "__metadata__ is not an object");
        for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
          if (!m2.value().is_string()) fail(path, "__metadata__ value '" + m2.key() + "' is not a string");
          metadata_[m2.key()] = m2.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) fail(path, "tensor '" + name + "': entry is not an object");
      if (!v.contains("dtype") || !v["dtype"].is_string())
        fail(path, "tensor '" + name + "': missing or non-string dtype");
      if (!v.contains("shape") || !v["shape"].is_array())
        fail(path, "tensor '" + name + "': missing or non-array shape");
      if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
        fail(path, "tensor '" + name + "': data_offsets must be [begin, end]");
      TensorInfo t;
      t.name = name;
      t.dtype_str = v["dtype"].get<std::string>();
      const DTypeDesc* dd = nullptr;
      for (auto& d : kDTypes)
        if (t.dtype_str == d.name) dd = &d;
      if (!dd) fail(path, "tensor '" + name + "': unknown dtype '" + t.dtype_str + "'");
      t.dtype = dd->dtype;
      for (auto& d : v["shape"]) {
        if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
          fail(path, "tensor '" + name + "': shape entries must be non-negative integers");
        t.shape.push_back(int64_t(d.get<uint64_t>()));
      }
      for (auto& o : v["data_offsets"])
        if (!o.is_number_unsigned()) fail(path, "tensor '" + name + "': data_offsets must be non-negative integers");
      t.begin = v["data_offsets"][0].get<uint64_t>();
      t.end = v["data_offsets"][1].get<uint64_t>();
      // Checked size: prod(shape) * bits / 8.
      uint64_t bits = dd->bits;
      for (auto d : t.shape)
        if (__builtin_mul_overflow(bits, uint64_t(d), &bits)) fail(path, "tensor '" + name + "': shape overflows");
      if (bits % 8 != 0) fail(path, "tensor '" + name + "': size is not a whole number of bytes");
      if (t.end < t.begin)
        fail(path, "tensor '" + name + "': data_offsets end " + std::to_string(t.end) + " < begin " + std::to_string(t.begin));
      uint64_t bytes = bits / 8;
      if (t.end - t.begin != bytes)
        fail(path, "tensor '" + name + "': " + t.dtype_str + " " + t.shape_str() + " needs " +
                       std::to_string(bytes) + " bytes but data_offsets span " + std::to_string(t.end - t.begin));
      tensors.push_back(std::move(t));
    }
    // Offsets must tile [0, last_end) exactly, in order.
    std::vector<size_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(tensors[a].begin, tensors[a].end) < std::tie(tensors[b].begin, tensors[b].end);
    });
    uint64_t expect = 0;
    for (size_t i : order) {
      const auto& t = tensors[i];
      if (t.begin != expect) {
        if (t.begin < expect)
          fail(path, "tensor '" + t.name + "' overlaps the previous tensor (begins at " +
                         std::to_string(t.begin) + ", previous ends at " + std::to_string(expect) + ")");
        fail(path, "gap before tensor '" + t.name + "' (begins at " + std::to_string(t.begin) +
                       ", previous ends at " + std::to_string(expect) + ")");
      }
      expect = t.end;
    }
    uint64_t data_bytes = size_ - data_start;
    if (expect > data_bytes)
      fail(path, "file is truncated: tensors need " + std::to_string(expect) + " data bytes, file has " +
                     std::to_string(data_bytes));
    if (expect < data_bytes)
      fail(path, std::to_string(data_bytes - expect) + " unexpected trailing bytes after the last tensor");
    for (auto& t : tensors) {
      t.data = map_ + data_start + t.begin;
      t.mapped = true;
      add(std::move(t));
    }
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    if (fd_ >= 0) ::close(fd_);
    map_ = nullptr;
    fd_ = -1;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace vitscope
