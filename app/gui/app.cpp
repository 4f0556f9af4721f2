#include "app.h"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/paths.h"
#include "export.h"
#include "io/png.h"
#include "theme.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

namespace {

constexpr ImGuiWindowFlags kPanelFlags = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                         ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings |
                                         ImGuiWindowFlags_NoBringToFrontOnFocus;

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string absolute(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

// The first bag*.png (any image if there is none) among the bundled samples.
std::string default_sample() {
  std::string dir = find_asset("samples");
  if (dir.empty()) return "";
  std::vector<fs::path> images;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && is_image_file(e.path())) images.push_back(e.path());
  std::sort(images.begin(), images.end());
  for (const auto& p : images)
    if (lower(p.filename().string()).rfind("bag", 0) == 0) return p.string();
  return images.empty() ? "" : images.front().string();
}

std::string format_count(int64_t n) {
  char buf[32];
  if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2f M", double(n) / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1f K", double(n) / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

std::string format_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GB", double(n) / double(1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MB", double(n) / double(1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KB", double(n) / 1024.0);
  return buf;
}

void section(const char* title) {
  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, theme::kAccentText);
  ImGui::TextUnformatted(title);
  ImGui::PopStyleColor();
  ImGui::Separator();
  ImGui::Spacing();
}

void key_value(const char* key, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", key);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextWrapped("%s", value.c_str());
}

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

ImVec4 rect_of(ImVec2 p0, ImVec2 p1) { return ImVec4(p0.x, p0.y, p1.x - p0.x, p1.y - p0.y); }

nlohmann::json rect_json(const ImVec4& r) {
  const ImVec2 s = ImGui::GetIO().DisplayFramebufferScale;
  return {int(std::lround(r.x * s.x)), int(std::lround(r.y * s.y)), int(std::lround(r.z * s.x)), int(std::lround(r.w * s.y))};
}

}  // namespace

App::App(GLFWwindow* window, Renderer& renderer, Overlay& overlay, InferenceWorker& worker, const AppOptions& options)
    : window_(window),
      renderer_(renderer),
      overlay_(overlay),
      worker_(worker),
      options_(options),
      recent_(options.screenshot.empty() ? RecentFiles::default_path() : std::string()) {
  const auto& names = viz::colormap_names();
  colormap_ = int(std::find(names.begin(), names.end(), options.colormap) - names.begin());
  if (colormap_ >= int(names.size())) colormap_ = 0;
  opacity_ = std::clamp(options.opacity, 0.f, 1.f);
  show_heat_ = !options.no_overlay;
  bilinear_ = options.bilinear;
  show_original_ = options.original;
  if (!options.range.empty()) {
    float lo = 0, hi = 0;
    if (std::sscanf(options.range.c_str(), "%f,%f", &lo, &hi) == 2 && hi > lo) {
      auto_range_ = false;
      range_lo_ = lo;
      range_hi_ = hi;
    }
  }
  select_tab_ = options.tab == "heads" ? Tab::Heads : options.tab == "grid" ? Tab::Grid : Tab::Image;
  force_tab_ = true;
  info_tab_ = options.info_tab == "device" ? InfoTab::Device : options.info_tab == "timing" ? InfoTab::Timing : InfoTab::Model;
  grid_lines_ = options.patch_grid;
  smooth_image_ = options.smooth_image;
  heads_strip_ = options.heads_strip;
  help_open_ = options.show_help;
  export_scale_ = std::clamp(options.export_scale, 1, 16);
  input_h_ = options.input_h;
  input_w_ = options.input_w;

  const char* home = std::getenv("HOME");
  std::error_code ec;
  places_ = {{"Home", home ? home : ""},
             {"Current folder", fs::current_path(ec).string()},
             {"Sample images", find_asset("samples")},
             {"Bundled models", find_asset("models")},
             {"File system root", "/"}};
  try {
    devices_ = vk::Context::list_devices();
  } catch (const std::exception&) {
    // No device list: the device panel shows only the one in use.
  }

  std::string model = options.model.empty() ? find_asset("models/fashion-vit") : absolute(options.model);
  std::string image = options.image.empty() ? default_sample() : absolute(options.image);
  if (model.empty()) {
    const std::string msg =
        "The bundled model (assets/models/fashion-vit) was not found next to the program or in its install "
        "prefix. Open a model with File > Open model, or start with --model PATH.";
    show_error(msg);
    settled_ = true;
    first_error_ = msg;
    return;
  }
  request(model, image);
  first_request_ = 1;
}

// ---------------------------------------------------------------- requests

void App::request(const std::string& model_path, const std::string& image_path) {
  // Another model starts at its own native size (its patch size may differ).
  if (model_ && model_path != model_->path) input_h_ = input_w_ = 0;
  model_path_ = model_path;
  image_path_ = image_path;
  worker_.submit({model_path, image_path, options_.device, input_h_, input_w_});
  redraw_ = 3;
}

bool App::busy() const { return !worker_.idle(); }

bool App::drop(const std::vector<std::string>& paths) {
  std::string model, image;
  std::vector<std::string> rejected;
  for (const auto& p : paths) {
    if (model.empty() && is_model_path(p)) model = absolute(p);
    else if (image.empty() && is_image_file(p)) image = absolute(p);
    else rejected.push_back(p);
  }
  if (!rejected.empty() && model.empty() && image.empty()) {
    show_error("Dropped files are neither images (png, jpg, bmp, tga, gif, pnm) nor models (.safetensors or a folder "
               "with model.safetensors):\n" + rejected.front());
    return false;
  }
  if (model.empty() && image.empty()) return false;
  request(model.empty() ? model_path_ : model, image.empty() ? image_path_ : image);
  return true;
}

void App::show_error(const std::string& message) {
  errors_.push_back(message);
  redraw_ = 3;
}

