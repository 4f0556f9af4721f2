// The viewer's state and its Dear ImGui panels: controls on the left, the image
// with its heat map (and the overview grids) in the centre, prediction, model,
// device and timing on the right, a status bar with progress at the bottom.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <imgui.h>
#include <nlohmann/json.hpp>

#include "file_browser.h"
#include "options.h"
#include "overlay.h"
#include "views.h"
#include "vk/context.h"
#include "worker.h"

struct GLFWwindow;

namespace vitscope::gui {

class App {
 public:
  App(GLFWwindow* window, Renderer& renderer, Overlay& overlay, InferenceWorker& worker, const AppOptions& options);

  // Builds one frame of UI (between ImGui::NewFrame and ImGui::Render).
  void frame();
  // A key press (or repeat) from GLFW's key callback; handled in the next frame.
  void key(int glfw_key, int mods);
  // Paths dropped onto the window; returns false when none could be opened.
  bool drop(const std::vector<std::string>& paths);

  bool busy() const;            // inference under way or a result not yet shown
  bool wants_redraw() const { return redraw_ > 0; }
  // Screenshot mode: the first request has been answered (shown, or failed), and
  // so has the --drop request made after it.
  bool settled() const { return settled_ && (options_.drop.empty() || drop_answered_ || !first_error_.empty()); }
  const std::string& first_error() const { return first_error_; }
  // What the last frame drew, for the screenshot test (rectangles in pixels).
  nlohmann::json report() const;

 private:
  struct Loaded {
    std::string image_path;
    Image original, view;
    std::string preprocess;
    ForwardResult forward;
  };
  struct OpTotal {
    std::string name;
    int calls = 0;
    double ms = 0;
  };

  void request(const std::string& model_path, const std::string& image_path);
  void draw_input_size();
  void take_result();
  void apply_initial_view();
  void refresh_maps();
  void show_error(const std::string& message);
  void handle_keys();
  void open_dialog(FileBrowser::Mode mode);
  // Writes the PNG; errors go to a popup, or are thrown when `rethrow`.
  void save_overlay(const std::string& path, bool rethrow = false);
  void save_heads_grid(const std::string& path, bool rethrow = false);
  void scripted_actions();
  std::string default_save_name(const char* what) const;
  void step_head(int delta);
  void set_layer(int layer);

  void draw_menu();
  void draw_controls(ImVec2 pos, ImVec2 size);
  void draw_viewer(ImVec2 pos, ImVec2 size);
  void draw_main_view(ImVec2 avail);
  void draw_heads_strip(float height);
  void draw_heads_grid();
  void draw_layer_grid();
  void draw_details(ImVec2 pos, ImVec2 size);
  void draw_timing();
  void draw_status(ImVec2 pos, ImVec2 size);
  void draw_popups();
  void draw_help();
  // One small-multiple cell: image + tile; returns true when clicked.
  bool draw_cell(const char* id, int tile, const std::vector<float>& map, ImVec2 size, bool selected,
                 const std::string& tooltip);
  OverlayStyle style_for(const std::vector<float>& map) const;
  void colormap_bar(float width, float lo, float hi);

  GLFWwindow* window_;
  Renderer& renderer_;
  Overlay& overlay_;
  InferenceWorker& worker_;
  AppOptions options_;
  RecentFiles recent_;
  FileBrowser browser_;
  FileBrowser::Mode browser_mode_ = FileBrowser::Mode::OpenImage;
  enum class SaveWhat { Overlay, HeadsGrid } save_what_ = SaveWhat::Overlay;
  std::vector<std::pair<std::string, std::string>> places_;
  std::vector<vk::DeviceInfo> devices_;

  // Requests and results.
  std::string model_path_, image_path_;  // what was asked for last
  int input_h_ = 0, input_w_ = 0;        // model input size asked for (0: native)
  int edit_h_ = 0, edit_w_ = 0;          // the "Input size" fields
  uint64_t first_request_ = 0;
  bool settled_ = false, initial_view_applied_ = false;
  bool drop_sent_ = false, drop_answered_ = false, exports_done_ = false;
  enum class InfoTab { Model, Device, Timing } info_tab_ = InfoTab::Model;
  bool force_info_tab_ = true;
  std::string first_error_;
  std::shared_ptr<const ModelInfo> model_;
  std::optional<Loaded> loaded_;
  viz::AttentionShape shape_;
  std::vector<std::pair<int, float>> top_;
  std::vector<OpTotal> op_totals_;
  int redraw_ = 3;

  // What the heat map shows and how it is drawn.
  ViewSettings view_;
  ViewSettings maps_for_;
  bool maps_valid_ = false;
  ViewMaps maps_;
  int colormap_ = 0;
  float opacity_ = 0.6f;
  bool show_heat_ = true, bilinear_ = false, show_original_ = false, smooth_image_ = false, grid_lines_ = false;
  bool heads_strip_ = true;
  bool auto_range_ = true;
  float range_lo_ = 0.f, range_hi_ = 0.1f;
  bool query_mode_ = false;
  int export_scale_ = 1;
  bool timing_by_layer_ = false;

  // UI state.
  enum class Tab { Image, Heads, Grid } tab_ = Tab::Image, select_tab_ = Tab::Image;
  bool force_tab_ = true;
  std::vector<std::string> errors_;
  std::vector<std::pair<int, int>> keys_;  // queued key presses: key, modifiers
  bool escape_ = false, enter_ = false;    // pressed since the last frame
  bool help_open_ = false;
  std::string hover_text_;
  std::string toast_;
  std::chrono::steady_clock::time_point toast_until_{};
  ImVec4 image_rect_{0, 0, 0, 0}, controls_rect_{0, 0, 0, 0}, viewer_rect_{0, 0, 0, 0}, details_rect_{0, 0, 0, 0};
  ImVec4 predictions_rect_{0, 0, 0, 0};
};

}  // namespace vitscope::gui
