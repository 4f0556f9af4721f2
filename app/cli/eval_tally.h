// What `eval` counts (top-1, top-5, per-class accuracy, confusion matrix) and how it
// prints it, shared by the IDX and the image-folder evaluations.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vitscope::cli {

// The k most probable classes, best first (ties: lower index first).
std::vector<int> top_k(const float* probs, int n, int k);

struct EvalTally {
  explicit EvalTally(int classes);
  // Scores one image; returns its top-5 classes (fewer when the model has fewer), best first.
  std::vector<int> add(int truth, const float* probs);

  int classes;
  int64_t images = 0, top1 = 0, top5 = 0;
  std::vector<int64_t> confusion;  // [truth * classes + predicted]
  int64_t row_total(int truth) const;
};

// Label of class i: the model's name for it, else "class i".
std::string class_label(const std::vector<std::string>& labels, int i);

// top-1/top-5 lines, per-class accuracy (classes with images) and, up to 20 classes, the
// confusion matrix. `folders` (may be empty) names each class's folder next to its label.
void print_tally(const EvalTally& t, const std::vector<std::string>& labels, const std::vector<std::string>& folders);

// {correct, accuracy, top5_correct, top5_accuracy, per_class, confusion, labels}.
nlohmann::json tally_json(const EvalTally& t, const std::vector<std::string>& labels,
                          const std::vector<std::string>& folders);

}  // namespace vitscope::cli
