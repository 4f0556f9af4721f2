// TensorSet: takes tensors out of a safetensors file by name, checking shapes, and
// remembers which were used so that unexpected names can be reported.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/weights.h"

namespace vitscope {

class TensorSet {
 public:
  explicit TensorSet(const TensorFile& f) : f_(f) {}

  bool has(const std::string& name) const { return f_.find(name) != nullptr; }
  const TensorInfo* info(const std::string& name) const { return f_.find(name); }
  // Required tensor with an exact shape (-1 matches any size in that dimension). A
  // missing tensor is remembered (see finish) and comes back as an empty placeholder
  // with the expected shape, so loading can go on and find the unexpected names too;
  // check complete() before reading tensor data during loading.
  HostTensor take(const std::string& name, const std::vector<int64_t>& shape);
  std::optional<HostTensor> maybe(const std::string& name, const std::vector<int64_t>& shape);
  // Mark a tensor as known but unused (e.g. HF's mask_token).
  void ignore(const std::string& name) { used_.insert(name); }
  // Throws listing the first unexpected tensor (and the first missing one, if any), or
  // the first missing tensor when every name was expected.
  void finish(const std::string& layout) const;
  void note_missing(const std::string& name, const std::string& detail = "") {
    if (first_missing_.empty()) {
      first_missing_ = name;
      missing_detail_ = detail;
    }
  }
  bool complete() const { return first_missing_.empty(); }
  const TensorFile& file() const { return f_; }

 private:
  const TensorFile& f_;
  std::set<std::string> used_;
  std::string first_missing_, missing_detail_;
};

std::string shape_str(const std::vector<int64_t>& s);

// 1 + the largest N among tensor names "<prefix>N.<anything>" (0 when there are none).
int count_indexed(const TensorFile& f, const std::string& prefix);

}  // namespace vitscope
