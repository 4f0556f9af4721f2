// The desktop app (app/gui) in its screenshot mode under Xvfb, plus the attention
// views it shows (engine/viz) against plain loops written here.
//
// The screenshot test runs `vitscope --screenshot` with Vulkan validation on three
// times (heat map over the image; heat map hidden; rollout in the layers x heads
// grid; plus one run at --input-size 14x21 patches checked against the CLI at that
// size) and checks each PNG: the requested size; not uniform; the image region is
// made of the chosen colour map's colours only when the heat map is shown (the
// sample is grey); the prediction panel draws and does not change when the overlay
// is hidden; the app's top-1 class is the CLI's. It is skipped when Xvfb or the app
// binary is missing.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "image.h"
#include "io/npy.h"
#include "io/png.h"
#include "viz/attention_maps.h"

namespace fs = std::filesystem;

namespace {

bool on_path(const char* program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::error_code ec;
    if (!dir.empty() && fs::exists(fs::path(dir) / program, ec)) return true;
  }
  return false;
}

std::string app_binary() {
#ifdef VITSCOPE_APP_PATH
  return VITSCOPE_APP_PATH;
#else
  return "";
#endif
}

std::string cli_binary() {
#ifdef VITSCOPE_CLI_PATH
  return VITSCOPE_CLI_PATH;
#else
  return "";
#endif
}

bool screenshot_test_possible() {
  std::error_code ec;
  return on_path("Xvfb") && on_path("xvfb-run") && !app_binary().empty() && fs::exists(app_binary(), ec) &&
         fs::exists(cli_binary(), ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

struct Run {
  int rc = -1;
  std::string out, err;
};

Run run(const std::string& command, const fs::path& dir, const std::string& name) {
  const fs::path out = dir / (name + ".out"), err = dir / (name + ".err");
  const std::string full = command + " > " + quote(out.string()) + " 2> " + quote(err.string());
  const int status = std::system(full.c_str());
  Run r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// Last non-empty line of the app's stdout: its JSON report.
nlohmann::json report_of(const Run& r) {
  std::stringstream ss(r.out);
  std::string line, last;
  while (std::getline(ss, line))
    if (!line.empty()) last = line;
  return nlohmann::json::parse(last);
}

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

Rect rect_of(const nlohmann::json& j) { return {j[0].get<int>(), j[1].get<int>(), j[2].get<int>(), j[3].get<int>()}; }

// Fraction of the rectangle's pixels that are (within 1 per channel) one of the
// colour map's 256 entries and clearly not grey.
double colormap_share(const vitscope::Image& im, const Rect& r, const std::string& cmap) {
  std::set<uint32_t> lut;
  for (int i = 0; i < 256; ++i) {
    unsigned char c[3];
    vitscope::viz::colormap(cmap, float(i) / 255.f, c);
    for (int dr = -1; dr <= 1; ++dr)
      for (int dg = -1; dg <= 1; ++dg)
        for (int db = -1; db <= 1; ++db)
          lut.insert(uint32_t(std::clamp(c[0] + dr, 0, 255)) << 16 | uint32_t(std::clamp(c[1] + dg, 0, 255)) << 8 |
                     uint32_t(std::clamp(c[2] + db, 0, 255)));
  }
  size_t hits = 0, total = 0;
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x) {
      const int R = im.at(x, y, 0), G = im.at(x, y, 1), B = im.at(x, y, 2);
      ++total;
      if (std::max({R, G, B}) - std::min({R, G, B}) < 16) continue;
      if (lut.count(uint32_t(R) << 16 | uint32_t(G) << 8 | uint32_t(B))) ++hits;
    }
  return total ? double(hits) / double(total) : 0.0;
}

size_t distinct_colours(const vitscope::Image& im, const Rect& r) {
  std::set<uint32_t> seen;
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x)
      seen.insert(uint32_t(im.at(x, y, 0)) << 16 | uint32_t(im.at(x, y, 1)) << 8 | uint32_t(im.at(x, y, 2)));
  return seen.size();
}

double equal_share(const vitscope::Image& a, const vitscope::Image& b, const Rect& r) {
  size_t same = 0, total = 0;
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x, ++total)
      if (a.at(x, y, 0) == b.at(x, y, 0) && a.at(x, y, 1) == b.at(x, y, 1) && a.at(x, y, 2) == b.at(x, y, 2)) ++same;
  return total ? double(same) / double(total) : 0.0;
}

