// Host-side description of a ViT's weights: each tensor is a list of pieces taken
// from the checkpoint's tensors (converted to float32 on upload, optionally read
// transposed) or computed on the host (resampled position tables, permuted kernels).
// Nothing is copied until the engine streams it to the device.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/tensor_file.h"
#include "model/vit_config.h"

namespace vitscope {

struct WeightPiece {
  const TensorFile* file = nullptr;
  const TensorInfo* src = nullptr;  // from the file ...
  std::vector<float> owned;          // ... or computed on the host
  // >0: src holds a row-major [transpose_rows, numel/transpose_rows] matrix read as its
  // transpose (a Flax/Paddle [in,out] kernel read as [out,in]).
  int64_t transpose_rows = 0;
  int64_t numel() const { return src ? src->numel() : int64_t(owned.size()); }
  void read(float* dst, int64_t first, int64_t count) const;
};

struct HostTensor {
  std::string name;  // checkpoint name(s), for messages
  std::vector<int64_t> shape;
  std::vector<WeightPiece> pieces;  // concatenated along the flattened tensor
  int64_t numel() const;
  std::vector<float> to_vector() const;  // materialise (tests, CPU reference)
  void read(float* dst, int64_t first, int64_t count) const;
};

struct BlockWeights {
  HostTensor norm1_w, norm1_b;
  HostTensor qkv_w;                  // (3C, C) rows [q; k; v]
  std::optional<HostTensor> qkv_b;   // (3C)
  HostTensor proj_w, proj_b;         // (C, C), (C)
  std::optional<HostTensor> ls1;     // (C) LayerScale
  HostTensor norm2_w, norm2_b;
  HostTensor fc1_w, fc1_b;           // (M, C), (M)
  HostTensor fc2_w, fc2_b;           // (C, M), (C)
  std::optional<HostTensor> ls2;
};

struct VitWeights {
  HostTensor patch_w;                 // (C, Cin*P*P)
  std::optional<HostTensor> patch_b;  // (C)
  std::optional<HostTensor> prefix;   // (T, C): cls, dist, registers
  std::optional<HostTensor> pos;      // (pos_prefix + Np, C) at the run size
  std::vector<BlockWeights> blocks;
  std::optional<HostTensor> norm_w, norm_b;        // final norm over tokens
  std::optional<HostTensor> fc_norm_w, fc_norm_b;  // norm after avg pooling
  std::optional<HostTensor> head_w, head_b;        // (K, C)
  std::optional<HostTensor> head_dist_w, head_dist_b;
  std::optional<HostTensor> pooler_w, pooler_b;    // HF ViTModel pooler
  int64_t parameter_count() const;
};

struct LoadOptions {
  int heads = 0;            // override the head count (0: from config / name)
  int height = 0, width = 0;  // run at this input size (0: the config's)
  std::string checkpoint_key;  // pickled checkpoints: the top-level key holding the weights ("": search)
};

struct LoadedModel {
  std::string path;          // weights file
  std::string config_path;   // config.json used ("" if none)
  std::unique_ptr<TensorFile> file;
  VitConfig config;
  VitWeights weights;
  std::vector<std::string> warnings;
};

// PATH is a weights file (.safetensors, .npz, ...: see open_tensor_file; config.json
// beside it) or a folder holding one (model.safetensors first) and config.json.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

// True when a file name ends in one of weight_file_extensions() (any case).
bool is_weight_file_name(const std::string& filename);

// Helpers shared by the naming-specific loaders.
HostTensor from_file(const TensorFile& f, const TensorInfo& t);
// t viewed as a row-major [rows, numel/rows] matrix, read transposed: shape [numel/rows, rows].
HostTensor transposed_from_file(const TensorFile& f, const TensorInfo& t, int64_t rows);
HostTensor owned_tensor(std::string name, std::vector<int64_t> shape, std::vector<float> data);

}  // namespace vitscope
