// find_state_dict: where the tensors are in a checkpoint, and what they are called.
#include "model/state_dict.h"

#include <map>

#include "core/error.h"

namespace vitscope {

using pickle::Kind;
using pickle::Value;

const std::vector<std::string>& state_dict_keys() {
  static const std::vector<std::string> keys = {"model", "state_dict", "model_ema", "state_dict_ema", "teacher"};
  return keys;
}

namespace {

bool is_weight(const Value& v) {
  if (v.kind == Kind::Tensor || v.kind == Kind::NdArray) return true;
  // Paddle 2.1 saved a tensor as (name, ndarray).
  return v.kind == Kind::Tuple && v.items.size() == 2 && v.items[0]->kind == Kind::Str &&
         v.items[1]->kind == Kind::NdArray;
}

const Value& weight_of(const Value& v) { return v.kind == Kind::Tuple ? *v.items[1] : v; }

bool has_weights(const Value& d) {
  if (d.kind != Kind::Dict) return false;
  for (const auto& [k, v] : d.entries)
    if (is_weight(*v)) return true;
  return false;
}

std::string keys_of(const Value& d) {
  std::string out;
  int n = 0;
  for (const auto& [k, v] : d.entries) {
    if (n == 8) return out + ", ...";
    if (k->kind != Kind::Str) continue;
    out += (n++ ? ", '" : "'") + k->str() + "'";
  }
  return out.empty() ? "(none)" : out;
}

// A pickled nn.Module, or another object where a dict of tensors belongs.
[[noreturn]] void refuse_object(const Value& v, const std::string& file, const std::string& where) {
  std::string type = pickle::describe(v);
  if (type.rfind("torch.nn.", 0) == 0 || type.rfind("__main__.", 0) == 0 ||
      (v.state && (v.state->get("_parameters") || v.state->get("_modules"))))
    throw ModelError(file + ": " + where + " is a pickled model object (" + type +
                     "), which cannot be read without running its code; save model.state_dict() instead "
                     "(torch.save(model.state_dict(), path))");
  throw ModelError(file + ": " + where + " is a " + type + " object, not a dict of tensors");
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

StateDict find_state_dict(const Value& root, const std::string& file, const std::string& key) {
  StateDict sd;
  const Value* dict = &root;
  if (root.kind == Kind::Object) refuse_object(root, file, "the checkpoint");
  if (root.kind != Kind::Dict)
    throw ModelError(file + ": the checkpoint holds a " + pickle::describe(root) + ", not a dict of tensors");
  if (!key.empty()) {
    dict = root.get(key);
    if (!dict)
      throw ModelError(file + ": no key '" + key + "' at the top of the checkpoint (keys: " + keys_of(root) + ")");
    sd.found_under = key;
  } else if (!has_weights(root)) {
    for (const auto& k : state_dict_keys())
      if (const Value* v = root.get(k)) {
        dict = v;
        sd.found_under = k;
        break;
      }
    if (sd.found_under.empty())
      throw ModelError(file + ": no tensors at the top of the checkpoint and none of the keys 'model', "
                       "'state_dict', 'model_ema', 'state_dict_ema', 'teacher' (keys: " + keys_of(root) +
                       "); name the one holding the weights with --checkpoint-key");
  }
  std::string where = sd.found_under.empty() ? "the checkpoint" : "checkpoint['" + sd.found_under + "']";
  if (dict->kind == Kind::Object) refuse_object(*dict, file, where);
  if (dict->kind != Kind::Dict)
    throw ModelError(file + ": " + where + " is a " + pickle::describe(*dict) + ", not a dict of tensors");
  if (!sd.found_under.empty()) {
    std::string others;
    for (const auto& k : state_dict_keys())
      if (k != sd.found_under && root.get(k)) others += " '" + k + "'";
    sd.warnings.push_back(file + ": weights taken from checkpoint['" + sd.found_under + "']" +
                          (others.empty() ? "" : " (also present:" + others + "; choose with --checkpoint-key)"));
  }

  // Collect the weights; strip DataParallel's module. and DINO's backbone.
  bool dino = false;
  for (const auto& [k, v] : dict->entries)
    if (k->kind == Kind::Str && is_weight(*v)) {
      std::string n = k->str();
      if (starts_with(n, "module.")) n = n.substr(7);
      if (starts_with(n, "backbone.")) dino = true;
    }
  size_t skipped = 0, dropped = 0;
  std::map<std::string, size_t> seen;
  for (const auto& [k, v] : dict->entries) {
    if (k->kind != Kind::Str) {
      ++skipped;
      continue;
    }
    std::string original = k->str();
    if (original == "StructuredToParameterName@@") continue;  // Paddle's name table
    if (v->kind == Kind::Object || v->kind == Kind::Global)
      throw ModelError(file + ": entry '" + original + "' of " + where + " is a " + pickle::describe(*v) +
                       " object, not a tensor (it was not created: nothing was run)");
    if (!is_weight(*v)) {
      ++skipped;
      continue;
    }
    std::string n = original;
    if (starts_with(n, "module.")) n = n.substr(7);
    if (dino) {
      if (starts_with(n, "backbone.")) {
        n = n.substr(9);
      } else if (starts_with(n, "head.")) {  // DINO's projection head, not part of the ViT
        ++dropped;
        continue;
      }
    }
    auto [it, fresh] = seen.emplace(n, sd.entries.size());
    if (!fresh) {  // the last SETITEM wins, as in Python
      sd.entries[it->second] = {n, &weight_of(*v), original};
      continue;
    }
    sd.entries.push_back({n, &weight_of(*v), original});
  }
  if (sd.entries.empty()) throw ModelError(file + ": " + where + " holds no tensors");
  if (dino)
    sd.warnings.push_back(file + ": DINO-style checkpoint: 'backbone.' prefix removed" +
                          (dropped ? ", " + std::to_string(dropped) + " projection-head tensor(s) 'head.*' dropped"
                                   : std::string()));
  if (skipped)
    sd.warnings.push_back(file + ": " + std::to_string(skipped) + " non-tensor entr" + (skipped == 1 ? "y" : "ies") +
                          " of " + where + " ignored");
  return sd;
}

}  // namespace vitscope
