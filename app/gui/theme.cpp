#include "theme.h"

#include <filesystem>

namespace vitscope::gui::theme {

namespace {
ImFont* g_headline = nullptr;

const char* find_font() {
  static const char* candidates[] = {
      "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
      "/usr/share/fonts/TTF/DejaVuSans.ttf",
      "/usr/share/fonts/dejavu/DejaVuSans.ttf",
      "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  };
  for (const char* c : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(c, ec)) return c;
  }
  return nullptr;
}
}  // namespace

ImFont* headline_font() { return g_headline; }

void apply() {
  ImGuiIO& io = ImGui::GetIO();
  if (const char* path = find_font()) {
    io.Fonts->AddFontFromFileTTF(path, 15.0f);
    g_headline = io.Fonts->AddFontFromFileTTF(path, 24.0f);
  }
  if (io.Fonts->Fonts.empty()) io.Fonts->AddFontDefault();

  ImGui::StyleColorsDark();
  ImGuiStyle& s = ImGui::GetStyle();
  s.WindowRounding = 0.f;
  s.WindowBorderSize = 1.f;
  s.FrameRounding = 3.f;
  s.GrabRounding = 3.f;
  s.PopupRounding = 4.f;
  s.TabRounding = 3.f;
  s.WindowPadding = ImVec2(10.f, 8.f);
  s.FramePadding = ImVec2(6.f, 3.f);
  s.ItemSpacing = ImVec2(8.f, 5.f);
  s.ScrollbarSize = 12.f;
  ImVec4* c = s.Colors;
  c[ImGuiCol_WindowBg] = ImVec4(0.11f, 0.115f, 0.13f, 1.f);
  c[ImGuiCol_ChildBg] = ImVec4(0.09f, 0.095f, 0.11f, 1.f);
  c[ImGuiCol_PopupBg] = ImVec4(0.13f, 0.135f, 0.155f, 0.98f);
  c[ImGuiCol_MenuBarBg] = ImVec4(0.085f, 0.09f, 0.10f, 1.f);
  c[ImGuiCol_TitleBg] = ImVec4(0.085f, 0.09f, 0.10f, 1.f);
  c[ImGuiCol_TitleBgActive] = ImVec4(0.10f, 0.11f, 0.13f, 1.f);
  c[ImGuiCol_Border] = ImVec4(0.22f, 0.23f, 0.26f, 1.f);
  c[ImGuiCol_FrameBg] = ImVec4(0.18f, 0.19f, 0.22f, 1.f);
  c[ImGuiCol_FrameBgHovered] = ImVec4(0.24f, 0.26f, 0.30f, 1.f);
  c[ImGuiCol_FrameBgActive] = ImVec4(0.28f, 0.30f, 0.35f, 1.f);
  c[ImGuiCol_Header] = ImVec4(0.20f, 0.22f, 0.26f, 1.f);
  c[ImGuiCol_HeaderHovered] = ImVec4(0.26f, 0.30f, 0.36f, 1.f);
  c[ImGuiCol_HeaderActive] = ImVec4(0.30f, 0.34f, 0.42f, 1.f);
  c[ImGuiCol_Tab] = ImVec4(0.15f, 0.16f, 0.19f, 1.f);
  c[ImGuiCol_TabActive] = ImVec4(0.24f, 0.36f, 0.55f, 1.f);
  c[ImGuiCol_TabHovered] = ImVec4(0.30f, 0.45f, 0.68f, 1.f);
  c[ImGuiCol_TableRowBgAlt] = ImVec4(1.f, 1.f, 1.f, 0.03f);
  c[ImGuiCol_PlotHistogram] = kAccent;
}

}  // namespace vitscope::gui::theme
