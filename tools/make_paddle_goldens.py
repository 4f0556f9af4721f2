#!/usr/bin/python3
"""Golden cases for PaddlePaddle ViTs and OpenCV's resize (issue 14 items 4 and 5).

    /usr/bin/python3 tools/make_paddle_goldens.py

Paddle is not installed here, so the models are written in PyTorch from PaddlePaddle's own
code and their state dicts saved the way Paddle stores them: every nn.Linear weight is
[in, out] (Paddle computes x W + b), the Conv2D weight [out, in, kh, kw] as in torch.

  paddle_clas         PaddleClas VisionTransformer (ppcls/arch/backbone/model_zoo/
                      vision_transformer.py): timm names, pre-norm, exact GELU, scores times
                      head_dim**-0.5, LayerNorm epsilon from the config; a PaddleClas YAML
                      config (Arch with explicit fields, Infer.transforms) beside it
  paddle_tutorial     seed 000's VisualTransformer: patch_embedding.*, encoder.layers.N.*,
                      classifier; LayerNorm eps 1e-5, 4 heads (EncoderLayer's default) and,
                      as its PatchEmbedding.forward does, position_embedding never added
  paddle_preprocess/  PaddleClas's eval transforms run with cv2 and numpy as ppcls/data/
                      preprocess/ops/operators.py does (imdecode, BGR->RGB, ResizeImage
                      resize_short with cv2.resize INTER_LINEAR, CropImage, NormalizeImage)
  opencv_resize/      cv2.resize(INTER_LINEAR) of 8-bit images, up and down, as PNGs
"""
import json
import os
import shutil
import sys
import zlib

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
torch.set_num_threads(1)