void App::take_result() {
  std::optional<InferenceResult> r = worker_.poll();
  if (!r) return;
  redraw_ = 3;
  const bool model_changed = r->model && r->model != model_;
  if (model_changed) {
    model_ = r->model;
    shape_ = attention_shape(model_->config);
    maps_valid_ = false;
    loaded_.reset();  // the old image's attention has the old model's shape
    if (view_.query_patch >= shape_.grid_h * shape_.grid_w) view_.query_patch = -1;
    view_.layer = std::clamp(view_.layer, 0, std::max(shape_.layers - 1, 0));
    if (view_.head >= shape_.heads) view_.head = -1;
    edit_h_ = model_->config.img_h;
    edit_w_ = model_->config.img_w;
    recent_.add(FileKind::Model, model_->path);
    for (const auto& w : model_->warnings) std::fprintf(stderr, "vitscope: warning: %s\n", w.c_str());
  }
  if (!r->error.empty()) {
    show_error(r->error);
    // Keep what is shown; later requests start from it.
    model_path_ = model_ ? model_->path : "";
    image_path_ = loaded_ ? loaded_->image_path : "";
    if (model_) {
      input_h_ = model_->requested_h;
      input_w_ = model_->requested_w;
      edit_h_ = model_->config.img_h;
      edit_w_ = model_->config.img_w;
    }
    if (!settled_) first_error_ = r->error;
  }
  if (r->has_image) {
    Loaded l;
    l.image_path = r->image_path;
    l.original = std::move(r->original);
    l.view = std::move(r->view);
    l.preprocess = std::move(r->preprocess);
    l.forward = std::move(r->forward);
    loaded_ = std::move(l);
    overlay_.set_image(ImageSlot::View, loaded_->view);
    overlay_.set_image(ImageSlot::Original, loaded_->original);
    maps_valid_ = false;
    top_.clear();
    const auto& probs = loaded_->forward.probs;
    for (size_t i = 0; i < probs.size(); ++i) top_.emplace_back(int(i), probs[i]);
    std::sort(top_.begin(), top_.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (top_.size() > 10) top_.resize(10);
    recent_.add(FileKind::Image, loaded_->image_path);
    glfwSetWindowTitle(window_, ("vitscope - " + fs::path(loaded_->image_path).filename().string()).c_str());
  }
  if (model_ && !initial_view_applied_) apply_initial_view();
  if (settled_ && drop_sent_) drop_answered_ = true;
  settled_ = true;
}

// Actions given on the command line, done once the first result is shown.
void App::scripted_actions() {
  if (!settled_ || !first_error_.empty()) return;
  if (!options_.drop.empty() && !drop_sent_) {
    drop_sent_ = true;
    if (!drop(options_.drop)) drop_answered_ = true;
    return;
  }
  if (!exports_done_ && maps_valid_ && !busy() && (options_.drop.empty() || drop_answered_)) {
    exports_done_ = true;
    const bool rethrow = !options_.screenshot.empty();
    if (!options_.save_overlay.empty()) save_overlay(options_.save_overlay, rethrow);
    if (!options_.save_heads.empty()) save_heads_grid(options_.save_heads, rethrow);
  }
}

void App::apply_initial_view() {
  initial_view_applied_ = true;
  const int L = shape_.layers, H = shape_.heads;
  view_.layer = options_.layer > 0 ? std::clamp(options_.layer - 1, 0, L - 1) : L - 1;
  const std::string head = lower(options_.head);
  view_.head = -1;
  if (head == "max") view_.fusion = viz::HeadFusion::Max;
  else if (head == "min") view_.fusion = viz::HeadFusion::Min;
  else if (head != "mean") view_.head = std::clamp(std::atoi(head.c_str()) - 1, 0, H - 1);
  view_.rollout = options_.rollout;
  view_.rollout_fusion = options_.fusion == "max" ? viz::HeadFusion::Max
                         : options_.fusion == "min" ? viz::HeadFusion::Min
                                                    : viz::HeadFusion::Mean;
  view_.discard = std::clamp(options_.discard, 0.f, 0.99f);
  if (options_.mask > 0.f) {
    view_.mask = true;
    view_.mass = std::clamp(options_.mask, 0.01f, 1.f);
  }
  int row = 0, col = 0;
  if (!options_.query.empty() && std::sscanf(options_.query.c_str(), "%d,%d", &row, &col) == 2) {
    row = std::clamp(row, 1, shape_.grid_h);
    col = std::clamp(col, 1, shape_.grid_w);
    view_.query_patch = (row - 1) * shape_.grid_w + (col - 1);
    query_mode_ = true;
  }
  if (shape_.prefix == 0) query_mode_ = true;  // no class token: queries are patches
}

void App::refresh_maps() {
  if (!loaded_ || !model_ || loaded_->forward.attention.empty()) return;
  view_.layer = std::clamp(view_.layer, 0, shape_.layers - 1);
  if (maps_valid_ && view_ == maps_for_) return;
  try {
    maps_ = compute_maps(loaded_->forward.attention.data(), shape_, view_);
  } catch (const std::exception& e) {
    show_error(std::string("Could not compute the attention view:\n") + e.what());
    view_ = maps_for_;
    return;
  }
  std::vector<std::vector<float>> tiles;
  tiles.reserve(1 + maps_.heads.size() + maps_.cells.size());
  tiles.push_back(maps_.main);
  tiles.insert(tiles.end(), maps_.heads.begin(), maps_.heads.end());
  tiles.insert(tiles.end(), maps_.cells.begin(), maps_.cells.end());
  overlay_.set_heat(shape_.grid_w, shape_.grid_h, std::move(tiles));
  maps_for_ = view_;
  maps_valid_ = true;
  redraw_ = std::max(redraw_, 2);
}

OverlayStyle App::style_for(const std::vector<float>& map) const {
  OverlayStyle s;
  s.heat = show_heat_;
  s.bilinear = bilinear_;
  s.smooth_image = smooth_image_;
  s.opacity = opacity_;
  s.colormap = colormap_;
  if (view_.mask) {
    s.lo = 0.f;
    s.hi = 1.f;
  } else if (auto_range_) {
    std::tie(s.lo, s.hi) = value_range(map);
  } else {
    s.lo = range_lo_;
    s.hi = std::max(range_hi_, range_lo_ + 1e-6f);
  }
  return s;
}

// ---------------------------------------------------------------- frame

void App::frame() {
  if (redraw_ > 0) --redraw_;
  take_result();
  handle_keys();
  refresh_maps();
  scripted_actions();

  const ImGuiViewport* vp = ImGui::GetMainViewport();
  draw_menu();
  const float menu_h = ImGui::GetFrameHeight();
  const float status_h = ImGui::GetFrameHeight() + 10.f;
  const float body_h = vp->Size.y - menu_h - status_h;
  const float left_w = std::clamp(vp->Size.x * 0.23f, 250.f, 330.f);
  const float right_w = std::clamp(vp->Size.x * 0.25f, 270.f, 360.f);
  const float centre_w = std::max(vp->Size.x - left_w - right_w, 200.f);
  draw_controls(ImVec2(vp->Pos.x, vp->Pos.y + menu_h), ImVec2(left_w, body_h));
  draw_viewer(ImVec2(vp->Pos.x + left_w, vp->Pos.y + menu_h), ImVec2(centre_w, body_h));
  draw_details(ImVec2(vp->Pos.x + left_w + centre_w, vp->Pos.y + menu_h), ImVec2(right_w, body_h));
  draw_status(ImVec2(vp->Pos.x, vp->Pos.y + vp->Size.y - status_h), ImVec2(vp->Size.x, status_h));
  draw_popups();
  draw_help();
}

void App::key(int glfw_key, int mods) {
  keys_.emplace_back(glfw_key, mods);
  redraw_ = std::max(redraw_, 2);
}

// Shortcuts come from GLFW's key events (queued by main.cpp), so a press and release
// that fall between two frames are not lost while the app sleeps between events.
void App::handle_keys() {
  escape_ = enter_ = false;
  const ImGuiIO& io = ImGui::GetIO();
  const bool popup = ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId);
  std::vector<std::pair<int, int>> keys;
  keys.swap(keys_);
  for (const auto& [k, mods] : keys) {
    if (k == GLFW_KEY_ESCAPE) {
      escape_ = true;
      help_open_ = false;
      continue;
    }
    if (k == GLFW_KEY_ENTER || k == GLFW_KEY_KP_ENTER) enter_ = true;
    if (popup || io.WantTextInput) continue;
    if (mods & GLFW_MOD_CONTROL) {
      if (k == GLFW_KEY_Q) glfwSetWindowShouldClose(window_, GLFW_TRUE);
      continue;
    }
    switch (k) {
      case GLFW_KEY_O: open_dialog(FileBrowser::Mode::OpenImage); break;
      case GLFW_KEY_M: open_dialog(FileBrowser::Mode::OpenModel); break;
      case GLFW_KEY_F1: help_open_ = !help_open_; break;
      case GLFW_KEY_1: select_tab_ = Tab::Image, force_tab_ = true; break;
      case GLFW_KEY_2: select_tab_ = Tab::Heads, force_tab_ = true; break;
      case GLFW_KEY_3: select_tab_ = Tab::Grid, force_tab_ = true; break;
      default: break;
    }
    if (!model_) continue;
    switch (k) {
      case GLFW_KEY_LEFT: step_head(-1); break;
      case GLFW_KEY_RIGHT: step_head(+1); break;
      case GLFW_KEY_UP: set_layer(view_.layer - 1); break;
      case GLFW_KEY_DOWN: set_layer(view_.layer + 1); break;
      case GLFW_KEY_R: view_.rollout = !view_.rollout; break;
      case GLFW_KEY_H: show_heat_ = !show_heat_; break;
      case GLFW_KEY_K: view_.mask = !view_.mask; break;
      case GLFW_KEY_Q:
        query_mode_ = !query_mode_ || shape_.prefix == 0;
        if (!query_mode_) view_.query_patch = -1;
        break;
      case GLFW_KEY_S:
        if (loaded_) open_dialog(FileBrowser::Mode::Save);
        break;
      default: break;
    }
  }
}

