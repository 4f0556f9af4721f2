#!/usr/bin/python3
"""Same-run throughput of `vitscope-cli eval --image-folder` against `eval` on IDX files
(the same images) and against PyTorch (torchvision ImageFolder + DataLoader) on the same
weights.

    /usr/bin/python3 tools/bench_eval.py [--cli build/app/vitscope-cli] [--limit 2000]
        [--rounds 2] [--workers N] [--batch 64] [--data /usr/share/datasets/fashion-mnist]
        [--folder DIR] [--markdown]

The folder: the first --limit images of Fashion-MNIST's test set as PNG files, one folder per
class (c0_t_shirt_top ... c9_ankle_boot: sorted names are the class order), written to a
temporary folder unless --folder names one to keep. The bundled model (assets/models/
fashion-vit) runs all three ways:
  idx     vitscope-cli eval --images t10k-images --labels t10k-labels --limit N --json
  folder  vitscope-cli eval --image-folder DIR --workers W --json (decoding PNGs on W threads)
  torch   torchvision.datasets.ImageFolder (PIL, greyscale) + the model's timm eval transform,
          DataLoader(batch, num_workers=W), tools/torch_ref.py's timm-equivalent ViT, eager
          float32, torch.set_num_threads(os.cpu_count()), OMP_WAIT_POLICY=PASSIVE.
Runs alternate (idx, folder, torch) --rounds times; every figure is images / seconds of the
evaluation loop (model loading excluded on every side). Also checks that the folder eval's
top-1 equals PyTorch's and the IDX eval's, and that the per-image predictions agree.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch creates its pools

import argparse  # noqa: E402
import datetime  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import torch_ref as R  # noqa: E402


def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def folder_name(k, label):
    return f"c{k}_" + "".join(ch.lower() if ch.isalnum() else "_" for ch in label)


def make_folder(root, images, labels, names):
    for k, name in enumerate(names):
        os.makedirs(os.path.join(root, folder_name(k, name)), exist_ok=True)
    for i, (x, y) in enumerate(zip(images, labels)):
        Image.fromarray(x).save(os.path.join(root, folder_name(int(y), names[y]), f"{i:05d}.png"))


def run_cli(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    j = json.loads(p.stdout)
    j["process_s"] = time.perf_counter() - t0
    return j


def torch_eval(model, cfg, folder, batch, workers):
    pc = cfg["pretrained_cfg"]
    size = pc["input_size"][-1]
    interp = {"bicubic": transforms.InterpolationMode.BICUBIC, "bilinear": transforms.InterpolationMode.BILINEAR,
              "nearest": transforms.InterpolationMode.NEAREST}[pc.get("interpolation", "bicubic")]
    crop_pct = pc.get("crop_pct", 0.9)
    # timm's eval transform for a square input: shorter side to floor(size / crop_pct), centre crop.
    tf = transforms.Compose([transforms.Resize(int(size / crop_pct), interpolation=interp),
                             transforms.CenterCrop(size), transforms.ToTensor(),
                             transforms.Normalize(pc["mean"], pc["std"])])
    mode = "L" if pc["input_size"][0] == 1 else "RGB"
    ds = datasets.ImageFolder(folder, transform=tf, loader=lambda p: Image.open(p).convert(mode))
    correct, preds = 0, {}
    t0 = time.perf_counter()
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers, shuffle=False)
    seen = 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)[0]
            p = logits.argmax(1)
            correct += int((p == y).sum())
            for j in range(len(y)):
                path, _ = ds.samples[seen + j]
                preds[os.path.relpath(path, folder)] = int(p[j])
            seen += len(y)
    seconds = time.perf_counter() - t0
    return {"images": seen, "correct": correct, "seconds": seconds, "images_per_s": seen / seconds, "preds": preds}


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "app", "vitscope-cli"))
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "models", "fashion-vit"))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=2000, help="first N test images (0: all 10000)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--folder", help="write/keep the PNG folder here (default: a temporary folder)")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()

    images_file = os.path.join(a.data, "t10k-images-idx3-ubyte.gz")
    labels_file = os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")
    x = read_idx(images_file)
    y = read_idx(labels_file)
    n = a.limit or len(y)
    x, y = x[:n], y[:n]
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    names = cfg.get("label_names") or [str(k) for k in range(int(y.max()) + 1)]
    tmp = None
    folder = a.folder
    if not folder:
        tmp = tempfile.mkdtemp(prefix="vitscope-bench-eval-")
        folder = os.path.join(tmp, "images")
    if not os.path.isdir(folder) or not os.listdir(folder):
        make_folder(folder, x, y, names)

    torch.set_num_threads(os.cpu_count())
    sd, _ = R.load_safetensors(os.path.join(a.model, "model.safetensors"), upcast=True)
    model = R.TimmVisionTransformer.from_checkpoint(sd, cfg).eval()

    common = ["--model", a.model, "--batch", str(a.batch), "--json", "-q"]
    rates = {"idx": [], "folder": [], "torch": []}
    last = {}
    try:
        for r in range(a.rounds):
            last["idx"] = run_cli([a.cli, "eval", "--images", images_file, "--labels", labels_file, "--limit", str(n)] + common)
            last["folder"] = run_cli([a.cli, "eval", "--image-folder", folder, "--workers", str(a.workers)] + common)
            last["torch"] = torch_eval(model, cfg, folder, a.batch, a.workers)
            for k in rates:
                rates[k].append(last[k]["images_per_s"])
            print(f"round {r + 1}: " + ", ".join(f"{k} {rates[k][-1]:.1f} images/s" for k in rates), file=sys.stderr)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in rates.items()}
    fo, idx, tr = last["folder"], last["idx"], last["torch"]
    agree = sum(1 for p in fo["predictions"] if tr["preds"].get(p["path"]) == p["top"][0]["index"])
    same_top1 = fo["correct"] == tr["correct"] == idx["correct"]
    rows = [
        ("vitscope eval (IDX files)", med["idx"], idx["correct"], rates["idx"]),
        (f"vitscope eval --image-folder ({fo['workers']} workers)", med["folder"], fo["correct"], rates["folder"]),
        (f"PyTorch ImageFolder + DataLoader ({a.workers} workers)", med["torch"], tr["correct"], rates["torch"]),
    ]
    if a.markdown:
        print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"{fo['device']}, commit {git_commit()}; {n} Fashion-MNIST test PNGs, batch {a.batch}, "
              f"{a.rounds} alternating rounds (medians)\n")
        print("| run | images/s | runs | top-1 |")
        print("|---|---|---|---|")
        for name, m, c, rs in rows:
            print(f"| {name} | {m:.1f} | {' / '.join(f'{v:.1f}' for v in rs)} | {c}/{n} |")
        print()
    else:
        for name, m, c, rs in rows:
            print(f"{name:55s} {m:8.1f} images/s  (runs {', '.join(f'{v:.1f}' for v in rs)})  top-1 {c}/{n}")
    print(f"folder / IDX: {med['folder'] / med['idx']:.2f}   folder / PyTorch: {med['folder'] / med['torch']:.2f}")
    print(f"top-1 folder {fo['correct']}, IDX {idx['correct']}, PyTorch {tr['correct']}: "
          f"{'same' if same_top1 else 'DIFFERENT'}; per-image top-1 agreement folder vs PyTorch {agree}/{fo['images']}")
    print(f"folder eval timings (last run): engine {fo['timings_s']['engine']:.2f} s, decode {fo['timings_s']['decode']:.2f} s "
          f"summed over workers, waited {fo['timings_s']['wait_for_decode']:.2f} s; bottleneck: {fo['bottleneck']}")
    return 0 if same_top1 else 1


if __name__ == "__main__":
    sys.exit(main())
