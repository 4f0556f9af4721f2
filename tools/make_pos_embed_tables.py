"""Reference tables for engine/model/pos_embed.cpp (tests/test_layouts.cpp).

Run with Debian's interpreter: /usr/bin/python3 tools/make_pos_embed_tables.py
Writes tests/golden/pos_embed/: one input table per source grid ([prefix + gh*gw, C],
float32, random) and, per (method, target grid), the table resampled by torch exactly as
each framework does it, plus cases.json listing them. Methods:
  timm         F.interpolate(bicubic, antialias=True, align_corners=False) in float32
               (timm.layers.resample_abs_pos_embed)
  hf           F.interpolate(bicubic, align_corners=False), size-based
               (transformers ViT / DeiT / Dinov2 interpolate_pos_encoding)
  hf_aa        as timm (transformers Dinov2WithRegisters)
  torchvision  F.interpolate(bicubic, align_corners=True)
               (torchvision.models.vision_transformer.interpolate_embeddings)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "pos_embed")
C = 2

# (source grid, prefix rows, target grids)
GRIDS = [
    ((5, 7), 1, [(3, 4), (5, 7), (9, 11)]),
    ((8, 8), 1, [(5, 6), (1, 1), (8, 8)]),
    ((4, 4), 2, [(7, 9), (2, 8)]),
    ((6, 6), 1, [(4, 8)]),
    ((37, 37), 1, [(16, 16)]),
    ((14, 14), 0, [(24, 24), (10, 3)]),
]

ARGS = {
    "timm": dict(antialias=True, align_corners=False),
    "hf": dict(antialias=False, align_corners=False),
    "hf_aa": dict(antialias=True, align_corners=False),
    "torchvision": dict(antialias=False, align_corners=True),
}


def resample(table, prefix, old, new, method):
    t = torch.from_numpy(table)
    head, grid = t[:prefix], t[prefix:]
    g = grid.reshape(1, old[0], old[1], C).permute(0, 3, 1, 2).float()
    g = F.interpolate(g, size=new, mode="bicubic", **ARGS[method])
    g = g.permute(0, 2, 3, 1).reshape(-1, C)
    return torch.cat([head, g], 0).numpy().astype("<f4")


def save(name, arr):
    with open(os.path.join(OUT, name), "wb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(arr, dtype="<f4"), version=(1, 0))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(5)
    cases = []
    for old, prefix, targets in GRIDS:
        table = rng.standard_normal((prefix + old[0] * old[1], C)).astype("<f4")
        src = f"in_{old[0]}x{old[1]}_p{prefix}.npy"
        save(src, table)
        for new in targets:
            for method in ARGS:
                out = f"{method}_{old[0]}x{old[1]}_p{prefix}_to_{new[0]}x{new[1]}.npy"
                save(out, resample(table, prefix, old, new, method))
                cases.append({"input": src, "output": out, "method": method, "prefix": prefix,
                              "old": list(old), "new": list(new), "channels": C})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
