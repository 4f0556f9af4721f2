// .npz checkpoints (np.savez / np.savez_compressed): a ZIP archive with one `<name>.npy`
// member per array. Each member is read out of the archive once (libzip gives no file
// offset to map) and its float data is used where it lies in that copy.
#pragma once
#include <string>

#include "model/tensor_file.h"

namespace vitscope {

class NpzFile : public TensorFile {
 public:
  explicit NpzFile(const std::string& path);
  const char* format() const override { return "npz"; }
};

}  // namespace vitscope
