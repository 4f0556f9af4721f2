// The allow-list unpickler (engine/io/pickle.h) on its own: the values it builds from real
// Python pickles (tests/data/pickled, tools/make_pickled_fixtures.py), what it refuses and
// how it stays bounded on hostile input (deep nesting, huge lengths, quadratic copies).
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/pickle.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "testutil.h"

using namespace vitscope;
using pickle::Kind;
using pickle::Value;
using namespace std::string_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string data_path(const std::string& rel) { return test::source_dir() + "/tests/data/" + rel; }

// Unpickles `bytes` (one pickle); returns the error message, or "" when it loaded.
std::string load_error(const std::string& bytes, const Value** out = nullptr,
                       pickle::Unpickler** keep = nullptr) {
  static std::vector<std::unique_ptr<pickle::Unpickler>> alive;
  static std::vector<std::string> buffers;
  buffers.push_back(bytes);
  const std::string& b = buffers.back();
  alive.push_back(std::make_unique<pickle::Unpickler>(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "t.pkl"));
  if (keep) *keep = alive.back().get();
  try {
    size_t pos = 0;
    const Value* v = alive.back()->load(pos);
    if (out) *out = v;
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

std::string le32(uint32_t n) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

std::string unicode(const std::string& s) { return "X" + le32(uint32_t(s.size())) + s; }
std::string global(const std::string& m, const std::string& n) { return "c" + m + "\n" + n + "\n"; }

}  // namespace

TEST_CASE("pickle: Paddle-style numpy pickles (protocols 2 and 4) hold the safetensors bytes") {
  for (auto [file, golden] : {std::pair{"hf_vitmodel_resized_p2.pdparams", "hf_vitmodel_resized"},
                              std::pair{"timm_dinov2_resized_p4.pdparams", "timm_dinov2_resized"}}) {
    CAPTURE(file);
    std::string bytes = slurp(data_path(std::string("pickled/") + file));
    const Value* root = nullptr;
    REQUIRE(load_error(bytes, &root) == "");
    REQUIRE(root->kind == Kind::Dict);
    REQUIRE(root->get("StructuredToParameterName@@") != nullptr);
    SafetensorsFile st(test::source_dir() + "/tests/golden/" + golden + "/model.safetensors");
    StateDict sd = find_state_dict(*root, file, "");
    REQUIRE(sd.entries.size() == st.tensors().size());
    for (const auto& e : sd.entries) {
      const TensorInfo* t = st.find(e.name);
      REQUIRE_MESSAGE(t, e.name);
      REQUIRE(e.value->kind == Kind::NdArray);
      const pickle::ArrayRef& a = e.value->array();
      CHECK(a.dtype == "<f4");
      CHECK(a.shape == t->shape);
      CHECK_FALSE(a.fortran);
      std::vector<float> want = st.read_f32(*t);
      REQUIRE(a.data->text.size() == want.size() * 4);
      CHECK(std::memcmp(a.data->text.data(), want.data(), want.size() * 4) == 0);
    }
  }
}

TEST_CASE("pickle: Paddle 2.1 (name, ndarray) tuples and the name table") {
  const Value* root = nullptr;
  REQUIRE(load_error(slurp(data_path("pickled/tv_paddle21.pdparams")), &root) == "");
  StateDict sd = find_state_dict(*root, "tv_paddle21.pdparams", "");
  SafetensorsFile st(test::source_dir() + "/tests/golden/tv_legacy_resized/model.safetensors");
  REQUIRE(sd.entries.size() == st.tensors().size());
  for (const auto& e : sd.entries) {
    REQUIRE(e.value->kind == Kind::NdArray);
    const TensorInfo* t = st.find(e.name);
    REQUIRE(t);
    std::vector<float> want = st.read_f32(*t);
    CHECK(std::memcmp(e.value->array().data->text.data(), want.data(), want.size() * 4) == 0);
  }
}

TEST_CASE("pickle: a training checkpoint's argparse.Namespace stays an inert object") {
  // {'args': Namespace(lr=0.1) (NEWOBJ + BUILD), 'w': numpy scalar}
  std::string p = "\x80\x02}(" + unicode("args") + global("argparse", "Namespace") + ")\x81}" + unicode("lr") +
                  "G?\xb9\x99\x99\x99\x99\x99\x9a" + "sb" + "u.";
  const Value* root = nullptr;
  REQUIRE(load_error(p, &root) == "");
  const Value* args = root->get("args");
  REQUIRE(args);
  CHECK(args->kind == Kind::Object);
  CHECK(pickle::describe(*args) == "argparse.Namespace");
  REQUIRE(args->state);
  CHECK(args->state->get("lr")->f == doctest::Approx(0.1));
  // ... and looking for tensors in it names the class
  std::string p2 = "\x80\x02}(" + unicode("model") + global("argparse", "Namespace") + ")\x81u.";
  REQUIRE(load_error(p2, &root) == "");
  try {
    find_state_dict(*root, "ckpt.pth", "");
    FAIL("no error");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("argparse.Namespace") != std::string::npos);
  }
}

