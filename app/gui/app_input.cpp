// Keyboard shortcuts (queued GLFW key events) and stepping through heads and layers.
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

void App::key(int glfw_key, int mods) {
  keys_.emplace_back(glfw_key, mods);
  redraw_ = std::max(redraw_, 2);
}

// Shortcuts come from GLFW's key events (queued by main.cpp), so a press and release
// that fall between two frames are not lost while the app sleeps between events.
void App::handle_keys() {
  escape_ = enter_ = false;
  const ImGuiIO& io = ImGui::GetIO();
  const bool popup = ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId);
  std::vector<std::pair<int, int>> keys;
  keys.swap(keys_);
  for (const auto& [k, mods] : keys) {
    if (k == GLFW_KEY_ESCAPE) {
      escape_ = true;
      help_open_ = false;
      continue;
    }
    if (k == GLFW_KEY_ENTER || k == GLFW_KEY_KP_ENTER) enter_ = true;
    if (popup || io.WantTextInput) continue;
    if (mods & GLFW_MOD_CONTROL) {
      if (k == GLFW_KEY_Q) glfwSetWindowShouldClose(window_, GLFW_TRUE);
      continue;
    }
    switch (k) {
      case GLFW_KEY_O: open_dialog(FileBrowser::Mode::OpenImage); break;
      case GLFW_KEY_M: open_dialog(FileBrowser::Mode::OpenModel); break;
      case GLFW_KEY_F1: help_open_ = !help_open_; break;
      case GLFW_KEY_1: select_tab_ = Tab::Image, force_tab_ = true; break;
      case GLFW_KEY_2: select_tab_ = Tab::Heads, force_tab_ = true; break;
      case GLFW_KEY_3: select_tab_ = Tab::Grid, force_tab_ = true; break;
      default: break;
    }
    if (!model_) continue;
    switch (k) {
      case GLFW_KEY_LEFT: step_head(-1); break;
      case GLFW_KEY_RIGHT: step_head(+1); break;
      case GLFW_KEY_UP: set_layer(view_.layer - 1); break;
      case GLFW_KEY_DOWN: set_layer(view_.layer + 1); break;
      case GLFW_KEY_R: view_.rollout = !view_.rollout; break;
      case GLFW_KEY_H: show_heat_ = !show_heat_; break;
      case GLFW_KEY_K: view_.mask = !view_.mask; break;
      case GLFW_KEY_Q:
        query_mode_ = !query_mode_ || shape_.prefix == 0;
        if (!query_mode_) view_.query_patch = -1;
        break;
      case GLFW_KEY_S:
        if (loaded_) open_dialog(FileBrowser::Mode::Save);
        break;
      default: break;
    }
  }
}

// Order of the head choices: mean, max, min, head 1..H.
void App::step_head(int delta) {
  const int H = shape_.heads;
  const int n = H + 3;
  int pos = view_.head >= 0 ? view_.head + 3 : int(view_.fusion);
  pos = ((pos + delta) % n + n) % n;
  if (pos < 3) {
    view_.head = -1;
    view_.fusion = viz::HeadFusion(pos);
  } else {
    view_.head = pos - 3;
  }
  view_.rollout = false;
}

void App::set_layer(int layer) { view_.layer = std::clamp(layer, 0, std::max(shape_.layers - 1, 0)); }

}  // namespace vitscope::gui
