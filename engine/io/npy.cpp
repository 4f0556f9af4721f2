#include "io/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>

#include "core/error.h"

namespace vitscope {

namespace {
[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InputError(name + ": " + what);
}
}  // namespace

NpyArray parse_npy(const uint8_t* b, size_t size, const std::string& name) {
  static const uint8_t magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(b, magic, 6) != 0) fail(name, "not a .npy file (bad magic)");
  uint8_t major = b[6];
  size_t header_len, start;
  if (major == 1) {
    header_len = size_t(b[8]) | (size_t(b[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) fail(name, "truncated .npy header");
    header_len = size_t(b[8]) | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    start = 12;
  } else {
    fail(name, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > size - start) fail(name, "truncated .npy header");
  std::string h(reinterpret_cast<const char*>(b + start), header_len);
  std::smatch m;
  if (!std::regex_search(h, m, std::regex("'descr'\\s*:\\s*'([^']*)'"))) fail(name, "no dtype in .npy header");
  std::string descr = m[1];
  if (descr != "<f4" && descr != "=f4" && descr != "f4")
    fail(name, "dtype '" + descr + "' is not little-endian float32 ('<f4')");
  if (!std::regex_search(h, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")))
    fail(name, "no fortran_order in .npy header");
  if (m[1] == "True") fail(name, "Fortran-order arrays are not supported; save with C order");
  if (!std::regex_search(h, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) fail(name, "no shape in .npy header");
  NpyArray a;
  std::string dims = m[1];
  std::regex num("\\d+");
  uint64_t count = 1;
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    std::string d = (*it).str();
    if (d.size() > 12) fail(name, "shape dimension too large");
    a.shape.push_back(std::stoll(d));
    if (__builtin_mul_overflow(count, uint64_t(a.shape.back()), &count) || count > (1ull << 34))
      fail(name, "array too large");
  }
  size_t need = size_t(count) * 4;
  size_t data_start = start + header_len;
  if (size - data_start != need)
    fail(name, "data is " + std::to_string(size - data_start) + " bytes, shape needs " + std::to_string(need));
  a.data.resize(size_t(count));
  if (need) std::memcpy(a.data.data(), b + data_start, need);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return parse_npy(bytes.data(), bytes.size(), path);
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  size_t count = 1;
  for (auto d : shape) {
    dims += std::to_string(d) + ", ";
    count *= size_t(d);
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  else if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
  const char magic[] = {char(0x93), 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  uint16_t hl = uint16_t(header.size());
  char le[2] = {char(hl & 0xff), char(hl >> 8)};
  out.write(le, 2);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char*>(data), std::streamsize(count * 4));
  if (!out) throw Error(path + ": write failed");
}

}  // namespace vitscope
