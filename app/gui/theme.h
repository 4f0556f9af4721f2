// Look of the app: colours, fonts (DejaVu Sans when installed, else Dear ImGui's
// built-in font) and style metrics.
#pragma once
#include <imgui.h>

namespace vitscope::gui::theme {

inline const ImVec4 kAccent(0.26f, 0.59f, 0.98f, 1.0f);
inline const ImVec4 kAccentText(0.45f, 0.72f, 1.0f, 1.0f);
inline const ImVec4 kBarMuted(0.36f, 0.42f, 0.52f, 1.0f);
inline const ImU32 kAccentU32 = IM_COL32(66, 150, 250, 255);

// Loads fonts into the atlas (before the renderer uploads it) and sets the style.
void apply();
// Larger font for the predicted class; nullptr when only the built-in font exists.
ImFont* headline_font();

}  // namespace vitscope::gui::theme
