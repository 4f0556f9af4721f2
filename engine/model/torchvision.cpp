// torchvision VisionTransformer state-dict naming.
#include "core/error.h"
#include "model/layouts.h"

namespace vitscope {

void load_torchvision(LayoutInput& in, VitConfig&, VitWeights&) {
  throw ModelError(in.tensors.file().path() + ": torchvision naming is not supported yet");
}

}  // namespace vitscope
