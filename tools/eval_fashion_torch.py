#!/usr/bin/python3
"""Run the bundled Fashion-MNIST ViT in plain PyTorch over the 10k test set.

    /usr/bin/python3 tools/eval_fashion_torch.py [--model assets/models/fashion-vit]
        [--data /usr/share/datasets/fashion-mnist] [--out build/fashion-eval]
        [--compare ENGINE_PREDICTIONS.txt]

Model = tools/torch_ref.py TimmVisionTransformer.from_checkpoint (timm-equivalent, float32,
single-threaded, deterministic).  Input: raw IDX images, x/255, (x - mean) / std with mean/std
from config.json pretrained_cfg (no resize: the images are already 28x28).

Writes to --out:
  torch_predictions.txt   10000 lines, predicted class index per test image (file order)
  torch_predictions.npy   int64 [10000]
  torch_logits.npy        float32 [10000, 10]
  labels.txt              ground-truth class index per line
and prints accuracy (overall and per class).  --compare FILE (one predicted index per line, e.g.
from the C++ engine) prints the agreement with PyTorch and lists the disagreeing image indices with
the PyTorch top-2 logit margin (small margins explain float differences).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402
from train_fashion_vit import read_idx  # noqa: E402  (the training script's IDX reader)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "models", "fashion-vit"))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "fashion-eval"))
    ap.add_argument("--compare", help="text file with one predicted class index per line")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sd, _ = R.load_safetensors(os.path.join(args.model, "model.safetensors"), upcast=True)
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    model = R.TimmVisionTransformer.from_checkpoint(sd, cfg)
    pc = cfg["pretrained_cfg"]
    mean = np.float32(pc["mean"][0])
    std = np.float32(pc["std"][0])
    x_u8 = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    if args.limit:
        x_u8, y = x_u8[:args.limit], y[:args.limit]
    x = (x_u8.astype(np.float32) / np.float32(255.0) - mean) / std
    x = torch.from_numpy(x[:, None].copy())
    logits = []
    with torch.no_grad():
        for i in range(0, x.shape[0], 500):
            logits.append(model(x[i:i + 500])[0])
    logits = torch.cat(logits).numpy().astype(np.float32)
    pred = logits.argmax(1)
    os.makedirs(args.out, exist_ok=True)
    np.savetxt(os.path.join(args.out, "torch_predictions.txt"), pred, fmt="%d")
    np.save(os.path.join(args.out, "torch_predictions.npy"), pred.astype(np.int64))
    np.save(os.path.join(args.out, "torch_logits.npy"), logits)
    np.savetxt(os.path.join(args.out, "labels.txt"), y, fmt="%d")
    acc = float((pred == y).mean())
    names = cfg.get("label_names") or [str(i) for i in range(logits.shape[1])]
    print(f"model {args.model}: {len(y)} images, accuracy {acc * 100:.2f}% ({int((pred == y).sum())}/{len(y)})")
    ta = cfg.get("training", {}).get("test_accuracy")
    if ta is not None:
        print(f"config.json training.test_accuracy = {ta}")
    for c in range(logits.shape[1]):
        m = y == c
        if m.any():
            print(f"  {c} {names[c]:12s} {float((pred[m] == c).mean()) * 100:6.2f}%  (n={int(m.sum())})")
    print(f"wrote {args.out}/torch_predictions.txt (+ .npy, torch_logits.npy, labels.txt)")
    if args.compare:
        other = np.loadtxt(args.compare, dtype=np.int64).reshape(-1)
        n = min(len(other), len(pred))
        if len(other) != len(pred):
            print(f"warning: {args.compare} has {len(other)} predictions, PyTorch {len(pred)}; comparing {n}")
        diff = np.nonzero(other[:n] != pred[:n])[0]
        print(f"agreement with {args.compare}: {n - len(diff)}/{n} ({(n - len(diff)) / n * 100:.3f}%)")
        print(f"accuracy of {args.compare}: {float((other[:n] == y[:n]).mean()) * 100:.2f}%")
        srt = np.sort(logits, 1)
        for i in diff[:50]:
            print(f"  image {i}: torch {pred[i]} other {other[i]} label {y[i]} "
                  f"torch top2 margin {srt[i, -1] - srt[i, -2]:.2e}")
        return 0 if len(diff) == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
