// The allow-list unpickler's stack machine (opcodes as in CPython's Lib/pickletools.py;
// what each allowed callable does: torch/_utils.py, numpy's array __reduce__/__setstate__).
#include "io/pickle.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"

namespace vitscope::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::NdArray: return "numpy array";
    case Kind::Dtype: return "numpy dtype";
  }
  return "?";
}

const Value* Value::get(std::string_view key) const {
  if (kind != Kind::Dict) return nullptr;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)  // the last SETITEM wins
    if (it->first->is_str(key)) return it->second;
  return nullptr;
}

std::string describe(const Value& v) {
  if (v.kind == Kind::Global || v.kind == Kind::Object) return std::string(v.text);
  return kind_name(v.kind);
}

namespace {

// Globals the formats need, carried out in C++ (never looked up in Python).
enum class Fn {
  None, OrderedDict, RebuildTensor, RebuildTensorV2, RebuildParameter, RebuildParameterWithState,
  RebuildFromType, TorchSize, NumpyReconstruct, NumpyDtype, NumpyScalar, CodecsEncode,
  Tuple, List, Set, FrozenSet, Dict, Bytes, ByteArray,
};

Fn allowed_callable(const std::string& module, const std::string& name) {
  const bool builtins = module == "builtins" || module == "__builtin__";
  if (module == "collections" && name == "OrderedDict") return Fn::OrderedDict;
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor") return Fn::RebuildTensor;
    if (name == "_rebuild_tensor_v2") return Fn::RebuildTensorV2;
    if (name == "_rebuild_parameter") return Fn::RebuildParameter;
    if (name == "_rebuild_parameter_with_state") return Fn::RebuildParameterWithState;
  }
  if (module == "torch._tensor" && (name == "_rebuild_from_type_v2" || name == "_rebuild_from_type"))
    return Fn::RebuildFromType;
  if (module == "torch" && name == "Size") return Fn::TorchSize;
  if (module == "numpy.core.multiarray" || module == "numpy._core.multiarray") {
    if (name == "_reconstruct") return Fn::NumpyReconstruct;
    if (name == "scalar") return Fn::NumpyScalar;
  }
  if (module == "numpy" && name == "dtype") return Fn::NumpyDtype;
  if (module == "_codecs" && name == "encode") return Fn::CodecsEncode;
  if (builtins) {
    if (name == "tuple") return Fn::Tuple;
    if (name == "list") return Fn::List;
    if (name == "set") return Fn::Set;
    if (name == "frozenset") return Fn::FrozenSet;
    if (name == "dict") return Fn::Dict;
    if (name == "bytes") return Fn::Bytes;
    if (name == "bytearray") return Fn::ByteArray;
  }
  return Fn::None;
}

// Plain value types whose REDUCE is recorded as an inert placeholder instead of refused:
// they appear in training checkpoints' `args` and nowhere near the weights.
bool inert_value_type(const std::string& module, const std::string& name) {
  if (module == "torch" && name == "device") return true;
  if (module == "pathlib")
    return name == "Path" || name == "PosixPath" || name == "WindowsPath" || name == "PurePath" ||
           name == "PurePosixPath" || name == "PureWindowsPath";
  if (module == "datetime") return name == "datetime" || name == "date" || name == "time" || name == "timedelta";
  if (module == "fractions" && name == "Fraction") return true;
  if (module == "decimal" && name == "Decimal") return true;
  return false;
}