class Attention(nn.Module):
    def __init__(self, C, H, qkv_bias):
        super().__init__()
        self.H = H
        self.qkv = nn.Linear(C, 3 * C, bias=qkv_bias)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.H, C // self.H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-1, -2) * (C // self.H) ** -0.5).softmax(-1)
        self.probs = attn
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, C, M):
        super().__init__()
        self.fc1 = nn.Linear(C, M)
        self.fc2 = nn.Linear(M, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # paddle nn.GELU(): approximate=False


class Block(nn.Module):
    """PaddleClas Block; the tutorial's EncoderLayer has the same maths under other names."""

    def __init__(self, C, H, M, qkv_bias, eps, names=("norm1", "attn", "norm2", "mlp")):
        super().__init__()
        self.names = names
        setattr(self, names[0], nn.LayerNorm(C, eps=eps))
        setattr(self, names[1], Attention(C, H, qkv_bias))
        setattr(self, names[2], nn.LayerNorm(C, eps=eps))
        setattr(self, names[3], Mlp(C, M))

    def forward(self, x):
        n1, at, n2, mlp = (getattr(self, n) for n in self.names)
        x = x + at(n1(x))
        return x + mlp(n2(x))


class PatchEmbed(nn.Module):
    def __init__(self, C, P):
        super().__init__()
        self.proj = nn.Conv2d(3, C, P, P)


class PaddleClasViT(nn.Module):
    def __init__(self, img, P, C, depth, H, mlp_ratio, qkv_bias, eps, K):
        super().__init__()
        self.patch_embed = PatchEmbed(C, P)
        self.pos_embed = nn.Parameter(torch.zeros(1, (img // P) ** 2 + 1, C))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.blocks = nn.ModuleList([Block(C, H, int(C * mlp_ratio), qkv_bias, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(C, eps=eps)
        self.head = nn.Linear(C, K)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0]), [b.attn.probs[0] for b in self.blocks]


class TutorialPatchEmbedding(nn.Module):
    def __init__(self, img, P, C):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, C, P, P)
        self.class_token = nn.Parameter(torch.zeros(1, 1, C))
        self.position_embedding = nn.Parameter(torch.zeros(1, (img // P) ** 2 + 1, C))

    def forward(self, x):
        cls = self.class_token.expand(x.shape[0], -1, -1)
        x = self.patch_embedding(x).flatten(2).transpose(1, 2)
        return torch.cat([cls, x], 1)  # as the tutorial: position_embedding is never added


class TutorialEncoder(nn.Module):
    def __init__(self, C, depth, H, M):
        super().__init__()
        self.layers = nn.ModuleList([Block(C, H, M, True, 1e-5, ("attn_norm", "attn", "mlp_norm", "mlp"))
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(C, eps=1e-5)


class VisualTransformer(nn.Module):
    def __init__(self, img, P, C, depth, H, M, K):
        super().__init__()
        self.patch_embedding = TutorialPatchEmbedding(img, P, C)
        self.encoder = TutorialEncoder(C, depth, H, M)
        self.classifier = nn.Linear(C, K)

    def forward(self, x):
        x = self.patch_embedding(x)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.classifier(self.encoder.norm(x)[:, 0]), [l.attn.probs[0] for l in self.encoder.layers]


def paddle_state_dict(model):
    """Paddle's layout: nn.Linear weights stored [in, out]."""
    linears = {n + ".weight" for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    return {k: (v.t() if k in linears else v).detach().clone().contiguous() for k, v in model.state_dict().items()}


def write_case(case, model, img, description, config_files, H):
    torch.manual_seed(zlib.crc32(case.encode()) + 1)
    x = torch.randn(1, 3, img, img)
    with torch.no_grad():
        logits, probs = model.eval()(x)
    d = os.path.join(GOLDEN, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sd = paddle_state_dict(model)
    np.savez(os.path.join(d, "model.npz"), **{k: v.numpy() for k, v in sd.items()})  # np.savez(path, **state_dict)
    for name, text in config_files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, "logits.npy"), logits.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), torch.stack(probs).numpy())
    N = probs[0].shape[-1]
    meta = dict(case=case, framework="paddle", description=description, tokens=N, prefix_tokens=1,
                grid=[img // 8, img // 8], native_grid=[img // 8, img // 8], num_heads=H, layers=len(probs),
                input_size=[img, img], reference="tools/make_paddle_goldens.py (PaddlePaddle's model code written "
                "in torch " + torch.__version__ + "), float32",
                files=["input.npy", "logits.npy", "attention.npy"],
                notes="nn.Linear weights stored [in, out] as Paddle does; model.npz written by "
                      "np.savez(path, **state_dict)")
    R.write_json(os.path.join(d, "meta.json"), meta)
    print("wrote", d, "max|logit|", float(logits.abs().max()))


PADDLECLAS_YAML = """# PaddleClas-style config (ppcls/configs/ImageNet/VisionTransformer/), a small ViT
Global:
  image_shape: [3, 32, 32]
Arch:
  name: VisionTransformer
  img_size: 32
  patch_size: 8
  embed_dim: 32
  depth: 2
  num_heads: 4
  mlp_ratio: 2
  qkv_bias: True
  epsilon: 1.0e-6
  class_num: 10
Infer:
  infer_imgs: docs/images/inference_deployment/whl_demo.jpg
  batch_size: 10
  transforms:
    - DecodeImage:
        to_rgb: True
        channel_first: False
    - ResizeImage:
        resize_short: 40
    - CropImage:
        size: 32
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.5, 0.5, 0.5]
        std: [0.5, 0.5, 0.5]
        order: ''
    - ToCHWImage:
  PostProcess:
    name: Topk
    topk: 5
"""


def paddle_eval_transform(png_path, resize_short, crop, scale, mean, std, to_rgb=True):
    """PaddleClas's DecodeImage, ResizeImage, CropImage, NormalizeImage, ToCHWImage."""
    data = np.frombuffer(open(png_path, "rb").read(), dtype="uint8")
    img = cv2.imdecode(data, 1)
    if to_rgb:
        img = img[:, :, ::-1]  # BGR -> RGB
    h, w = img.shape[:2]
    percent = float(resize_short) / min(w, h)
    img = cv2.resize(img, (int(round(w * percent)), int(round(h * percent))), interpolation=cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    ws, hs = (w - crop) // 2, (h - crop) // 2
    img = img[hs:hs + crop, ws:ws + crop, :]
    img = (img.astype("float32") * np.float32(scale) - np.array(mean).reshape(1, 1, 3).astype("float32")) / \
        np.array(std).reshape(1, 1, 3).astype("float32")
    return img.transpose(2, 0, 1).astype(np.float32)


def preprocess_cases():
    out = os.path.join(GOLDEN, "paddle_preprocess")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cases = []
    for name, src, short, crop, mean, std, to_rgb in (
            ("rgb_40_32", "rgb.png", 40, 32, [0.5] * 3, [0.5] * 3, True),     # 71x45 -> 63x40: down
            ("big_64_56", "big.png", 64, 56, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], True),  # 213x135 -> 101x64
            ("rgb_90_80", "rgb.png", 90, 80, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4], True),  # 142x90: exactly 2x up
            ("rgb_bgr_56_48", "rgb.png", 56, 48, [0.4, 0.5, 0.6], [0.3, 0.2, 0.25], False)):  # to_rgb: False
        arr = paddle_eval_transform(os.path.join(GOLDEN, "preprocess", src), short, crop, 1.0 / 255.0, mean, std,
                                    to_rgb)
        np.save(os.path.join(out, name + ".npy"), arr)
        cases.append({"case": name, "source": "preprocess/" + src, "resize_short": short, "crop": crop,
                      "mean": mean, "std": std, "to_rgb": to_rgb, "shape": list(arr.shape)})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"reference": "cv2 " + cv2.__version__ + " + numpy, as PaddleClas's operators.py", "cases": cases},
                  f, indent=1)
    print("wrote", out)


def resize_cases():
    out = os.path.join(GOLDEN, "opencv_resize")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(14)
    src = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    src[::5] = 255 - src[::5]  # some structure: runs of bright and dark rows
    Image.fromarray(src).save(os.path.join(out, "source.png"))
    cases = []
    for w, h in ((53, 37), (26, 18), (106, 74), (80, 61), (31, 22), (7, 5), (160, 19), (1, 1), (54, 37), (17, 90)):
        got = cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR)
        name = f"resize_{w}x{h}.png"
        Image.fromarray(got).save(os.path.join(out, name))
        cases.append({"width": w, "height": h, "file": name})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"reference": "cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR), OpenCV " + cv2.__version__,
                   "source": "source.png", "cases": cases}, f, indent=1)
    print("wrote", out)


def main():
    torch.manual_seed(zlib.crc32(b"paddle_clas"))
    model = R.randomize_(PaddleClasViT(32, 8, 32, 2, 4, 2, True, 1e-6, 10))
    write_case("paddle_clas", model, 32, "PaddleClas VisionTransformer (explicit Arch fields), [in,out] Linears",
               {"ViT_test_patch8_32.yaml": PADDLECLAS_YAML}, 4)
    torch.manual_seed(zlib.crc32(b"paddle_tutorial"))
    model = R.randomize_(VisualTransformer(32, 8, 32, 2, 4, 64, 6))
    write_case("paddle_tutorial", model, 32, "seed 000's VisualTransformer: no position embedding added, 4 heads, "
               "eps 1e-5", {}, 4)
    preprocess_cases()
    resize_cases()
    import make_goldens  # the tests/golden/README.md index
    make_goldens.write_index()


if __name__ == "__main__":
    main()
