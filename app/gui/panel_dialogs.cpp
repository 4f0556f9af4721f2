// File dialogs, PNG export, error popups, the keyboard help and the status bar.
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "theme.h"
#include "widgets.h"
#include "core/error.h"
#include "core/paths.h"
#include "export.h"
#include "io/png.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

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
        {"Drag and drop", "drop an image or a model (.safetensors, .pth, .bin, .pdparams, ... or its folder) onto the window"},
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

}  // namespace vitscope::gui