size_t count_near(const vitscope::Image& im, const Rect& r, int R, int G, int B, int tolerance) {
  size_t n = 0;
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x)
      if (std::abs(im.at(x, y, 0) - R) <= tolerance && std::abs(im.at(x, y, 1) - G) <= tolerance &&
          std::abs(im.at(x, y, 2) - B) <= tolerance)
        ++n;
  return n;
}

void check_rect(const Rect& r, int width, int height, int min_side) {
  CHECK(r.x >= 0);
  CHECK(r.y >= 0);
  CHECK(r.w >= min_side);
  CHECK(r.h >= min_side);
  CHECK(r.x + r.w <= width);
  CHECK(r.y + r.h <= height);
}

}  // namespace

TEST_CASE("app screenshot: heat map, panels and prediction drawn under Xvfb with validation" *
          doctest::skip(!screenshot_test_possible()) * doctest::timeout(900)) {
  const fs::path source = VITSCOPE_SOURCE_DIR;
  const fs::path dir = fs::temp_directory_path() / ("vitscope-app-test-" + std::to_string(getpid()));
  fs::create_directories(dir);

  // The bundled model and a bag sample; a golden model and a generated grey image
  // while those are not there.
  std::string model = (source / "assets/models/fashion-vit").string();
  std::error_code ec;
  if (!fs::exists(fs::path(model) / "model.safetensors", ec)) model = (source / "tests/golden/tv_timm_small").string();
  std::string image;
  std::vector<fs::path> samples;
  for (const auto& e : fs::directory_iterator(source / "assets/samples", ec))
    if (e.path().extension() == ".png") samples.push_back(e.path());
  std::sort(samples.begin(), samples.end());
  for (const auto& p : samples)
    if (p.filename().string().rfind("bag", 0) == 0) {
      image = p.string();
      break;
    }
  if (image.empty() && !samples.empty()) image = samples.front().string();
  if (image.empty()) {
    // Grey shapes on grey: R = G = B everywhere.
    const int w = 72, h = 64;
    std::vector<unsigned char> px(size_t(w) * h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double dx = x - 30.0, dy = y - 30.0;
        px[size_t(y) * w + x] = (dx * dx + dy * dy < 400.0) ? 210 : (x > 50 && y > 40 ? 120 : 35);
      }
    image = (dir / "grey_sample.png").string();
    vitscope::write_png(image, w, h, 1, px.data());
  }
  MESSAGE("model: " << model << ", image: " << image);

  const std::string xvfb = "VITSCOPE_VALIDATE=1 xvfb-run -a -s '-screen 0 1600x1000x24' " + quote(app_binary()) +
                           " --model " + quote(model) + " --size 1280x800 --timeout 600";
  const std::string on_png = (dir / "overlay_on.png").string(), off_png = (dir / "overlay_off.png").string(),
                    grid_png = (dir / "rollout_grid.png").string(), drop_png = (dir / "bad_drop.png").string();
  const std::string saved_overlay = (dir / "saved_overlay.png").string(), saved_heads = (dir / "saved_heads.png").string();
  const Run on = run(xvfb + " --screenshot " + quote(on_png) + " --colormap viridis --opacity 1 --layer 1 --head mean " +
                         "--save-overlay " + quote(saved_overlay) + " --save-heads " + quote(saved_heads) + " " + quote(image),
                     dir, "on");
  const Run off = run(xvfb + " --screenshot " + quote(off_png) + " --colormap viridis --opacity 1 --layer 1 --head mean --no-overlay " +
                          quote(image), dir, "off");
  const Run grid = run(xvfb + " --screenshot " + quote(grid_png) +
                           " --colormap inferno --opacity 1 --rollout --discard 0.5 --tab grid " + quote(image),
                       dir, "grid");
  // A file that is not an image, "dropped" after the first result: an error popup,
  // and the image and prediction shown before stay.
  const std::string bad = (dir / "not_an_image.png").string();
  std::ofstream(bad) << "this is not a PNG file";
  const Run dropped = run(xvfb + " --screenshot " + quote(drop_png) + " --drop " + quote(bad) + " " + quote(image), dir, "drop");
  const fs::path attention_dir = dir / "attention";
  const Run cli = run("VITSCOPE_VALIDATE=1 " + quote(cli_binary()) + " classify --json --model " + quote(model) +
                          " --image " + quote(image) + " --attention-out " + quote(attention_dir.string()),
                      dir, "cli");
  for (const Run* r : {&on, &off, &grid, &dropped, &cli}) {
    INFO("stderr: " << r->err);
    REQUIRE(r->rc == 0);
    CHECK(r->err.find("validation") == std::string::npos);
  }

  const nlohmann::json rep_on = report_of(on), rep_off = report_of(off), rep_grid = report_of(grid),
                       rep_drop = report_of(dropped);
  const nlohmann::json cli_json = nlohmann::json::parse(cli.out);

  // --input-size: the model reloaded at 14x21 patches (56x84 for the bundled
  // model's 4-pixel patch); the app reports that grid and the CLI's top-1 at that size.
  {
    const int P = cli_json["model"]["patch_size"].get<int>(), nat_h = cli_json["model"]["input"][1].get<int>(),
              nat_w = cli_json["model"]["input"][2].get<int>();
    const int ih = 14 * P, iw = 21 * P;
    const std::string sz = std::to_string(ih) + "x" + std::to_string(iw);
    const Run resized = run(xvfb + " --screenshot " + quote((dir / "resized.png").string()) + " --frames 1 --input-size " +
                                sz + " " + quote(image), dir, "resized");
    const Run cli_resized = run("VITSCOPE_VALIDATE=1 " + quote(cli_binary()) + " classify --json --model " + quote(model) +
                                    " --size " + sz + " --image " + quote(image), dir, "cli_resized");
    INFO("app stderr: " << resized.err << "\ncli stderr: " << cli_resized.err);
    REQUIRE(resized.rc == 0);
    REQUIRE(cli_resized.rc == 0);
    const nlohmann::json rep = report_of(resized), want = nlohmann::json::parse(cli_resized.out);
    CHECK(rep["validation_messages"].get<int>() == 0);
    CHECK(rep["errors"].empty());
    const auto& in = rep["input"];
    CHECK(in["height"].get<int>() == ih);
    CHECK(in["width"].get<int>() == iw);
    CHECK(in["native_height"].get<int>() == nat_h);
    CHECK(in["native_width"].get<int>() == nat_w);
    CHECK(in["grid_h"].get<int>() == 14);
    CHECK(in["grid_w"].get<int>() == 21);
    CHECK(in["tokens"].get<int>() == cli_json["model"]["prefix_tokens"].get<int>() + 14 * 21);
    REQUIRE(rep.contains("top1"));
    CHECK(rep["top1"]["index"].get<int>() == want["top"][0]["index"].get<int>());
    CHECK(std::abs(rep["top1"]["prob"].get<double>() - want["top"][0]["prob"].get<double>()) < 1e-4);
  }
  for (const auto* rep : {&rep_on, &rep_off, &rep_grid, &rep_drop}) {
    CHECK((*rep)["validation_messages"].get<int>() == 0);
    CHECK((*rep)["width"].get<int>() == 1280);
    CHECK((*rep)["height"].get<int>() == 800);
    // The prediction panel shows the CLI's top-1 class.
    REQUIRE((*rep).contains("top1"));
    CHECK((*rep)["top1"]["label"].get<std::string>() == cli_json["top"][0]["label"].get<std::string>());
    CHECK((*rep)["top1"]["index"].get<int>() == cli_json["top"][0]["index"].get<int>());
  }
  CHECK(rep_on["errors"].empty());
  REQUIRE(rep_drop["errors"].size() == 1);
  CHECK(rep_drop["errors"][0].get<std::string>().find("not_an_image.png") != std::string::npos);
  CHECK(fs::path(rep_drop["image"].get<std::string>()) == fs::path(image));  // the previous image stays
  CHECK(rep_grid["view"]["rollout"].get<bool>());
  CHECK(rep_grid["view"]["description"].get<std::string>().find("row-normalised") != std::string::npos);

  const vitscope::Image a = vitscope::load_image(on_png), b = vitscope::load_image(off_png),
                        g = vitscope::load_image(grid_png);
  for (const auto* im : {&a, &b, &g}) {
    REQUIRE(im->width == 1280);
    REQUIRE(im->height == 800);
    REQUIRE(im->channels == 3);
    CHECK(distinct_colours(*im, {0, 0, im->width, im->height}) > 100);  // not uniform
  }

  // The image region: the colour map's colours with the heat map, none without.
  const Rect img = rect_of(rep_on["rects"]["image"]);
  check_rect(img, 1280, 800, 100);
  const double share_on = colormap_share(a, img, "viridis"), share_off = colormap_share(b, img, "viridis");
  MESSAGE("viridis share in the image region: " << share_on << " shown, " << share_off << " hidden");
  CHECK(share_on > 0.9);
  CHECK(share_off < 0.02);
  CHECK(distinct_colours(a, img) >= 2);  // a map, not a flat fill

  // The panels draw: the prediction panel has text and bars, and hiding the overlay
  // does not change it (it is drawn after the overlay's callback).
  const Rect pred = rect_of(rep_on["rects"]["predictions"]), controls = rect_of(rep_on["rects"]["controls"]);
  check_rect(pred, 1280, 800, 60);
  check_rect(controls, 1280, 800, 200);
  CHECK(distinct_colours(a, pred) > 20);
  CHECK(distinct_colours(a, controls) > 20);
  CHECK(equal_share(a, b, pred) > 0.99);
  CHECK(count_near(a, pred, 66, 150, 250, 3) > 100);  // the top-1 bar in the accent colour
  // The controls differ only where the "Show heat map" checkbox and colour bar are.
  CHECK(equal_share(a, b, controls) > 0.9);

  // Rollout in the layers x heads grid, in inferno.
  const Rect viewer = rect_of(rep_grid["rects"]["viewer"]);
  check_rect(viewer, 1280, 800, 200);
  const double share_grid = colormap_share(g, viewer, "inferno");
  MESSAGE("inferno share in the grid view: " << share_grid);
  CHECK(share_grid > 0.2);
  CHECK(colormap_share(b, viewer, "inferno") < 0.02);

  // The saved overlay (model input size, opacity 1, nearest): every pixel is the
  // viridis entry of its patch's layer-1 class-token attention averaged over heads,
  // scaled min..max, computed here from the CLI's attention dump.
  const vitscope::NpyArray attn = vitscope::read_npy((attention_dir / "attention.npy").string());
  REQUIRE(attn.shape.size() == 4);
  const int L = int(attn.shape[0]), H = int(attn.shape[1]), N = int(attn.shape[2]);
  const auto& info = cli_json["model"];
  const int in_h = info["input"][1].get<int>(), in_w = info["input"][2].get<int>(), patch = info["patch_size"].get<int>();
  const int prefix = info["prefix_tokens"].get<int>(), gh = in_h / patch, gw = in_w / patch;
  REQUIRE(N == prefix + gh * gw);
  CHECK(rep_on["layers"].get<int>() == L);
  CHECK(rep_on["heads"].get<int>() == H);
  auto expected_tile = [&](int head) {  // head -1: mean over heads; layer 1, query = class token
    std::vector<float> v(size_t(gh) * size_t(gw));
    for (size_t p = 0; p < v.size(); ++p) {
      float acc = 0;
      for (int h = 0; h < H; ++h)
        if (head < 0 || head == h) acc += attn.data[(size_t(h) * size_t(N) + 0) * size_t(N) + size_t(prefix) + p];
      v[p] = head < 0 ? acc / float(H) : acc;
    }
    const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    const float lo = *mn, hi = *mx > *mn ? *mx : *mn + 1e-6f;
    std::vector<unsigned char> rgb(size_t(in_w) * size_t(in_h) * 3);
    for (int y = 0; y < in_h; ++y)
      for (int x = 0; x < in_w; ++x) {
        const float t = (v[size_t(y * gh / in_h) * size_t(gw) + size_t(x * gw / in_w)] - lo) / (hi - lo);
        vitscope::viz::colormap("viridis", float(int(std::clamp(t, 0.f, 1.f) * 255.f + 0.5f)) / 255.f,
                                &rgb[(size_t(y) * size_t(in_w) + size_t(x)) * 3]);
      }
    return rgb;
  };
  auto compare = [&](const vitscope::Image& im, int ox, int oy, const std::vector<unsigned char>& want) {
    size_t close = 0, far = 0;
    for (int y = 0; y < in_h; ++y)
      for (int x = 0; x < in_w; ++x) {
        int worst = 0;
        for (int c = 0; c < 3; ++c)
          worst = std::max(worst, std::abs(int(im.at(ox + x, oy + y, c)) - int(want[(size_t(y) * size_t(in_w) + size_t(x)) * 3 + size_t(c)])));
        if (worst <= 1) ++close;
        if (worst > 4) ++far;  // a neighbouring colour-map entry is at most a few levels away
      }
    CHECK(far == 0);
    CHECK(double(close) >= 0.95 * double(in_w) * double(in_h));
  };
  const vitscope::Image overlay_png = vitscope::load_image(saved_overlay);
  REQUIRE(overlay_png.width == in_w);
  REQUIRE(overlay_png.height == in_h);
  compare(overlay_png, 0, 0, expected_tile(-1));
  // The heads grid: one tile per head in a row, 2-pixel gaps at this size.
  const vitscope::Image heads_png = vitscope::load_image(saved_heads);
  const int gap = std::max(2, in_w / 16);
  if (H <= 8) {
    REQUIRE(heads_png.width == H * in_w + (H + 1) * gap);
    REQUIRE(heads_png.height == in_h + 2 * gap);
    for (int h = 0; h < H; ++h) {
      CAPTURE(h);
      compare(heads_png, gap + h * (in_w + gap), gap, expected_tile(h));
    }
  }

  fs::remove_all(dir, ec);
}

