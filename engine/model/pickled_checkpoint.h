// PyTorch and Paddle checkpoints, read with the allow-list unpickler (io/pickle.h); facts:
// shared/docs/checkpoints-pickled.md. Three containers:
//  - PyTorch's zip format (torch.save): <prefix>/data.pkl + one <prefix>/data/<key> member
//    per storage;
//  - PyTorch's legacy format (_use_new_zipfile_serialization=False, torch < 1.6): magic,
//    protocol and sys-info pickles, the object pickle, the storage keys, then the storages;
//  - a plain pickle of numpy arrays (Paddle's .pdparams, and pickled state dicts).
// The state dict is found inside (model/state_dict.h); each tensor becomes a contiguous
// C-order TensorInfo (a strided or offset torch view is materialised, a contiguous one
// points into its storage).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/pickle.h"
#include "io/zip_layout.h"
#include "model/tensor_file.h"

namespace vitscope {

class ZipArchive;

class PickledCheckpoint : public TensorFile {
 public:
  enum class Container { TorchZip, TorchLegacy, Pickle };

  // `checkpoint_key`: the top-level key holding the weights ("" to search, see state_dict.h).
  PickledCheckpoint(const std::string& path, const std::string& checkpoint_key = "");
  ~PickledCheckpoint() override;

  const char* format() const override;
  Container container() const { return container_; }
  // Where the weights were found and what was stripped or skipped (for the user).
  const std::vector<std::string>& notes() const { return notes_; }

  // True when the first bytes look like a pickle (protocol 2 to 5).
  static bool has_magic(const uint8_t* bytes, size_t n);

 private:
  struct Storage;
  void open_zip(const std::string& key);
  void open_legacy(const std::string& key);
  void open_pickle(const std::string& key);
  pickle::Value* declare_storage(pickle::Unpickler& u, const pickle::Value& pid, bool legacy);
  void add_weights(const pickle::Value& root, const std::string& key);
  const Storage& storage_of(const pickle::Value& s);
  void add_tensor(const std::string& name, const pickle::TensorRef& t);
  void add_array(const std::string& name, const pickle::ArrayRef& a);
  const uint8_t* materialise(const std::string& name, const uint8_t* base, uint32_t esize,
                             const std::vector<int64_t>& size, const std::vector<int64_t>& stride);

  Container container_ = Container::Pickle;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t map_size_ = 0;
  std::unique_ptr<ZipArchive> zip_;
  std::string zip_prefix_;
  std::map<std::string, ZipDataRange> zip_ranges_;  // stored members' bytes in the map
  std::vector<uint8_t> pickle_bytes_;  // zip: data.pkl, read out of the archive
  std::unique_ptr<pickle::Unpickler> unpickler_;
  std::map<std::string, std::unique_ptr<Storage>> storages_;       // by key, once read
  std::map<std::string, const pickle::StorageRef*> declared_;       // by key, as the pickle names them
  uint64_t materialised_bytes_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace vitscope
