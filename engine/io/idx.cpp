#include "io/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace vitscope {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InputError(name + ": " + what);
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

const char* type_name(uint8_t t) {
  switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
  }
}

// gzerror's text is "PATH: problem"; keep the problem (our message names the file).
std::string zlib_message(const std::string& path, const char* msg) {
  std::string m = msg && *msg ? msg : "read error";
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m;
}

// Reads the whole (decompressed) stream; gzopen reads plain files transparently.
std::vector<uint8_t> read_all(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not an IDX file");
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno ? errno : ENOMEM));
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      fail(path, "damaged gzip data: " + zlib_message(path, msg));
    }
    if (n == 0) break;
    if (out.size() + size_t(n) > kMaxIdxBytes + 4 * 256 + 4)
      fail(path, "more than " + std::to_string(kMaxIdxBytes >> 20) + " MiB of data; not an IDX file this program reads");
    out.insert(out.end(), buf, buf + n);
  }
  // gzread returns 0 at the end of a gzip stream that was cut short; gzerror tells.
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code == Z_BUF_ERROR) fail(path, "truncated gzip data (unexpected end of file)");
  if (code != Z_OK) fail(path, "damaged gzip data: " + zlib_message(path, msg));
  return out;
}

}  // namespace

IdxArray parse_idx(const uint8_t* b, size_t size, const std::string& name) {
  if (size < 4) fail(name, "file is " + std::to_string(size) + " bytes, too small for an IDX header");
  if (b[0] != 0 || b[1] != 0)
    fail(name, "not an IDX file (magic must start with two zero bytes)");
  uint8_t type = b[2], rank = b[3];
  if (type != 0x08)
    fail(name, "IDX element type 0x" + std::string(1, "0123456789ABCDEF"[type >> 4]) +
                   std::string(1, "0123456789ABCDEF"[type & 15]) + " (" + type_name(type) +
                   ") is not supported; only 0x08 (unsigned byte)");
  if (rank == 0) fail(name, "IDX file has no dimensions");
  size_t header = 4 + size_t(rank) * 4;
  if (size < header)
    fail(name, "truncated IDX header: " + std::to_string(rank) + " dimensions need " + std::to_string(header) +
                   " bytes, file has " + std::to_string(size));
  IdxArray a;
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    uint32_t d = be32(b + 4 + size_t(i) * 4);
    if (d == 0) fail(name, "IDX dimension " + std::to_string(i) + " is 0");
    a.dims.push_back(int64_t(d));
    if (__builtin_mul_overflow(count, uint64_t(d), &count) || count > kMaxIdxBytes)
      fail(name, "IDX dimensions describe more than " + std::to_string(kMaxIdxBytes >> 20) + " MiB");
  }
  uint64_t have = size - header;
  if (have != count) {
    std::string dims;
    for (size_t i = 0; i < a.dims.size(); ++i) dims += (i ? "x" : "") + std::to_string(a.dims[i]);
    fail(name, "IDX dimensions " + dims + " need " + std::to_string(count) + " data bytes, file has " +
                   std::to_string(have) + (have < count ? " (truncated)" : " (trailing bytes)"));
  }
  a.data.assign(b + header, b + header + count);
  return a;
}

IdxArray read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = read_all(path);
  return parse_idx(bytes.data(), bytes.size(), path);
}

}  // namespace vitscope