// ---------------------------------------------------------------- attention views

namespace {

// Random attention probabilities (rows sum to 1), laid out (L, H, N, N).
std::vector<float> random_attention(int L, int H, int N, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> a(size_t(L) * H * N * N);
  for (size_t row = 0; row < a.size() / size_t(N); ++row) {
    float sum = 0;
    for (int j = 0; j < N; ++j) sum += (a[row * N + j] = std::exp(4.f * u(rng)));
    for (int j = 0; j < N; ++j) a[row * N + j] /= sum;
  }
  return a;
}

// Textbook rollout with full matrices: R = Ã_last ... Ã_0, Ã = rownorm((F + I)/2).
std::vector<double> rollout_reference(const std::vector<float>& a, int H, int N, int last, int fusion,
                                      double discard, int query) {
  std::vector<double> R(size_t(N) * N, 0.0);
  for (int i = 0; i < N; ++i) R[size_t(i) * N + i] = 1.0;
  for (int l = 0; l <= last; ++l) {
    std::vector<double> F(size_t(N) * N);
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j) {
        // Fused in float, in head order, as the engine does (so discard ties break alike).
        float v = a[((size_t(l) * H) * N + i) * N + j];
        for (int h = 1; h < H; ++h) {
          const float x = a[((size_t(l) * H + h) * N + i) * N + j];
          v = fusion == 1 ? std::max(v, x) : fusion == 2 ? std::min(v, x) : v + x;
        }
        F[size_t(i) * N + j] = fusion == 0 ? double(v / float(H)) : double(v);
      }
    const size_t k = size_t(double(N) * N * discard);
    if (k > 0) {
      std::vector<size_t> order(F.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return F[x] < F[y]; });
      for (size_t t = 0; t < k; ++t)
        if (order[t] != size_t(query) * N + size_t(query)) F[order[t]] = 0.0;
    }
    std::vector<double> A(F.size()), next(F.size(), 0.0);
    for (int i = 0; i < N; ++i) {
      double s = 0;
      for (int j = 0; j < N; ++j) s += A[size_t(i) * N + j] = 0.5 * (F[size_t(i) * N + j] + (i == j));
      for (int j = 0; j < N; ++j) A[size_t(i) * N + j] /= s;
    }
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j)
        for (int m = 0; m < N; ++m) next[size_t(i) * N + j] += A[size_t(i) * N + m] * R[size_t(m) * N + j];
    R.swap(next);
  }
  return std::vector<double>(R.begin() + long(size_t(query) * N), R.begin() + long(size_t(query + 1) * N));
}

}  // namespace

