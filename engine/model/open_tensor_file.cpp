// open_tensor_file: chooses the container reader from a file's first bytes and name.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/zip_archive.h"
#include "model/npz.h"
#include "model/pickled_checkpoint.h"
#include "model/safetensors.h"

namespace vitscope {

namespace fs = std::filesystem;

const std::vector<std::string>& weight_file_extensions() {
  static const std::vector<std::string> ext = {".safetensors", ".npz", ".pth", ".pt", ".bin", ".pdparams", ".pth.tar"};
  return ext;
}

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::unique_ptr<TensorFile> open_tensor_file(const std::string& path, const std::string& checkpoint_key) {
  std::error_code ec;
  const std::string name = lower(fs::path(path).filename().string());
  if (fs::is_directory(path, ec))
    throw ModelError(path + ": is a directory, not a " +
                     (ends_with(name, ".safetensors") ? ".safetensors file" : "weights file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open: " + std::strerror(errno));
  uint8_t head[16] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const size_t n = size_t(in.gcount());
  in.close();

  if (ZipArchive::has_magic(head, n)) {
    // PyTorch's zip format keeps its pickle in "<archive>/data.pkl"; NumPy's .npz holds .npy members.
    ZipArchive zip(path);
    for (const auto& m : zip.members())
      if (m.name == "data.pkl" || ends_with(m.name, "/data.pkl"))
        return std::make_unique<PickledCheckpoint>(path, checkpoint_key);
    return std::make_unique<NpzFile>(path);
  }
  static const uint8_t npy_magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (n >= 6 && std::memcmp(head, npy_magic, 6) == 0)
    throw ModelError(path + ": a single NumPy array (.npy), not a checkpoint; save every weight into one "
                     "file with np.savez");
  // PyTorch's legacy format and Paddle's .pdparams are pickles (protocol 2 to 5).
  if (PickledCheckpoint::has_magic(head, n)) return std::make_unique<PickledCheckpoint>(path, checkpoint_key);
  // safetensors has no magic: an 8-byte header length, then a JSON object.
  if (ends_with(name, ".safetensors") || (n >= 9 && head[8] == '{')) return std::make_unique<SafetensorsFile>(path);
  if (n == 0) throw ModelError(path + ": file is empty");
  throw ModelError(path + ": not a recognised weights file (expected .safetensors, an .npz archive, or a PyTorch "
                   "or Paddle checkpoint)");
}

}  // namespace vitscope