// Modules whose globals can run code, touch files or processes, or fetch attributes:
// refused as soon as the pickle names them, whatever it does with them next.
bool dangerous_global(const std::string& module, const std::string& name) {
  static const std::set<std::string> modules = {
      "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "importlib", "runpy", "shutil",
      "socket", "pty", "ctypes", "pickle", "_pickle", "marshal", "code", "codeop", "webbrowser",
      "multiprocessing", "commands", "operator", "_operator", "functools", "_functools", "types",
      "timeit", "pdb", "bdb", "asyncio", "platform", "signal", "tempfile", "glob", "io", "_io",
      "builtins", "__builtin__", "_posixsubprocess", "popen2", "cProfile", "profile", "trace",
      "threading", "_thread", "zipimport", "pkgutil", "site", "urllib", "http", "requests", "ftplib",
      "smtplib", "telnetlib", "sqlite3", "shelve", "dbm", "inspect", "ast", "copyreg", "copy_reg",
      "torch.hub", "torch.jit", "torch.package", "torch.ops", "torch._C", "torch.serialization"};
  std::string root = module.substr(0, module.find('.'));
  if (modules.count(module) || modules.count(root)) {
    // The plain containers of builtins are allowed (carried out here, see allowed_callable).
    if ((module == "builtins" || module == "__builtin__") && allowed_callable(module, name) != Fn::None)
      return false;
    return true;
  }
  if (module.rfind("torch.", 0) == 0) {  // torch.hub / torch.jit / ... with any sub-module
    for (const char* m : {"torch.hub", "torch.jit", "torch.package", "torch.ops", "torch._C", "torch.serialization"})
      if (module.rfind(std::string(m) + ".", 0) == 0) return true;
  }
  if (module == "torch" && (name == "load" || name == "hub" || name == "jit" || name == "compile"))
    return true;
  if (module == "_codecs" && name != "encode") return true;
  if (name == "eval" || name == "exec" || name == "system" || name == "__import__" || name == "getattr" ||
      name == "setattr" || name == "compile" || name == "popen" || name == "import_module" || name == "open")
    return true;
  return false;
}

}  // namespace

Unpickler::Unpickler(const uint8_t* data, size_t size, std::string name, Limits limits)
    : data_(data), size_(size), name_(std::move(name)), limits_(limits) {}

void Unpickler::fail(const std::string& what) const {
  throw ModelError(name_ + ": " + what + " (pickle opcode at byte " + std::to_string(op_pos_) + ")");
}

void Unpickler::spend_items(size_t n) {
  work_ += n;
  if (work_ > limits_.max_work)
    fail("more than " + std::to_string(limits_.max_work) + " container items built: refused");
}

void Unpickler::spend_bytes(size_t n) {
  decoded_bytes_ += n;
  if (decoded_bytes_ > size_ + (1u << 20)) fail("decodes more bytes than the file holds: refused");
}

Value* Unpickler::make(Kind k) {
  if (arena_.size() >= limits_.max_values)
    fail("more than " + std::to_string(limits_.max_values) + " values: refused");
  arena_.emplace_back();
  Value* v = &arena_.back();
  v->kind = k;
  if (k == Kind::Storage || k == Kind::Tensor || k == Kind::NdArray) v->ensure_ext();
  return v;
}

void Unpickler::push(Value* v) {
  if (stack_.size() >= limits_.max_stack) fail("pickle stack deeper than " + std::to_string(limits_.max_stack));
  stack_.push_back(v);
}

Value* Unpickler::pop() {
  size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail("pickle stack underflow (truncated or corrupt pickle)");
  Value* v = stack_.back();
  stack_.pop_back();
  return v;
}

Value* Unpickler::top() {
  size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail("pickle stack underflow (truncated or corrupt pickle)");
  return stack_.back();
}

std::vector<Value*> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK to close (corrupt pickle)");
  size_t m = marks_.back();
  marks_.pop_back();
  spend_items(stack_.size() - m);
  std::vector<Value*> items(stack_.begin() + std::ptrdiff_t(m), stack_.end());
  stack_.resize(m);
  return items;
}

void Unpickler::set_depth(Value* container, const Value* child) {
  container->depth = std::max(container->depth, child->depth + 1);
  if (container->depth > limits_.max_depth)
    fail("objects nested deeper than " + std::to_string(limits_.max_depth) + " levels: refused");
}

Value* Unpickler::global(std::string module, std::string name) {
  if (dangerous_global(module, name))
    fail("refused: the pickle names " + module + "." + name +
         ", which can run code or touch the system (nothing was run; weights files never need it)");
  Value* g = make(Kind::Global);
  g->owned = module + "." + name;
  g->text = g->owned;
  return g;
}

