#!/usr/bin/python3
"""Writes tests/data/pickled/: the golden cases' weights saved as PyTorch (torch.save, zip and
legacy) and Paddle (pickle + numpy) checkpoints, and tests/data/hostile/: pickles that try to
run code or lie about their sizes (the catalogue test_pickled.cpp checks every one is refused).

Needs Debian's torch (python3-torch) and numpy; run from anywhere:
    /usr/bin/python3 tools/make_pickled_fixtures.py
The weights come from tests/golden/<case>/model.safetensors (read with plain numpy, no
safetensors package), so each pickled file must load to exactly the same tensors.
Nothing in the hostile files is ever executed here: pickle only records the callables.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
OUT = os.path.join(ROOT, "tests", "data", "pickled")
HOSTILE = os.path.join(ROOT, "tests", "data", "hostile")
MARKER = "vitscope_pwned"  # the payloads create this file in the working directory

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """name -> numpy array, in file order (BF16 is not needed by the cases used here)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=ST_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def torch_sd(case):
    return collections.OrderedDict((k, torch.from_numpy(v)) for k, v in
                                   read_safetensors(os.path.join(GOLDEN, case, "model.safetensors")).items())


def save(obj, name, legacy=False):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def strided_copy(sd):
    """The same values, stored the awkward ways torch allows: every 2-D weight as a transposed
    (non-contiguous) view, and all 1-D tensors as slices of one shared storage."""
    out = collections.OrderedDict()
    flat = torch.cat([v.reshape(-1) for v in sd.values() if v.dim() == 1])
    pos = 0
    for k, v in sd.items():
        if v.dim() == 2:
            out[k] = v.t().contiguous().t()  # stride (1, rows): non-contiguous
            assert not out[k].is_contiguous()
        elif v.dim() == 1:
            out[k] = flat[pos:pos + v.numel()]  # offset into a shared storage
            pos += v.numel()
        else:
            out[k] = v
        assert torch.equal(out[k], v)
    return out


class Namespace(argparse.Namespace):
    pass


def training_args():
    # argparse.Namespace as timm / DeiT / DINO keep it in their checkpoints.
    return argparse.Namespace(lr=5e-4, model="vit_tiny", epochs=300, output_dir="out", drop_path=0.1)


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


