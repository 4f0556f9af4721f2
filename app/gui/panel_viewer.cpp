// The centre panel: tabs for the attention map over the image, the heads and the grid.
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

}  // namespace vitscope::gui
