#!/usr/bin/python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (small valid inputs the
fuzzers mutate). Run with Debian's /usr/bin/python3 (numpy, PIL). Deterministic."""
import gzip
import io
import json
import os
import struct

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, dtype="F32"):
    """tensors: list of (name, shape); data are small deterministic values."""
    header, blobs, off = {}, [], 0
    np_dtype = {"F32": np.float32, "F16": np.float16, "F64": np.float64}.get(dtype)
    for i, (name, shape) in enumerate(tensors):
        n = int(np.prod(shape)) if shape else 1
        if dtype == "BF16":
            raw = (np.arange(n, dtype=np.float32) * 0.01 + i).view(np.uint32) >> 16
            b = raw.astype("<u2").tobytes()
        else:
            b = (np.arange(n) * 0.01 + i).astype(np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def tiny_timm(C=8, M=16, P=4, grid=2, classes=3, depth=1, reg=0, ls=False):
    t = [("cls_token", [1, 1, C]), ("pos_embed", [1, grid * grid + 1, C]),
         ("patch_embed.proj.weight", [C, 3, P, P]), ("patch_embed.proj.bias", [C])]
    if reg:
        t.append(("reg_token", [1, reg, C]))
    for i in range(depth):
        b = f"blocks.{i}."
        t += [(b + "norm1.weight", [C]), (b + "norm1.bias", [C]), (b + "attn.qkv.weight", [3 * C, C]),
              (b + "attn.qkv.bias", [3 * C]), (b + "attn.proj.weight", [C, C]), (b + "attn.proj.bias", [C]),
              (b + "norm2.weight", [C]), (b + "norm2.bias", [C]), (b + "mlp.fc1.weight", [M, C]),
              (b + "mlp.fc1.bias", [M]), (b + "mlp.fc2.weight", [C, M]), (b + "mlp.fc2.bias", [C])]
        if ls:
            t += [(b + "ls1.gamma", [C]), (b + "ls2.gamma", [C])]
    t += [("norm.weight", [C]), ("norm.bias", [C])]
    if classes:
        t += [("head.weight", [classes, C]), ("head.bias", [classes])]
    return t


def seeds_safetensors():
    put("safetensors", "timm_tiny.safetensors", safetensors(tiny_timm()))
    put("safetensors", "timm_tiny_meta.safetensors", safetensors(tiny_timm(), {"format": "pt"}))
    put("safetensors", "timm_reg_ls.safetensors", safetensors(tiny_timm(reg=2, ls=True, classes=0)))
    put("safetensors", "f16.safetensors", safetensors([("a", [2, 3]), ("b", [])], dtype="F16"))
    put("safetensors", "bf16.safetensors", safetensors([("a", [4]), ("z", [0, 3])], dtype="BF16"))
    put("safetensors", "f64.safetensors", safetensors([("x", [2, 2])], dtype="F64"))
    put("safetensors", "empty_header.safetensors", struct.pack("<Q", 8) + b"{}      ")
    put("safetensors", "hf_names.safetensors", safetensors([
        ("vit.embeddings.patch_embeddings.projection.weight", [8, 3, 4, 4]),
        ("vit.embeddings.cls_token", [1, 1, 8]), ("classifier.weight", [3, 8])]))
    put("safetensors", "tv_names.safetensors", safetensors([
        ("conv_proj.weight", [8, 3, 4, 4]), ("class_token", [1, 1, 8]),
        ("encoder.pos_embedding", [1, 5, 8])]))


def seeds_config():
    timm = {"architecture": "vit_tiny_patch4_8", "num_classes": 3, "global_pool": "token",
            "model_args": {"img_size": 8, "patch_size": 4, "in_chans": 3, "embed_dim": 8, "depth": 1,
                           "num_heads": 2, "mlp_ratio": 2.0, "qkv_bias": True},
            "pretrained_cfg": {"input_size": [3, 8, 8], "interpolation": "bicubic", "crop_pct": 0.9,
                               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "label_names": ["a", "b", "c"]}
    hf = {"architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": 8,
          "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
          "layer_norm_eps": 1e-12, "image_size": 8, "patch_size": 4, "num_channels": 3, "qkv_bias": True,
          "id2label": {"0": "a", "1": "b", "2": "c"}, "label2id": {"a": 0, "b": 1, "c": 2}}
    pre = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
           "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
           "size": {"height": 8, "width": 8}}
    pre_crop = {"crop_size": {"height": 8, "width": 8}, "do_center_crop": True, "size": {"shortest_edge": 10},
                "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "resample": 3}
    put("config", "timm.json", b"\x00" + json.dumps(timm, indent=1).encode())
    put("config", "timm_override.json", b"\x0c" + json.dumps(timm).encode())
    put("config", "timm_minimal.json", b"\x00{}")
    put("config", "hf.json", b"\x01" + json.dumps(hf, indent=1).encode())
    put("config", "hf_heads.json", b"\x05" + json.dumps(hf).encode())
    put("config", "hf_pre.json", b"\x03" + json.dumps(pre, indent=1).encode())
    put("config", "hf_pre_crop.json", b"\x03" + json.dumps(pre_crop).encode())
    put("config", "timm_pre.json", b"\x02" + json.dumps(pre).encode())


def npy_bytes(a, version=(1, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def seeds_npy():
    put("npy", "f4_2d.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("npy", "f4_nchw.npy", npy_bytes(np.zeros((1, 3, 4, 4), dtype="<f4")))
    put("npy", "f4_scalar.npy", npy_bytes(np.array(1.5, dtype="<f4")))
    put("npy", "f4_v2.npy", npy_bytes(np.ones((3,), dtype="<f4"), version=(2, 0)))
    put("npy", "f4_empty.npy", npy_bytes(np.zeros((0, 5), dtype="<f4")))
    put("npy", "f8.npy", npy_bytes(np.ones((2,), dtype="<f8")))


def idx_bytes(a):
    a = np.asarray(a, dtype=np.uint8)
    return bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.tobytes()


def seeds_idx():
    imgs = (np.arange(2 * 5 * 4) * 13 % 256).reshape(2, 5, 4)
    labels = np.array([3, 7, 1])
    put("idx", "images.idx", idx_bytes(imgs))
    put("idx", "labels.idx", idx_bytes(labels))
    put("idx", "images.idx.gz", gzip.compress(idx_bytes(imgs), mtime=0))
    put("idx", "labels.idx.gz", gzip.compress(idx_bytes(labels), mtime=0))
    put("idx", "int32.idx", bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 5]))


def seeds_pickle():
    """Small state-dict pickles as torch.save (object pickle with storage persistent ids,
    protocol 2) and paddle.save (numpy arrays, protocols 2 and 4) write them; torch is only
    needed to name its rebuild function and storage type."""
    import argparse
    import collections
    import pickle
    import torch

    class Tensor:
        def __init__(self, key, size, stride, offset=0):
            self.key, self.size, self.stride, self.offset = key, size, stride, offset

        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2,
                    (("__storage__", self.key), self.offset, self.size, self.stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "__storage__":
                return ("storage", torch.FloatStorage, obj[1], "cpu", 6, None)
            return None

    def torch_pickle(obj):
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(obj)
        return buf.getvalue()

    sd = collections.OrderedDict([("module.patch_embed.proj.weight", Tensor("0", (2, 3), (3, 1))),
                                  ("cls_token", Tensor("0", (3, 2), (1, 3), 0))])
    put("pickle", "torch_sd.pkl", torch_pickle(sd))
    put("pickle", "torch_wrapped.pkl", torch_pickle({"model": sd, "epoch": 3, "args": argparse.Namespace(lr=0.1)}))
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.float16),
              "StructuredToParameterName@@": {"w": "linear_0.w_0"}}
    put("pickle", "paddle_p2.pkl", pickle.dumps(arrays, protocol=2))
    put("pickle", "paddle_p4.pkl", pickle.dumps(arrays, protocol=4))
    put("pickle", "paddle21.pkl", pickle.dumps({"w": ("linear_0.w_0", np.zeros(3, np.float32))}, protocol=2))
    legacy_head = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950a86a20f9469cfc6c, 1001, {"little_endian": True}))
    put("pickle", "legacy_head.pkl", legacy_head + torch_pickle(sd))