// Order of the head choices: mean, max, min, head 1..H.
void App::step_head(int delta) {
  const int H = shape_.heads;
  const int n = H + 3;
  int pos = view_.head >= 0 ? view_.head + 3 : int(view_.fusion);
  pos = ((pos + delta) % n + n) % n;
  if (pos < 3) {
    view_.head = -1;
    view_.fusion = viz::HeadFusion(pos);
  } else {
    view_.head = pos - 3;
  }
  view_.rollout = false;
}

void App::set_layer(int layer) { view_.layer = std::clamp(layer, 0, std::max(shape_.layers - 1, 0)); }

void App::open_dialog(FileBrowser::Mode mode) {
  browser_mode_ = mode;
  switch (mode) {
    case FileBrowser::Mode::OpenImage:
      browser_.open(mode, "Open image", image_path_.empty() ? find_asset("samples") : image_path_);
      break;
    case FileBrowser::Mode::OpenModel:
      browser_.open(mode, "Open model", model_path_.empty() ? find_asset("models") : fs::path(model_path_).parent_path().string());
      break;
    case FileBrowser::Mode::Save: {
      std::error_code ec;
      save_what_ = SaveWhat::Overlay;
      browser_.open(mode, "Save overlay as PNG", fs::current_path(ec).string(), default_save_name("overlay"));
      break;
    }
  }
}

std::string App::default_save_name(const char* what) const {
  std::string stem = loaded_ ? fs::path(loaded_->image_path).stem().string() : "vitscope";
  std::string view = view_.rollout ? "rollout" + std::to_string(view_.layer + 1)
                                   : "layer" + std::to_string(view_.layer + 1) + "_" +
                                         (view_.head >= 0 ? "head" + std::to_string(view_.head + 1) : fusion_name(view_.fusion));
  if (std::string(what) == "heads") view = "layer" + std::to_string(view_.layer + 1) + "_heads";
  return stem + "_" + view + ".png";
}

void App::save_overlay(const std::string& path, bool rethrow) {
  if (!loaded_ || !maps_valid_) {
    if (rethrow) throw Error("nothing to save: no image is shown");
    show_error("Nothing to save yet: open an image first.");
    return;
  }
  try {
    const bool original = show_original_ && loaded_->original.width > 0;
    const Image& im = original ? loaded_->original : loaded_->view;
    const int scale = original ? 1 : export_scale_;
    std::array<float, 4> heat_uv = original ? crop_uv(im.width, im.height, model_->config.pre)
                                            : std::array<float, 4>{0.f, 0.f, 1.f, 1.f};
    OverlayStyle s = style_for(maps_.main);
    CompositeStyle cs{s.colormap, s.opacity, s.heat, s.bilinear, s.lo, s.hi, original ? 0.5f : 1.f};
    const int w = im.width * scale, h = im.height * scale;
    auto rgb = composite(im, w, h, maps_.main, shape_.grid_w, shape_.grid_h, heat_uv, cs);
    write_png(path, w, h, 3, rgb.data());
    toast_ = "Saved " + path + " (" + std::to_string(w) + "x" + std::to_string(h) + ")";
    toast_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  } catch (const std::exception& e) {
    if (rethrow) throw;
    show_error(std::string("Could not save the overlay:\n") + e.what());
  }
}

void App::save_heads_grid(const std::string& path, bool rethrow) {
  if (!loaded_ || !maps_valid_) {
    if (rethrow) throw Error("nothing to save: no image is shown");
    show_error("Nothing to save yet: open an image first.");
    return;
  }
  try {
    const Image& im = loaded_->view;
    const int w = im.width * export_scale_, h = im.height * export_scale_;
    std::vector<std::vector<unsigned char>> tiles;
    for (const auto& map : maps_.heads) {
      OverlayStyle s = style_for(map);
      CompositeStyle cs{s.colormap, s.opacity, s.heat, s.bilinear, s.lo, s.hi, 1.f};
      tiles.push_back(composite(im, w, h, map, shape_.grid_w, shape_.grid_h, {0.f, 0.f, 1.f, 1.f}, cs));
    }
    const int H = int(tiles.size());
    const int columns = H <= 8 ? H : int(std::ceil(std::sqrt(double(H))));
    int gw = 0, gh = 0;
    auto rgb = tile_images(tiles, w, h, columns, std::max(2, w / 16), gw, gh);
    write_png(path, gw, gh, 3, rgb.data());
    toast_ = "Saved " + path + " (" + std::to_string(H) + " heads, " + std::to_string(gw) + "x" + std::to_string(gh) + ")";
    toast_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  } catch (const std::exception& e) {
    if (rethrow) throw;
    show_error(std::string("Could not save the heads grid:\n") + e.what());
  }
}

// ---------------------------------------------------------------- panels

