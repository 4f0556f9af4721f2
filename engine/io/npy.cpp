#include "io/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/half.h"

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

NpyHeader parse_npy_header(const uint8_t* b, size_t size, const std::string& name) {
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
  NpyHeader out;
  size_t p = dict_value(h, "descr");
  if (p == std::string::npos) fail(name, "no dtype in .npy header");
  if (h[p] != '\'' && h[p] != '"')  // a list of fields: a structured array
    fail(name, "structured arrays are not supported (only float32, float16 or float64 arrays)");
  size_t close = h.find(h[p], p + 1);
  if (close == std::string::npos) fail(name, "no dtype in .npy header");
  out.descr = h.substr(p + 1, close - p - 1);
  std::string d = out.descr;
  if (d.size() == 3 && d[0] == '=') d[0] = '<';  // native order: this host is little-endian
  uint64_t esize;
  if (d == "<f4") {
    out.type = NpyType::F32, esize = 4;
  } else if (d == "<f2") {
    out.type = NpyType::F16, esize = 2;
  } else if (d == "<f8") {
    out.type = NpyType::F64, esize = 8;
  } else if (d == "|O") {
    fail(name, "holds Python objects (dtype 'O'), which are never loaded; only float arrays are supported");
  } else {
    fail(name, "dtype '" + out.descr + "' is not supported (only little-endian float32 '<f4', float16 '<f2' or "
               "float64 '<f8')");
  }
  p = dict_value(h, "fortran_order");
  if (p == std::string::npos || (h.compare(p, 4, "True") != 0 && h.compare(p, 5, "False") != 0))
    fail(name, "no fortran_order in .npy header");
  if (h.compare(p, 4, "True") == 0) fail(name, "Fortran-order arrays are not supported; save with C order");
  p = dict_value(h, "shape");
  if (p == std::string::npos || h[p] != '(') fail(name, "no shape in .npy header");
  uint64_t count = 1;
  for (++p;;) {
    while (p < h.size() && (h[p] == ' ' || h[p] == ',')) ++p;
    if (p < h.size() && h[p] == ')') break;
    size_t digits = 0;
    uint64_t dim = 0;
    while (p < h.size() && h[p] >= '0' && h[p] <= '9') {
      if (++digits > 12) fail(name, "shape dimension too large");
      dim = dim * 10 + uint64_t(h[p++] - '0');
    }
    if (digits == 0) fail(name, "malformed shape in .npy header");
    if (out.shape.size() >= 32) fail(name, "more than 32 dimensions in .npy header");
    out.shape.push_back(int64_t(dim));
    if (__builtin_mul_overflow(count, dim, &count) || count > (1ull << 34)) fail(name, "array too large");
  }
  out.count = count;
  out.data_bytes = count * esize;
  out.data_offset = start + header_len;
  if (size - out.data_offset != out.data_bytes)
    fail(name, "data is " + std::to_string(size - out.data_offset) + " bytes, shape needs " +
                   std::to_string(out.data_bytes));
  return out;
}

NpyArray parse_npy(const uint8_t* b, size_t size, const std::string& name) {
  NpyHeader h = parse_npy_header(b, size, name);
  NpyArray a;
  a.shape = h.shape;
  a.data.resize(size_t(h.count));
  const uint8_t* src = b + h.data_offset;
  if (h.type == NpyType::F32) {
    if (h.data_bytes) std::memcpy(a.data.data(), src, size_t(h.data_bytes));
  } else if (h.type == NpyType::F16) {
    for (size_t i = 0; i < a.data.size(); ++i) {
      uint16_t v;
      std::memcpy(&v, src + 2 * i, 2);
      a.data[i] = half_to_float(v);
    }
  } else {
    for (size_t i = 0; i < a.data.size(); ++i) {
      double v;
      std::memcpy(&v, src + 8 * i, 8);
      a.data[i] = float(v);
    }
  }
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
