#include "io/zip_archive.h"

#include <zip.h>

#include <filesystem>
#include <memory>

#include "core/error.h"

namespace vitscope {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw ModelError(path + ": " + what); }

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

// Deflate expands at most ~1032:1; a member claiming more than that is lying.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

bool ZipArchive::has_magic(const uint8_t* b, size_t n) {
  return n >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6));
}

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a ZIP archive");
  archive_size_ = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  int err = 0;
  zip_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!zip_) fail(path, "not a readable ZIP archive: " + zip_message(err));
  list();
}

ZipArchive::ZipArchive(const uint8_t* data, size_t size, const std::string& name) : path_(name), archive_size_(size) {
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* src = zip_source_buffer_create(data, size, 0, &e);
  if (!src) {
    std::string m = zip_error_strerror(&e);
    zip_error_fini(&e);
    fail(name, "cannot read ZIP archive: " + m);
  }
  zip_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &e);
  if (!zip_) {
    zip_source_free(src);
    std::string m = zip_error_strerror(&e);
    zip_error_fini(&e);
    fail(name, "not a readable ZIP archive: " + m);
  }
  zip_error_fini(&e);
  list();
}

ZipArchive::~ZipArchive() {
  if (zip_) zip_discard(zip_);
}

void ZipArchive::list() {
  try {
    zip_int64_t n = zip_get_num_entries(zip_, 0);
    if (n < 0) fail(path_, "cannot list the ZIP archive's members");
    members_.reserve(size_t(std::min<zip_int64_t>(n, 1 << 20)));
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(zip_, zip_uint64_t(i), 0, &st) != 0)
        fail(path_, "ZIP member " + std::to_string(i) + ": " + zip_strerror(zip_));
      const zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
      if ((st.valid & need) != need || !st.name)
        fail(path_, "ZIP member " + std::to_string(i) + " lacks a name or sizes");
      ZipMember m;
      m.name = st.name;
      m.index = uint64_t(i);
      m.size = st.size;
      m.compressed_size = st.comp_size;
      m.method = int(st.comp_method);
      members_.push_back(std::move(m));
    }
  } catch (...) {
    zip_discard(zip_);
    zip_ = nullptr;
    throw;
  }
}

const ZipMember* ZipArchive::find(const std::string& name) const {
  for (const auto& m : members_)
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<uint8_t> ZipArchive::read_bytes(const ZipMember& m, uint64_t n) const {
  auto where = [&] { return "ZIP member '" + m.name + "'"; };
  if (m.method != ZIP_CM_STORE && m.method != ZIP_CM_DEFLATE)
    fail(path_, where() + " uses compression method " + std::to_string(m.method) +
                    " (only stored and deflated members are supported)");
  if (m.method == ZIP_CM_STORE ? m.size != m.compressed_size
                               : m.size / kMaxDeflateRatio > m.compressed_size)
    fail(path_, where() + " claims " + std::to_string(m.size) + " bytes from " + std::to_string(m.compressed_size) +
                    " stored bytes");
  if (m.compressed_size > archive_size_)
    fail(path_, where() + " claims " + std::to_string(m.compressed_size) + " bytes, more than the archive's " +
                    std::to_string(archive_size_));
  std::unique_ptr<zip_file_t, FileCloser> f(zip_fopen_index(zip_, m.index, 0));
  if (!f) fail(path_, "cannot read " + where() + ": " + zip_strerror(zip_));
  std::vector<uint8_t> out(n);
  uint64_t got = 0;
  while (got < n) {
    zip_int64_t r = zip_fread(f.get(), out.data() + got, n - got);
    if (r < 0) fail(path_, "cannot read " + where() + ": " + zip_file_strerror(f.get()));
    if (r == 0) break;
    got += uint64_t(r);
  }
  if (got != n)
    fail(path_, where() + " is truncated: " + std::to_string(got) + " of " + std::to_string(n) + " bytes");
  if (n == m.size) {  // reached the end: a further read makes libzip check the CRC
    uint8_t extra;
    zip_int64_t r = zip_fread(f.get(), &extra, 1);
    if (r < 0) fail(path_, "cannot read " + where() + ": " + zip_file_strerror(f.get()));
    if (r > 0) fail(path_, where() + " holds more bytes than its size says");
  }
  return out;
}

std::vector<uint8_t> ZipArchive::read(const ZipMember& m, uint64_t max_bytes) const {
  if (m.size > max_bytes)
    fail(path_, "ZIP member '" + m.name + "' is " + std::to_string(m.size) + " bytes, over the " +
                    std::to_string(max_bytes) + "-byte limit");
  return read_bytes(m, m.size);
}

std::vector<uint8_t> ZipArchive::read_prefix(const ZipMember& m, uint64_t n) const {
  return read_bytes(m, std::min(n, m.size));
}

}  // namespace vitscope