def seeds_torch():
    """Tiny torch.save files, zip and legacy: a 1-block timm ViT with strided and shared
    storages, F16, and a wrapped checkpoint."""
    import collections
    import torch
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict((n, torch.randn(*s, generator=g) * 0.1) for n, s in tiny_timm())
    sd["blocks.0.attn.proj.weight"] = sd["blocks.0.attn.proj.weight"].t().contiguous().t()
    for name, obj, legacy in (("sd_zip.pth", sd, False), ("sd_legacy.pth", sd, True),
                              ("f16_zip.pth", {k: v.half() for k, v in sd.items()}, False),
                              ("wrapped_legacy.pth", {"model": sd, "epoch": 1}, True)):
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
        put("torch", name, buf.getvalue())


def pil_bytes(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def seeds_image():
    rng = np.random.RandomState(0)
    rgb = Image.fromarray(rng.randint(0, 256, (6, 5, 3), dtype=np.uint8), "RGB")
    put("image", "rgb.png", pil_bytes(rgb, "PNG") + b"\x00")
    put("image", "grey.png", pil_bytes(rgb.convert("L"), "PNG") + b"\x45")
    put("image", "rgba.png", pil_bytes(rgb.convert("RGBA"), "PNG") + b"\x8a")
    grey16 = Image.fromarray((np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16), "I;16")
    put("image", "grey16.png", pil_bytes(grey16, "PNG") + b"\x13")
    put("image", "palette.png", pil_bytes(rgb.convert("P"), "PNG") + b"\xf0")
    put("image", "rgb.jpg", pil_bytes(rgb, "JPEG", quality=90) + b"\x21")
    put("image", "progressive.jpg", pil_bytes(rgb.resize((17, 9)), "JPEG", progressive=True) + b"\x66")
    put("image", "grey.jpg", pil_bytes(rgb.convert("L"), "JPEG") + b"\x97")
    put("image", "rgb.bmp", pil_bytes(rgb, "BMP") + b"\x03")
    put("image", "rgb.tga", pil_bytes(rgb, "TGA") + b"\x30")
    frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8), "RGB") for v in (10, 200)]
    put("image", "anim.gif", pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]) + b"\xc5")


if __name__ == "__main__":
    seeds_safetensors()
    seeds_config()
    seeds_npy()
    seeds_idx()
    seeds_image()
    seeds_pickle()
    seeds_torch()
