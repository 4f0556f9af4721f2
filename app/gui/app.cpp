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
#include "theme.h"
#include "widgets.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

namespace {

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
  // --checkpoint-key belongs to the --model of the command line; other files are searched.
  const std::string key = model_path == options_.model ? options_.checkpoint_key : "";
  worker_.submit({model_path, image_path, options_.device, input_h_, input_w_, key});
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
    show_error("Dropped files are neither images (png, jpg, bmp, tga, gif, pnm) nor models (.safetensors, .pth, .pt, "
               ".bin, .pth.tar, .pdparams, .npz, or a folder holding one):\n" + rejected.front());
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
