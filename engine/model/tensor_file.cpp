#include "model/tensor_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "core/error.h"
#include "core/half.h"

namespace vitscope {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
    default: return "other";
  }
}

uint32_t dtype_bytes(DType d) {
  switch (d) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
    default: return 0;
  }
}

bool is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64; }

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

TensorFile::~TensorFile() = default;

const TensorInfo* TensorFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void TensorFile::add(TensorInfo t) {
  if (!index_.emplace(t.name, tensors_.size()).second)
    throw ModelError(path_ + ": tensor '" + t.name + "' appears twice");
  tensors_.push_back(std::move(t));
}

const uint8_t* TensorFile::own(std::vector<uint8_t> bytes) {
  owned_.push_back(std::move(bytes));
  return owned_.back().data();
}

namespace {

// One element of a floating-point tensor as float32 (little-endian host).
template <DType D>
inline float element(const uint8_t* p) {
  if constexpr (D == DType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  } else if constexpr (D == DType::F16) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return half_to_float(h);
  } else if constexpr (D == DType::BF16) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  } else {
    double d;
    std::memcpy(&d, p, 8);
    return float(d);
  }
}

template <DType D>
void convert(const uint8_t* src, float* dst, int64_t first, int64_t count, int64_t stride) {
  constexpr int64_t size = D == DType::F64 ? 8 : D == DType::F32 ? 4 : 2;
  if constexpr (D == DType::F32) {
    if (stride == 1) {
      std::memcpy(dst, src + first * 4, size_t(count) * 4);
      return;
    }
  }
  for (int64_t i = 0; i < count; ++i) dst[i] = element<D>(src + (first + i * stride) * size);
}

}  // namespace

void TensorFile::read_f32_strided(const TensorInfo& t, float* dst, int64_t first, int64_t count,
                                  int64_t stride) const {
  VIT_ASSERT(first >= 0 && count >= 0 && stride >= 1 && (count == 0 || first + (count - 1) * stride < t.numel()),
             "read past tensor " + t.name);
  if (count == 0) return;
  VIT_ASSERT(t.data != nullptr, "tensor " + t.name + " has no data");
  switch (t.dtype) {
    case DType::F32: convert<DType::F32>(t.data, dst, first, count, stride); break;
    case DType::F16: convert<DType::F16>(t.data, dst, first, count, stride); break;
    case DType::BF16: convert<DType::BF16>(t.data, dst, first, count, stride); break;
    case DType::F64: convert<DType::F64>(t.data, dst, first, count, stride); break;
    default:
      throw ModelError(path_ + ": tensor '" + t.name + "' has dtype " + t.dtype_str +
                       "; only F32, F16, BF16 and F64 weights are supported");
  }
}

void TensorFile::read_f32(const TensorInfo& t, float* dst, int64_t first, int64_t count) const {
  read_f32_strided(t, dst, first, count, 1);
}

std::vector<float> TensorFile::read_f32(const TensorInfo& t) const {
  std::vector<float> out(size_t(t.numel()));
  read_f32(t, out.data(), 0, t.numel());
  return out;
}

uint64_t TensorFile::count_nonfinite(const TensorInfo& t) const {
  const uint8_t* src = t.data;
  const uint64_t n = uint64_t(t.numel());
  if (!src) return 0;
  uint64_t bad = 0;
  switch (t.dtype) {
    case DType::F32:
      for (uint64_t i = 0; i < n; ++i) {
        uint32_t b;
        std::memcpy(&b, src + i * 4, 4);
        bad += (b & 0x7f800000u) == 0x7f800000u;
      }
      break;
    case DType::F16:
    case DType::BF16: {
      const uint16_t mask = t.dtype == DType::F16 ? 0x7c00u : 0x7f80u;
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, src + i * 2, 2);
        bad += (b & mask) == mask;
      }
      break;
    }
    case DType::F64:
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t b;
        std::memcpy(&b, src + i * 8, 8);
        bad += (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
      }
      break;
    default:
      break;
  }
  return bad;
}

void TensorFile::release(const TensorInfo& t) const {
  if (!t.mapped || !t.data) return;
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(t.data), e = b + t.nbytes();
  const uintptr_t pb = (b + page - 1) / page * page, pe = e / page * page;
  if (pe > pb) ::madvise(reinterpret_cast<void*>(pb), pe - pb, MADV_DONTNEED);
}

}  // namespace vitscope
