// PickledCheckpoint: the three pickle containers, their storages, and the tensors in them.
#include "model/pickled_checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "core/error.h"
#include "io/zip_archive.h"
#include "io/zip_layout.h"
#include "model/state_dict.h"

namespace vitscope {

using pickle::Kind;
using pickle::Value;

struct PickledCheckpoint::Storage {
  std::string key;
  DType dtype = DType::Other;
  std::string type;
  const uint8_t* data = nullptr;
  int64_t numel = 0;
  bool mapped = false;
};

namespace {

constexpr int64_t kMaxElements = int64_t(1) << 40;

bool storage_dtype(const std::string& type, DType& d) {
  static const std::map<std::string, DType> types = {
      {"torch.FloatStorage", DType::F32}, {"torch.HalfStorage", DType::F16}, {"torch.BFloat16Storage", DType::BF16},
      {"torch.DoubleStorage", DType::F64}, {"torch.LongStorage", DType::I64}, {"torch.IntStorage", DType::I32},
      {"torch.ShortStorage", DType::I16}, {"torch.CharStorage", DType::I8}, {"torch.ByteStorage", DType::U8},
      {"torch.BoolStorage", DType::BOOL}};
  auto it = types.find(type);
  if (it == types.end()) return false;
  d = it->second;
  return true;
}

bool numpy_dtype(const std::string& s, DType& d) {
  static const std::map<std::string, DType> types = {
      {"<f4", DType::F32}, {"<f2", DType::F16}, {"<f8", DType::F64}, {"<i8", DType::I64}, {"<i4", DType::I32},
      {"<i2", DType::I16}, {"|i1", DType::I8}, {"|u1", DType::U8}, {"|b1", DType::BOOL}};
  auto it = types.find(s);
  if (it == types.end()) return false;
  d = it->second;
  return true;
}

// prod(size), refusing negative sizes and absurd element counts.
int64_t checked_numel(const std::vector<int64_t>& size, const std::string& what) {
  int64_t n = 1;
  for (int64_t s : size) {
    if (s < 0) throw ModelError(what + " has a negative size");
    if (s != 0 && n > kMaxElements / s) throw ModelError(what + " has more than 2^40 elements");
    n *= s;
  }
  return n;
}

uint64_t file_size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

}  // namespace

bool PickledCheckpoint::has_magic(const uint8_t* bytes, size_t n) {
  return n >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
}

PickledCheckpoint::PickledCheckpoint(const std::string& path, const std::string& checkpoint_key)
    : TensorFile(path, file_size_of(path)) {
  uint8_t head[4] = {};
  {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw ModelError(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw ModelError(path + ": cannot stat: " + std::strerror(errno));
    map_size_ = uint64_t(st.st_size);
    if (map_size_ < 4) {
      ::close(fd_);
      fd_ = -1;
      throw ModelError(path + ": file too short to be a checkpoint (" + std::to_string(map_size_) + " bytes)");
    }
    if (::pread(fd_, head, 4, 0) != 4) throw ModelError(path + ": cannot read: " + std::strerror(errno));
  }
  try {
    void* m = ::mmap(nullptr, size_t(map_size_), PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) throw ModelError(path + ": cannot map: " + std::strerror(errno));
    map_ = static_cast<const uint8_t*>(m);
    if (ZipArchive::has_magic(head, 4)) {
      open_zip(checkpoint_key);
      return;
    }
    // PyTorch's legacy files start with a LONG1 pickle of the magic number.
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                     0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
    if (map_size_ >= sizeof legacy && std::memcmp(map_, legacy, sizeof legacy) == 0)
      open_legacy(checkpoint_key);
    else if (has_magic(map_, size_t(map_size_)))
      open_pickle(checkpoint_key);
    else if (map_size_ > 262 && std::memcmp(map_ + 257, "ustar", 5) == 0)
      throw ModelError(path + ": a tar-format PyTorch checkpoint (torch < 0.4), which is not supported; "
                       "load and save it again with a current torch");
    else
      throw ModelError(path + ": not a pickle (no protocol 2-5 header)");
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_t(map_size_));
    if (fd_ >= 0) ::close(fd_);
    map_ = nullptr;
    fd_ = -1;
    throw;
  }
}

PickledCheckpoint::~PickledCheckpoint() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_t(map_size_));
  if (fd_ >= 0) ::close(fd_);
}

const char* PickledCheckpoint::format() const {
  switch (container_) {
    case Container::TorchZip: return "pytorch zip";
    case Container::TorchLegacy: return "pytorch legacy";
    case Container::Pickle: return "pickle";
  }
  return "pickle";
}

