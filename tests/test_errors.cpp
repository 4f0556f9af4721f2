// Error catalogue: every kind of bad input a user can hand the engine, each checked for
// the exact one-line message and exit code 1 through `vitscope-cli classify`, and for
// the same message from the library call behind it. Inputs are generated at run time
// in a scratch folder from the small golden model (tests/golden/tv_timm_small); the few
// images stb_image_write cannot make are committed under tests/data (make_images.py).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "image.h"
#include "io/idx.h"
#include "io/png.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "vit.h"
#include "vk/context.h"
#include "vk/memory_budget.h"

using namespace vitscope;
namespace fs = std::filesystem;

namespace {

const std::string kSource = VITSCOPE_SOURCE_DIR;
const std::string kGolden = kSource + "/tests/golden/tv_timm_small";
const std::string kCli = VITSCOPE_CLI_PATH;

const std::string& scratch() {
  static const std::string dir = [] {
    std::string t = (fs::temp_directory_path() / "vitscope-errors-XXXXXX").string();
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    return std::string(buf.data());
  }();
  return dir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  REQUIRE(out);
  out << bytes;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs vitscope-cli with `args`; `env` is prepended as VAR=value words.
CliResult run_cli(const std::vector<std::string>& args, const std::string& env = "") {
  static int counter = 0;
  std::string base = scratch() + "/cli" + std::to_string(counter++);
  std::string cmd = env + (env.empty() ? "" : " ") + quote(kCli);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " >" + quote(base + ".out") + " 2>" + quote(base + ".err") + " </dev/null";
  int st = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(base + ".out");
  r.err = read_file(base + ".err");
  return r;
}

// --- safetensors building blocks ------------------------------------------------------

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

std::string raw_safetensors(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// The golden checkpoint as editable entries (name -> dtype, shape, bytes).
struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};
using Entries = std::map<std::string, Entry>;

Entries golden_entries() {
  std::string f = read_file(kGolden + "/model.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(f[size_t(i)]);
  auto h = nlohmann::json::parse(f.substr(8, n));
  Entries out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    Entry e;
    e.dtype = it.value()["dtype"];
    e.shape = it.value()["shape"].get<std::vector<int64_t>>();
    uint64_t b = it.value()["data_offsets"][0], end = it.value()["data_offsets"][1];
    e.bytes = f.substr(8 + n + b, end - b);
    out[it.key()] = e;
  }
  return out;
}

std::string pack(const Entries& entries) {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const auto& [name, e] : entries) {
    h[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data += e.bytes;
  }
  std::string header = h.dump();
  while (header.size() % 8) header += ' ';
  return raw_safetensors(header, data);
}

std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

nlohmann::json golden_config() { return nlohmann::json::parse(read_file(kGolden + "/config.json")); }

// A model folder NAME holding `weights` (model.safetensors) and `config`.
std::string model_dir(const std::string& name, const std::string& weights, const nlohmann::json& config) {
  std::string dir = scratch() + "/" + name;
  fs::create_directories(dir);
  write_file(dir + "/model.safetensors", weights);
  write_file(dir + "/config.json", config.dump(2));
  return dir;
}

std::string good_weights() { return read_file(kGolden + "/model.safetensors"); }

// --- images -------------------------------------------------------------------------

std::string png_file(const std::string& name, int w, int h, int channels, uint32_t seed) {
  std::vector<unsigned char> px(size_t(w) * h * channels);
  std::mt19937 rng(seed);
  for (auto& p : px) p = static_cast<unsigned char>(rng() & 0xff);
  std::string path = scratch() + "/" + name;
  write_png(path, w, h, channels, px.data());
  return path;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string c;
  for (int i = 3; i >= 0; --i) c += char((data.size() >> (8 * i)) & 0xff);
  std::string td = type + data;
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(td.data()), uInt(td.size()));
  c += td;
  for (int i = 3; i >= 0; --i) c += char((crc >> (8 * i)) & 0xff);
  return c;
}

// A PNG that claims WxH RGB pixels but holds no image data.
std::string huge_png_header(uint32_t w, uint32_t h) {
  std::string ihdr;
  for (uint32_t v : {w, h})
    for (int i = 3; i >= 0; --i) ihdr += char((v >> (8 * i)) & 0xff);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, no filter, no interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IEND", "");
}

// Offset just past the first JPEG start-of-scan segment.
size_t jpeg_scan_start(const std::string& j) {
  size_t i = 2;
  while (i + 4 <= j.size()) {
    uint8_t m = uint8_t(j[i + 1]);
    size_t len = (size_t(uint8_t(j[i + 2])) << 8) | uint8_t(j[i + 3]);
    if (m == 0xDA) return i + 2 + len;
    i += 2 + len;
  }
  FAIL("no SOS marker");
  return 0;
}

bool running_as_root() { return ::geteuid() == 0; }

// --- the catalogue ------------------------------------------------------------------

struct Case {
  std::string name;
  std::string model;    // -m argument
  std::string image;    // -i argument
  std::string message;  // exact text after "vitscope-cli: error: "
  bool prefix = false;  // message is a prefix (library text follows, e.g. the JSON parser's)
  bool image_error = false;
};

std::vector<Case> model_cases() {
  std::vector<Case> cs;
  const std::string img = png_file("ok.png", 40, 30, 3, 1);
  auto file_case = [&](const std::string& name, const std::string& bytes, const std::string& problem,
                       bool prefix = false) {
    std::string dir = scratch() + "/" + name;
    fs::create_directories(dir);
    std::string path = dir + "/model.safetensors";
    write_file(path, bytes);
    write_file(dir + "/config.json", golden_config().dump());
    cs.push_back({name, path, img, path + ": " + problem, prefix});
  };
  const std::string a4 = R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})";
  file_case("header_past_eof", le64(1000) + "{}", "header length 1000 runs past the end of the file (10 bytes)");
  file_case("header_over_cap", le64(100000001) + "{}      ",
            "header length 100000001 exceeds the 100000000-byte limit");
  file_case("overlap", raw_safetensors("{" + a4 + R"(,"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                       std::string(24, '\0')),
            "tensor 'b' overlaps the previous tensor (begins at 8, previous ends at 16)");
  file_case("gap", raw_safetensors("{" + a4 + R"(,"b":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}})",
                                   std::string(36, '\0')),
            "gap before tensor 'b' (begins at 20, previous ends at 16)");
  file_case("size_mismatch", raw_safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})",
                                             std::string(12, '\0')),
            "tensor 'a': F32 [4] needs 16 bytes but data_offsets span 12");
  file_case("trailing_bytes", good_weights() + "JUNK", "4 unexpected trailing bytes after the last tensor");
  file_case("unknown_dtype", raw_safetensors(R"({"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})",
                                             std::string(16, '\0')),
            "tensor 'a': unknown dtype 'F33'");
  file_case("invalid_json", raw_safetensors("{\"a\": [1, 2,}   ", ""), "header is not valid JSON: ", true);
  {
    std::string w = good_weights();
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(w[size_t(i)]);
    const uint64_t data = w.size() - 8 - n;
    file_case("truncated_data", w.substr(0, w.size() - 100),
              "file is truncated: tensors need " + std::to_string(data) + " data bytes, file has " +
                  std::to_string(data - 100));
  }
  file_case("empty_file", "", "file is 0 bytes, too small for a safetensors header");
  {
    std::string dir = scratch() + "/weights_is_dir";
    fs::create_directories(dir + "/model.safetensors");
    cs.push_back({"directory", dir, img, dir + "/model.safetensors: is a directory, not a .safetensors file"});
    std::string empty = scratch() + "/no_weights";
    fs::create_directories(empty);
    cs.push_back({"folder without weights", empty, img, empty + 
      ": folder holds no weights file (model.safetensors, or one .safetensors, .npz, .pth, .pt, .bin, .pdparams or .pth.tar file)"});
    cs.push_back({"missing path", scratch() + "/nothing", img, scratch() + "/nothing: no such file or directory"});
  }
  if (!running_as_root()) {
    std::string dir = scratch() + "/denied";
    fs::create_directories(dir);
    std::string path = dir + "/model.safetensors";
    write_file(path, good_weights());
    ::chmod(path.c_str(), 0);
    cs.push_back({"permission denied", path, img, path + ": cannot open: Permission denied"});
  }

  // Tensors that do not fit the naming.
  auto entries_case = [&](const std::string& name, const Entries& e, const std::string& problem) {
    std::string dir = model_dir(name, pack(e), golden_config());
    cs.push_back({name, dir, img, dir + "/model.safetensors: " + problem});
  };
  {
    Entries e = golden_entries();
    e.erase("blocks.1.mlp.fc2.bias");
    entries_case("missing_tensor", e, "tensor 'blocks.1.mlp.fc2.bias' is missing (expected shape [48])");
  }
  {
    Entries e = golden_entries();
    e["blocks.0.attn.proj.bias"] = {"F32", {47}, f32_bytes(std::vector<float>(47, 0.f))};
    entries_case("wrong_shape", e, "tensor 'blocks.0.attn.proj.bias': expected shape [48], found F32 [47]");
  }
  {
    Entries e = golden_entries();
    e["extra.weight"] = {"F32", {2}, f32_bytes({1.f, 2.f})};
    entries_case("unexpected_tensor", e, "unexpected tensor 'extra.weight' [2] for a timm ViT");
  }
  {
    Entries e = golden_entries();
    e["blocks.1.mlp.fc1.weight"] = {"F32", {100, 48}, f32_bytes(std::vector<float>(4800, 0.f))};
    entries_case("inconsistent_mlp", e, "tensor 'blocks.1.mlp.fc1.weight': expected shape [192,48], found F32 [100,48]");
  }

  // config.json problems.
  auto config_case = [&](const std::string& name, const nlohmann::json& cfg, const std::string& problem,
                         bool on_weights = false, bool prefix = false) {
    std::string dir = model_dir(name, good_weights(), cfg);
    std::string file = on_weights ? dir + "/model.safetensors" : dir + "/config.json";
    cs.push_back({name, dir, img, file + ": " + problem, prefix});
  };
  {
    auto c = golden_config();
    c["model_args"]["embed_dim"] = 64;
    config_case("config_wrong_embed_dim", c, "model_args.embed_dim is 64 but tensor 'patch_embed.proj.weight' implies 48");
  }
  {
    auto c = golden_config();
    c["num_classes"] = "ten";
    config_case("config_wrong_type", c, "'num_classes' must be a non-negative integer, found \"ten\"");
  }
  {
    auto c = golden_config();
    c["num_classes"] = 1000;
    config_case("config_wrong_classes", c, "num_classes is 1000 but the checkpoint has a 10-class head ('head.weight')");
  }
  {
    auto c = golden_config();
    c["model_args"]["img_size"] = 40;
    config_case("inconsistent_pos_embed", c,
                "tensor 'pos_embed' has 17 rows, but a 40x40 input with 8-pixel patches has 25 patches and 1 prefix tokens",
                true);
  }
  {
    auto c = golden_config();
    c["model_args"]["mlp_ratio"] = 3.0;
    config_case("inconsistent_mlp_ratio", c,
                "model_args.mlp_ratio 3.0 gives 144 hidden units but tensor 'blocks.0.mlp.fc1.weight' has 192");
  }
  {
    auto c = golden_config();
    c["pretrained_cfg"]["mean"] = {0.5};
    config_case("config_mean_length", c, "mean/std have 1/3 values for 3 input channels", true);
  }
  {
    auto c = golden_config();
    c["pretrained_cfg"].erase("input_size");
    c["model_args"].erase("img_size");
    c["model_args"]["img_size"] = nullptr;
    Entries e = golden_entries();
    e["pos_embed"] = {"F32", {1, 20, 48}, f32_bytes(std::vector<float>(20 * 48, 0.f))};
    std::string dir = model_dir("config_missing_size", pack(e), c);
    cs.push_back({"config_missing_size", dir, img,
                  dir + "/config.json: cannot tell the input size: no model_args.img_size or pretrained_cfg.input_size, "
                        "and the position table is not a square grid"});
  }
  {
    std::string dir = scratch() + "/config_invalid_json";
    fs::create_directories(dir);
    write_file(dir + "/model.safetensors", good_weights());
    write_file(dir + "/config.json", "{\"num_classes\": 10,,}");
    cs.push_back({"config_invalid_json", dir, img, dir + "/config.json: invalid JSON: ", true});
  }
  return cs;
}

