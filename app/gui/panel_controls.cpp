// The menu bar and the left panel: which attention view, query, mask, display and export.
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "theme.h"
#include "widgets.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

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

}  // namespace vitscope::gui
