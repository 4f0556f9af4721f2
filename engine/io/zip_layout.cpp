// zip_stored_ranges: end of central directory -> central directory -> local headers
// (record layouts from PKWARE's APPNOTE.TXT, sections 4.3.7, 4.3.12, 4.3.14-16, 4.5.3).
#include "io/zip_layout.h"

namespace vitscope {

namespace {

uint64_t rd(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::map<std::string, ZipDataRange> zip_stored_ranges(const uint8_t* f, uint64_t size) {
  std::map<std::string, ZipDataRange> out;
  if (size < 22) return out;
  // End of central directory: 22 bytes + a comment of up to 65535 bytes, at the end.
  uint64_t eocd = UINT64_MAX;
  uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (uint64_t p = size - 22 + 1; p-- > lowest;)
    if (rd(f + p, 4) == 0x06054b50) {
      eocd = p;
      break;
    }
  if (eocd == UINT64_MAX) return out;
  uint64_t entries = rd(f + eocd + 10, 2), cd_size = rd(f + eocd + 12, 4), cd_off = rd(f + eocd + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_off == 0xffffffff) {
    // ZIP64: a 20-byte locator right before the EOCD points at the ZIP64 EOCD record.
    if (eocd < 20 || rd(f + eocd - 20, 4) != 0x07064b50) return out;
    uint64_t rec = rd(f + eocd - 20 + 8, 8);
    if (rec > size || size - rec < 56 || rd(f + rec, 4) != 0x06064b50) return out;
    entries = rd(f + rec + 32, 8);
    cd_size = rd(f + rec + 40, 8);
    cd_off = rd(f + rec + 48, 8);
  }
  if (cd_off > size || cd_size > size - cd_off) return out;
  uint64_t p = cd_off, end = cd_off + cd_size;
  for (uint64_t i = 0; i < entries; ++i) {
    if (end - p < 46 || rd(f + p, 4) != 0x02014b50) return out;
    const uint8_t* e = f + p;
    uint64_t method = rd(e + 10, 2), csize = rd(e + 20, 4), usize = rd(e + 24, 4);
    uint64_t name_len = rd(e + 28, 2), extra_len = rd(e + 30, 2), comment_len = rd(e + 32, 2);
    uint64_t local = rd(e + 42, 4);
    if (end - p - 46 < name_len + extra_len + comment_len) return out;
    std::string name(reinterpret_cast<const char*>(e + 46), size_t(name_len));
    // ZIP64 extra field (id 1): 8-byte values for the fields above that read 0xffffffff.
    for (uint64_t x = 0; x + 4 <= extra_len;) {
      const uint8_t* h = e + 46 + name_len + x;
      uint64_t id = rd(h, 2), len = rd(h + 2, 2);
      if (x + 4 + len > extra_len) break;
      if (id == 1) {
        uint64_t q = 4;
        auto take = [&](uint64_t& field) {
          if (field == 0xffffffff && q + 8 <= 4 + len) {
            field = rd(h + q, 8);
            q += 8;
          }
        };
        take(usize);
        take(csize);
        take(local);
      }
      x += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;
    if (method != 0 || csize != usize || local > size || size - local < 30) continue;
    const uint8_t* lh = f + local;
    if (rd(lh, 4) != 0x04034b50) continue;
    uint64_t data = local + 30 + rd(lh + 26, 2) + rd(lh + 28, 2);
    if (data > size || usize > size - data) continue;
    out[name] = {data, usize};
  }
  return out;
}

}  // namespace vitscope