std::vector<Case> image_cases() {
  std::vector<Case> cs;
  auto add = [&](const std::string& name, const std::string& path, const std::string& problem) {
    cs.push_back({name, kGolden, path, path + ": " + problem, false, true});
  };
  std::string p = scratch() + "/text.png";
  write_file(p, "this is not an image\n");
  add("not an image", p, "not a supported image (PNG, JPEG, BMP, TGA, GIF): unknown image type");
  p = scratch() + "/empty.jpg";
  write_file(p, "");
  add("empty image", p, "file is empty");
  {
    std::string png = read_file(png_file("full.png", 64, 64, 3, 7));
    p = scratch() + "/truncated.png";
    write_file(p, png.substr(0, png.size() / 2));
    add("truncated PNG", p, "truncated PNG (no IEND chunk)");
  }
  {
    std::string jpg = read_file(kSource + "/tests/data/odd/rgb.jpg");
    size_t sos = jpeg_scan_start(jpg);
    REQUIRE(sos + 16 < jpg.size());
    p = scratch() + "/truncated_scan.jpg";
    write_file(p, jpg.substr(0, (sos + jpg.size()) / 2));
    add("truncated JPEG (in the image data)", p, "truncated JPEG (no end-of-image marker)");
    p = scratch() + "/truncated_headers.jpg";
    write_file(p, jpg.substr(0, sos / 2));
    add("truncated JPEG (in the headers)", p, "truncated JPEG (a header segment runs past the end of the file)");
    // Headers intact and an end marker, but almost no image data for a 20x24 frame would
    // pass; scale the frame up to 4000x4000 so that 1 bit per MCU is more than is there.
    std::string big = jpg.substr(0, sos) + std::string("\x00\x00\xFF\xD9", 4);
    for (size_t i = 2; i + 9 < sos;) {
      uint8_t m = uint8_t(big[i + 1]);
      size_t len = (size_t(uint8_t(big[i + 2])) << 8) | uint8_t(big[i + 3]);
      if (m == 0xC0 || m == 0xC2) {
        big[i + 5] = char(0x0F), big[i + 6] = char(0xA0);  // height 4000
        big[i + 7] = char(0x0F), big[i + 8] = char(0xA0);  // width 4000
      }
      i += 2 + len;
    }
    p = scratch() + "/no_data.jpg";
    write_file(p, big);
    add("JPEG with too little image data", p, "truncated JPEG (2 bytes of image data for a 4000x4000 image)");
  }
  p = scratch() + "/huge.png";
  write_file(p, huge_png_header(30000, 30000));
  add("30000x30000 PNG header", p, "image is 30000x30000, over the limit of 16384 pixels a side and 100 megapixels");
  add("CMYK JPEG", kSource + "/tests/data/bad/cmyk.jpg",
      "CMYK JPEGs are not supported (their colours would not match PIL's conversion); convert the image to RGB first");
  p = scratch() + "/a_folder.png";
  fs::create_directories(p);
  add("directory as image", p, "is a directory, not an image");
  add("missing image", scratch() + "/missing.png", "cannot open: No such file or directory");
  if (!running_as_root()) {
    p = png_file("denied.png", 8, 8, 3, 3);
    ::chmod(p.c_str(), 0);
    add("permission denied image", p, "cannot open: Permission denied");
  }
  return cs;
}

