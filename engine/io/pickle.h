// An allow-list unpickler for checkpoints (PyTorch .pth/.bin, Paddle .pdparams): a stack
// machine for Python's pickle protocols 2 to 5 that builds an inert tree of values and
// never calls anything the file names. Facts: shared/docs/checkpoints-pickled.md.
//
// Globals (GLOBAL / STACK_GLOBAL) are looked up in a fixed table. The few callables the
// formats need (OrderedDict, torch's tensor rebuilders, torch.Size, numpy's array and
// dtype reconstruction, _codecs.encode, plain containers) are carried out here, in C++.
// Any other global becomes a Global value: calling it (REDUCE) is refused at once, except
// for a short list of harmless value types (torch.device, pathlib paths, ...) that become
// inert placeholders; instantiating a class (NEWOBJ) gives an inert Object (how an
// argparse.Namespace or a pickled nn.Module arrives). Globals from modules that can run
// code (os, subprocess, builtins' eval/exec, importlib, ...) are refused as soon as they
// are named. Every length is checked against the bytes left, the stack, marks, memo and
// nesting depth are bounded, and nothing is allocated from an unchecked size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vitscope::pickle {

enum class Kind {
  None, Bool, Int, BigInt, Float, Str, Bytes,
  Tuple, List, Dict, Set,
  Global,   // a module attribute named by the file (never called)
  Object,   // an inert placeholder: NEWOBJ of a class, or a harmless value type's REDUCE
  Storage,  // what the persistent-id callback returned (torch storages)
  Tensor,   // torch._utils._rebuild_tensor(_v2) / _rebuild_parameter
  NdArray,  // numpy array (numpy.core / numpy._core multiarray._reconstruct + BUILD)
  Dtype,    // numpy.dtype
};

const char* kind_name(Kind k);

struct Value;

struct StorageRef {  // filled by the container's persistent-id callback
  std::string key;         // zip: data/<key>; legacy: the object id
  std::string type;        // "FloatStorage", ...
  int64_t numel = 0;       // elements, as the persistent id declares
  int64_t view_offset = 0; // legacy storage views: element offset into the root storage
  int64_t view_numel = -1; // legacy storage views: element count (-1: the whole storage)
};

struct TensorRef {  // torch tensor: a strided view of a storage, sizes in elements
  const Value* storage = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

struct ArrayRef {  // numpy array
  std::string dtype;  // numpy type string with byte order, e.g. "<f4"
  std::vector<int64_t> shape;
  bool fortran = false;
  const Value* data = nullptr;  // Bytes (nullptr until BUILD)
};

struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  // Str: UTF-8 text; Bytes: raw bytes; BigInt: little-endian two's complement;
  // Global/Object: "module.name"; Dtype: numpy type string ("f4", then "<f4" after BUILD).
  // Points into the pickle's buffer or into `owned`.
  std::string_view text;
  std::string owned;
  std::vector<Value*> items;                       // Tuple, List, Set; Object: args
  std::vector<std::pair<Value*, Value*>> entries;  // Dict, in insertion order
  Value* state = nullptr;                          // Object: BUILD state (inert)
  int depth = 0;                                   // nesting depth (containers)
  // Storage / Tensor / NdArray details, allocated only for those kinds (keeps Value small).
  struct Ext {
    StorageRef storage;
    TensorRef tensor;
    ArrayRef array;
  };
  std::unique_ptr<Ext> ext;
  StorageRef& storage() { return ensure_ext().storage; }
  TensorRef& tensor() { return ensure_ext().tensor; }
  ArrayRef& array() { return ensure_ext().array; }
  const StorageRef& storage() const { return ext->storage; }
  const TensorRef& tensor() const { return ext->tensor; }
  const ArrayRef& array() const { return ext->array; }
  Ext& ensure_ext() {
    if (!ext) ext = std::make_unique<Ext>();
    return *ext;
  }

  std::string str() const { return std::string(text); }
  bool is_str(std::string_view s) const { return kind == Kind::Str && text == s; }
  // Dict lookup by string key (nullptr if absent or not a dict).
  const Value* get(std::string_view key) const;
};

struct Limits {
  size_t max_stack = 1u << 22;     // values on the stack
  size_t max_marks = 1u << 16;     // open MARK frames
  size_t max_memo = 1u << 22;      // memo entries
  int max_depth = 1000;            // container nesting
  size_t max_values = 1u << 21;    // values created (all loads of one Unpickler)
  uint64_t max_work = 1u << 25;    // item pointers copied into containers (all loads)
};

class Unpickler;
// Called for BINPERSID with the persistent id; returns the value that stands for it
// (allocated with Unpickler::make). Throw vitscope::ModelError to refuse.
using PersistentLoad = std::function<Value*(Unpickler&, const Value& pid)>;

class Unpickler {
 public:
  // `name` prefixes every message (the file, and the member for zip archives). The buffer
  // must outlive the Unpickler and every Value it made.
  Unpickler(const uint8_t* data, size_t size, std::string name, Limits limits = {});
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  void set_persistent_load(PersistentLoad f) { persistent_load_ = std::move(f); }
  // Runs one pickle from byte `pos` to its STOP; returns its value and advances pos past it.
  // Values stay valid for the Unpickler's life (several loads share one arena).
  const Value* load(size_t& pos);
  Value* make(Kind k);
  const std::string& name() const { return name_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  Value* pop();
  Value* top();
  std::vector<Value*> pop_mark();
  void push(Value* v);
  void set_depth(Value* container, const Value* child);
  Value* global(std::string module, std::string name);
  Value* reduce(Value* callable, Value* args);
  Value* newobj(Value* cls, Value* args);
  void build(Value* obj, Value* state);
  Value* rebuild_tensor(const Value& args, bool v2);
  Value* numpy_reconstruct(const Value& args);
  Value* numpy_dtype(const Value& args);
  Value* codecs_encode(const Value& args);
  Value* from_iterable(Kind k, const Value& args);
  // Counts items copied / bytes decoded, so a small file cannot make quadratic work.
  void spend_items(size_t n);
  void spend_bytes(size_t n);

  const uint8_t* data_;
  size_t size_;
  std::string name_;
  Limits limits_;
  PersistentLoad persistent_load_;
  size_t pos_ = 0, op_pos_ = 0;
  std::deque<Value> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value*> memo_;  // at most limits_.max_memo entries
  uint64_t work_ = 0, decoded_bytes_ = 0;
};

// "module.name" of a Global/Object value, for messages.
std::string describe(const Value& v);

}  // namespace vitscope::pickle