namespace {

void split_global(const Value& g, std::string& module, std::string& name) {
  std::string s(g.text);
  // Module names contain dots, attribute names of the globals we know do not.
  size_t dot = s.rfind('.');
  module = s.substr(0, dot);
  name = dot == std::string::npos ? "" : s.substr(dot + 1);
}

bool all_ints(const Value& t) {
  if (t.kind != Kind::Tuple && t.kind != Kind::List) return false;
  for (const Value* v : t.items)
    if (v->kind != Kind::Int) return false;
  return true;
}

std::vector<int64_t> ints(const Value& t) {
  std::vector<int64_t> out;
  for (const Value* v : t.items) out.push_back(v->i);
  return out;
}

}  // namespace

Value* Unpickler::rebuild_tensor(const Value& args, bool v2) {
  const auto& a = args.items;
  if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
    fail(std::string(v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor") + " with " + std::to_string(a.size()) +
         " arguments");
  if (a[0]->kind != Kind::Storage) fail("a tensor's storage is a " + describe(*a[0]) + ", not a storage");
  if (a[1]->kind != Kind::Int || !all_ints(*a[2]) || !all_ints(*a[3]))
    fail("a tensor's offset, size and stride must be integers");
  if (a[2]->items.size() != a[3]->items.size())
    fail("a tensor has " + std::to_string(a[2]->items.size()) + " sizes but " + std::to_string(a[3]->items.size()) +
         " strides");
  if (a[2]->items.size() > 16) fail("a tensor with more than 16 dimensions");
  Value* t = make(Kind::Tensor);
  t->tensor().storage = a[0];
  t->tensor().offset = a[1]->i;
  t->tensor().size = ints(*a[2]);
  t->tensor().stride = ints(*a[3]);
  return t;
}

Value* Unpickler::numpy_reconstruct(const Value& args) {
  // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that BUILD fills in.
  const auto& a = args.items;
  if (a.size() != 3 || a[0]->kind != Kind::Global ||
      (a[0]->text != "numpy.ndarray"))
    fail("numpy _reconstruct of " + (a.empty() ? std::string("nothing") : describe(*a[0])) +
         " (only plain numpy.ndarray is read)");
  return make(Kind::NdArray);
}

Value* Unpickler::numpy_dtype(const Value& args) {
  const auto& a = args.items;
  if (a.empty() || a[0]->kind != Kind::Str || a[0]->text.size() > 16) fail("numpy.dtype with an unexpected argument");
  Value* d = make(Kind::Dtype);
  d->owned = std::string(a[0]->text);
  d->text = d->owned;
  return d;
}

Value* Unpickler::codecs_encode(const Value& args) {
  // Protocol 2's bytes: _codecs.encode(<str of code points 0..255>, 'latin1').
  const auto& a = args.items;
  if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str ||
      !(a[1]->text == "latin1" || a[1]->text == "latin-1" || a[1]->text == "iso-8859-1"))
    fail("_codecs.encode with arguments other than (str, 'latin1')");
  Value* b = make(Kind::Bytes);
  std::string_view s = a[0]->text;
  spend_bytes(s.size());
  b->owned.reserve(s.size());  // at most one byte per input byte
  for (size_t i = 0; i < s.size(); ++i) {
    uint8_t c = uint8_t(s[i]);
    if (c < 0x80) {
      b->owned.push_back(char(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() && (uint8_t(s[i + 1]) & 0xC0) == 0x80) {
      b->owned.push_back(char(((c & 0x03) << 6) | (uint8_t(s[i + 1]) & 0x3F)));
      ++i;
    } else {
      fail("_codecs.encode: a character outside latin-1 in protocol-2 bytes");
    }
  }
  b->text = b->owned;
  return b;
}

Value* Unpickler::from_iterable(Kind k, const Value& args) {
  Value* out = make(k);
  if (args.items.empty()) return out;
  if (args.items.size() != 1) fail(std::string(kind_name(k)) + "() with more than one argument");
  const Value& src = *args.items[0];
  spend_items(src.items.size() + src.entries.size());
  if (k == Kind::Dict) {
    if (src.kind == Kind::Dict) {
      out->entries = src.entries;
    } else if (src.kind == Kind::List || src.kind == Kind::Tuple) {
      for (Value* p : src.items) {
        if ((p->kind != Kind::Tuple && p->kind != Kind::List) || p->items.size() != 2)
          fail("dict() of something other than key/value pairs");
        out->entries.push_back({p->items[0], p->items[1]});
      }
    } else {
      fail("dict() of a " + describe(src));
    }
  } else {
    if (src.kind != Kind::Tuple && src.kind != Kind::List && src.kind != Kind::Set)
      fail(std::string(kind_name(k)) + "() of a " + describe(src));
    out->items = src.items;
  }
  out->depth = src.depth;
  return out;
}

Value* Unpickler::reduce(Value* callable, Value* args) {
  if (callable->kind != Kind::Global)
    fail("REDUCE calls a " + describe(*callable) + ", not a global (refused)");
  if (args->kind != Kind::Tuple) fail("REDUCE arguments are a " + describe(*args) + ", not a tuple");
  std::string module, name;
  split_global(*callable, module, name);
  const auto& a = args->items;
  switch (allowed_callable(module, name)) {
    case Fn::OrderedDict: return from_iterable(Kind::Dict, *args);
    case Fn::Dict: return from_iterable(Kind::Dict, *args);
    case Fn::Tuple: return from_iterable(Kind::Tuple, *args);
    case Fn::TorchSize: return from_iterable(Kind::Tuple, *args);
    case Fn::List: return from_iterable(Kind::List, *args);
    case Fn::Set: return from_iterable(Kind::Set, *args);
    case Fn::FrozenSet: return from_iterable(Kind::Set, *args);
    case Fn::RebuildTensor: return rebuild_tensor(*args, false);
    case Fn::RebuildTensorV2: return rebuild_tensor(*args, true);
    case Fn::RebuildParameter:
    case Fn::RebuildParameterWithState:
      if (a.empty() || a[0]->kind != Kind::Tensor) fail("_rebuild_parameter of something other than a tensor");
      return a[0];  // requires_grad and hooks do not matter for inference
    case Fn::RebuildFromType:
      // _rebuild_from_type_v2(func, new_type, args, state): a tensor subclass; only the
      // allowed rebuild function is carried out, the type and state are ignored.
      if (a.size() < 3 || a[0]->kind != Kind::Global || a[2]->kind != Kind::Tuple)
        fail("_rebuild_from_type with unexpected arguments");
      return reduce(a[0], a[2]);
    case Fn::NumpyReconstruct: return numpy_reconstruct(*args);
    case Fn::NumpyDtype: return numpy_dtype(*args);
    case Fn::NumpyScalar: {
      Value* o = make(Kind::Object);  // a numpy scalar (e.g. a metric): not a weight
      o->text = callable->text;
      return o;
    }
    case Fn::CodecsEncode: return codecs_encode(*args);
    case Fn::Bytes:
    case Fn::ByteArray: {
      if (a.empty()) return make(Kind::Bytes);
      if (a.size() == 1 && a[0]->kind == Kind::Bytes) return a[0];
      fail(name + "() with arguments other than bytes");
    }
    case Fn::None: break;
  }
  if (inert_value_type(module, name)) {
    Value* o = make(Kind::Object);
    o->text = callable->text;
    return o;
  }
  fail("refused: the pickle calls " + std::string(callable->text) +
       ", which is not on the allow list for weights files (nothing was run)");
}

Value* Unpickler::newobj(Value* cls, Value* args) {
  if (cls->kind != Kind::Global) fail("NEWOBJ of a " + describe(*cls) + ", not a class");
  if (args->kind != Kind::Tuple) fail("NEWOBJ arguments are a " + describe(*args) + ", not a tuple");
  std::string module, name;
  split_global(*cls, module, name);
  switch (allowed_callable(module, name)) {
    case Fn::OrderedDict:
    case Fn::Dict: return make(Kind::Dict);
    case Fn::List: return make(Kind::List);
    case Fn::Set:
    case Fn::FrozenSet: return make(Kind::Set);
    default: break;
  }
  // cls.__new__(cls, *args) of anything else: an inert placeholder naming the class
  // (argparse.Namespace, a pickled nn.Module, ...). Nothing is called.
  Value* o = make(Kind::Object);
  o->text = cls->text;
  return o;
}

void Unpickler::build(Value* obj, Value* state) {
  switch (obj->kind) {
    case Kind::Dict:    // OrderedDict's instance attributes (torch's _metadata): not needed
    case Kind::Tensor:  // tensor subclass state
      return;
    case Kind::Object:  // kept, never applied
      obj->state = state;
      set_depth(obj, state);
      return;
    case Kind::Dtype: {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
      if (state->kind != Kind::Tuple || state->items.size() < 2 || state->items[1]->kind != Kind::Str)
        fail("numpy dtype state is not (version, byteorder, ...)");
      std::string order(state->items[1]->text);
      if (order == "=") order = "<";  // native: numpy pickles are read on little-endian hosts only
      if (order != "<" && order != ">" && order != "|") fail("numpy dtype byte order '" + order + "'");
      if (state->items.size() > 3 && state->items[3]->kind != Kind::None)
        fail("numpy structured dtypes are not weights");
      obj->owned = order + obj->owned;
      obj->text = obj->owned;
      return;
    }
    case Kind::NdArray: {
      // (version, shape, dtype, is_fortran, data) or the older (shape, dtype, is_fortran, data)
      if (state->kind != Kind::Tuple || (state->items.size() != 5 && state->items.size() != 4))
        fail("numpy array state is not (version, shape, dtype, fortran, data)");
      size_t o = state->items.size() == 5 ? 1 : 0;
      const Value& shape = *state->items[o];
      const Value& dtype = *state->items[o + 1];
      const Value& fortran = *state->items[o + 2];
      const Value& data = *state->items[o + 3];
      if (!all_ints(shape) || shape.items.size() > 16) fail("numpy array shape is not a tuple of integers");
      if (dtype.kind != Kind::Dtype) fail("numpy array dtype is a " + describe(dtype));
      if (fortran.kind != Kind::Bool && fortran.kind != Kind::Int) fail("numpy array fortran flag is not a bool");
      if (data.kind != Kind::Bytes)
        fail("numpy array data is a " + describe(data) + " (object arrays are not weights)");
      ArrayRef& a = obj->array();
      a.dtype = std::string(dtype.text);
      a.shape = ints(shape);
      a.fortran = fortran.kind == Kind::Bool ? fortran.b : fortran.i != 0;
      a.data = &data;
      return;
    }
    default: fail("BUILD on a " + describe(*obj) + " (not something a weights file holds)");
  }
}

namespace {
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K', BININT2 = 'M',
  NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X',
  APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', BINGET = 'h',
  LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't',
  EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G', BINBYTES = 'B', SHORT_BINBYTES = 'C',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89,
  LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};
}  // namespace

const Value* Unpickler::load(size_t& pos) {
  pos_ = pos;
  stack_.clear();
  marks_.clear();
  memo_.clear();
  auto need = [&](uint64_t n) {
    if (n > size_ - pos_)
      fail("truncated pickle: " + std::to_string(n) + " bytes declared, " + std::to_string(size_ - pos_) + " left");
  };
  auto u8 = [&]() -> uint64_t { need(1); return data_[pos_++]; };
  auto le = [&](int n) -> uint64_t {
    need(uint64_t(n));
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(data_[pos_ + size_t(k)]) << (8 * k);
    pos_ += size_t(n);
    return v;
  };
  auto view = [&](uint64_t n) {
    need(n);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  };
  auto line = [&]() {
    size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start > 1024) fail("GLOBAL name longer than 1024 bytes");
      ++pos_;
    }
    if (pos_ >= size_) fail("truncated pickle: GLOBAL name without a newline");
    std::string s(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    ++pos_;
    return s;
  };
  auto push_text = [&](Kind k, std::string_view s) {
    Value* v = make(k);
    v->text = s;
    push(v);
  };
  auto memo_put = [&](uint64_t idx) {
    if (memo_.size() >= limits_.max_memo && !memo_.count(uint32_t(idx)))
      fail("memo larger than " + std::to_string(limits_.max_memo) + " entries");
    if (idx > 0xffffffffu) fail("memo index out of range");
    memo_[uint32_t(idx)] = top();
  };
  auto memo_get = [&](uint64_t idx) {
    auto it = memo_.find(uint32_t(idx));
    if (idx > 0xffffffffu || it == memo_.end())
      fail("memo entry " + std::to_string(idx) + " is read before it is written (corrupt pickle)");
    push(it->second);
  };
  auto add_items = [&](Value* list, const std::vector<Value*>& items) {
    if (list->kind != Kind::List && list->kind != Kind::Set && list->kind != Kind::Object)
      fail("APPEND/ADDITEMS on a " + describe(*list));
    for (Value* v : items) {
      list->items.push_back(v);
      set_depth(list, v);
    }
  };
  auto set_items = [&](Value* dict, const std::vector<Value*>& kv) {
    if (dict->kind != Kind::Dict && dict->kind != Kind::Object) fail("SETITEM on a " + describe(*dict));
    if (kv.size() % 2) fail("SETITEMS with an odd number of items");
    for (size_t k = 0; k < kv.size(); k += 2) {
      dict->entries.push_back({kv[k], kv[k + 1]});
      set_depth(dict, kv[k + 1]);
    }
  };
  auto make_seq = [&](Kind k, const std::vector<Value*>& items) {
    Value* t = make(k);
    t->items = items;
    for (Value* v : items) set_depth(t, v);
    push(t);
  };

  while (true) {
    op_pos_ = pos_;
    if (pos_ >= size_) fail("truncated pickle: no STOP");
    uint8_t op = data_[pos_++];
    switch (op) {
      case PROTO: {
        uint64_t p = u8();
        if (p > 5) fail("pickle protocol " + std::to_string(p) + " (only 2 to 5 are read)");
        break;
      }
      case FRAME: need(le(8)); break;  // frames only group opcodes; lengths still checked
      case STOP: {
        Value* v = pop();
        if (!stack_.empty() || !marks_.empty()) fail("pickle ends with values left on the stack");
        pos = pos_;
        return v;
      }
      case MARK:
        if (marks_.size() >= limits_.max_marks)
          fail("more than " + std::to_string(limits_.max_marks) + " nested MARKs: refused");
        marks_.push_back(stack_.size());
        break;
      case POP: pop(); break;
      case POP_MARK: pop_mark(); break;
      case DUP: push(top()); break;
      case NONE: push(make(Kind::None)); break;
      case NEWTRUE:
      case NEWFALSE: {
        Value* v = make(Kind::Bool);
        v->b = op == NEWTRUE;
        push(v);
        break;
      }
      case BININT1:
      case BININT2:
      case BININT: {
        Value* v = make(Kind::Int);
        v->i = op == BININT1 ? int64_t(u8()) : op == BININT2 ? int64_t(le(2)) : int64_t(int32_t(uint32_t(le(4))));
        push(v);
        break;
      }
      case LONG1:
      case LONG4: {
        uint64_t n = op == LONG1 ? u8() : le(4);
        std::string_view bytes = view(n);
        if (n <= 8) {
          Value* v = make(Kind::Int);
          uint64_t u = 0;
          for (size_t k = 0; k < n; ++k) u |= uint64_t(uint8_t(bytes[k])) << (8 * k);
          if (n > 0 && n < 8 && (uint8_t(bytes[n - 1]) & 0x80)) u |= ~uint64_t(0) << (8 * n);  // sign-extend
          v->i = int64_t(u);
          push(v);
        } else {
          push_text(Kind::BigInt, bytes);
        }
        break;
      }
      case BINFLOAT: {
        need(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | data_[pos_ + size_t(k)];  // big-endian
        pos_ += 8;
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        push(v);
        break;
      }
      case SHORT_BINUNICODE: push_text(Kind::Str, view(u8())); break;
      case BINUNICODE: push_text(Kind::Str, view(le(4))); break;
      case BINUNICODE8: push_text(Kind::Str, view(le(8))); break;
      case SHORT_BINSTRING: push_text(Kind::Str, view(u8())); break;  // Python 2 str
      case BINSTRING: {
        uint64_t n = le(4);
        if (n & 0x80000000u) fail("BINSTRING with a negative length");
        push_text(Kind::Str, view(n));
        break;
      }
      case SHORT_BINBYTES: push_text(Kind::Bytes, view(u8())); break;
      case BINBYTES: push_text(Kind::Bytes, view(le(4))); break;
      case BINBYTES8:
      case BYTEARRAY8: push_text(Kind::Bytes, view(le(8))); break;
      case EMPTY_TUPLE: push(make(Kind::Tuple)); break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        size_t n = size_t(op - TUPLE1 + 1);
        std::vector<Value*> items(n);
        for (size_t k = n; k-- > 0;) items[k] = pop();
        make_seq(Kind::Tuple, items);
        break;
      }
      case TUPLE: make_seq(Kind::Tuple, pop_mark()); break;
      case EMPTY_LIST: push(make(Kind::List)); break;
      case LIST: make_seq(Kind::List, pop_mark()); break;
      case APPEND: {
        Value* v = pop();
        add_items(top(), {v});
        break;
      }
      case APPENDS: {
        auto items = pop_mark();
        add_items(top(), items);
        break;
      }
      case EMPTY_SET: push(make(Kind::Set)); break;
      case ADDITEMS: {
        auto items = pop_mark();
        add_items(top(), items);
        break;
      }
      case FROZENSET: make_seq(Kind::Set, pop_mark()); break;
      case EMPTY_DICT: push(make(Kind::Dict)); break;
      case DICT: {
        auto kv = pop_mark();
        Value* d = make(Kind::Dict);
        set_items(d, kv);
        push(d);
        break;
      }
      case SETITEM: {
        Value* v = pop();
        Value* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case SETITEMS: {
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case BINPUT: memo_put(u8()); break;
      case LONG_BINPUT: memo_put(le(4)); break;
      case MEMOIZE: memo_put(memo_.size()); break;
      case BINGET: memo_get(u8()); break;
      case LONG_BINGET: memo_get(le(4)); break;
      case GLOBAL: {
        std::string module = line();
        std::string name = line();
        push(global(std::move(module), std::move(name)));
        break;
      }
      case STACK_GLOBAL: {
        Value* name = pop();
        Value* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL of non-strings");
        if (module->text.size() > 1024 || name->text.size() > 1024) fail("STACK_GLOBAL name longer than 1024 bytes");
        push(global(module->str(), name->str()));
        break;
      }
      case REDUCE: {
        Value* args = pop();
        Value* fn = pop();
        push(reduce(fn, args));
        break;
      }
      case NEWOBJ: {
        Value* args = pop();
        Value* cls = pop();
        push(newobj(cls, args));
        break;
      }
      case NEWOBJ_EX: {
        pop();  // kwargs: recorded nowhere, the object is inert anyway
        Value* args = pop();
        Value* cls = pop();
        push(newobj(cls, args));
        break;
      }
      case BUILD: {
        Value* state = pop();
        build(top(), state);
        break;
      }
      case BINPERSID: {
        Value* pid = pop();
        if (!persistent_load_) fail("a persistent id in a pickle that should have none");
        Value* v = persistent_load_(*this, *pid);
        VIT_ASSERT(v != nullptr, "persistent_load returned nothing");
        push(v);
        break;
      }
      case READONLY_BUFFER: top(); break;
      case NEXT_BUFFER: fail("out-of-band buffer (pickle protocol 5 NEXT_BUFFER) without buffers");
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        std::string what = std::string("unsupported pickle opcode ") + hex;
        if (op == 'i' || op == 'o') what += " (INST/OBJ: protocol 0/1 object construction, refused)";
        else if (op >= 0x82 && op <= 0x84) what += " (extension registry, refused)";
        else if (op != 0 && std::strchr("IFLSVPgp", op)) what += " (a protocol 0 text opcode)";
        fail(what);
      }
    }
  }
}

}  // namespace vitscope::pickle