void App::draw_menu() {
  if (!ImGui::BeginMainMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Open image...", "O")) open_dialog(FileBrowser::Mode::OpenImage);
    if (ImGui::MenuItem("Open model...", "M")) open_dialog(FileBrowser::Mode::OpenModel);
    if (ImGui::BeginMenu("Recent images")) {
      auto items = recent_.list(FileKind::Image);
      if (items.empty()) ImGui::MenuItem("(none)", nullptr, false, false);
      for (const auto& p : items)
        if (ImGui::MenuItem(p.c_str())) request(model_path_, p);
      ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Recent models")) {
      auto items = recent_.list(FileKind::Model);
      if (items.empty()) ImGui::MenuItem("(none)", nullptr, false, false);
      for (const auto& p : items)
        if (ImGui::MenuItem(p.c_str())) request(p, image_path_);
      ImGui::EndMenu();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Save overlay PNG...", "S", false, loaded_.has_value())) open_dialog(FileBrowser::Mode::Save);
    if (ImGui::MenuItem("Save heads grid PNG...", nullptr, false, loaded_.has_value())) {
      std::error_code ec;
      browser_mode_ = FileBrowser::Mode::Save;
      save_what_ = SaveWhat::HeadsGrid;
      browser_.open(FileBrowser::Mode::Save, "Save heads grid as PNG", fs::current_path(ec).string(),
                    default_save_name("heads"));
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) glfwSetWindowShouldClose(window_, GLFW_TRUE);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    if (ImGui::MenuItem("Attention map", "1", tab_ == Tab::Image)) select_tab_ = Tab::Image, force_tab_ = true;
    if (ImGui::MenuItem("Heads of this layer", "2", tab_ == Tab::Heads)) select_tab_ = Tab::Heads, force_tab_ = true;
    if (ImGui::MenuItem("Layers x heads", "3", tab_ == Tab::Grid)) select_tab_ = Tab::Grid, force_tab_ = true;
    ImGui::Separator();
    ImGui::MenuItem("Heat map", "H", &show_heat_);
    ImGui::MenuItem("Rollout", "R", &view_.rollout);
    ImGui::MenuItem("Mass mask", "K", &view_.mask);
    ImGui::MenuItem("Original image", nullptr, &show_original_);
    ImGui::MenuItem("Patch grid", nullptr, &grid_lines_);
    ImGui::MenuItem("Heads strip", nullptr, &heads_strip_);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    ImGui::MenuItem("Keyboard and mouse", "F1", &help_open_);
    ImGui::EndMenu();
  }
  if (model_) {
    std::string right = model_->config.architecture + "  |  " + model_->device.name;
    float w = ImGui::CalcTextSize(right.c_str()).x;
    ImGui::SetCursorPosX(ImGui::GetWindowWidth() - w - 12.f);
    ImGui::TextDisabled("%s", right.c_str());
  }
  ImGui::EndMainMenuBar();
}

void App::draw_controls(ImVec2 pos, ImVec2 size) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::Begin("Controls", nullptr, kPanelFlags);
  controls_rect_ = rect_of(ImGui::GetWindowPos(), ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x,
                                                          ImGui::GetWindowPos().y + ImGui::GetWindowSize().y));
  const bool ready = model_ != nullptr;
  const int L = std::max(shape_.layers, 1), H = std::max(shape_.heads, 1);
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.58f);
  if (!ready) ImGui::BeginDisabled();

  section("Attention view");
  if (ImGui::RadioButton("Layer / head", !view_.rollout)) view_.rollout = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("Rollout", view_.rollout)) view_.rollout = true;
  help_marker("Layer / head: one layer's attention of the query token to every patch, for one head or fused "
              "over heads.\nRollout (Abnar & Zuidema 2020): the attention flow through layers 1..l, "
              "textbook form: each layer's fused attention A becomes (A + I)/2 with rows renormalised, and "
              "R = A_l ... A_1. Key R toggles it.");
  int layer1 = view_.layer + 1;
  if (ImGui::SliderInt(view_.rollout ? "Up to layer" : "Layer", &layer1, 1, L)) set_layer(layer1 - 1);
  if (!view_.rollout) {
    std::string current = view_.head >= 0 ? "Head " + std::to_string(view_.head + 1)
                                          : std::string(fusion_name(view_.fusion)) + " over heads";
    current[0] = char(std::toupper(static_cast<unsigned char>(current[0])));
    if (ImGui::BeginCombo("Head", current.c_str())) {
      const char* fusions[] = {"Mean over heads", "Max over heads", "Min over heads"};
      for (int f = 0; f < 3; ++f)
        if (ImGui::Selectable(fusions[f], view_.head < 0 && int(view_.fusion) == f)) {
          view_.head = -1;
          view_.fusion = viz::HeadFusion(f);
        }
      ImGui::Separator();
      for (int h = 0; h < H; ++h) {
        std::string label = "Head " + std::to_string(h + 1);
        if (ImGui::Selectable(label.c_str(), view_.head == h)) view_.head = h;
      }
      ImGui::EndCombo();
    }
  } else {
    int f = int(view_.rollout_fusion);
    if (ImGui::Combo("Head fusion", &f, "Mean\0Max\0Min\0")) view_.rollout_fusion = viz::HeadFusion(f);
    ImGui::SliderFloat("Discard", &view_.discard, 0.f, 0.99f, "%.2f");
    help_marker("Fraction of the smallest fused attention entries set to zero in each layer before the identity is "
                "added (the query's own entry is kept).");
    ImGui::PushTextWrapPos(0.f);
    ImGui::TextDisabled("Textbook rollout: (A + I)/2, rows renormalised, R = A_l ... A_1.");
    ImGui::PopTextWrapPos();
  }

  section("Query");
  const bool has_cls = shape_.prefix > 0;
  if (!has_cls) ImGui::BeginDisabled();
  if (ImGui::RadioButton("Class token", !query_mode_)) {
    query_mode_ = false;
    view_.query_patch = -1;
  }
  if (!has_cls) ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::RadioButton("A patch", query_mode_)) {
    query_mode_ = true;
    if (view_.query_patch < 0) view_.query_patch = (shape_.grid_h / 2) * shape_.grid_w + shape_.grid_w / 2;
  }
  help_marker("Whose attention the map shows: the class token's row of the attention matrix, or the row of a patch "
              "you click on the image (key Q).");
  if (query_mode_) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    if (view_.query_patch >= 0)
      ImGui::TextWrapped("Query: patch row %d, column %d. Click the image to pick another.",
                         view_.query_patch / std::max(shape_.grid_w, 1) + 1, view_.query_patch % std::max(shape_.grid_w, 1) + 1);
    else
      ImGui::TextWrapped("Click a patch on the image.");
    ImGui::PopStyleColor();
  }

  section("Mass mask");
  ImGui::Checkbox("DINO-style mask", &view_.mask);
  help_marker("Keeps the patches that together hold the chosen fraction of the map's attention mass (Caron et al. "
              "2021) and shows them as a 0/1 mask (key K).");
  if (!view_.mask) ImGui::BeginDisabled();
  float pct = view_.mass * 100.f;
  if (ImGui::SliderFloat("Keep mass", &pct, 5.f, 100.f, "%.0f %%")) view_.mass = pct / 100.f;
  if (!view_.mask) ImGui::EndDisabled();

  section("Display");
  ImGui::Checkbox("Show heat map", &show_heat_);
  const auto& names = viz::colormap_names();
  if (ImGui::BeginCombo("Colour map", names[size_t(colormap_)].c_str())) {
    for (int i = 0; i < int(names.size()); ++i)
      if (ImGui::Selectable(names[size_t(i)].c_str(), colormap_ == i)) colormap_ = i;
    ImGui::EndCombo();
  }
  ImGui::SliderFloat("Opacity", &opacity_, 0.f, 1.f, "%.2f");
  ImGui::TextUnformatted("Value range");
  ImGui::SameLine();
  if (ImGui::RadioButton("Auto", auto_range_)) auto_range_ = true;
  ImGui::SameLine();
  if (ImGui::RadioButton("Fixed", !auto_range_)) {
    if (auto_range_ && maps_valid_) std::tie(range_lo_, range_hi_) = value_range(maps_.main);
    auto_range_ = false;
  }
  help_marker("Auto: each map is scaled from its own minimum to its maximum. Fixed: the same range for every map, "
              "so maps can be compared.");
  if (!auto_range_) ImGui::DragFloatRange2("Range", &range_lo_, &range_hi_, 0.0005f, 0.f, 1.f, "%.4f", "%.4f",
                                           ImGuiSliderFlags_AlwaysClamp);
  ImGui::TextUnformatted("Upsampling ");
  ImGui::SameLine();
  if (ImGui::RadioButton("Nearest", !bilinear_)) bilinear_ = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("Bilinear", bilinear_)) bilinear_ = true;
  const bool has_original = loaded_ && loaded_->original.width > 0;
  if (!has_original) ImGui::BeginDisabled();
  ImGui::Checkbox("Original image", &show_original_);
  if (!has_original) ImGui::EndDisabled();
  help_marker("Show the whole original image with the heat map over the part the model saw (after resize and "
              "centre crop); otherwise the model's input itself.");
  ImGui::Checkbox("Smooth image", &smooth_image_);
  ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.55f);
  ImGui::Checkbox("Patch grid", &grid_lines_);
  ImGui::Checkbox("Heads strip", &heads_strip_);

  section("Export");
  int scale_idx = export_scale_ == 1 ? 0 : export_scale_ == 2 ? 1 : export_scale_ == 4 ? 2 : 3;
  if (ImGui::Combo("Scale", &scale_idx, "1x (image size)\0" "2x\0" "4x\0" "8x\0")) export_scale_ = 1 << scale_idx;
  const float bw = ImGui::GetContentRegionAvail().x;
  if (ImGui::Button("Save overlay PNG...  (S)", ImVec2(bw, 0))) open_dialog(FileBrowser::Mode::Save);
  if (ImGui::Button("Save heads grid PNG...", ImVec2(bw, 0))) {
    std::error_code ec;
    browser_mode_ = FileBrowser::Mode::Save;
    save_what_ = SaveWhat::HeadsGrid;
    browser_.open(FileBrowser::Mode::Save, "Save heads grid as PNG", fs::current_path(ec).string(),
                  default_save_name("heads"));
  }
  if (!ready) ImGui::EndDisabled();
  ImGui::PopItemWidth();
  ImGui::End();
}

void App::colormap_bar(float width, float lo, float hi) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float h = ImGui::GetTextLineHeight() * 0.8f;
  const float y = p.y + (ImGui::GetTextLineHeight() - h) * 0.5f;
  const std::string& name = viz::colormap_names()[size_t(colormap_)];
  const int segments = 32;
  for (int i = 0; i < segments; ++i) {
    unsigned char a[3], b[3];
    viz::colormap(name, float(i) / segments, a);
    viz::colormap(name, float(i + 1) / segments, b);
    const ImU32 ca = IM_COL32(a[0], a[1], a[2], 255), cb = IM_COL32(b[0], b[1], b[2], 255);
    const float x0 = p.x + width * float(i) / segments, x1 = p.x + width * float(i + 1) / segments;
    dl->AddRectFilledMultiColor(ImVec2(x0, y), ImVec2(x1, y + h), ca, cb, cb, ca);
  }
  ImGui::Dummy(ImVec2(width, ImGui::GetTextLineHeight()));
  ImGui::SameLine();
  if (view_.mask) ImGui::TextDisabled("outside mask .. inside");
  else ImGui::TextDisabled("%.4g .. %.4g", double(lo), double(hi));
}