void PickledCheckpoint::open_zip(const std::string& key) {
  container_ = Container::TorchZip;
  zip_ = std::make_unique<ZipArchive>(path());
  zip_ranges_ = zip_stored_ranges(map_, map_size_);
  const ZipMember* pkl = nullptr;
  for (const auto& m : zip_->members()) {
    if (m.name == "data.pkl" || (m.name.size() > 9 && m.name.compare(m.name.size() - 9, 9, "/data.pkl") == 0)) {
      if (pkl)
        throw ModelError(path() + ": zip archive holds two pickles ('" + pkl->name + "', '" + m.name +
                         "'); a torch.save file has one");
      pkl = &m;
    }
  }
  if (!pkl) throw ModelError(path() + ": zip archive without a data.pkl: not a PyTorch checkpoint");
  zip_prefix_ = pkl->name.substr(0, pkl->name.size() - 8);  // "<prefix>/"
  if (zip_->find(zip_prefix_ + "constants.pkl") || zip_->find(zip_prefix_ + "code/__torch__.py") ||
      zip_->find(zip_prefix_ + "code/"))
    throw ModelError(path() + ": a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save "
                     "model.state_dict() with torch.save instead");
  pickle_bytes_ = zip_->read(*pkl, std::min<uint64_t>(pkl->size, uint64_t(1) << 30));
  unpickler_ = std::make_unique<pickle::Unpickler>(pickle_bytes_.data(), pickle_bytes_.size(),
                                                   path() + " (" + pkl->name + ")");
  unpickler_->set_persistent_load(
      [this](pickle::Unpickler& u, const Value& pid) { return declare_storage(u, pid, false); });
  size_t pos = 0;
  const Value* root = unpickler_->load(pos);
  add_weights(*root, key);
}

void PickledCheckpoint::open_legacy(const std::string& key) {
  container_ = Container::TorchLegacy;
  unpickler_ = std::make_unique<pickle::Unpickler>(map_, size_t(map_size_), path());
  size_t pos = 0;
  unpickler_->load(pos);  // magic number (compared above)
  const Value* proto = unpickler_->load(pos);
  if (proto->kind != Kind::Int || proto->i != 1001)
    throw ModelError(path() + ": legacy PyTorch checkpoint with protocol version " +
                     (proto->kind == Kind::Int ? std::to_string(proto->i) : std::string("?")) + " (expected 1001)");
  const Value* sys = unpickler_->load(pos);
  if (const Value* le = sys->get("little_endian"); le && le->kind == Kind::Bool && !le->b)
    throw ModelError(path() + ": a big-endian legacy PyTorch checkpoint, which is not supported");
  unpickler_->set_persistent_load(
      [this](pickle::Unpickler& u, const Value& pid) { return declare_storage(u, pid, true); });
  const Value* root = unpickler_->load(pos);
  const Value* keys = unpickler_->load(pos);
  if (keys->kind != Kind::List) throw ModelError(path() + ": legacy checkpoint without its list of storage keys");

  // Each listed storage: an int64 element count, then its bytes (not aligned: read in place).
  for (const Value* k : keys->items) {
    if (k->kind != Kind::Str) throw ModelError(path() + ": a storage key that is not a string");
    const std::string name = k->str();
    auto it = declared_.find(name);
    if (it == declared_.end())
      throw ModelError(path() + ": storage '" + name + "' is listed but no tensor declared it");
    if (storages_.count(name)) throw ModelError(path() + ": storage '" + name + "' is listed twice");
    if (map_size_ - pos < 8) throw ModelError(path() + ": truncated: storage '" + name + "' has no size");
    uint64_t count = 0;
    for (int b = 0; b < 8; ++b) count |= uint64_t(map_[pos + size_t(b)]) << (8 * b);
    pos += 8;
    DType dtype;
    if (!storage_dtype(it->second->type, dtype))
      throw ModelError(path() + ": storage '" + name + "' has type " + it->second->type + ", which is not supported");
    uint64_t esize = dtype_bytes(dtype);
    if (count > (map_size_ - pos) / esize)
      throw ModelError(path() + ": storage '" + name + "' declares " + std::to_string(count) + " elements of " +
                       std::to_string(esize) + " bytes, more than the " + std::to_string(map_size_ - pos) +
                       " bytes left in the file (truncated?)");
    if (int64_t(count) != it->second->numel)
      throw ModelError(path() + ": storage '" + name + "' holds " + std::to_string(count) +
                       " elements but the pickle declares " + std::to_string(it->second->numel));
    auto st = std::make_unique<Storage>();
    st->key = name;
    st->type = it->second->type;
    st->dtype = dtype;
    st->data = map_ + pos;
    st->numel = int64_t(count);
    st->mapped = true;
    storages_.emplace(name, std::move(st));
    pos += size_t(count * esize);
  }
  add_weights(*root, key);
}

