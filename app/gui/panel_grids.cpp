// Small multiples: the heads strip, the heads of one layer and the layers x heads grid.
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

}  // namespace vitscope::gui