// The message the library throws for a case (or "" if it does not throw).
std::string library_message(const Case& c) {
  try {
    if (c.image_error)
      (void)load_image(c.image);
    else
      (void)load_model(c.model);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void check_case(const Case& c) {
  INFO("case: " << c.name);
  const std::string lib = library_message(c);
  if (c.prefix)
    CHECK(lib.rfind(c.message, 0) == 0);
  else
    CHECK(lib == c.message);
  CliResult r = run_cli({"classify", "-m", c.model, "-i", c.image});
  INFO("stderr: " << r.err);
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  // One line naming the file and the problem, the same text the library throws.
  CHECK(r.err == "vitscope-cli: error: " + lib + "\n");
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  if (c.prefix)
    CHECK(r.err.rfind("vitscope-cli: error: " + c.message, 0) == 0);
  else
    CHECK(r.err == "vitscope-cli: error: " + c.message + "\n");
}

}  // namespace

TEST_CASE("error catalogue: malformed checkpoints and configs exit 1 with one exact line") {
  if (running_as_root())
    MESSAGE("running as root: chmod 000 does not deny root, so the permission-denied cases are skipped");
  auto cases = model_cases();
  CHECK(cases.size() >= 25);
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("error catalogue: bad images exit 1 with one exact line") {
  for (const auto& c : image_cases()) check_case(c);
}

TEST_CASE("error catalogue: NaN and Inf weights give a warning, not an error") {
  Entries e = golden_entries();
  std::vector<float> bias(10, 0.f);
  bias[2] = std::nanf("");
  e["head.bias"].bytes = f32_bytes(bias);
  std::vector<float> pos(17 * 48, 0.01f);
  pos[5] = INFINITY;
  pos[6] = -INFINITY;
  e["pos_embed"].bytes = f32_bytes(pos);
  std::string dir = model_dir("nan_weights", pack(e), golden_config());
  const std::string w = dir + "/model.safetensors";
  const std::vector<std::string> expected = {
      w + ": tensor 'head.bias' has 1 NaN or infinite value(s); outputs may be NaN",
      w + ": tensor 'pos_embed' has 2 NaN or infinite value(s); outputs may be NaN"};

  LoadedModel m = load_model(dir);
  CHECK(m.warnings == expected);

  CliResult r = run_cli({"classify", "-m", dir, "-i", png_file("nan.png", 32, 32, 3, 5), "--json"});
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(r.err == "vitscope: warning: " + expected[0] + "\nvitscope: warning: " + expected[1] + "\n");
}

TEST_CASE("error catalogue: odd but valid images classify") {
  // 1x1 PNG, 16-bit grey PNG, RGBA PNG, animated GIF (first frame), BMP.
  const std::string one = png_file("one.png", 1, 1, 3, 11);
  const std::string rgba = png_file("rgba.png", 9, 7, 4, 12);
  const std::string grey16 = kSource + "/tests/data/odd/grey16.png";
  const std::string gif = kSource + "/tests/data/odd/anim.gif";
  const std::string bmp = kSource + "/tests/data/odd/rgb.bmp";

  // Decoded pixels, checked against what the generator wrote.
  Image im = load_image(one);
  CHECK(im.width == 1);
  CHECK(im.height == 1);
  CHECK(im.channels == 3);
  {
    Image a = load_image(rgba);
    std::string raw = read_file(rgba);
    CHECK(a.channels == 3);  // alpha dropped
    std::mt19937 rng(12);
    std::vector<unsigned char> px(9 * 7 * 4);
    for (auto& p : px) p = static_cast<unsigned char>(rng() & 0xff);
    bool same = true;
    for (int i = 0; i < 9 * 7; ++i)
      for (int c = 0; c < 3; ++c) same = same && a.pixels[size_t(i) * 3 + c] == px[size_t(i) * 4 + c];
    CHECK(same);
  }
  {
    Image g = load_image(grey16);  // values (x + y) % 16 * 4097 -> 8-bit (x + y) % 16 * 16
    CHECK(g.channels == 1);
    REQUIRE(g.width == 20);
    REQUIRE(g.height == 24);
    bool same = true;
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 20; ++x) same = same && g.at(x, y, 0) == (x + y) % 16 * 16;
    CHECK(same);
  }
  {
    Image f = load_image(gif);  // frame 0 is solid (200, 40, 40); frame 1 (10, 220, 30)
    REQUIRE(f.width == 16);
    REQUIRE(f.height == 12);
    CHECK(f.at(3, 4, 0) == 200);
    CHECK(f.at(3, 4, 1) == 40);
    CHECK(f.at(3, 4, 2) == 40);
  }
  {
    Image b = load_image(bmp);  // (x*12, y*10, (x+y)*5)
    REQUIRE(b.width == 20);
    REQUIRE(b.height == 24);
    CHECK(b.at(7, 3, 0) == 84);
    CHECK(b.at(7, 3, 1) == 30);
    CHECK(b.at(7, 3, 2) == 50);
  }

  for (const std::string& path : {one, grey16, rgba, gif, bmp}) {
    INFO("image: " << path);
    CliResult r = run_cli({"classify", "-m", kGolden, "-i", path, "--json"});
    INFO("stderr: " << r.err);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(!j.is_discarded());
    REQUIRE(j["top"].size() == 5);
    float p0 = j["top"][0]["prob"];
    CHECK(std::isfinite(p0));
    CHECK(p0 > 0.0f);
  }
}

TEST_CASE("error catalogue: no Vulkan driver gives exit 1 and an install hint") {
  const std::string hint =
      "vitscope-cli: error: no Vulkan device found; install a Vulkan driver (on Debian/Ubuntu: "
      "mesa-vulkan-drivers for the CPU driver lavapipe, or your GPU vendor's driver)\n";
  const std::string env = "VK_ICD_FILENAMES=/nonexistent/icd.json VK_DRIVER_FILES=/nonexistent/icd.json";
  const std::string img = png_file("nodev.png", 32, 32, 3, 9);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"devices"}, {"devices", "--json"}, {"classify", "-m", kGolden, "-i", img}}) {
    CliResult r = run_cli(args, env);
    INFO("command: " << args[0] << " stderr: " << r.err);
    CHECK(r.code == 1);
    CHECK(r.err == hint);
  }
}

