// Hugging Face transformers naming (ViTModel, ViTForImageClassification, DeiT, Dinov2).
#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

void load_hf(LayoutInput& in, VitConfig&, VitWeights&) {
  throw ModelError(in.tensors.file().path() + ": Hugging Face naming is not supported yet");
}

}  // namespace vitscope
