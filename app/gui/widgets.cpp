#include "widgets.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "theme.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

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

}  // namespace vitscope::gui