void App::draw_viewer(ImVec2 pos, ImVec2 size) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::Begin("Attention", nullptr, kPanelFlags | ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
  viewer_rect_ = rect_of(ImGui::GetWindowPos(), ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x,
                                                        ImGui::GetWindowPos().y + ImGui::GetWindowSize().y));
  hover_text_.clear();
  if (!loaded_ || !maps_valid_) {
    image_rect_ = ImVec4(0, 0, 0, 0);
    const char* msg = worker_.progress().busy ? "Working..." : "Open an image (O), or drop one onto the window.";
    if (!model_ && !worker_.progress().busy) msg = "Open a model (M) and an image (O), or drop them onto the window.";
    ImVec2 ts = ImGui::CalcTextSize(msg);
    ImGui::SetCursorPos(ImVec2((size.x - ts.x) * 0.5f, size.y * 0.45f));
    ImGui::TextDisabled("%s", msg);
    ImGui::End();
    return;
  }
  if (ImGui::BeginTabBar("##views")) {
    auto tab = [&](const char* label, Tab t) {
      ImGuiTabItemFlags flags = force_tab_ && select_tab_ == t ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem(label, nullptr, flags)) {
        tab_ = t;
        return true;
      }
      return false;
    };
    if (tab("Attention map", Tab::Image)) {
      ImGui::TextWrapped("%s", describe_view(view_, shape_).c_str());
      ImVec2 avail = ImGui::GetContentRegionAvail();
      const float line = ImGui::GetFrameHeightWithSpacing();
      float strip = 0.f;
      if (heads_strip_ && shape_.heads > 1 && avail.y > 420.f) strip = std::clamp(avail.y * 0.17f, 70.f, 120.f);
      draw_main_view(ImVec2(avail.x, avail.y - line * 1.2f - strip));
      // Hover read-out and the colour scale.
      OverlayStyle s = style_for(maps_.main);
      colormap_bar(std::min(180.f, avail.x * 0.3f), s.lo, s.hi);
      ImGui::SameLine();
      if (!hover_text_.empty()) ImGui::TextUnformatted(("   " + hover_text_).c_str());
      else ImGui::TextDisabled("   Hover a patch for its value%s", query_mode_ ? "; click to query it" : "");
      if (strip > 0.f) draw_heads_strip(strip);
      ImGui::EndTabItem();
    }
    if (tab("Heads of this layer", Tab::Heads)) {
      draw_heads_grid();
      ImGui::EndTabItem();
    }
    if (tab("Layers x heads", Tab::Grid)) {
      draw_layer_grid();
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  force_tab_ = false;
  ImGui::End();
}

void App::draw_main_view(ImVec2 avail) {
  const bool original = show_original_ && loaded_->original.width > 0;
  const Image& im = original ? loaded_->original : loaded_->view;
  const float aspect = float(im.width) / float(im.height);
  float w = avail.x, h = avail.x / aspect;
  if (h > avail.y) {
    h = avail.y;
    w = h * aspect;
  }
  w = std::max(w, 16.f);
  h = std::max(h, 16.f);
  const ImVec2 c = ImGui::GetCursorScreenPos();
  const ImVec2 p0(std::floor(c.x + (avail.x - w) * 0.5f), std::floor(c.y + std::max(0.f, (avail.y - h) * 0.5f)));
  const ImVec2 p1(p0.x + std::floor(w), p0.y + std::floor(h));
  ImGui::SetCursorScreenPos(p0);
  ImGui::InvisibleButton("##image", ImVec2(p1.x - p0.x, p1.y - p0.y));
  const bool hovered = ImGui::IsItemHovered();
  const bool clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const std::array<float, 4> huv = original ? crop_uv(im.width, im.height, model_->config.pre)
                                            : std::array<float, 4>{0.f, 0.f, 1.f, 1.f};
  OverlayStyle style = style_for(maps_.main);
  style.dim = original ? 0.5f : 1.f;
  overlay_.draw(dl, p0, p1, original ? ImageSlot::Original : ImageSlot::View, 0, style, ImVec4(0, 0, 1, 1),
                ImVec4(huv[0], huv[1], huv[2], huv[3]));
  // The patch grid on screen.
  const float gx0 = p0.x + huv[0] * (p1.x - p0.x), gy0 = p0.y + huv[1] * (p1.y - p0.y);
  const float gx1 = p0.x + huv[2] * (p1.x - p0.x), gy1 = p0.y + huv[3] * (p1.y - p0.y);
  const int gw = shape_.grid_w, gh = shape_.grid_h;
  const float cw = (gx1 - gx0) / float(gw), ch = (gy1 - gy0) / float(gh);
  image_rect_ = rect_of(ImVec2(std::max(gx0, p0.x), std::max(gy0, p0.y)), ImVec2(std::min(gx1, p1.x), std::min(gy1, p1.y)));
  dl->PushClipRect(p0, p1, true);
  if (grid_lines_) {
    for (int i = 1; i < gw; ++i) dl->AddLine(ImVec2(gx0 + cw * float(i), gy0), ImVec2(gx0 + cw * float(i), gy1), IM_COL32(255, 255, 255, 60));
    for (int j = 1; j < gh; ++j) dl->AddLine(ImVec2(gx0, gy0 + ch * float(j)), ImVec2(gx1, gy0 + ch * float(j)), IM_COL32(255, 255, 255, 60));
  }
  if (original) dl->AddRect(ImVec2(gx0, gy0), ImVec2(gx1, gy1), IM_COL32(255, 255, 255, 140));
  auto cell_rect = [&](int idx, ImVec2& a, ImVec2& b) {
    a = ImVec2(gx0 + cw * float(idx % gw), gy0 + ch * float(idx / gw));
    b = ImVec2(a.x + cw, a.y + ch);
  };
  if (view_.query_patch >= 0 && view_.query_patch < gw * gh) {
    ImVec2 a, b;
    cell_rect(view_.query_patch, a, b);
    dl->AddRect(a, b, IM_COL32(0, 0, 0, 200), 0.f, 0, 4.f);
    dl->AddRect(a, b, IM_COL32(255, 255, 255, 255), 0.f, 0, 2.f);
  }
  if (hovered) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const float hx = (m.x - gx0) / (gx1 - gx0), hy = (m.y - gy0) / (gy1 - gy0);
    if (hx >= 0.f && hx < 1.f && hy >= 0.f && hy < 1.f) {
      const int col = std::min(int(hx * float(gw)), gw - 1), row = std::min(int(hy * float(gh)), gh - 1);
      const int idx = row * gw + col;
      ImVec2 a, b;
      cell_rect(idx, a, b);
      dl->AddRect(a, b, IM_COL32(255, 255, 255, 200), 0.f, 0, 1.5f);
      char buf[200];
      std::snprintf(buf, sizeof buf, "Patch row %d, column %d (token %d):  %.5f", row + 1, col + 1, shape_.prefix + idx,
                    double(maps_.values[size_t(idx)]));
      hover_text_ = buf;
      if (view_.mask) hover_text_ += maps_.main[size_t(idx)] > 0.5f ? "  (in mask)" : "  (outside mask)";
      if (clicked && query_mode_) view_.query_patch = idx;
    } else {
      hover_text_ = "Outside the part the model saw";
    }
  }
  dl->PopClipRect();
  ImGui::SetCursorScreenPos(ImVec2(c.x, c.y + avail.y + 4.f));
}

