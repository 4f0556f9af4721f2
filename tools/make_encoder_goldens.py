#!/usr/bin/python3
"""Golden cases for ViTs built on torch's nn.TransformerEncoder (seed 003's approach).

    /usr/bin/python3 tools/make_encoder_goldens.py

The model is the one the README documents (patch_embed.proj, cls_token, pos_embed, an
nn.TransformerEncoder named `encoder`, head), run by torch itself in eval mode:

  enc_postnorm_relu   nn.TransformerEncoderLayer defaults: post-norm, ReLU, eps 1e-5,
                      sequence-first input (batch_first=False), no final norm
  enc_prenorm_gelu    norm_first=True, GELU, batch_first=True, final LayerNorm (encoder.norm)
  enc_preprocess/     the config.json `preprocess` object applied with torchvision's
                      transforms on PIL images (Resize(S) shorter side / Resize([H, W]),
                      CenterCrop, ToTensor, Normalize) to tests/golden/preprocess/*.png

Attention maps: nn.TransformerEncoderLayer calls its attention with need_weights=False,
so each layer's probabilities are recomputed by calling that layer's own self_attn on the
input it saw (norm1 of it for norm_first), with need_weights=True per head.
"""
import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
torch.set_num_threads(1)


class PatchEmbed(nn.Module):
    def __init__(self, C, P):
        super().__init__()
        self.proj = nn.Conv2d(3, C, P, P)


class EncoderViT(nn.Module):
    """The README's example model (kept in step with it)."""

    def __init__(self, img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_dim=64, num_classes=10,
                 norm_first=False, activation="relu", layer_norm_eps=1e-5, final_norm=False, batch_first=False):
        super().__init__()
        self.batch_first = batch_first
        self.patch_embed = PatchEmbed(embed_dim, patch_size)
        n = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, mlp_dim, dropout=0.0, activation=activation,
                                           layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                                           norm_first=norm_first)
        norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps) if final_norm else None
        self.encoder = nn.TransformerEncoder(layer, depth, norm=norm)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, N, C)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        if self.batch_first:
            x = self.encoder(x)
        else:
            x = self.encoder(x.transpose(0, 1)).transpose(0, 1)  # (S, B, C) in and out
        return self.head(x[:, 0])


def attention_maps(model, x):
    """Per layer, batch item 0: (L, H, N, N), from each layer's own self_attn."""
    seen = []
    hooks = [layer.register_forward_pre_hook(lambda m, inp: seen.append((m, inp[0])))
             for layer in model.encoder.layers]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    maps = []
    with torch.no_grad():
        for layer, inp in seen:
            a = layer.norm1(inp) if layer.norm_first else inp
            _, w = layer.self_attn(a, a, a, need_weights=True, average_attn_weights=False)
            maps.append(w[0])  # (H, N, N) for batch item 0
    return out, torch.stack(maps, 0).numpy()


def write_case(case, cfg, batch_first, H, description):
    torch.manual_seed(zlib.crc32(case.encode()))
    kw = {k: cfg[k] for k in ("img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_dim", "num_classes",
                              "norm_first", "activation", "layer_norm_eps", "final_norm")}
    model = R.randomize_(EncoderViT(batch_first=batch_first, **kw)).eval()
    x = torch.randn(1, 3, cfg["img_size"], cfg["img_size"])
    logits, att = attention_maps(model, x)
    d = os.path.join(GOLDEN, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    R.save_safetensors(os.path.join(d, "model.safetensors"), sd)
    R.write_json(os.path.join(d, "config.json"), cfg)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, "logits.npy"), logits.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), att)
    g = cfg["img_size"] // cfg["patch_size"]
    meta = dict(case=case, framework="nn_encoder", description=description, tokens=g * g + 1, prefix_tokens=1,
                grid=[g, g], native_grid=[g, g], num_heads=H, layers=cfg["depth"],
                input_size=[cfg["img_size"]] * 2,
                reference="tools/make_encoder_goldens.py (torch " + torch.__version__ +
                          " nn.TransformerEncoder in eval mode), float32",
                files=["input.npy", "logits.npy", "attention.npy"],
                notes="state_dict saved as written by torch; attention recomputed with each layer's self_attn")
    R.write_json(os.path.join(d, "meta.json"), meta)
    print("wrote", d, "max|logit|", float(logits.abs().max()))


def preprocess_cases():
    src_dir = os.path.join(GOLDEN, "preprocess")
    out = os.path.join(GOLDEN, "enc_preprocess")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}
    cases = []
    for name, src, pre, size in (
            ("short_crop_bicubic", "big.png",
             {"resize": 40, "crop": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
              "interpolation": "bicubic"}, 32),
            ("short_nocrop_bilinear", "rgb.png",  # 71x45 -> shorter side 24: 37x24, then the model's 24x24 crop
             {"resize": 24, "crop": None, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bilinear"}, 24),
            ("squash_bilinear", "rgb.png",
             {"resize": [24, 32], "crop": None, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3],
              "interpolation": "bilinear"}, [24, 32]),
            ("squash_crop_bicubic", "big.png",
             {"resize": [36, 36], "crop": 32, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bicubic"}, 32)):
        ops = [T.Resize(pre["resize"], interpolation=interp[pre["interpolation"]])]
        hw = size if isinstance(size, list) else [size, size]
        # crop null: the model still needs its input size; the engine centre-crops (as CenterCrop would)
        ops.append(T.CenterCrop(pre["crop"] if pre["crop"] is not None else hw))
        ops += [T.ToTensor(), T.Normalize(pre["mean"], pre["std"])]
        img = Image.open(os.path.join(src_dir, src)).convert("RGB")
        arr = T.Compose(ops)(img).numpy().astype(np.float32)
        np.save(os.path.join(out, name + ".npy"), arr)
        cases.append({"case": name, "source": "preprocess/" + src, "preprocess": pre, "img_size": hw,
                      "shape": list(arr.shape)})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"reference": "torchvision " + __import__("torchvision").__version__ + " transforms on PIL images",
                   "cases": cases}, f, indent=1)
    print("wrote", out, len(cases), "cases")


def main():
    base = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_dim=64, num_classes=10,
                final_norm=False)
    write_case("enc_postnorm_relu", dict(base, norm_first=False, activation="relu", layer_norm_eps=1e-5,
                                         preprocess={"resize": [32, 32], "crop": None, "mean": [0.5] * 3,
                                                     "std": [0.5] * 3, "interpolation": "bilinear"}), False, 4,
               "nn.TransformerEncoder defaults: post-norm, ReLU, eps 1e-5, sequence-first, no final norm")
    write_case("enc_prenorm_gelu",
               dict(base, embed_dim=48, num_heads=3, mlp_dim=96, img_size=24, patch_size=6, num_classes=7,
                    norm_first=True, activation="gelu", layer_norm_eps=1e-5, final_norm=True,
                    preprocess={"resize": 28, "crop": 24, "mean": [0.5] * 3, "std": [0.5] * 3,
                                "interpolation": "bicubic"}),
               True, 3, "norm_first=True, GELU, batch_first=True, final LayerNorm encoder.norm")
    preprocess_cases()
    import make_goldens  # the tests/golden/README.md index
    make_goldens.write_index()


if __name__ == "__main__":
    main()
