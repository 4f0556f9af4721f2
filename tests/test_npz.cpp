// .npz checkpoints and the ZIP reader under them: np.savez and np.savez_compressed
// archives (tools/make_npz_fixtures.py), .npy header versions, float16/64 conversion,
// malformed members, and weights read transposed from the file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/zip_archive.h"
#include "model/npz.h"
#include "model/weights.h"

using namespace vitscope;

namespace {

const std::string kDir = std::string(VITSCOPE_SOURCE_DIR) + "/tests/data/npz/";

// The fixtures hold value(i) = i * 0.25 - 1 at flat index i.
float ramp(int64_t i) { return float(double(i) * 0.25 - 1.0); }

std::string error_of(const std::string& file) {
  try {
    auto f = open_tensor_file(kDir + file);
    return "(no error)";
  } catch (const ModelError& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("npz: np.savez and np.savez_compressed archives give every array with its name, shape and values") {
  for (const char* name : {"savez.npz", "savez_compressed.npz"}) {
    CAPTURE(name);
    auto f = open_tensor_file(kDir + name);
    CHECK(std::string(f->format()) == "npz");
    REQUIRE(f->tensors().size() == 5);
    struct Want {
      const char* name;
      std::vector<int64_t> shape;
      DType dtype;
    };
    for (const Want& w : {Want{"a/f32", {3, 5}, DType::F32}, Want{"a/f16", {7}, DType::F16},
                          Want{"f64", {2, 3, 4}, DType::F64}, Want{"scalar", {}, DType::F32},
                          Want{"empty", {0, 4}, DType::F32}}) {
      CAPTURE(w.name);
      const TensorInfo* t = f->find(w.name);
      REQUIRE(t != nullptr);
      CHECK(t->shape == w.shape);
      CHECK(t->dtype == w.dtype);
      std::vector<float> v = f->read_f32(*t);
      REQUIRE(int64_t(v.size()) == t->numel());
      for (int64_t i = 0; i < t->numel(); ++i) CHECK(v[size_t(i)] == ramp(i));  // all exact in f16 too
      CHECK(f->count_nonfinite(*t) == 0);
    }
  }
}

TEST_CASE("npz: .npy header versions 2 and 3") {
  auto f = open_tensor_file(kDir + "versions.npz");
  for (const char* n : {"v2", "v3"}) {
    const TensorInfo* t = f->find(n);
    REQUIRE(t != nullptr);
    CHECK(f->read_f32(*t) == std::vector<float>{ramp(0), ramp(1), ramp(2), ramp(3)});
  }
}

TEST_CASE("npz: malformed archives and members are refused naming the file and the member") {
  const std::string w = "member 'w.npy': ";
  CHECK(error_of("bad_fortran.npz") == kDir + "bad_fortran.npz: " + w + "Fortran-order arrays are not supported; save with C order");
  CHECK(error_of("bad_int64.npz") == kDir + "bad_int64.npz: " + w +
        "dtype '<i8' is not supported (only little-endian float32 '<f4', float16 '<f2' or float64 '<f8')");
  CHECK(error_of("bad_bigendian.npz") == kDir + "bad_bigendian.npz: " + w +
        "dtype '>f4' is not supported (only little-endian float32 '<f4', float16 '<f2' or float64 '<f8')");
  CHECK(error_of("bad_object.npz") == kDir + "bad_object.npz: " + w +
        "holds Python objects (dtype 'O'), which are never loaded; only float arrays are supported");
  CHECK(error_of("bad_structured.npz") == kDir + "bad_structured.npz: " + w +
        "structured arrays are not supported (only float32, float16 or float64 arrays)");
  CHECK(error_of("bad_truncated.npz") == kDir + "bad_truncated.npz: " + w + "data is 27 bytes, shape needs 32");
  CHECK(error_of("bad_member_name.npz") ==
        kDir + "bad_member_name.npz: member 'w.txt' is not a .npy array; not an .npz checkpoint");
  CHECK(error_of("bad_not_zip.npz").rfind(kDir + "bad_not_zip.npz: not a readable ZIP archive: ", 0) == 0);
  CHECK(error_of("bad_cut.npz").rfind(kDir + "bad_cut.npz: not a readable ZIP archive: ", 0) == 0);
}

TEST_CASE("zip: members are listed with sizes and methods, and lying sizes are refused before allocating") {
  ZipArchive stored(kDir + "savez.npz"), deflated(kDir + "savez_compressed.npz");
  REQUIRE(stored.members().size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    const ZipMember& s = stored.members()[i];
    const ZipMember& d = deflated.members()[i];
    CHECK(s.name == d.name);
    CHECK(s.stored());
    CHECK(d.method == 8);
    CHECK(s.size == d.size);
    CHECK(stored.read(s, 1 << 20) == deflated.read(d, 1 << 20));
  }
  const ZipMember* m = stored.find("f64.npy");
  REQUIRE(m != nullptr);
  CHECK(m->size == 128 + 24 * 8);
  CHECK(stored.read_prefix(*m, 6) == std::vector<uint8_t>{0x93, 'N', 'U', 'M', 'P', 'Y'});
  try {
    stored.read(*m, 100);
    FAIL("read past the limit");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()) == kDir + "savez.npz: ZIP member 'f64.npy' is 320 bytes, over the 100-byte limit");
  }
  ZipMember lying = *m;
  lying.size = 1ull << 40;
  CHECK_THROWS_WITH_AS(stored.read(lying, ~0ull),
                       (kDir + "savez.npz: ZIP member 'f64.npy' claims 1099511627776 bytes from 320 stored bytes").c_str(),
                       ModelError);
}

TEST_CASE("weights: a tensor read transposed from the file is the transpose, in any slice") {
  auto f = open_tensor_file(kDir + "savez.npz");
  const TensorInfo* t = f->find("a/f32");  // [3,5]
  REQUIRE(t != nullptr);
  HostTensor h = transposed_from_file(*f, *t, 3);
  CHECK(h.shape == std::vector<int64_t>{5, 3});
  std::vector<float> all = h.to_vector();
  REQUIRE(all.size() == 15);
  for (int o = 0; o < 5; ++o)
    for (int i = 0; i < 3; ++i) CHECK(all[size_t(o * 3 + i)] == ramp(i * 5 + o));
  for (int first = 0; first < 15; ++first)
    for (int count = 0; first + count <= 15; ++count) {
      std::vector<float> part(static_cast<size_t>(count));
      h.read(part.data(), first, count);
      CHECK(std::equal(part.begin(), part.end(), all.begin() + first));
    }
  // f64 viewed as [2, 12] read as [12, 2].
  const TensorInfo* d = f->find("f64");
  std::vector<float> dv = transposed_from_file(*f, *d, 2).to_vector();
  for (int o = 0; o < 12; ++o)
    for (int i = 0; i < 2; ++i) CHECK(dv[size_t(o * 2 + i)] == ramp(i * 12 + o));
}