Value* PickledCheckpoint::declare_storage(pickle::Unpickler& u, const Value& pid, bool legacy) {
  // zip: ('storage', torch.<Type>Storage, key, location, numel)
  // legacy: the same plus view_metadata (None, or (view_key, offset, size)); or
  // ('module', <class>, source_file, source) for the classes of a pickled nn.Module.
  const auto& a = pid.items;
  if (legacy && pid.kind == Kind::Tuple && a.size() >= 2 && a[0]->is_str("module") && a[1]->kind == Kind::Global)
    return a[1];  // the class stays an inert global: NEWOBJ of it gives a placeholder
  if (pid.kind != Kind::Tuple || a.size() != (legacy ? 6u : 5u) || !a[0]->is_str("storage") ||
      a[1]->kind != Kind::Global || a[2]->kind != Kind::Str || a[3]->kind != Kind::Str || a[4]->kind != Kind::Int)
    throw ModelError(u.name() + ": a persistent id that is not ('storage', type, key, location, numel" +
                     (legacy ? ", view)" : ")"));
  Value* s = u.make(Kind::Storage);
  pickle::StorageRef& ref = s->storage();
  ref.type = a[1]->str();
  ref.key = a[2]->str();
  ref.numel = a[4]->i;
  if (ref.numel < 0) throw ModelError(u.name() + ": storage '" + ref.key + "' declares a negative size");
  if (legacy && a[5]->kind == Kind::Tuple) {
    const auto& v = a[5]->items;
    if (v.size() != 3 || v[0]->kind != Kind::Str || v[1]->kind != Kind::Int || v[2]->kind != Kind::Int)
      throw ModelError(u.name() + ": a storage view that is not (key, offset, size)");
    ref.view_offset = v[1]->i;
    ref.view_numel = v[2]->i;
  } else if (legacy && a[5]->kind != Kind::None) {
    throw ModelError(u.name() + ": a storage view that is not (key, offset, size)");
  }
  auto [it, fresh] = declared_.emplace(ref.key, &ref);
  if (!fresh && (it->second->type != ref.type || it->second->numel != ref.numel))
    throw ModelError(u.name() + ": storage '" + ref.key + "' is declared twice with different types or sizes");
  return s;
}

void PickledCheckpoint::open_pickle(const std::string& key) {
  container_ = Container::Pickle;
  unpickler_ = std::make_unique<pickle::Unpickler>(map_, size_t(map_size_), path());
  size_t pos = 0;
  const Value* root = unpickler_->load(pos);
  add_weights(*root, key);
}

void PickledCheckpoint::add_weights(const Value& root, const std::string& key) {
  StateDict sd = find_state_dict(root, path(), key);
  notes_ = sd.warnings;
  for (const auto& e : sd.entries) {
    if (e.value->kind == Kind::Tensor) add_tensor(e.name, e.value->tensor());
    else add_array(e.name, e.value->array());
  }
}

const PickledCheckpoint::Storage& PickledCheckpoint::storage_of(const Value& v) {
  const pickle::StorageRef& ref = v.storage();
  if (auto it = storages_.find(ref.key); it != storages_.end()) return *it->second;
  if (container_ != Container::TorchZip)
    throw ModelError(path() + ": storage '" + ref.key + "' is used by a tensor but the file does not hold it");
  DType dtype;
  if (!storage_dtype(ref.type, dtype))
    throw ModelError(path() + ": storage '" + ref.key + "' has type " + ref.type + ", which is not supported");
  const ZipMember* m = zip_->find(zip_prefix_ + "data/" + ref.key);
  if (!m) throw ModelError(path() + ": storage member '" + zip_prefix_ + "data/" + ref.key + "' is missing");
  uint64_t esize = dtype_bytes(dtype);
  if (ref.numel < 0 || uint64_t(ref.numel) > m->size / esize || uint64_t(ref.numel) * esize != m->size)
    throw ModelError(path() + ": storage '" + m->name + "' holds " + std::to_string(m->size) +
                     " bytes but the pickle declares " + std::to_string(ref.numel) + " elements of " +
                     std::to_string(esize) + " bytes");
  auto s = std::make_unique<Storage>();
  s->key = ref.key;
  s->type = ref.type;
  s->dtype = dtype;
  s->numel = ref.numel;
  // torch.save stores each storage uncompressed at a 64-byte boundary: serve it from the map.
  auto r = zip_ranges_.find(m->name);
  if (m->stored() && r != zip_ranges_.end() && r->second.size == m->size && r->second.offset % 64 == 0) {
    s->data = map_ + r->second.offset;
    s->mapped = true;
  } else {
    s->data = own(zip_->read(*m, m->size));
  }
  return *storages_.emplace(ref.key, std::move(s)).first->second;
}

