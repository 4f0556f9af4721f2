#!/usr/bin/python3
"""Reference outputs of the frameworks' eval preprocessing, for tests/test_image.cpp.

    /usr/bin/python3 tools/make_preprocess_goldens.py

Writes tests/golden/preprocess/: two small source images (RGB and grey PNG) and, for
each pipeline, the float32 CHW tensor that torchvision's transforms (on PIL images, as
timm and torchvision use them) or a plain PIL resize (as Hugging Face's slow image
processors do) produce. Deterministic.
"""
import json
import math
import os

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "preprocess")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def source_images():
    rng = np.random.default_rng(7)
    h, w = 45, 71  # odd, non-square, smaller than most crops after resize
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], -1)
    noise = rng.integers(-40, 40, size=(h, w, 3))
    rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
    grey = np.clip(yy * 3 + rng.integers(0, 60, size=(h, w)), 0, 255).astype(np.uint8)
    big = np.clip(np.kron(rgb, np.ones((3, 3, 1))) + rng.integers(-20, 20, size=(h * 3, w * 3, 3)), 0, 255).astype(np.uint8)
    return {"rgb": Image.fromarray(rgb, "RGB"), "grey": Image.fromarray(grey, "L"),
            "big": Image.fromarray(big, "RGB")}


def to_tensor(pipeline, img, mean, std):
    x = pipeline(img)
    return T.Normalize(mean, std)(T.ToTensor()(x)).numpy().astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    imgs = source_images()
    for name, im in imgs.items():
        im.save(os.path.join(OUT, f"{name}.png"))
    cases = []

    def add(case, src, fn, desc, mean, std, params):
        arr = to_tensor(fn, imgs[src], mean, std)
        np.save(os.path.join(OUT, f"{case}.npy"), arr)
        cases.append({"case": case, "source": f"{src}.png", "description": desc, "mean": list(mean),
                      "std": list(std), "shape": list(arr.shape), **params})

    # timm eval: shorter side to floor(S / crop_pct), bicubic, centre crop S.
    for src, size, crop_pct in (("rgb", 32, 0.9), ("big", 48, 0.875), ("rgb", 40, 1.0), ("big", 64, 0.95)):
        scale = math.floor(size / crop_pct)
        fn = T.Compose([T.Resize(scale, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size)])
        add(f"timm_{src}_{size}_{int(crop_pct * 1000)}", src, fn, f"timm: Resize({scale}, bicubic) + CenterCrop({size})",
            MEAN, STD, {"pipeline": "timm", "size": [size, size], "crop_pct": crop_pct, "interpolation": "bicubic"})
    # torchvision ImageClassification: Resize(256, bilinear) + CenterCrop(224).
    fn = T.Compose([T.Resize(64, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(56)])
    add("torchvision_big_56", "big", fn, "torchvision: Resize(64, bilinear) + CenterCrop(56)", MEAN, STD,
        {"pipeline": "torchvision", "size": [56, 56], "resize_shortest": 64, "interpolation": "bilinear"})
    # Hugging Face ViTImageProcessor: squash to H x W with PIL (bilinear), rescale, normalise.
    fn = lambda im: im.resize((40, 24), resample=Image.BILINEAR)  # noqa: E731
    add("hf_rgb_24x40", "rgb", fn, "hf: PIL resize to 40x24 bilinear", (0.5,) * 3, (0.5,) * 3,
        {"pipeline": "hf", "size": [24, 40], "interpolation": "bilinear", "squash": True})
    # Grey model: luminance, bicubic.
    fn = T.Compose([T.Resize(28, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(28)])
    add("timm_grey_28", "grey", fn, "timm on a grey image: Resize(28, bicubic) + CenterCrop(28)", (0.286,), (0.353,),
        {"pipeline": "timm", "size": [28, 28], "crop_pct": 1.0, "interpolation": "bicubic", "channels": 1})
    fn = lambda im: im.convert("L").resize((28, 28), resample=Image.BICUBIC)  # noqa: E731
    add("luma_rgb_28", "rgb", fn, "RGB to L (PIL), then squash to 28x28 bicubic", (0.286,), (0.353,),
        {"pipeline": "hf", "size": [28, 28], "interpolation": "bicubic", "squash": True, "channels": 1})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
