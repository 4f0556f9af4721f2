#include "eval_tally.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace vitscope::cli {

std::vector<int> top_k(const float* p, int n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  idx.resize(size_t(k));
  return idx;
}

EvalTally::EvalTally(int k) : classes(k), confusion(size_t(k) * size_t(k), 0) {}

std::vector<int> EvalTally::add(int truth, const float* probs) {
  std::vector<int> top = top_k(probs, classes, 5);
  ++images;
  confusion[size_t(truth) * size_t(classes) + size_t(top[0])]++;
  if (top[0] == truth) ++top1;
  if (std::find(top.begin(), top.end(), truth) != top.end()) ++top5;
  return top;
}

int64_t EvalTally::row_total(int truth) const {
  auto row = confusion.begin() + long(truth) * classes;
  return std::accumulate(row, row + classes, int64_t(0));
}

std::string class_label(const std::vector<std::string>& labels, int i) {
  return size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i);
}

namespace {
double ratio(int64_t a, int64_t b) { return b ? double(a) / double(b) : 0.0; }
}  // namespace

void print_tally(const EvalTally& t, const std::vector<std::string>& labels, const std::vector<std::string>& folders) {
  std::printf("top-1: %.2f%% (%lld / %lld)\n", 100.0 * ratio(t.top1, t.images), (long long)t.top1, (long long)t.images);
  std::printf("top-5: %.2f%% (%lld / %lld)\n", 100.0 * ratio(t.top5, t.images), (long long)t.top5, (long long)t.images);
  std::printf("per-class accuracy (top-1):\n");
  for (int k = 0; k < t.classes; ++k) {
    int64_t n = t.row_total(k);
    if (n == 0) continue;
    int64_t ok = t.confusion[size_t(k) * size_t(t.classes) + size_t(k)];
    std::string name = class_label(labels, k);
    if (size_t(k) < folders.size() && folders[size_t(k)] != name) name += " [" + folders[size_t(k)] + "]";
    std::printf("  %4d %-28.28s %7.2f%% (%lld / %lld)\n", k, name.c_str(), 100.0 * ratio(ok, n), (long long)ok,
                (long long)n);
  }
  const int K = t.classes;
  if (K > 20) return;
  std::printf("confusion matrix (rows: true class, columns: predicted):\n%14s", "");
  for (int k = 0; k < K; ++k) std::printf(" %5d", k);
  std::printf("\n");
  for (int r = 0; r < K; ++r) {
    std::printf("%2d %-11.11s", r, class_label(labels, r).c_str());
    for (int k = 0; k < K; ++k) std::printf(" %5lld", (long long)t.confusion[size_t(r) * size_t(K) + size_t(k)]);
    std::printf("\n");
  }
}

nlohmann::json tally_json(const EvalTally& t, const std::vector<std::string>& labels,
                          const std::vector<std::string>& folders) {
  nlohmann::json j;
  j["correct"] = t.top1;
  j["accuracy"] = ratio(t.top1, t.images);
  j["top5_correct"] = t.top5;
  j["top5_accuracy"] = ratio(t.top5, t.images);
  auto per_class = nlohmann::json::array();
  for (int k = 0; k < t.classes; ++k) {
    int64_t n = t.row_total(k);
    if (n == 0) continue;
    int64_t ok = t.confusion[size_t(k) * size_t(t.classes) + size_t(k)];
    nlohmann::json c = {{"class", k}, {"label", class_label(labels, k)}, {"images", n}, {"correct", ok},
                        {"accuracy", ratio(ok, n)}};
    if (size_t(k) < folders.size()) c["folder"] = folders[size_t(k)];
    per_class.push_back(c);
  }
  j["per_class"] = per_class;
  if (t.classes <= 100) {
    auto m = nlohmann::json::array();
    for (int r = 0; r < t.classes; ++r)
      m.push_back(std::vector<int64_t>(t.confusion.begin() + long(r) * t.classes,
                                       t.confusion.begin() + long(r + 1) * t.classes));
    j["confusion"] = m;
  }
  j["labels"] = labels;
  return j;
}

}  // namespace vitscope::cli
