#include "testutil.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "vk/recorder.h"

namespace vitscope::test {

vk::Context& context() {
  static vk::Context ctx([] {
    vk::ContextOptions o;
    o.quiet = false;
    return o;
  }());
  return ctx;
}

void require_no_validation_messages() {
  auto& ctx = context();
  static size_t seen = 0;
  auto msgs = ctx.validation_messages();
  for (size_t i = seen; i < msgs.size(); ++i) FAIL_CHECK("validation message: " << msgs[i]);
  seen = msgs.size();
}

std::vector<float> random_vector(size_t n, uint32_t seed, float scale, float offset) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = offset + scale * d(rng);
  return v;
}

std::unique_ptr<vk::Buffer> to_device(const std::vector<float>& v, const std::string& name) {
  auto b = std::make_unique<vk::Buffer>(context(), v.size() * 4, vk::BufferKind::Device, name);
  vk::Uploader up(context());
  up.upload(*b, 0, v.data(), v.size() * 4);
  up.flush();
  return b;
}

std::unique_ptr<vk::Buffer> device_zeros(size_t floats, const std::string& name) {
  return to_device(std::vector<float>(floats, 0.f), name);
}

std::vector<float> from_device(const vk::Buffer& b, size_t floats) {
  std::vector<float> out(floats);
  vk::download(context(), b, 0, out.data(), floats * 4);
  return out;
}

Diff compare(const std::vector<float>& got, const std::vector<float>& ref) {
  Diff d;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    double e = std::abs(double(got[i]) - double(ref[i]));
    if (!(e <= d.max_abs)) {  // also catches NaN
      d.max_abs = std::isnan(e) ? INFINITY : e;
      d.worst = i;
    }
    d.max_ref = std::max(d.max_ref, std::abs(double(ref[i])));
  }
  return d;
}

void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                 const std::string& what) {
  REQUIRE_MESSAGE(got.size() == ref.size(), what << ": size " << got.size() << " vs reference " << ref.size());
  Diff d = compare(got, ref);
  double tol = atol + rtol * d.max_ref;
  std::string first;
  for (size_t i = 0; i < std::min<size_t>(5, ref.size()); ++i)
    first += std::to_string(got[i]) + "/" + std::to_string(ref[i]) + " ";
  INFO(what << ": first (got/ref) " << first << "| max |diff| " << d.max_abs << " at " << d.worst
            << ", max |ref| " << d.max_ref << ", tolerance " << tol);
  CHECK(d.max_abs <= tol);
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorF32>& tensors) {
  nlohmann::json h = nlohmann::json::object();
  uint64_t off = 0;
  for (const auto& [name, t] : tensors) {
    uint64_t bytes = t.data.size() * 4;
    h[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  h["__metadata__"] = {{"format", "pt"}};
  std::string js = h.dump();
  js.append((8 - js.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary);
  uint64_t n = js.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = char((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(js.data(), std::streamsize(js.size()));
  for (const auto& [name, t] : tensors) out.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(t.data.size() * 4));
}

std::string source_dir() { return VITSCOPE_SOURCE_DIR; }

std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("vitscope-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

}  // namespace vitscope::test