TEST_CASE("attention views: rollout row equals the full textbook product") {
  const int L = 3, H = 4, gh = 3, gw = 4, prefix = 2, N = prefix + gh * gw;
  const auto a = random_attention(L, H, N, 7);
  const vitscope::viz::AttentionShape s{L, H, N, prefix, gh, gw};
  for (int fusion = 0; fusion < 3; ++fusion)
    for (double discard : {0.0, 0.5})
      for (int query : {0, 5})
        for (int last = 0; last < L; ++last) {
          CAPTURE(fusion);
          CAPTURE(discard);
          CAPTURE(query);
          CAPTURE(last);
          const auto got = vitscope::viz::rollout(a.data(), s, last, vitscope::viz::HeadFusion(fusion), float(discard), query);
          const auto want = rollout_reference(a, H, N, last, fusion, discard, query);
          REQUIRE(got.size() == size_t(gh * gw));
          double row_sum = 0;
          for (double v : want) row_sum += v;
          CHECK(row_sum == doctest::Approx(1.0).epsilon(1e-9));  // rows of a product of row-stochastic matrices
          for (int p = 0; p < gh * gw; ++p) CHECK(got[size_t(p)] == doctest::Approx(want[size_t(prefix + p)]).epsilon(1e-5));
        }
}

TEST_CASE("attention views: query rows, head fusion and the mass mask") {
  const int L = 2, H = 3, gh = 2, gw = 3, prefix = 1, N = prefix + gh * gw;
  const auto a = random_attention(L, H, N, 11);
  const vitscope::viz::AttentionShape s{L, H, N, prefix, gh, gw};
  auto at = [&](int l, int h, int i, int j) { return a[((size_t(l) * H + h) * N + i) * N + j]; };
  const int query = 4;
  const auto head2 = vitscope::viz::query_attention(a.data(), s, 1, 2, vitscope::viz::HeadFusion::Mean, query);
  const auto mean = vitscope::viz::query_attention(a.data(), s, 1, -1, vitscope::viz::HeadFusion::Mean, query);
  const auto mx = vitscope::viz::query_attention(a.data(), s, 1, -1, vitscope::viz::HeadFusion::Max, query);
  for (int p = 0; p < gh * gw; ++p) {
    CHECK(head2[size_t(p)] == at(1, 2, query, prefix + p));
    float m = 0, x = 0;
    for (int h = 0; h < H; ++h) {
      m += at(1, h, query, prefix + p) / H;
      x = std::max(x, at(1, h, query, prefix + p));
    }
    CHECK(mean[size_t(p)] == doctest::Approx(m).epsilon(1e-6));
    CHECK(mx[size_t(p)] == x);
  }
  // The mask keeps the largest values until they hold the requested share of the mass.
  const std::vector<float> map = {0.05f, 0.4f, 0.1f, 0.3f, 0.15f, 0.0f};
  const auto mask = vitscope::viz::mass_mask(map, 0.6f);
  CHECK(mask == std::vector<float>{0.f, 1.f, 0.f, 1.f, 0.f, 0.f});  // 0.4 + 0.3 = 0.7 >= 0.6
  const auto all = vitscope::viz::mass_mask(map, 1.0f);
  CHECK(std::accumulate(all.begin(), all.end(), 0.f) >= 5.f);  // everything but possibly the zero
}