def write_pickled():
    os.makedirs(OUT, exist_ok=True)
    # torchvision names, plain state dict of nn.Parameters (zip) and plain tensors (legacy)
    tv = torch_sd("tv_legacy_resized")
    save(collections.OrderedDict((k, torch.nn.Parameter(v)) for k, v in tv.items()), "tv_zip.pth")
    save(tv, "tv_legacy.pth", legacy=True)
    # Hugging Face names inside a DeiT-style {'model': ...} training checkpoint, legacy format
    hf = torch_sd("hf_deit_teacher_resized")
    save({"model": strided_copy(hf), "epoch": 3, "args": training_args(),
          "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999)}]}},
         "deit_legacy.pth", legacy=True)
    # timm F16 weights, timm-train style (state_dict + state_dict_ema, DataParallel names),
    # strided and shared storages, numpy scalar metric
    t16 = torch_sd("timm_f16")
    wrapped = collections.OrderedDict(("module." + k, v) for k, v in strided_copy(t16).items())
    save({"epoch": 7, "arch": "vit_tiny", "state_dict": wrapped,
          "state_dict_ema": collections.OrderedDict([("module.cls_token", torch.zeros(1, 1, 2))]),
          "args": training_args(), "metric": np.float64(0.75), "version": 2}, "timm_f16.pth.tar")
    # DINO full checkpoint: teacher/student MultiCropWrapper (module.backbone.*, module.head.*)
    dino = torch_sd("timm_dinov2_resized")
    head = {"head.mlp.0.weight": torch.ones(8, 16), "head.last_layer.weight_g": torch.ones(32, 1)}
    teacher = collections.OrderedDict([("module.backbone." + k, v) for k, v in dino.items()] +
                                      [("module." + k, v) for k, v in head.items()])
    student = collections.OrderedDict([("module.backbone.cls_token", torch.zeros(1, 1, 16))])
    save({"student": student, "teacher": teacher, "epoch": 100, "args": training_args(),
          "dino_loss": {"center": torch.zeros(1, 32)}}, "dino_full.pth")
    # Paddle's paddle.save(layer.state_dict()): a dict of numpy arrays + the name table,
    # protocol 2 (bytes through _codecs.encode) and 4 (the default; FRAME, STACK_GLOBAL)
    for case, proto in (("hf_vitmodel_resized", 2), ("timm_dinov2_resized", 4)):
        arrays = read_safetensors(os.path.join(GOLDEN, case, "model.safetensors"))
        saved = dict(arrays)
        saved["StructuredToParameterName@@"] = {k: "param_%d.w_0" % i for i, k in enumerate(arrays)}
        with open(os.path.join(OUT, "%s_p%d.pdparams" % (case, proto)), "wb") as f:
            pickle.dump(saved, f, protocol=proto)
    # Paddle 2.1's _pickle_save: every tensor as (name, ndarray) through builtins.tuple
    arrays = read_safetensors(os.path.join(GOLDEN, "tv_legacy_resized", "model.safetensors"))

    class Varbase:
        def __init__(self, name, data):
            self.name, self.data = name, data

        def __reduce__(self):
            return (tuple, ((self.name, self.data),))

    with open(os.path.join(OUT, "tv_paddle21.pdparams"), "wb") as f:
        pickle.dump({k: Varbase("linear_%d.w_0" % i, v) for i, (k, v) in enumerate(arrays.items())}, f, protocol=2)
    # The seed layouts (issue 14) from their goldens: PaddleClas and the Paddle tutorial as
    # paddle.save writes them, an nn.TransformerEncoder ViT as torch.save writes it (zip and legacy)
    for case, proto in (("paddle_clas", 4), ("paddle_tutorial", 2)):
        npz = np.load(os.path.join(GOLDEN, case, "model.npz"))
        saved = {k: npz[k] for k in npz.files}
        saved["StructuredToParameterName@@"] = {k: "param_%d" % i for i, k in enumerate(npz.files)}
        with open(os.path.join(OUT, "%s.pdparams" % case), "wb") as f:
            pickle.dump(saved, f, protocol=proto)
    enc = torch_sd("enc_postnorm_relu")
    save(enc, "enc_postnorm_relu.pth")
    save(enc, "enc_postnorm_relu_legacy.pth", legacy=True)
    # torch.save(model): a pickled module object, which cannot be read safely
    save(TinyNet(), "whole_model.pth")
    save(TinyNet(), "whole_model_legacy.pth", legacy=True)


# --- hostile files -------------------------------------------------------------------------

class Call:
    """Pickles as `fn(*args)` through REDUCE; nothing is called while pickling."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def payloads():
    import builtins
    import importlib
    import subprocess
    touch = "open('%s', 'w').write('x')" % MARKER
    return {
        "os_system": Call(os.system, ("touch " + MARKER,)),
        "eval": Call(builtins.eval, (touch,)),
        "exec": Call(builtins.exec, (touch,)),
        "subprocess": Call(subprocess.Popen, (["touch", MARKER],)),
        "importlib": Call(importlib.import_module, ("os",)),
    }


def torch_zip(pkl, storages=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in storages:
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def torch_legacy(pkl, keys=(), data=b""):
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    return head + pkl + pickle.dumps(list(keys), protocol=2) + data


def write_hostile():
    os.makedirs(HOSTILE, exist_ok=True)
    files = {}
    for name, p in payloads().items():
        for proto, how in ((2, "global"), (4, "stack_global")):
            # the payload as a state-dict entry, and as the whole checkpoint
            sd = pickle.dumps({"patch_embed.proj.weight": p}, protocol=proto)
            files["%s_%s.pdparams" % (name, how)] = sd
            files["%s_%s_zip.pth" % (name, how)] = torch_zip(pickle.dumps(p, protocol=proto))
            files["%s_%s_legacy.pth" % (name, how)] = torch_legacy(pickle.dumps({"model": p}, protocol=proto))

    # Malformed and lying files
    good = pickle.dumps({"w": np.arange(6, dtype=np.float32)}, protocol=4)
    files["truncated.pdparams"] = good[:len(good) // 2]
    files["truncated_zip.pth"] = torch_zip(good[:len(good) // 2])
    files["memo_miss.pdparams"] = b"\x80\x02}q\x00X\x01\x00\x00\x00wh\x07s."  # BINGET 7, never put
    files["huge_unicode.pdparams"] = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00X\xf0\xff\xff\xff" + b"a" * 8
    files["huge_bytes8.pdparams"] = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc."
    files["huge_long4.pdparams"] = b"\x80\x02\x8b" + struct.pack("<I", 0x7fffffff) + b"\x01."
    files["huge_frame.pdparams"] = b"\x80\x04\x95" + struct.pack("<Q", 1 << 60) + b"}."
    # (200,000-deep nesting is generated by test_pickled.cpp itself: 600 KB each)

    # storages shorter than their tensors
    w = torch.arange(12, dtype=torch.float32)
    storage_type = torch.FloatStorage

    class Rebuild:
        def __init__(self, key, numel, size, stride, offset=0):
            self.key, self.numel, self.size, self.stride, self.offset = key, numel, size, stride, offset

    def tensor_pickle(entries, legacy=False):
        class P(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, tuple) and obj and obj[0] == "__storage__":
                    pid = ("storage", storage_type, obj[1], "cpu", obj[2])
                    return pid + (None,) if legacy else pid
                return None

        class T:
            def __init__(self, e):
                self.e = e

            def __reduce__(self):
                e = self.e
                return (torch._utils._rebuild_tensor_v2,
                        (("__storage__", e.key, e.numel), e.offset, e.size, e.stride, False,
                         collections.OrderedDict()))

        buf = io.BytesIO()
        P(buf, protocol=2).dump(collections.OrderedDict((k, T(e)) for k, e in entries.items()))
        return buf.getvalue()

    data = w.numpy().tobytes()
    # declared storage of 12 floats, member holds 8 of them
    files["short_storage_zip.pth"] = torch_zip(tensor_pickle({"w": Rebuild("0", 12, (12,), (1,))}),
                                               [("0", data[:32])])
    # tensor reaching past its (honest) storage: 3x5 with stride 5 needs 15 elements
    files["tensor_past_storage_zip.pth"] = torch_zip(tensor_pickle({"w": Rebuild("0", 12, (3, 5), (5, 1))}),
                                                     [("0", data)])
    files["tensor_offset_past_storage_zip.pth"] = torch_zip(
        tensor_pickle({"w": Rebuild("0", 12, (4,), (1,), offset=10)}), [("0", data)])
    # legacy: the data section says 12 elements but the file ends after 8
    files["short_storage_legacy.pth"] = torch_legacy(tensor_pickle({"w": Rebuild("k", 12, (12,), (1,))}, True),
                                                     ["k"], struct.pack("<q", 12) + data[:32])
    files["huge_count_legacy.pth"] = torch_legacy(tensor_pickle({"w": Rebuild("k", 12, (12,), (1,))}, True),
                                                  ["k"], struct.pack("<q", 1 << 61) + data)
    # numpy array whose shape needs more bytes than it carries
    arr = pickle.dumps({"w": np.arange(4, dtype=np.float32)}, protocol=4)
    shape_at = arr.find(b"K\x04\x85")  # BININT1 4, TUPLE1: the shape (4,)
    assert shape_at > 0
    files["array_short.pdparams"] = arr[:shape_at] + b"K\x09" + arr[shape_at + 2:]

    for name, data in sorted(files.items()):
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(data)
    print("%d hostile files in %s" % (len(files), HOSTILE))


if __name__ == "__main__":
    write_pickled()
    write_hostile()
    for f in sorted(os.listdir(OUT)):
        print("%8d  %s" % (os.path.getsize(os.path.join(OUT, f)), f))
