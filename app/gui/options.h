// Command-line options of the desktop app, including the screenshot mode used by
// the tests: everything that changes the picture can be set from here.
#pragma once
#include <string>
#include <vector>

namespace vitscope::gui {

struct AppOptions {
  std::string model;  // "" : the bundled model
  int device = -1;    // engine device index; -1: VITSCOPE_DEVICE or the best
  std::string image;  // "" : a bundled sample image
  int width = 1280, height = 800;  // window size
  int input_h = 0, input_w = 0;      // model input size (--input-size); 0: the model's native size
  std::string checkpoint_key;        // --checkpoint-key, for the --model given here

  // Initial view (also for screenshots).
  int layer = 0;              // 1-based; 0: the last layer
  std::string head = "mean";  // mean | max | min | 1..H
  bool rollout = false;
  std::string fusion = "mean";  // rollout head fusion
  float discard = 0.0f;
  std::string query;  // "ROW,COL" (1-based) : query mode on that patch
  float mask = 0.0f;  // > 0: DINO mask keeping this fraction of the mass
  std::string colormap = "viridis";
  float opacity = 0.6f;
  bool no_overlay = false;
  bool bilinear = false;
  bool original = false;
  std::string range;  // "LO,HI" : fixed value range; "" : auto per map
  std::string tab = "image";  // image | heads | grid
  std::string info_tab = "model";  // model | device | timing (right panel)
  bool patch_grid = false;
  bool smooth_image = false;
  bool heads_strip = true;
  bool show_help = false;

  // Actions once the first result is shown (for tests and scripted use).
  std::vector<std::string> drop;  // open these as if dropped onto the window
  std::string save_overlay;       // write the overlay PNG here
  std::string save_heads;         // write the heads grid PNG here
  int export_scale = 1;

  // Screenshot mode.
  std::string screenshot;  // output PNG; "" : interactive
  int frames = 3;          // frames rendered after the result arrived
  double timeout = 300.0;  // seconds to wait for the result
};

}  // namespace vitscope::gui