bool App::draw_cell(const char* id, int tile, const std::vector<float>& map, ImVec2 size, bool selected,
                    const std::string& tooltip) {
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 p1(p0.x + size.x, p0.y + size.y);
  const bool clicked = ImGui::InvisibleButton(id, size);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  overlay_.draw(dl, p0, p1, ImageSlot::View, tile, style_for(map));
  if (selected) dl->AddRect(ImVec2(p0.x - 2, p0.y - 2), ImVec2(p1.x + 2, p1.y + 2), theme::kAccentU32, 0.f, 0, 2.5f);
  else if (ImGui::IsItemHovered()) dl->AddRect(ImVec2(p0.x - 1, p0.y - 1), ImVec2(p1.x + 1, p1.y + 1), IM_COL32(255, 255, 255, 160));
  if (ImGui::IsItemHovered() && !tooltip.empty()) ImGui::SetTooltip("%s", tooltip.c_str());
  return clicked;
}

void App::draw_heads_strip(float height) {
  const int H = shape_.heads;
  const float spacing = 6.f;
  const float label_h = ImGui::GetTextLineHeightWithSpacing();
  const float avail_w = ImGui::GetContentRegionAvail().x;
  const float cell = std::floor(std::min(height - label_h - 4.f, (avail_w - spacing * float(H - 1)) / float(H)));
  if (cell < 12.f) return;
  ImGui::TextDisabled("Heads of layer %d (click to select; arrows step through them)", view_.layer + 1);
  const float total = cell * float(H) + spacing * float(H - 1);
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.f, (avail_w - total) * 0.5f));
  for (int h = 0; h < H; ++h) {
    if (h > 0) ImGui::SameLine(0.f, spacing);
    char id[32];
    std::snprintf(id, sizeof id, "##strip%d", h);
    const bool selected = !view_.rollout && view_.head == h;
    if (draw_cell(id, 1 + h, maps_.heads[size_t(h)], ImVec2(cell, cell), selected,
                  "Layer " + std::to_string(view_.layer + 1) + ", head " + std::to_string(h + 1))) {
      view_.head = h;
      view_.rollout = false;
    }
  }
}

void App::draw_heads_grid() {
  const int H = shape_.heads;
  ImGui::TextUnformatted(("All heads of layer " + std::to_string(view_.layer + 1) +
                          " (class-token or query attention; click a head to select it)").c_str());
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float spacing = 10.f, label_h = ImGui::GetTextLineHeightWithSpacing();
  int best_cols = 1;
  float best = 0.f;
  for (int cols = 1; cols <= H; ++cols) {
    const int rows = (H + cols - 1) / cols;
    const float cell = std::min((avail.x - spacing * float(cols - 1)) / float(cols),
                                (avail.y - float(rows) * (label_h + spacing)) / float(rows));
    if (cell > best) {
      best = cell;
      best_cols = cols;
    }
  }
  const float cell = std::floor(std::max(best, 16.f));
  const float total = cell * float(best_cols) + spacing * float(best_cols - 1);
  const float x0 = ImGui::GetCursorPosX() + std::max(0.f, (avail.x - total) * 0.5f);
  for (int h = 0; h < H; ++h) {
    if (h % best_cols == 0) ImGui::SetCursorPosX(x0);
    else ImGui::SameLine(0.f, spacing);
    ImGui::BeginGroup();
    char id[32];
    std::snprintf(id, sizeof id, "##head%d", h);
    const bool selected = !view_.rollout && view_.head == h;
    if (draw_cell(id, 1 + h, maps_.heads[size_t(h)], ImVec2(cell, cell), selected, "")) {
      view_.head = h;
      view_.rollout = false;
    }
    std::string label = "Head " + std::to_string(h + 1);
    ImGui::SetCursorPosX(ImGui::GetCursorPosX() + (cell - ImGui::CalcTextSize(label.c_str()).x) * 0.5f);
    if (selected) ImGui::TextColored(theme::kAccentText, "%s", label.c_str());
    else ImGui::TextDisabled("%s", label.c_str());
    ImGui::EndGroup();
  }
}

void App::draw_layer_grid() {
  const int L = shape_.layers, H = shape_.heads;
  ImGui::TextUnformatted("Every layer (rows) and head (columns); click a cell to select that layer and head");
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float spacing = 4.f, label_w = ImGui::CalcTextSize("L00").x + 8.f, header_h = ImGui::GetTextLineHeightWithSpacing();
  float cell = std::min((avail.x - label_w - spacing * float(H)) / float(H), (avail.y - header_h - spacing * float(L)) / float(L));
  cell = std::floor(std::max(cell, 8.f));
  const float total = label_w + (cell + spacing) * float(H);
  const float x0 = ImGui::GetCursorPosX() + std::max(0.f, (avail.x - total) * 0.5f);
  // Column headers.
  for (int h = 0; h < H; ++h) {
    std::string label = "H" + std::to_string(h + 1);
    const float cx = x0 + label_w + (cell + spacing) * float(h) + (cell - ImGui::CalcTextSize(label.c_str()).x) * 0.5f;
    if (h > 0) ImGui::SameLine();
    ImGui::SetCursorPosX(cx);
    if (view_.head == h) ImGui::TextColored(theme::kAccentText, "%s", label.c_str());
    else ImGui::TextDisabled("%s", label.c_str());
  }
  for (int l = 0; l < L; ++l) {
    ImGui::SetCursorPosX(x0);
    const float row_y = ImGui::GetCursorPosY();
    ImGui::SetCursorPosY(row_y + (cell - ImGui::GetTextLineHeight()) * 0.5f);
    std::string label = "L" + std::to_string(l + 1);
    if (view_.layer == l) ImGui::TextColored(theme::kAccentText, "%s", label.c_str());
    else ImGui::TextDisabled("%s", label.c_str());
    for (int h = 0; h < H; ++h) {
      ImGui::SameLine();
      ImGui::SetCursorPos(ImVec2(x0 + label_w + (cell + spacing) * float(h), row_y));
      char id[32];
      std::snprintf(id, sizeof id, "##cell%d_%d", l, h);
      const bool selected = !view_.rollout && view_.layer == l && view_.head == h;
      const size_t index = size_t(l) * size_t(H) + size_t(h);
      if (draw_cell(id, 1 + H + int(index), maps_.cells[index], ImVec2(cell, cell), selected,
                    "Layer " + std::to_string(l + 1) + ", head " + std::to_string(h + 1))) {
        view_.layer = l;
        view_.head = h;
        view_.rollout = false;
      }
    }
    ImGui::SetCursorPosY(row_y + cell + spacing);
  }
}

