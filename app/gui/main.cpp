// vitscope: the desktop viewer. Opens an image and a ViT, shows the prediction and
// every layer's and head's attention over the image.
//   vitscope [--model PATH] [--device N] [IMAGE]
//   vitscope --screenshot OUT.png [--frames N] [--layer L] [--head H|mean] [--rollout] [--size WxH]
//            [--input-size HxW] [IMAGE]
// Exit codes: 0 ok, 1 runtime error, 2 usage error.
#include <CLI/CLI.hpp>

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app.h"
#include "io/png.h"
#include "overlay.h"
#include "renderer.h"
#include "theme.h"
#include "viz/attention_maps.h"
#include "vk/context.h"
#include "worker.h"

namespace {

using namespace vitscope;
using namespace vitscope::gui;

// Set by GLFW callbacks: something happened that may change the picture.
bool g_input = false;
std::vector<std::string> g_dropped;
std::vector<std::pair<int, int>> g_keys;  // presses and repeats: key, modifiers

void on_glfw_error(int code, const char* text) { std::fprintf(stderr, "vitscope: GLFW error %d: %s\n", code, text); }

// Installed before Dear ImGui's GLFW backend, which chains to them.
void on_cursor(GLFWwindow*, double, double) { g_input = true; }
void on_button(GLFWwindow*, int, int, int) { g_input = true; }
void on_scroll(GLFWwindow*, double, double) { g_input = true; }
void on_key(GLFWwindow*, int key, int, int action, int mods) {
  if (action == GLFW_PRESS || action == GLFW_REPEAT) g_keys.emplace_back(key, mods);
  g_input = true;
}
void on_char(GLFWwindow*, unsigned int) { g_input = true; }
void on_focus(GLFWwindow*, int) { g_input = true; }
void on_enter(GLFWwindow*, int) { g_input = true; }
void on_size(GLFWwindow*, int, int) { g_input = true; }
void on_refresh(GLFWwindow*) { g_input = true; }
void on_drop(GLFWwindow*, int count, const char** paths) {
  for (int i = 0; i < count; ++i) g_dropped.emplace_back(paths[i]);
  g_input = true;
}
void wake_ui() { glfwPostEmptyEvent(); }

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void parse_window_size(const std::string& s, int& w, int& h) {
  int a = 0, b = 0;
  char x = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%d%c%d%c", &a, &x, &b, &extra) != 3 || (x != 'x' && x != 'X'))
    throw UsageError("--size must be WxH, e.g. 1280x800, got '" + s + "'");
  if (a < 320 || b < 240 || a > 8192 || b > 8192) throw UsageError("--size out of range (320x240 .. 8192x8192): '" + s + "'");
  w = a;
  h = b;
}

// The model's input size: HxW or S (square), up to 8192 a side.
void parse_input_size(const std::string& s, int& h, int& w) {
  int a = 0, b = 0;
  char x = 0, extra = 0;
  const int n = std::sscanf(s.c_str(), "%d%c%d%c", &a, &x, &b, &extra);
  if (n == 1) b = a;
  else if (!(n == 3 && (x == 'x' || x == 'X'))) throw UsageError("--input-size must be HxW or S, e.g. 384x384, got '" + s + "'");
  if (a <= 0 || b <= 0 || a > 8192 || b > 8192) throw UsageError("--input-size out of range (1 .. 8192 a side): '" + s + "'");
  h = a;
  w = b;
}

int run(const AppOptions& o) {
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) throw Error("cannot open a window: GLFW failed to start (no display? set DISPLAY or use xvfb-run)");
  struct GlfwGuard {
    ~GlfwGuard() { glfwTerminate(); }
  } glfw_guard;
  if (!glfwVulkanSupported()) throw NoDeviceError("GLFW finds no Vulkan loader or driver that can draw to a window");
  glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, "vitscope", nullptr, nullptr);
  if (!window) throw Error("cannot create a window (no display?)");
  struct WindowGuard {
    GLFWwindow* w;
    ~WindowGuard() { glfwDestroyWindow(w); }
  } window_guard{window};
  glfwSetCursorPosCallback(window, on_cursor);
  glfwSetMouseButtonCallback(window, on_button);
  glfwSetScrollCallback(window, on_scroll);
  glfwSetKeyCallback(window, on_key);
  glfwSetCharCallback(window, on_char);
  glfwSetWindowFocusCallback(window, on_focus);
  glfwSetCursorEnterCallback(window, on_enter);
  glfwSetFramebufferSizeCallback(window, on_size);
  glfwSetWindowRefreshCallback(window, on_refresh);
  glfwSetDropCallback(window, on_drop);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  struct ImGuiGuard {
    ~ImGuiGuard() { ImGui::DestroyContext(); }
  } imgui_guard;
  ImGui::GetIO().IniFilename = nullptr;  // the layout is fixed; nothing to remember
  theme::apply();
  ImGui_ImplGlfw_InitForVulkan(window, true);
  struct GlfwBackendGuard {
    ~GlfwBackendGuard() { ImGui_ImplGlfw_Shutdown(); }
  } backend_guard;

  RendererOptions ro;
  ro.validate = vk::validation_requested();
  if (o.device >= 0) {
    // Draw on the same GPU as the one chosen for inference when it can present.
    auto devices = vk::Context::list_devices();
    if (size_t(o.device) < devices.size()) ro.prefer_device_name = devices[size_t(o.device)].name;
    else throw UsageError("--device " + std::to_string(o.device) + " does not exist (" + std::to_string(devices.size()) + " devices)");
  }
  Renderer renderer(window, ro);
  Overlay overlay(renderer);
  InferenceWorker worker;
  worker.set_wake(wake_ui);
  App app(window, renderer, overlay, worker, o);

  const bool screenshot = !o.screenshot.empty();
  const auto started = std::chrono::steady_clock::now();
  int frames_since_settled = -1;
  int redraw = 3;
  while (!glfwWindowShouldClose(window)) {
    if (screenshot) {
      if (app.busy()) glfwWaitEventsTimeout(0.05);
      else glfwPollEvents();
    } else if (redraw > 0 || app.wants_redraw()) {
      glfwPollEvents();
    } else {
      // Idle: sleep until input, a finished result (the worker posts an empty
      // event) or a slow tick for the progress read-out.
      glfwWaitEventsTimeout(app.busy() ? 0.2 : 1.0);
    }
    if (g_input) {
      redraw = 3;  // a few frames let Dear ImGui settle hover and click states
      g_input = false;
    }
    for (const auto& [key, mods] : g_keys) app.key(key, mods);
    g_keys.clear();
    if (!g_dropped.empty()) {
      app.drop(g_dropped);
      g_dropped.clear();
    }
    if (!screenshot && redraw == 0 && !app.wants_redraw() && !app.busy()) continue;
    if (redraw > 0) --redraw;

    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (screenshot) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);  // no stray hover in screenshots
    ImGui::NewFrame();
    overlay.new_frame();
    app.frame();
    ImGui::Render();
    ImDrawData* draw_data = ImGui::GetDrawData();
    renderer.render(draw_data, overlay);

    if (!screenshot) continue;
    if (app.settled() && !app.busy()) {
      if (!app.first_error().empty()) throw Error(app.first_error());
      if (++frames_since_settled >= o.frames) {
        Capture shot = renderer.capture(draw_data, overlay);
        write_png(o.screenshot, shot.width, shot.height, 3, shot.rgb.data());
        nlohmann::json report = app.report();
        report["screenshot"] = o.screenshot;
        report["width"] = shot.width;
        report["height"] = shot.height;
        std::printf("%s\n", report.dump().c_str());
        std::fflush(stdout);
        const size_t messages = renderer.validation_count() + worker.validation_count();
        if (messages > 0) throw Error(std::to_string(messages) + " Vulkan validation message(s) while drawing or running the model");
        break;
      }
    } else if (std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > o.timeout) {
      throw Error("screenshot: no result after " + std::to_string(int(o.timeout)) + " s");
    }
  }
  renderer.wait_idle();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  AppOptions o;
  CLI::App cli{"vitscope: see what a Vision Transformer looks at. Opens an image and a ViT (.safetensors, PyTorch or Paddle checkpoint), shows "
               "the prediction and every layer's and head's attention over the image."};
  cli.set_version_flag("--version", "vitscope 0.1.0");
  cli.add_option("image", o.image, "Image to open (default: a bundled sample)");
  cli.add_option("-m,--model", o.model,
                 "Model: a weights file (.safetensors, .pth, .pt, .bin, .pth.tar, .pdparams, .npz; config.json beside "
                 "it) or a folder holding one (default: the bundled Fashion-MNIST ViT)");
  cli.add_option("--checkpoint-key", o.checkpoint_key,
                 "PyTorch/Paddle checkpoints: the top-level key holding the weights (default: searched, see "
                 "vitscope-cli classify --help)");
  cli.add_option("-d,--device", o.device, "Vulkan device index for inference (see `vitscope-cli devices`)")
      ->check(CLI::NonNegativeNumber);
  std::string size;
  cli.add_option("--size", size, "Window size WxH (default 1280x800)");
  std::string input_size;
  cli.add_option("--input-size", input_size,
                 "Run the model at this input size, HxW or S (multiples of the patch size; position embeddings "
                 "are resampled). Default: the model's native size");
  auto* g = cli.add_option_group("View", "Initial view (also for screenshots)");
  g->add_option("--layer", o.layer, "Layer, 1..L (default: the last)")->check(CLI::PositiveNumber);
  g->add_option("--head", o.head, "Head 1..H, or mean, max or min over heads (default mean)");
  g->add_flag("--rollout", o.rollout, "Show attention rollout over layers 1..--layer");
  g->add_option("--fusion", o.fusion, "Rollout head fusion")->check(CLI::IsMember({"mean", "max", "min"}));
  g->add_option("--discard", o.discard, "Rollout discard ratio")->check(CLI::Range(0.0, 0.99));
  g->add_option("--query", o.query, "Query patch ROW,COL (1-based) instead of the class token");
  g->add_option("--mask", o.mask, "DINO mass mask keeping this fraction of the attention mass")->check(CLI::Range(0.01, 1.0));
  g->add_option("--colormap", o.colormap, "Colour map")->check(CLI::IsMember(viz::colormap_names()));
  g->add_option("--opacity", o.opacity, "Heat-map opacity 0..1")->check(CLI::Range(0.0, 1.0));
  g->add_flag("--no-overlay", o.no_overlay, "Hide the heat map");
  g->add_flag("--bilinear", o.bilinear, "Bilinear upsampling of the heat map (default nearest)");
  g->add_flag("--original", o.original, "Show the original image instead of the model's input");
  g->add_option("--range", o.range, "Fixed value range LO,HI (default: auto per map)");
  g->add_option("--tab", o.tab, "Centre view")->check(CLI::IsMember({"image", "heads", "grid"}));
  g->add_option("--info-tab", o.info_tab, "Right-hand panel")->check(CLI::IsMember({"model", "device", "timing"}));
  g->add_flag("--patch-grid", o.patch_grid, "Draw the patch grid over the image");
  g->add_flag("--smooth-image", o.smooth_image, "Bilinear filtering of the image itself");
  g->add_flag("!--no-heads-strip", o.heads_strip, "Hide the strip of the current layer's heads");
  g->add_flag("--show-help", o.show_help, "Open the keyboard help panel");
  auto* a = cli.add_option_group("Actions", "Done once the first result is shown");
  a->add_option("--drop", o.drop, "Open FILE as if dropped onto the window (an image or a model; repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  a->add_option("--save-overlay", o.save_overlay, "Save the overlay as PNG at the image's resolution (times --export-scale)");
  a->add_option("--save-heads", o.save_heads, "Save the current layer's heads as one PNG");
  a->add_option("--export-scale", o.export_scale, "Pixel scale of saved PNGs (default 1)")->check(CLI::Range(1, 16));
  auto* s = cli.add_option_group("Screenshot", "Render, save a PNG and exit (for tests)");
  s->add_option("--screenshot", o.screenshot, "Write the window to this PNG once the result is shown, then exit");
  s->add_option("--frames", o.frames, "Frames to render after the result arrived (default 3)")->check(CLI::Range(1, 1000));
  s->add_option("--timeout", o.timeout, "Seconds to wait for the result (default 300)")->check(CLI::PositiveNumber);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (!size.empty()) parse_window_size(size, o.width, o.height);
    if (!input_size.empty()) parse_input_size(input_size, o.input_h, o.input_w);
    const std::string h = o.head;
    if (h != "mean" && h != "max" && h != "min" && std::atoi(h.c_str()) <= 0)
      throw UsageError("--head must be mean, max, min or a head number from 1, got '" + h + "'");
    if (!o.query.empty()) {
      int r = 0, c = 0;
      if (std::sscanf(o.query.c_str(), "%d,%d", &r, &c) != 2 || r < 1 || c < 1)
        throw UsageError("--query must be ROW,COL (1-based), got '" + o.query + "'");
    }
    if (!o.range.empty()) {
      float lo = 0, hi = 0;
      if (std::sscanf(o.range.c_str(), "%f,%f", &lo, &hi) != 2 || !(hi > lo))
        throw UsageError("--range must be LO,HI with LO < HI, got '" + o.range + "'");
    }
    return run(o);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "vitscope: usage error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vitscope: error: out of host memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vitscope: error: %s\n", e.what());
    return 1;
  }
}
