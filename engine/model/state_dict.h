// Finding the weights inside an unpickled checkpoint (shared/docs/checkpoints-pickled.md §5):
// a plain state dict, or the one under 'model', 'state_dict', 'model_ema', 'state_dict_ema'
// or 'teacher' (or the key the user names), with DataParallel's 'module.' stripped and
// DINO's MultiCropWrapper ('backbone.' kept without its prefix, the projection 'head.'
// dropped). A pickled module object (torch.save(model)) is refused.
#pragma once
#include <string>
#include <vector>

#include "io/pickle.h"

namespace vitscope {

struct StateEntry {
  std::string name;              // after prefix stripping
  const pickle::Value* value;    // Tensor or NdArray
  std::string original;          // the name in the file (for messages)
};

struct StateDict {
  std::vector<StateEntry> entries;
  std::string found_under;       // "" for a plain state dict, else the key used
  std::vector<std::string> warnings;
};

// The keys tried, in order, when the top level is not itself a state dict.
const std::vector<std::string>& state_dict_keys();

// `file` names the checkpoint in messages. `key`: the user's --checkpoint-key ("" to search).
StateDict find_state_dict(const pickle::Value& root, const std::string& file, const std::string& key);

}  // namespace vitscope