void App::draw_details(ImVec2 pos, ImVec2 size) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::Begin("Prediction and model", nullptr, kPanelFlags);
  details_rect_ = rect_of(ImGui::GetWindowPos(), ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x,
                                                         ImGui::GetWindowPos().y + ImGui::GetWindowSize().y));
  const ImVec2 pred0 = ImGui::GetCursorScreenPos();
  section("Prediction");
  if (!model_) {
    ImGui::TextDisabled("No model loaded.");
  } else if (model_->config.num_classes <= 0) {
    ImGui::TextWrapped("Headless model: its output is a %d-dimensional feature vector, not classes.",
                       model_->config.embed_dim);
  } else if (!loaded_ || top_.empty()) {
    ImGui::TextDisabled("No image yet.");
  } else {
    const auto& labels = model_->config.labels;
    auto label = [&](int i) { return size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i); };
    if (theme::headline_font()) ImGui::PushFont(theme::headline_font());
    ImGui::TextColored(theme::kAccentText, "%s", label(top_[0].first).c_str());
    if (theme::headline_font()) ImGui::PopFont();
    ImGui::TextDisabled("%.1f %% confidence, class %d of %d", double(top_[0].second) * 100.0, top_[0].first,
                        model_->config.num_classes);
    ImGui::Spacing();
    if (ImGui::BeginTable("##top", 2, ImGuiTableFlags_SizingStretchProp)) {
      ImGui::TableSetupColumn("label", ImGuiTableColumnFlags_WidthStretch, 0.42f);
      ImGui::TableSetupColumn("bar", ImGuiTableColumnFlags_WidthStretch, 0.58f);
      const size_t k = std::min<size_t>(top_.size(), 10);
      for (size_t i = 0; i < k; ++i) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextUnformatted(label(top_[i].first).c_str());
        ImGui::TableSetColumnIndex(1);
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f %%", double(top_[i].second) * 100.0);
        ImGui::PushStyleColor(ImGuiCol_PlotHistogram, i == 0 ? theme::kAccent : theme::kBarMuted);
        ImGui::ProgressBar(top_[i].second, ImVec2(-1.f, ImGui::GetTextLineHeight() + 2.f), pct);
        ImGui::PopStyleColor();
      }
      ImGui::EndTable();
    }
  }
  const ImVec2 pred1(pred0.x + ImGui::GetContentRegionAvail().x, ImGui::GetCursorScreenPos().y);
  predictions_rect_ = rect_of(pred0, pred1);
  if (model_) {
    const VitConfig& c = model_->config;
    ImGui::Spacing();
    if (ImGui::BeginTabBar("##info")) {
      auto info_flags = [&](InfoTab t) {
        return force_info_tab_ && info_tab_ == t ? ImGuiTabItemFlags_SetSelected : ImGuiTabItemFlags_None;
      };
      if (ImGui::BeginTabItem("Model", nullptr, info_flags(InfoTab::Model))) {
        if (ImGui::BeginTable("##model", 2, ImGuiTableFlags_SizingFixedFit)) {
          ImGui::TableSetupColumn("k", ImGuiTableColumnFlags_WidthFixed);
          ImGui::TableSetupColumn("v", ImGuiTableColumnFlags_WidthStretch);
          key_value("Architecture", c.architecture);
          key_value("File", fs::path(model_->path).filename().string());
          key_value("Parameters", format_count(model_->parameters) + "  (" + format_bytes(model_->weight_bytes) + ")");
          key_value("Input", std::to_string(c.in_chans) + " x " + std::to_string(c.img_h) + " x " + std::to_string(c.img_w));
          const bool resized = c.img_h != model_->native_h || c.img_w != model_->native_w;
          key_value("Native size", std::to_string(model_->native_h) + " x " + std::to_string(model_->native_w) +
                                       (resized ? " (position embeddings resampled)" : ""));
          key_value("Patches", std::to_string(c.patch) + " px, " + std::to_string(c.grid_h()) + " x " +
                                   std::to_string(c.grid_w()) + " grid");
          key_value("Tokens", std::to_string(c.tokens()) + " (" + std::to_string(c.prefix_tokens()) + " prefix)");
          key_value("Layers", std::to_string(c.depth));
          key_value("Heads", std::to_string(c.num_heads) + " of width " + std::to_string(c.head_dim()));
          key_value("Embedding", std::to_string(c.embed_dim) + ", MLP " + std::to_string(c.mlp_hidden));
          key_value("Classes", c.num_classes > 0 ? std::to_string(c.num_classes) : "headless");
          char gf[48];
          std::snprintf(gf, sizeof gf, "%.4g GFLOP per image", model_->gflops);
          key_value("Compute", gf);
          if (loaded_) key_value("Preprocess", loaded_->preprocess);
          ImGui::EndTable();
        }
        draw_input_size();
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Device", nullptr, info_flags(InfoTab::Device))) {
        if (ImGui::BeginTable("##device", 2, ImGuiTableFlags_SizingFixedFit)) {
          ImGui::TableSetupColumn("k", ImGuiTableColumnFlags_WidthFixed);
          ImGui::TableSetupColumn("v", ImGuiTableColumnFlags_WidthStretch);
          key_value("Inference", model_->device.name);
          key_value("Type", model_->device.type);
          key_value("Driver", model_->device.driver);
          key_value("Memory", format_bytes(model_->device.device_local_bytes));
          key_value("Drawing", renderer_.device_name());
          ImGui::EndTable();
        }
        if (devices_.size() > 1) {
          ImGui::Spacing();
          ImGui::TextDisabled("Run the model on:");
          ImGui::SetNextItemWidth(-1);
          const std::string current = std::to_string(model_->device.index) + ": " + model_->device.name;
          if (ImGui::BeginCombo("##devices", current.c_str())) {
            for (const auto& d : devices_) {
              const std::string label = std::to_string(d.index) + ": " + d.name;
              if (ImGui::Selectable(label.c_str(), d.index == model_->device.index) && d.index != model_->device.index) {
                options_.device = int(d.index);
                request(model_path_, image_path_);
              }
            }
            ImGui::EndCombo();
          }
        }
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Timing", nullptr, info_flags(InfoTab::Timing))) {
        draw_timing();
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
      force_info_tab_ = false;
    }
  }
  ImGui::End();
}

// Two fields (H, W) stepping by the patch size, Apply and Native: the model is
// reloaded at that size on the worker thread and the current image run again.
void App::draw_input_size() {
  const VitConfig& c = model_->config;
  const int P = std::max(c.patch, 1);
  ImGui::Spacing();
  ImGui::TextDisabled("Input size (H x W)");
  help_marker("Run the model at another input size, in multiples of the patch size. The position embeddings "
              "are resampled the way the checkpoint's framework does; the image is preprocessed to the new "
              "size. Native returns to the checkpoint's own size.");
  const float field = std::max(ImGui::GetContentRegionAvail().x * 0.5f - ImGui::GetFontSize(), 60.f);
  ImGui::SetNextItemWidth(field);
  ImGui::InputInt("##input_h", &edit_h_, P, 8 * P);
  ImGui::SameLine();
  ImGui::TextUnformatted("x");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(field);
  ImGui::InputInt("##input_w", &edit_w_, P, 8 * P);
  edit_h_ = std::clamp(edit_h_, P, std::max(P, 1024));
  edit_w_ = std::clamp(edit_w_, P, std::max(P, 1024));
  const bool same = edit_h_ == c.img_h && edit_w_ == c.img_w;
  if (same) ImGui::BeginDisabled();
  if (ImGui::Button("Apply")) {
    const bool native = edit_h_ == model_->native_h && edit_w_ == model_->native_w;
    input_h_ = native ? 0 : edit_h_;
    input_w_ = native ? 0 : edit_w_;
    request(model_path_, image_path_);
  }
  if (same) ImGui::EndDisabled();
  ImGui::SameLine();
  const bool at_native = model_->requested_h <= 0 && model_->requested_w <= 0;
  if (at_native) ImGui::BeginDisabled();
  if (ImGui::Button("Native")) {
    input_h_ = input_w_ = 0;
    edit_h_ = model_->native_h;
    edit_w_ = model_->native_w;
    request(model_path_, image_path_);
  }
  if (at_native) ImGui::EndDisabled();
}

void App::draw_timing() {
  if (!loaded_) {
    ImGui::TextDisabled("No run yet.");
    return;
  }
  const ForwardResult& f = loaded_->forward;
  ImGui::Text("Forward pass %.2f ms, GPU %.2f ms", f.wall_ms, f.gpu_ms);
  if (f.op_times.empty()) {
    ImGui::TextDisabled("This device has no timestamp queries.");
    return;
  }
  ImGui::Checkbox("Per layer", &timing_by_layer_);
  ImGui::SameLine();
  ImGui::TextDisabled("%zu dispatches", f.op_times.size());
  std::vector<OpTotal> totals;
  for (const auto& t : f.op_times) {
    std::string name = t.label;
    if (!timing_by_layer_ && name.rfind("block", 0) == 0) {
      const size_t dot = name.find('.');
      if (dot != std::string::npos) name = name.substr(dot + 1);
    }
    auto it = std::find_if(totals.begin(), totals.end(), [&](const OpTotal& o) { return o.name == name; });
    if (it == totals.end()) {
      totals.push_back({name, 1, t.ms});
    } else {
      ++it->calls;
      it->ms += t.ms;
    }
  }
  if (!timing_by_layer_)
    std::stable_sort(totals.begin(), totals.end(), [](const OpTotal& a, const OpTotal& b) { return a.ms > b.ms; });
  const double sum = std::max(f.gpu_ms, 1e-9);
  const ImVec2 table_size(0.f, std::max(ImGui::GetContentRegionAvail().y - 4.f, 80.f));
  if (ImGui::BeginTable("##ops", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_ScrollY,
                        table_size)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("Op", ImGuiTableColumnFlags_WidthStretch, 0.5f);
    ImGui::TableSetupColumn("ms", ImGuiTableColumnFlags_WidthStretch, 0.2f);
    ImGui::TableSetupColumn("share", ImGuiTableColumnFlags_WidthStretch, 0.3f);
    ImGui::TableHeadersRow();
    for (const auto& o : totals) {
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      if (o.calls > 1) ImGui::Text("%s x%d", o.name.c_str(), o.calls);
      else ImGui::TextUnformatted(o.name.c_str());
      ImGui::TableSetColumnIndex(1);
      ImGui::Text("%.3f", o.ms);
      ImGui::TableSetColumnIndex(2);
      ImGui::PushStyleColor(ImGuiCol_PlotHistogram, theme::kBarMuted);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * o.ms / sum);
      ImGui::ProgressBar(float(o.ms / sum), ImVec2(-1.f, ImGui::GetTextLineHeight()), pct);
      ImGui::PopStyleColor();
    }
    ImGui::EndTable();
  }
}

