// Options of `vitscope-cli eval` and the image-folder evaluation (eval_folder.cpp).
#pragma once
#include <string>

#include "common.h"

namespace vitscope::cli {

struct EvalOptions {
  ModelOptions model;
  std::string images, labels;            // IDX files
  std::string image_folder, class_map;   // ImageFolder layout
  std::string predictions_out, preprocess;
  int batch = 64;
  int workers = 0;  // 0: the machine's cores
  int limit = 0;
  bool json = false;
  bool quiet = false;
};

// Exit status: 0, or kInterruptedExit after Ctrl-C (the counts so far are printed).
int run_folder_eval(const EvalOptions& o);

}  // namespace vitscope::cli
