#include "model/tensor_set.h"

#include <algorithm>

#include "core/error.h"

namespace vitscope {

int count_indexed(const TensorFile& f, const std::string& prefix) {
  int n = 0;
  for (const auto& t : f.tensors()) {
    if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
    size_t i = prefix.size(), j = i;
    while (j < t.name.size() && std::isdigit(static_cast<unsigned char>(t.name[j]))) ++j;
    if (j == i || j >= t.name.size() || t.name[j] != '.' || j - i > 6) continue;
    n = std::max(n, std::stoi(t.name.substr(i, j - i)) + 1);
  }
  return n;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? "," : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return out + "]";
}

HostTensor TensorSet::take(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorInfo* t = f_.find(name);
  if (!t) {
    note_missing(name, " (expected shape " + shape_str(shape) + ")");
    HostTensor placeholder;
    placeholder.name = name;
    for (int64_t d : shape) placeholder.shape.push_back(std::max<int64_t>(d, 0));
    return placeholder;
  }
  bool ok = t->shape.size() == shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == t->shape[i];
  if (!ok)
    throw ModelError(f_.path() + ": tensor '" + name + "': expected shape " + shape_str(shape) +
                     ", found " + t->dtype_str + " " + t->shape_str());
  if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16 && t->dtype != DType::F64)
    throw ModelError(f_.path() + ": tensor '" + name + "' has dtype " + t->dtype_str +
                     "; weights must be F32, F16, BF16 or F64");
  used_.insert(name);
  return from_file(f_, *t);
}

std::optional<HostTensor> TensorSet::maybe(const std::string& name, const std::vector<int64_t>& shape) {
  if (!has(name)) return std::nullopt;
  return take(name, shape);
}

void TensorSet::finish(const std::string& layout) const {
  for (const auto& t : f_.tensors()) {
    if (used_.count(t.name)) continue;
    std::string msg = f_.path() + ": unexpected tensor '" + t.name + "' " + t.shape_str() +
                      " for a " + layout + " ViT";
    if (!first_missing_.empty()) msg += "; first missing tensor: '" + first_missing_ + "'";
    throw ModelError(msg);
  }
  if (!first_missing_.empty())
    throw ModelError(f_.path() + ": tensor '" + first_missing_ + "' is missing" + missing_detail_);
}

}  // namespace vitscope
