// Options of `vitscope-cli classify` and the pieces its folder mode (classify_folder.cpp) shares.
#pragma once
#include <string>

#include "common.h"

namespace vitscope::cli {

struct ClassifyOptions {
  ModelOptions model;
  std::string image, input_npy, attention_out, features_out, preprocess;
  std::string images, out;  // folder mode
  int top = 5;
  int batch = 16;
  int workers = 0;
  bool json = false;
  bool quiet = false;
};

// DIR/attention.npy (image 0 of the pass: [layers, heads, tokens, tokens]) and a PNG per
// layer of the class token's mean attention over `view` (or alone when view is null).
void write_attention(const std::string& dir, const VitModel& model, const ForwardResult& r, const Image* view);

// --images DIR: exit status 0, or kInterruptedExit after Ctrl-C.
int run_classify_folder(const ClassifyOptions& o);

}  // namespace vitscope::cli
