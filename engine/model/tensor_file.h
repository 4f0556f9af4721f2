// TensorFile: a checkpoint's named tensors, whatever the container (.safetensors, .npz,
// PyTorch and Paddle pickles). Every tensor's bytes are little-endian, C-order and
// contiguous: either memory-mapped from the file or owned by the container (copied out
// of a compressed or unaligned member, or materialised from a strided view).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vitscope {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, Other };

const char* dtype_name(DType d);
// Bytes per element (0 for Other).
uint32_t dtype_bytes(DType d);
bool is_float(DType d);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::string dtype_str;  // as the file spells it ("F32", "<f4", ...)
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;     // safetensors: byte range in the data buffer
  const uint8_t* data = nullptr;   // numel() * dtype_bytes(dtype) bytes, mapped or owned
  bool mapped = false;             // data points into a memory-mapped file
  int64_t numel() const;
  uint64_t nbytes() const { return uint64_t(numel()) * dtype_bytes(dtype); }
  std::string shape_str() const;
};

class TensorFile {
 public:
  virtual ~TensorFile();
  TensorFile(const TensorFile&) = delete;
  TensorFile& operator=(const TensorFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // Short name of the container, for messages and `info`: "safetensors", "npz", ...
  virtual const char* format() const = 0;
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;

  // Converts elements [first, first+count) of a floating-point tensor to float32.
  void read_f32(const TensorInfo& t, float* dst, int64_t first, int64_t count) const;
  std::vector<float> read_f32(const TensorInfo& t) const;
  // Elements first, first+stride, ... (count of them) to float32: reads a column of a
  // row-major matrix, e.g. a Paddle [in,out] weight read as [out,in].
  void read_f32_strided(const TensorInfo& t, float* dst, int64_t first, int64_t count, int64_t stride) const;
  // Number of NaN or infinite elements of a floating-point tensor (0 for other dtypes);
  // checks the raw bits, so it is as fast as reading the bytes.
  uint64_t count_nonfinite(const TensorInfo& t) const;
  // Tells the OS it may drop the mapped pages of this tensor (keeps RSS low after upload);
  // nothing for owned data.
  virtual void release(const TensorInfo& t) const;

 protected:
  TensorFile(std::string path, uint64_t file_size) : path_(std::move(path)), file_size_(file_size) {}
  // Adds a tensor; its data must stay valid for the file's life. Throws on a duplicate name.
  void add(TensorInfo t);
  // Keeps `bytes` alive for the file's life and returns a pointer to them.
  const uint8_t* own(std::vector<uint8_t> bytes);
  std::vector<TensorInfo>& mutable_tensors() { return tensors_; }

 private:
  std::string path_;
  uint64_t file_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<std::vector<uint8_t>> owned_;
};

// Opens PATH as a tensor container, choosing the reader from its first bytes (ZIP,
// pickle, NumPy, safetensors) and its extension; errors name the file.
// `checkpoint_key` is for pickled checkpoints: the top-level key holding the weights ("": search).
std::unique_ptr<TensorFile> open_tensor_file(const std::string& path, const std::string& checkpoint_key = "");

// File extensions (lower case, with the dot) load_model accepts as weights files.
const std::vector<std::string>& weight_file_extensions();

}  // namespace vitscope
