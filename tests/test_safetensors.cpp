// The strict safetensors reader: values of every float dtype, unaligned tensors, and
// one test per malformed case, each checked for the message that names the problem.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/safetensors.h"
#include "testutil.h"

using namespace vitscope;

namespace {

std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                      int64_t length_override = -1) {
  static std::string dir = test::temp_dir("safetensors");
  std::string path = dir + "/" + name + ".safetensors";
  std::ofstream out(path, std::ios::binary);
  uint64_t n = length_override >= 0 ? uint64_t(length_override) : header.size();
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& name, const std::string& header, const std::string& data,
                  const std::string& fragment, int64_t length_override = -1) {
  std::string path = write_raw(name, header, data, length_override);
  std::string msg = error_of(path);
  INFO("case " << name << ": message '" << msg << "'");
  CHECK(msg.find(path) == 0);  // names the file first
  CHECK(msg.find(fragment) != std::string::npos);
}

std::string bytes(size_t n, char c = 0) { return std::string(n, c); }

}  // namespace

TEST_CASE("safetensors: F32, F16, BF16 and F64 values, unaligned offsets") {
  // U8[1] first so the F32 tensor starts at an odd offset.
  float f32[2] = {1.5f, -2.25f};
  uint16_t f16[3] = {0x3c00, 0xc000, 0x0001};  // 1, -2, smallest subnormal
  uint16_t bf16[2] = {0x3f80, 0xc0a0};         // 1, -5
  double f64[1] = {0.125};
  std::string data(1, char(7));
  data.append(reinterpret_cast<char*>(f32), 8);
  data.append(reinterpret_cast<char*>(f16), 6);
  data.append(reinterpret_cast<char*>(bf16), 4);
  data.append(reinterpret_cast<char*>(f64), 8);
  std::string header =
      R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},)"
      R"("h":{"dtype":"F16","shape":[3],"data_offsets":[9,15]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[15,19]},)"
      R"("d":{"dtype":"F64","shape":[1,1],"data_offsets":[19,27]},)"
      R"("__metadata__":{"format":"pt"}})";
  SafetensorsFile f(write_raw("values", header, data));
  CHECK(f.tensors().size() == 5);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.read_f32(*f.find("a")) == std::vector<float>{1.5f, -2.25f});
  auto h = f.read_f32(*f.find("h"));
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == doctest::Approx(5.960464477539063e-08).epsilon(1e-6));
  CHECK(f.read_f32(*f.find("b")) == std::vector<float>{1.0f, -5.0f});
  CHECK(f.read_f32(*f.find("d")) == std::vector<float>{0.125f});
  CHECK_THROWS_AS(f.read_f32(*f.find("u")), ModelError);
}

TEST_CASE("safetensors: empty tensors and scalars are legal") {
  std::string header = R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  SafetensorsFile f(write_raw("empty", header, bytes(4)));
  CHECK(f.find("e")->numel() == 0);
  CHECK(f.find("s")->numel() == 1);
}

TEST_CASE("safetensors: malformed files are refused with a message naming the problem") {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_error("past_eof", ok, bytes(8), "runs past the end of the file", 1000);
  expect_error("over_cap", ok, bytes(8), "exceeds the 100000000-byte limit", 100'000'001);
  expect_error("overlap",
               R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
               bytes(8), "overlaps");
  expect_error("gap",
               R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
               bytes(12), "gap before tensor 'b'");
  expect_error("size_mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", bytes(8),
               "needs 12 bytes but data_offsets span 8");
  expect_error("trailing", ok, bytes(12), "4 unexpected trailing bytes");
  expect_error("unknown_dtype", R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", bytes(8),
               "unknown dtype 'F33'");
  expect_error("invalid_json", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", bytes(8),
               "header is not valid JSON");
  expect_error("truncated", ok, bytes(5), "file is truncated");
  expect_error("duplicate",
               R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
               bytes(8), "lists 'w' twice");
  expect_error("bad_metadata", R"({"__metadata__":{"k":1}})", "", "is not a string");
  expect_error("missing_offsets", R"({"w":{"dtype":"F32","shape":[2]}})", bytes(8), "data_offsets");
  expect_error("negative_shape", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", bytes(8),
               "non-negative");
  expect_error("reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", bytes(8), "< begin");
  expect_error("overflow", R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
               bytes(8), "overflows");
  expect_error("not_object", R"([1,2])", "", "not a JSON object");
}

TEST_CASE("safetensors: tiny, missing and directory paths") {
  std::string dir = test::temp_dir("safetensors-paths");
  std::string tiny = dir + "/tiny.safetensors";
  std::ofstream(tiny, std::ios::binary) << "abc";
  CHECK(error_of(tiny).find("too small for a safetensors header") != std::string::npos);
  CHECK(error_of(dir + "/nope.safetensors").find("cannot open") != std::string::npos);
  CHECK(error_of(dir).find("is a directory") != std::string::npos);
}