void PickledCheckpoint::add_tensor(const std::string& name, const pickle::TensorRef& t) {
  const Value& sv = *t.storage;
  const Storage& root = storage_of(sv);
  const pickle::StorageRef& ref = sv.storage();
  const std::string what = path() + ": tensor '" + name + "'";
  // A legacy storage view is a window [view_offset, view_offset + view_numel) of its root.
  int64_t base = 0, avail = root.numel;
  if (ref.view_numel >= 0) {
    if (ref.view_offset < 0 || ref.view_offset > root.numel || ref.view_numel > root.numel - ref.view_offset)
      throw ModelError(what + ": its storage view reaches past storage '" + root.key + "'");
    base = ref.view_offset;
    avail = ref.view_numel;
  }
  int64_t numel = checked_numel(t.size, what);
  if (t.offset < 0) throw ModelError(what + ": negative storage offset");
  // The last element reached: offset + sum((size_k - 1) * stride_k).
  int64_t last = t.offset;
  for (size_t k = 0; k < t.size.size(); ++k) {
    if (t.stride[k] < 0) throw ModelError(what + ": negative stride");
    if (t.size[k] == 0) continue;
    if (t.stride[k] > 0 && t.size[k] - 1 > (kMaxElements - last) / t.stride[k])
      throw ModelError(what + ": reaches past its storage '" + root.key + "' (sizes/strides overflow)");
    last += (t.size[k] - 1) * t.stride[k];
  }
  if (numel > 0 && last >= avail)
    throw ModelError(what + " reaches element " + std::to_string(last) + " of storage '" + root.key +
                     "', which holds " + std::to_string(avail) + " elements");
  const uint32_t esize = dtype_bytes(root.dtype);
  const uint8_t* start = root.data + size_t(base + t.offset) * esize;
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t k = t.size.size(); k-- > 0;) {
    if (t.size[k] != 1 && t.stride[k] != expect) contiguous = false;
    expect *= t.size[k];
  }
  TensorInfo info;
  info.name = name;
  info.dtype = root.dtype;
  info.dtype_str = root.type.substr(6);  // "FloatStorage", ...
  info.shape = t.size;
  if (numel == 0) {
    info.data = root.data;
  } else if (contiguous) {
    info.data = start;
    info.mapped = root.mapped;
  } else {
    info.data = materialise(name, start, esize, t.size, t.stride);
  }
  add(std::move(info));
}

void PickledCheckpoint::add_array(const std::string& name, const pickle::ArrayRef& a) {
  const std::string what = path() + ": array '" + name + "'";
  DType dtype;
  if (!numpy_dtype(a.dtype, dtype)) throw ModelError(what + " has numpy dtype '" + a.dtype + "', which is not supported");
  if (!a.data) throw ModelError(what + " has no data");
  int64_t numel = checked_numel(a.shape, what);
  const uint32_t esize = dtype_bytes(dtype);
  if (uint64_t(numel) * esize != a.data->text.size())
    throw ModelError(what + " (" + a.dtype + ", " + std::to_string(numel) + " elements) holds " +
                     std::to_string(a.data->text.size()) + " bytes, not " + std::to_string(uint64_t(numel) * esize));
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(a.data->text.data());
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.dtype_str = a.dtype;
  info.shape = a.shape;
  if (a.fortran && a.shape.size() > 1) {
    std::vector<int64_t> stride(a.shape.size());
    int64_t s = 1;
    for (size_t k = 0; k < a.shape.size(); ++k) {
      stride[k] = s;
      s *= a.shape[k];
    }
    info.data = numel ? materialise(name, bytes, esize, a.shape, stride) : bytes;
  } else {
    info.data = bytes;
    // Bytes in the mapped file (protocol 3+) stay there; protocol 2's decoded bytes are owned.
    info.mapped = map_ && bytes >= map_ && bytes < map_ + map_size_;
  }
  add(std::move(info));
}

const uint8_t* PickledCheckpoint::materialise(const std::string& name, const uint8_t* base, uint32_t esize,
                                              const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  uint64_t numel = uint64_t(checked_numel(size, name));
  uint64_t bytes = numel * esize;
  materialised_bytes_ += bytes;
  if (materialised_bytes_ > 2 * file_size() + (uint64_t(64) << 20))
    throw ModelError(path() + ": tensor '" + name + "': strided views would expand to " +
                     std::to_string(materialised_bytes_) + " bytes, far more than the file holds: refused");
  std::vector<uint8_t> out(static_cast<size_t>(bytes));
  std::vector<int64_t> idx(size.size(), 0);
  int64_t off = 0;  // element offset of idx from base
  for (uint64_t e = 0; e < numel; ++e) {
    std::memcpy(out.data() + e * esize, base + size_t(off) * esize, esize);
    for (size_t k = size.size(); k-- > 0;) {  // odometer over the dimensions, last fastest
      if (++idx[k] < size[k]) {
        off += stride[k];
        break;
      }
      off -= (size[k] - 1) * stride[k];
      idx[k] = 0;
    }
  }
  return own(std::move(out));
}

}  // namespace vitscope