void App::draw_status(ImVec2 pos, ImVec2 size) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(10.f, 5.f));
  ImGui::Begin("##status", nullptr, kPanelFlags | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  const Progress p = worker_.progress();
  if (p.busy) {
    char text[128];
    std::snprintf(text, sizeof text, "%s  %.1f s", p.stage.c_str(), p.seconds);
    // The fraction is a rough share per stage; a moving sliver shows it is alive.
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, theme::kAccent);
    ImGui::ProgressBar(std::max(p.fraction, 0.02f), ImVec2(260.f, 0.f), text);
    ImGui::PopStyleColor();
  } else if (!toast_.empty() && std::chrono::steady_clock::now() < toast_until_) {
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(toast_.c_str());
  } else {
    ImGui::AlignTextToFramePadding();
    if (loaded_) {
      ImGui::Text("%s  (%d x %d)", fs::path(loaded_->image_path).filename().string().c_str(), loaded_->original.width,
                  loaded_->original.height);
    } else {
      ImGui::TextDisabled("Ready");
    }
  }
  std::string right = "F1: keyboard help";
  const size_t messages = renderer_.validation_count() + worker_.validation_count();
  if (messages > 0) right = std::to_string(messages) + " validation message(s), see stderr    " + right;
  ImGui::SameLine(size.x - ImGui::CalcTextSize(right.c_str()).x - 20.f);
  ImGui::AlignTextToFramePadding();
  if (messages > 0) ImGui::TextColored(ImVec4(1.f, 0.5f, 0.4f, 1.f), "%s", right.c_str());
  else ImGui::TextDisabled("%s", right.c_str());
  ImGui::End();
  ImGui::PopStyleVar();
}

void App::draw_popups() {
  // Errors, one at a time.
  if (!errors_.empty() && !browser_.visible()) {
    if (!ImGui::IsPopupOpen("Error")) ImGui::OpenPopup("Error");
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(ImVec2(vp->Pos.x + vp->Size.x * 0.5f, vp->Pos.y + vp->Size.y * 0.4f), ImGuiCond_Appearing,
                            ImVec2(0.5f, 0.5f));
    ImGui::SetNextWindowSizeConstraints(ImVec2(360.f, 0.f), ImVec2(std::min(640.f, vp->Size.x - 40.f), vp->Size.y - 40.f));
    if (ImGui::BeginPopupModal("Error", nullptr, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings)) {
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 36.f);
      ImGui::TextUnformatted(errors_.front().c_str());
      ImGui::PopTextWrapPos();
      ImGui::Spacing();
      ImGui::TextDisabled("What was loaded before stays loaded.");
      ImGui::Spacing();
      if (ImGui::Button("OK", ImVec2(120.f, 0.f)) || escape_ || enter_) {
        errors_.erase(errors_.begin());
        ImGui::CloseCurrentPopup();
        redraw_ = 3;
      }
      ImGui::EndPopup();
    }
  }
  if (auto chosen = browser_.draw(recent_, places_, escape_)) {
    switch (browser_mode_) {
      case FileBrowser::Mode::OpenImage: request(model_path_, *chosen); break;
      case FileBrowser::Mode::OpenModel: request(*chosen, image_path_); break;
      case FileBrowser::Mode::Save:
        if (save_what_ == SaveWhat::HeadsGrid) save_heads_grid(*chosen);
        else save_overlay(*chosen);
        break;
    }
  }
}

void App::draw_help() {
  if (!help_open_) return;
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(ImVec2(vp->Pos.x + vp->Size.x * 0.5f, vp->Pos.y + vp->Size.y * 0.5f), ImGuiCond_Appearing,
                          ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowFocus();
  if (ImGui::Begin("Keyboard and mouse", &help_open_,
                   ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse)) {
    static const char* rows[][2] = {
        {"Left / Right", "previous / next head (mean, max, min, head 1..H)"},
        {"Up / Down", "previous / next layer"},
        {"R", "rollout on / off"},
        {"K", "DINO mass mask on / off"},
        {"Q", "query mode: click a patch to see its attention row"},
        {"H", "show / hide the heat map"},
        {"1 / 2 / 3", "attention map / heads of the layer / layers x heads"},
        {"O", "open an image"},
        {"M", "open a model"},
        {"S", "save the overlay as PNG"},
        {"Esc", "close this panel, a dialog or an error"},
        {"F1", "this help"},
        {"Ctrl+Q", "quit"},
        {"Mouse", "hover a patch for its value; click a grid cell to select it"},
        {"Drag and drop", "drop an image or a model (.safetensors or its folder) onto the window"},
    };
    if (ImGui::BeginTable("##keys", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
      for (const auto& r : rows) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextColored(theme::kAccentText, "%s", r[0]);
        ImGui::TableSetColumnIndex(1);
        ImGui::TextUnformatted(r[1]);
      }
      ImGui::EndTable();
    }
  }
  ImGui::End();
}

// ---------------------------------------------------------------- report

nlohmann::json App::report() const {
  nlohmann::json j;
  if (model_) {
    j["model"] = model_->path;
    j["architecture"] = model_->config.architecture;
    j["device"] = model_->device.name;
    j["layers"] = shape_.layers;
    j["heads"] = shape_.heads;
    const VitConfig& c = model_->config;
    j["input"] = {{"height", c.img_h},
                  {"width", c.img_w},
                  {"native_height", model_->native_h},
                  {"native_width", model_->native_w},
                  {"patch", c.patch},
                  {"grid_h", c.grid_h()},
                  {"grid_w", c.grid_w()},
                  {"tokens", c.tokens()}};
  }
  j["render_device"] = renderer_.device_name();
  if (loaded_) j["image"] = loaded_->image_path;
  if (!top_.empty() && model_) {
    const auto& labels = model_->config.labels;
    const int i = top_[0].first;
    j["top1"] = {{"index", i},
                 {"label", size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i)},
                 {"prob", top_[0].second}};
  }
  j["view"] = {{"layer", view_.layer + 1},
               {"head", view_.head >= 0 ? std::to_string(view_.head + 1) : std::string(fusion_name(view_.fusion))},
               {"rollout", view_.rollout},
               {"mask", view_.mask},
               {"query_patch", view_.query_patch},
               {"colormap", viz::colormap_names()[size_t(colormap_)]},
               {"opacity", opacity_},
               {"heat", show_heat_},
               {"description", model_ ? describe_view(view_, shape_) : std::string()}};
  j["rects"] = {{"image", rect_json(image_rect_)},
                {"controls", rect_json(controls_rect_)},
                {"viewer", rect_json(viewer_rect_)},
                {"details", rect_json(details_rect_)},
                {"predictions", rect_json(predictions_rect_)}};
  j["errors"] = errors_;  // error popups still open
  j["validation_messages"] = renderer_.validation_count() + worker_.validation_count();
  return j;
}

}  // namespace vitscope::gui
