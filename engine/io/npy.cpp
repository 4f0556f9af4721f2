#include "io/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace vitscope {

namespace {
[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InputError(name + ": " + what);
}

// Position of the value of KEY ('key' or "key", then ':') in a dict literal, or npos.
size_t dict_value(const std::string& h, const char* key) {
  for (char q : {'\'', '"'}) {
    std::string k = std::string(1, q) + key + q;
    size_t p = h.find(k);
    if (p == std::string::npos) continue;
    p += k.size();
    while (p < h.size() && h[p] == ' ') ++p;
    if (p >= h.size() || h[p] != ':') return std::string::npos;
    ++p;
    while (p < h.size() && h[p] == ' ') ++p;
    return p < h.size() ? p : std::string::npos;
  }
  return std::string::npos;
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
  // The header is a Python dict literal; parsed by hand (std::regex recurses per
  // character and can exhaust the stack on a long crafted header).
  size_t p = dict_value(h, "descr");
  if (p == std::string::npos || (h[p] != '\'' && h[p] != '"')) fail(name, "no dtype in .npy header");
  size_t close = h.find(h[p], p + 1);
  if (close == std::string::npos) fail(name, "no dtype in .npy header");
  std::string descr = h.substr(p + 1, close - p - 1);
  if (descr != "<f4" && descr != "=f4" && descr != "f4")
    fail(name, "dtype '" + descr + "' is not little-endian float32 ('<f4')");
  p = dict_value(h, "fortran_order");
  if (p == std::string::npos || (h.compare(p, 4, "True") != 0 && h.compare(p, 5, "False") != 0))
    fail(name, "no fortran_order in .npy header");
  if (h.compare(p, 4, "True") == 0) fail(name, "Fortran-order arrays are not supported; save with C order");
  p = dict_value(h, "shape");
  if (p == std::string::npos || h[p] != '(') fail(name, "no shape in .npy header");
  NpyArray a;
  uint64_t count = 1;
  for (++p;;) {
    while (p < h.size() && (h[p] == ' ' || h[p] == ',')) ++p;
    if (p < h.size() && h[p] == ')') break;
    size_t digits = 0;
    uint64_t d = 0;
    while (p < h.size() && h[p] >= '0' && h[p] <= '9') {
      if (++digits > 12) fail(name, "shape dimension too large");
      d = d * 10 + uint64_t(h[p++] - '0');
    }
    if (digits == 0) fail(name, "malformed shape in .npy header");
    a.shape.push_back(int64_t(d));
    if (__builtin_mul_overflow(count, d, &count) || count > (1ull << 34)) fail(name, "array too large");
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