TEST_CASE("pickle: globals outside the allow list are never called") {
  // A REDUCE of an unknown callable is refused at once, naming it.
  std::string err = load_error("\x80\x02" + global("mypackage.tools", "build") + ")R.");
  CHECK(err.find("mypackage.tools.build") != std::string::npos);
  CHECK(err.find("not on the allow list") != std::string::npos);
  // Modules that can run code are refused as soon as they are named (GLOBAL or STACK_GLOBAL).
  for (auto [m, n] : {std::pair{"posix", "system"}, {"os", "system"}, {"builtins", "eval"}, {"__builtin__", "exec"},
                      {"subprocess", "Popen"}, {"importlib", "import_module"}, {"builtins", "getattr"},
                      {"torch.hub", "load"}, {"numpy", "load"}}) {
    CAPTURE(m);
    CAPTURE(n);
    std::string e1 = load_error(std::string("\x80\x02") + global(m, n) + ".");
    std::string e2 = load_error(std::string("\x80\x04\x8c") + char(strlen(m)) + m + "\x8c" + char(strlen(n)) + n +
                                "\x93.");
    // numpy.load is not dangerous-named but may not be called: naming it alone is fine
    if (std::string(m) == "numpy") {
      CHECK(e1 == "");
      CHECK(load_error(std::string("\x80\x02") + global(m, n) + unicode("x") + "\x85R.").find("numpy.load") !=
            std::string::npos);
      continue;
    }
    CHECK(e1.find(std::string(m) + "." + n) != std::string::npos);
    CHECK(e1.find("nothing was run") != std::string::npos);
    CHECK(e2.find(std::string(m) + "." + n) != std::string::npos);
  }
  // Harmless value types in args become placeholders (pathlib, torch.device).
  const Value* root = nullptr;
  REQUIRE(load_error("\x80\x02" + global("pathlib", "PosixPath") + unicode("out") + "\x85R.", &root) == "");
  CHECK(root->kind == Kind::Object);
}

TEST_CASE("pickle: 200,000-deep nesting, huge lengths and memo misses are refused without a crash") {
  const int depth = 200000;
  auto refused = [](const std::string& bytes, const std::string& why) {
    std::string e = load_error(bytes);
    CHECK_MESSAGE(e.find(why) != std::string::npos, e);
  };
  refused("\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".", "nested deeper");
  refused("\x80\x02" + std::string(depth, '(') + std::string(depth, 't') + ".", "nested MARKs");
  std::string dicts = "\x80\x02}";
  for (int i = 1; i < depth; ++i) dicts += std::string("K\x00}", 3);
  refused(dicts + std::string(depth - 1, 's') + ".", "nested deeper");
  refused("\x80\x04X\xf0\xff\xff\xff"s + "abc", "truncated");
  refused("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40"s + "abc.", "truncated");
  refused("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x10}."s, "truncated");
  refused("\x80\x02}q\x00X\x01\x00\x00\x00wh\x07s."s, "memo entry 7");
  refused("\x80\x02}", "truncated");
  refused("\x80\x02.", "underflow");
  refused("\x80\x06}.", "protocol 6");
  refused("\x80\x02(I1\n.", "protocol 0");
}

TEST_CASE("pickle: bounded work: re-copying a big list through the memo is refused quickly") {
  // a 100,000-item list, then tuple(list) over and over: quadratic without a budget
  std::string p = "\x80\x02]q\x00("s + std::string(100000, 'N') + "e" + global("builtins", "tuple") + "q\x01";
  for (int i = 0; i < 2000; ++i) p += "h\x01h\x00\x85R0"s;
  p += ".";
  auto t0 = std::chrono::steady_clock::now();
  std::string e = load_error(p);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(e.find("container items") != std::string::npos);
  CHECK(s < 5.0);
}