TEST_CASE("IDX reader: MNIST files raw and gzip, and every malformed case") {
  const std::string dir = scratch() + "/idx";
  fs::create_directories(dir);
  auto be = [](uint32_t v) {
    return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
  };
  std::string images = std::string("\x00\x00\x08\x03", 4) + be(2) + be(3) + be(4);
  for (int i = 0; i < 24; ++i) images += char(i * 10);
  auto gz = [&](const std::string& name, const std::string& bytes) {
    std::string p = dir + "/" + name;
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    gzclose(f);
    return p;
  };
  auto raw = [&](const std::string& name, const std::string& bytes) {
    std::string p = dir + "/" + name;
    write_file(p, bytes);
    return p;
  };
  for (const std::string& p : {raw("images.idx", images), gz("images.idx.gz", images)}) {
    IdxArray a = read_idx(p);
    CHECK(a.dims == std::vector<int64_t>{2, 3, 4});
    REQUIRE(a.data.size() == 24);
    CHECK(a.data[0] == 0);
    CHECK(a.data[23] == 230);
  }
  auto error_of = [](const std::string& p) {
    try {
      read_idx(p);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  std::string p = raw("magic.idx", std::string("\x01\x00\x08\x01", 4) + be(1) + "x");
  CHECK(error_of(p) == p + ": not an IDX file (magic must start with two zero bytes)");
  p = raw("float.idx", std::string("\x00\x00\x0D\x01", 4) + be(1) + "abcd");
  CHECK(error_of(p) == p + ": IDX element type 0x0D (float) is not supported; only 0x08 (unsigned byte)");
  p = raw("short.idx", images.substr(0, images.size() - 5));
  CHECK(error_of(p) == p + ": IDX dimensions 2x3x4 need 24 data bytes, file has 19 (truncated)");
  p = gz("long.idx.gz", images + "zz");
  CHECK(error_of(p) == p + ": IDX dimensions 2x3x4 need 24 data bytes, file has 26 (trailing bytes)");
  p = raw("header.idx", std::string("\x00\x00\x08\x03", 4) + be(2));
  CHECK(error_of(p) == p + ": truncated IDX header: 3 dimensions need 16 bytes, file has 8");
  p = raw("zero.idx", std::string("\x00\x00\x08\x02", 4) + be(0) + be(5));
  CHECK(error_of(p) == p + ": IDX dimension 0 is 0");
  p = raw("huge.idx", std::string("\x00\x00\x08\x03", 4) + be(60000) + be(60000) + be(60000));
  CHECK(error_of(p) == p + ": IDX dimensions describe more than 1024 MiB");
  p = raw("tiny.idx", std::string("\x00\x00", 2));
  CHECK(error_of(p) == p + ": file is 2 bytes, too small for an IDX header");
  {
    std::string z = read_file(gz("big.idx.gz", images + std::string(4000, 'q')));
    p = raw("cut.idx.gz", z.substr(0, z.size() / 2));
    CHECK(error_of(p) == p + ": truncated gzip data (unexpected end of file)");
    std::string bad = z;
    bad[bad.size() - 6] = char(bad[bad.size() - 6] ^ 0x5a);  // inside the CRC32 trailer
    p = raw("crc.idx.gz", bad);
    CHECK(error_of(p) == p + ": damaged gzip data: incorrect data check");
  }
  CHECK(error_of(dir) == dir + ": is a directory, not an IDX file");
  CHECK(error_of(dir + "/none.idx") == dir + "/none.idx: cannot open: No such file or directory");
}

TEST_CASE("device limits: weights or activations larger than the device give a clear error") {
  vk::DeviceInfo d;
  d.index = 0;
  d.name = "Test GPU";
  d.device_local_bytes = uint64_t(1) << 30;
  d.max_storage_buffer_range = uint64_t(1) << 27;
  MemoryRequest model;
  model.what = "model";
  model.total = uint64_t(1.4 * double(uint64_t(1) << 30));
  model.largest = 1 << 20;
  CHECK(memory_problem(d, model) == "model needs 1.40 GiB of device memory, device 0 (Test GPU) has 1.00 GiB");
  model.total = 900u << 20;
  CHECK(memory_problem(d, model).empty());

  // The golden model's real sizes (17 tokens, C=48, M=192, 3 heads).
  LoadedModel lm = load_model(kGolden);
  MemoryRequest w = weights_request(lm.weights);
  // An upper bound on what the upload allocates, Dense weights packed or not, and not far above
  // the fp32 parameters (packing rounds each Dense weight's columns up to a group of <= 64).
  CHECK(w.total >= uint64_t(lm.weights.parameter_count()) * 4);
  CHECK(w.total <= uint64_t(lm.weights.parameter_count()) * 4 * 13 / 10);
  {
    vk::Context ctx;
    VitModel uploaded(ctx, load_model(kGolden));
    CHECK(uploaded.weight_bytes() <= w.total);
  }
  MemoryRequest act = activations_request(lm.config, 50000, false, w.total);
  // Largest per image: the MLP hidden activations, 17 tokens x 192 = 13056 bytes.
  CHECK(act.largest_name == "mlp hidden");
  CHECK(act.largest == 50000ull * 13056);
  d.device_local_bytes = uint64_t(64) << 30;
  CHECK(memory_problem(d, act) ==
        "forward pass of batch 50000: tensor 'mlp hidden' is 622.6 MiB, over the 128.0 MiB one shader "
        "binding can address on device 0 (Test GPU) (maxStorageBufferRange); use a batch of at most 10280");
  CHECK(memory_problem(d, activations_request(lm.config, 10280, false, w.total)).empty());
  CHECK(!memory_problem(d, activations_request(lm.config, 10281, false, w.total)).empty());
}

TEST_CASE("device limits: a too large batch is refused before allocating, and the model still works") {
  vk::Context ctx;
  LoadedModel lm = load_model(kGolden);
  const VitConfig cfg = lm.config;
  VitModel model(ctx, std::move(lm));
  std::vector<float> input(size_t(3) * 32 * 32, 0.1f);
  // Refused in record(), before any buffer of the pass exists and before the input is read.
  const int huge = 2000000;
  MemoryRequest need = activations_request(cfg, huge, false, model.weight_bytes());
  std::string expected = memory_problem(ctx.info(), need);
  REQUIRE(!expected.empty());
  std::string got;
  try {
    model.forward(input.data(), huge);
  } catch (const VulkanError& e) {
    FAIL("a VulkanError instead of a clear message: " << e.what());
  } catch (const Error& e) {
    got = e.what();
  }
  CHECK(got == expected);
  CHECK(got.rfind("forward pass of batch 2000000 ", 0) == 0);
  ForwardResult r = model.forward(input.data(), 1);
  CHECK(r.probs.size() == 10);
  CHECK(std::isfinite(r.probs[0]));
}

TEST_CASE("device limits: a forward pass that times out names the op, exits 1 and does not hang") {
  // VITSCOPE_GPU_TIMEOUT_MS=0 does not wait for the fence at all. The device is then
  // treated as lost: its objects are leaked, not freed under running work (hence no leak
  // check for this one process), and nothing waits for it at exit.
  const std::string env = "VITSCOPE_GPU_TIMEOUT_MS=0 ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" timeout 120";
  CliResult r = run_cli({"classify", "-m", kGolden, "-i", png_file("timeout.png", 32, 32, 3, 4)}, env);
  INFO("stderr: " << r.err);
  CHECK(r.code == 1);
  const std::string head =
      "vitscope-cli: error: GPU work 'forward pass of vit_custom_patch8_32' did not finish within 0 ms; ";
  CHECK(r.err.rfind(head, 0) == 0);
  const std::string rest = r.err.substr(std::min(r.err.size(), head.size()));
  // Which op was running comes from the timestamps; lavapipe may finish the pass before
  // they are read, which the message then says.
  const bool names_op = rest.rfind("it was running '", 0) == 0 || rest.rfind("it had not started (", 0) == 0 ||
                        (rest.rfind("all ", 0) == 0 && rest.find(" dispatches had finished when the timestamps were read") != std::string::npos);
  CHECK(names_op);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

namespace {

// Sets an environment variable for the lifetime of the guard (the Vulkan context reads
// VITSCOPE_FAULT when it is created, so the guard only has to span the construction).
struct ScopedEnv {
  std::string name;
  ScopedEnv(const std::string& n, const std::string& value) : name(n) { ::setenv(n.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace

TEST_CASE("device lost: an injected VK_ERROR_DEVICE_LOST names the forward pass, exits 1 and does not hang") {
  // VITSCOPE_FAULT=device-lost (test hook in vk::Context::submit_and_wait) reports
  // VK_ERROR_DEVICE_LOST for submits whose work did finish, through the same code as a
  // real loss. Nothing is really lost, so everything is freed and the sanitizer build
  // checks these processes for leaks too.
  const std::string bundled = kSource + "/assets/models/fashion-vit";
  const std::string sample = kSource + "/assets/samples/bag_0018.png";
  const VitConfig cfg = load_model(bundled).config;
  const std::string pass = "forward pass of " + cfg.architecture;
  REQUIRE(pass == "forward pass of vit_fashion_patch4_28");
  std::vector<float> input(size_t(cfg.in_chans) * cfg.img_h * cfg.img_w, 0.25f);

  // The expected progress note comes from a real profiled pass (one timestamp per
  // dispatch; `classify` profiles), made once for all the subcases below.
  ForwardOptions profiled;
  profiled.profile = true;
  static const std::string expected = [&] {
    vk::Context ctx;
    VitModel model(ctx, load_model(bundled));
    ForwardResult ok = model.forward(input.data(), 1, profiled);
    REQUIRE(ok.probs.size() == 10);
    if (!ctx.info().timestamps) return std::string();
    REQUIRE(ok.op_times.size() > 6);  // at least one dispatch per block
    return "Vulkan device lost while running '" + pass + "'; all " + std::to_string(ok.op_times.size()) +
           " dispatches had finished when the timestamps were read";
  }();
  auto device_lost_error = [&](const std::string& fault, std::string& message, const ForwardOptions& fo) {
    std::unique_ptr<vk::Context> ctx;
    {
      ScopedEnv env("VITSCOPE_FAULT", fault);
      ctx = std::make_unique<vk::Context>();
    }
    int code = 0;
    try {
      VitModel model(*ctx, load_model(bundled));
      model.forward(input.data(), 1, fo);
    } catch (const VulkanError& e) {
      code = e.result();
      message = e.what();
    }
    // The injected loss leaves the context usable and not marked lost: it is destroyed
    // normally at the end of this scope, with every object freed.
    CHECK(!ctx->lost());
    return code;
  };

  SUBCASE("library: the forward pass throws VulkanError(VK_ERROR_DEVICE_LOST) naming the pass") {
    std::string msg;
    CHECK(device_lost_error("device-lost@forward pass", msg, profiled) == VK_ERROR_DEVICE_LOST);
    if (!expected.empty())
      CHECK(msg == expected);
    else  // no timestamps: the note lists the first and last dispatch instead
      CHECK(msg.rfind("Vulkan device lost while running '" + pass + "'; ", 0) == 0);
  }
  SUBCASE("library: an unprofiled pass names its first and last dispatch") {
    std::string msg;
    CHECK(device_lost_error("device-lost@forward pass", msg, ForwardOptions{}) == VK_ERROR_DEVICE_LOST);
    CHECK(msg.rfind("Vulkan device lost while running '" + pass + "'; ", 0) == 0);
    CHECK(msg.find(" dispatches, from 'patch_embed.unfold' to '") != std::string::npos);
  }
  SUBCASE("library: a loss during the weight upload names the upload") {
    std::string msg;
    CHECK(device_lost_error("device-lost", msg, ForwardOptions{}) == VK_ERROR_DEVICE_LOST);
    CHECK(msg == "Vulkan device lost while running 'weight upload'");
  }
  SUBCASE("CLI: one line naming the pass and exit code 1, within the time limit") {
    CliResult r = run_cli({"classify", "-m", bundled, "-i", sample},
                          "VITSCOPE_FAULT='device-lost@forward pass' timeout 120");
    INFO("stderr: " << r.err);
    CHECK(r.code == 1);  // 124 would be a hang (timeout), 128+ a crash
    CHECK(r.out.empty());
    if (!expected.empty())
      CHECK(r.err == "vitscope-cli: error: " + expected + "\n");
    else
      CHECK(r.err.rfind("vitscope-cli: error: Vulkan device lost while running '" + pass + "'; ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  SUBCASE("CLI: a loss during the weight upload") {
    CliResult r = run_cli({"classify", "-m", bundled, "-i", sample}, "VITSCOPE_FAULT=device-lost timeout 120");
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "vitscope-cli: error: Vulkan device lost while running 'weight upload'\n");
  }
  SUBCASE("CLI: an unknown fault name is refused") {
    CliResult r = run_cli({"classify", "-m", bundled, "-i", sample}, "VITSCOPE_FAULT=device-fell-over timeout 120");
    CHECK(r.code == 1);
    CHECK(r.err ==
          "vitscope-cli: error: VITSCOPE_FAULT must be 'device-lost' or 'device-lost@TEXT' (a test hook), got "
          "'device-fell-over'\n");
  }
}
