// Small ImGui helpers shared by the app's panels: section headings, key/value
// table rows, help markers, byte and count formatting, panel rectangles.
#pragma once
#include <cstdint>
#include <string>

#include <imgui.h>
#include <nlohmann/json.hpp>

namespace vitscope::gui {

// Fixed panels: laid out by App::frame, never moved or saved.
constexpr ImGuiWindowFlags kPanelFlags = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                         ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings |
                                         ImGuiWindowFlags_NoBringToFrontOnFocus;

std::string lower(std::string s);
// `p` made absolute and normalised (unchanged when that fails).
std::string absolute(const std::string& p);
std::string format_count(int64_t n);  // 1.23 M, 4.5 K, 17
std::string format_bytes(uint64_t n); // 1.20 GB, 3.40 MB, 2.0 KB

void section(const char* title);                               // accent heading with a rule
void key_value(const char* key, const std::string& value);     // one row of a two-column table
void help_marker(const char* text);                            // "(?)" with a wrapped tooltip
ImVec4 rect_of(ImVec2 p0, ImVec2 p1);                          // x, y, width, height
nlohmann::json rect_json(const ImVec4& r);                     // in framebuffer pixels

}  // namespace vitscope::gui
