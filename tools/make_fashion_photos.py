#!/usr/bin/python3
"""Fashion-MNIST *test* images rendered as photos: the robustness set, the photo samples, and
the bundled model's accuracy on them.

    # the robustness set: 1000 test images as photos, one folder per class (ImageFolder layout)
    /usr/bin/python3 tools/make_fashion_photos.py --out build/fashion-photos
    # accuracy of the engine (`eval --image-folder`) and of PyTorch (same weights, same files) on it
    /usr/bin/python3 tools/make_fashion_photos.py --out build/fashion-photos --engine build/app/vitscope-cli --torch
    # one photo per class (photo_<class>_<testindex>.png / .jpg) into a folder
    /usr/bin/python3 tools/make_fashion_photos.py --samples DIR

A photo (tools/fashion_photos.py EVAL_STYLE): the garment scaled to 55-95% of the canvas's shorter
side (canvases 120-480 pixels on the shorter side, aspect 1 to 16:9 either way), anywhere in the
canvas's central square, background grey level 0-90 (a third of them slightly tinted RGB),
Gaussian sensor noise (sigma 0-8), 40% saved as JPEG (quality 40-95).  Only test images are used;
the training script renders its training images with the wider TRAIN_STYLE.  Deterministic for a
given --seed.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_photos as FP  # noqa: E402
from train_fashion_vit import LABEL_NAMES, load_split, slug, write_png  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
DEFAULT_SEED = 2026
# the samples: the robustness set's style on canvases of at most 300 pixels on the shorter
# side and half of them JPEG, so that noisy PNGs stay small in the repository
SAMPLE_STYLE = dict(FP.EVAL_STYLE, short=(120, 300), jpeg_p=0.5)


def save(path_no_ext, arr, kind, enc):
    path = path_no_ext + "." + kind
    if enc is not None:
        with open(path, "wb") as f:
            f.write(enc)
    else:
        write_png(path, arr)
    return path


def make_set(x, y, out, count, seed):
    rng = np.random.default_rng([seed, 1])
    idx = np.sort(rng.choice(len(y), count, replace=False))
    files = []
    for c in range(10):
        os.makedirs(os.path.join(out, slug(LABEL_NAMES[c])), exist_ok=True)
    for i in idx:
        r = np.random.default_rng([seed, 2, int(i)])
        arr, kind, enc = FP.render(x[i], r, FP.EVAL_STYLE)
        p = save(os.path.join(out, slug(LABEL_NAMES[y[i]]), f"test_{i:04d}"), arr, kind, enc)
        files.append((os.path.relpath(p, out), int(y[i]), int(i)))
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump({"seed": seed, "style": FP.EVAL_STYLE, "label_names": LABEL_NAMES,
                   "files": [{"file": fn, "label": lab, "test_index": ti} for fn, lab, ti in files]}, f, indent=1)
    with open(os.path.join(out, "class_map.txt"), "w") as f:  # folder names in the model's class order
        f.write("".join(slug(n) + "\n" for n in LABEL_NAMES))
    jpg = sum(fn.endswith(".jpg") for fn, _, _ in files)
    print(f"wrote {len(files)} photos ({jpg} JPEG) to {out}")
    return files


def read_set(out):
    with open(os.path.join(out, "labels.json")) as f:
        return [(e["file"], e["label"], e["test_index"]) for e in json.load(f)["files"]]


def torch_accuracy(out, files, model_dir):
    import torch
    from PIL import Image
    from train_fashion_vit import build_from_config, normalise, predict
    torch.set_num_threads(1)
    model, cfg = build_from_config(model_dir)
    pc = cfg["pretrained_cfg"]
    x = np.stack([FP.preprocess_u8(np.asarray(Image.open(os.path.join(out, fn)))) for fn, _, _ in files])
    pred = predict(model, normalise(x, pc["mean"][0], pc["std"][0])).numpy()
    y = np.array([lab for _, lab, _ in files])
    return pred, float((pred == y).mean())


def engine_accuracy(out, files, cli, model_dir):
    """`vitscope-cli eval --image-folder` over the whole set (class_map.txt gives the class order)."""
    pred_file = os.path.join(out, "engine_predictions.jsonl")
    cmd = [cli, "eval", "--image-folder", out, "--class-map", os.path.join(out, "class_map.txt"),
           "--predictions-out", pred_file, "--quiet"]
    if model_dir:
        cmd += ["--model", model_dir]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    print(r.stdout.strip())
    by_path = {}
    with open(pred_file) as f:
        for line in f:
            e = json.loads(line)
            by_path[os.path.normpath(os.path.relpath(e["path"], out) if os.path.isabs(e["path"]) else e["path"])] = e
    preds = []
    for fn, _, _ in files:
        e = by_path.get(os.path.normpath(fn)) or by_path.get(os.path.normpath(os.path.join(out, fn)))
        if e is None:
            sys.exit(f"{pred_file}: no prediction for {fn}")
        preds.append(int(e["top"][0]["index"]) if "index" in e["top"][0] else LABEL_NAMES.index(e["top"][0]["label"]))
    preds = np.array(preds)
    y = np.array([lab for _, lab, _ in files])
    print(f"engine: eval --image-folder in {time.time() - t0:.0f} s")
    return preds, float((preds == y).mean())


def make_samples(x, y, sample_dir, seed):
    """One photo per class, from the first test image of that class after index 100 whose
    rendering is varied by the per-class seed; the old photo_*_on_canvas files are replaced."""
    for f in os.listdir(sample_dir):
        if f.startswith("photo_") and f.endswith((".png", ".jpg")):
            os.remove(os.path.join(sample_dir, f))
    written = []
    for c in range(10):
        i = int(np.flatnonzero(y == c)[100 + c])
        r = np.random.default_rng([seed, 3, c])
        arr, kind, enc = FP.render(x[i], r, SAMPLE_STYLE)
        p = save(os.path.join(sample_dir, f"photo_{slug(LABEL_NAMES[c])}_{i:04d}"), arr, kind, enc)
        written.append(f"{os.path.basename(p)} {arr.shape[1]}x{arr.shape[0]}")
    print("samples:", ", ".join(written))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="folder for the robustness set (written unless it has labels.json)")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--samples", help="write one photo per class into this folder")
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "models", "fashion-vit"))
    ap.add_argument("--torch", action="store_true", help="PyTorch accuracy on the set (same preprocessing)")
    ap.add_argument("--engine", help="vitscope-cli: its accuracy from `eval --image-folder` (and agreement with --torch)")
    ap.add_argument("--engine-model", default="", help="--model for the engine (default: its bundled model)")
    args = ap.parse_args()
    x, y = load_split("test", args.data)
    if args.samples:
        make_samples(x, y, args.samples, args.seed)
    if not args.out:
        return
    if os.path.exists(os.path.join(args.out, "labels.json")):
        files = read_set(args.out)
        print(f"{len(files)} photos in {args.out}")
    else:
        files = make_set(x, y, args.out, args.count, args.seed)
    if args.torch:
        tp, acc = torch_accuracy(args.out, files, args.model)
        print(f"PyTorch ({args.model}): {acc * 100:.2f}% ({int(round(acc * len(files)))} / {len(files)})")
    if args.engine:
        ep, acc = engine_accuracy(args.out, files, args.engine, args.engine_model)
        print(f"vitscope ({args.engine_model or 'bundled model'}): {acc * 100:.2f}% "
              f"({int(round(acc * len(files)))} / {len(files)})")
        if args.torch:
            print(f"engine and PyTorch agree on {int((ep == tp).sum())} / {len(files)}")


if __name__ == "__main__":
    main()
