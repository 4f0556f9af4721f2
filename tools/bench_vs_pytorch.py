#!/usr/bin/python3
"""Same-run comparison of `vitscope-cli bench` with PyTorch eager (CPU, or CUDA on a GPU machine).

Usage (Debian's interpreter: /usr/bin/python3 has torch 1.13 / torchvision 0.14):

    /usr/bin/python3 tools/bench_vs_pytorch.py [--cli build/app/vitscope-cli]
        [--models ti,s,b,fashion] [--batches 1,8] [--rounds 2] [--iters N] [--markdown]
        [--torch-device cpu|cuda] [--torch-dtype fp32[,fp16]] [--kernels auto[,tiled,coopmat]]
        [--precision P] [--json FILE]

For every model and batch it alternates, --rounds times, a PyTorch timing block and a
`vitscope-cli bench --json` run on the same weights and reports the medians and their ratio.

Models: ViT-Ti/16, ViT-S/16 and ViT-B/16 at 224x224 built with torchvision's
VisionTransformer (seeded random weights, 1000 classes), written in timm naming with a timm
config.json into a temporary folder; `fashion` is the bundled model (assets/models/fashion-vit,
run by PyTorch through tools/torch_ref.py's timm-equivalent module) when it exists.

PyTorch runs eager, no_grad, with torch.set_num_threads(os.cpu_count()) and
OMP_WAIT_POLICY=PASSIVE (without it Debian's OpenMP and OpenBLAS pools fight on small
machines and PyTorch is ~3x slower). --torch-device cuda runs it on the GPU (each forward
timed between torch.cuda.synchronize() calls); --torch-dtype fp16 there runs it under
torch.autocast(float16), and the vitscope side of those rows runs --precision fp16 (fp16
weights), the fp32 rows --precision fp32 (or --precision for all rows). --kernels runs the
vitscope side once per kernel family given. --json writes every row with the device, driver,
PyTorch version and the command line. --markdown prints the table with the date, CPU, Vulkan
driver and git commit, as docs/performance.md records it.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch creates its pools

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import torch_ref as R  # noqa: E402
from make_goldens import timm_config, tv_to_timm  # noqa: E402

# name: (depth, heads, embed dim, mlp hidden)
STANDARD = {
    "ti": ("ViT-Ti/16", 12, 3, 192, 768),
    "s": ("ViT-S/16", 12, 6, 384, 1536),
    "b": ("ViT-B/16", 12, 12, 768, 3072),
}
FASHION_DIR = os.path.join(ROOT, "assets", "models", "fashion-vit")


def build_standard(key, out_dir):
    """A torchvision ViT with random weights, saved in timm naming. Returns (torch model, dir, input size)."""
    from torchvision.models.vision_transformer import VisionTransformer
    label, depth, heads, dim, mlp = STANDARD[key]
    torch.manual_seed(7)
    model = VisionTransformer(image_size=224, patch_size=16, num_layers=depth, num_heads=heads,
                              hidden_dim=dim, mlp_dim=mlp, num_classes=1000).eval()
    d = os.path.join(out_dir, key)
    os.makedirs(d, exist_ok=True)
    R.save_safetensors(os.path.join(d, "model.safetensors"), tv_to_timm(model.state_dict()))
    arch = {"ti": "vit_tiny_patch16_224", "s": "vit_small_patch16_224", "b": "vit_base_patch16_224"}[key]
    R.write_json(os.path.join(d, "config.json"),
                 timm_config(arch, 1000, dim, 224, 16, depth, heads, mlp / dim, label_names=False))
    return label, model, d, (3, 224, 224)


def build_fashion():
    sd, _ = R.load_safetensors(os.path.join(FASHION_DIR, "model.safetensors"), upcast=True)
    with open(os.path.join(FASHION_DIR, "config.json")) as f:
        cfg = json.load(f)
    model = R.TimmVisionTransformer.from_checkpoint(sd, cfg).eval()
    size = cfg["pretrained_cfg"]["input_size"]
    return "Fashion (bundled)", model, FASHION_DIR, tuple(size)


def torch_times(model, batch, shape, warmup, iters, device="cpu", dtype="fp32"):
    """Milliseconds per forward; on CUDA each one between two synchronisations."""
    cuda = device == "cuda"
    x = torch.randn(batch, *shape, device=device)

    def forward():
        if dtype == "fp16":
            with torch.autocast(device_type="cuda", dtype=torch.float16):
                return model(x)
        return model(x)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    with torch.no_grad():
        for _ in range(warmup):
            forward()
        sync()
        out = []
        for _ in range(iters):
            t0 = time.perf_counter()
            forward()
            sync()
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def vitscope_bench(cli, model_dir, batch, warmup, iters, precision, kernels="auto"):
    cmd = [cli, "bench", "--model", model_dir, "--batch", str(batch), "--warmup", str(warmup),
           "--iters", str(iters), "--precision", precision, "--kernels", kernels, "--json"]
    env = dict(os.environ)
    env.pop("VITSCOPE_VALIDATE", None)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return json.loads(r.stdout)


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "app", "vitscope-cli"))
    ap.add_argument("--models", default="ti,s,b,fashion", help="comma list of ti, s, b, fashion")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of PyTorch and vitscope per case")
    ap.add_argument("--iters", type=int, default=0, help="timed runs per block (default: by model size)")
    ap.add_argument("--precision", default="",
                    help="vitscope --precision for every row (default: fp32 rows fp32, fp16 rows fp16)")
    ap.add_argument("--torch-device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--torch-dtype", default="fp32",
                    help="comma list of fp32 and fp16 (fp16: torch.autocast float16, CUDA only)")
    ap.add_argument("--kernels", default="auto", help="comma list of vitscope kernel families to run")
    ap.add_argument("--json", help="write the rows and the setup to this file")
    ap.add_argument("--markdown", action="store_true", help="print a docs/performance.md section")
    ap.add_argument("--keep", help="write the standard models here instead of a temporary folder")
    args = ap.parse_args()
    dtypes = [d.strip() for d in args.torch_dtype.split(",") if d.strip()]
    kernel_list = [k.strip() for k in args.kernels.split(",") if k.strip()]
    for d in dtypes:
        if d not in ("fp32", "fp16"):
            ap.error(f"--torch-dtype: unknown '{d}' (fp32, fp16)")
        if d == "fp16" and args.torch_device != "cuda":
            ap.error("--torch-dtype fp16 (autocast float16) needs --torch-device cuda")
    for k in kernel_list:
        if k not in ("auto", "portable", "tiled", "coopmat"):
            ap.error(f"--kernels: unknown '{k}' (auto, portable, tiled, coopmat)")
    if args.torch_device == "cuda" and not torch.cuda.is_available():
        sys.exit("--torch-device cuda: this PyTorch sees no CUDA device")
    if not os.path.exists(args.cli):
        sys.exit(f"vitscope-cli not found at {args.cli} (build it, or pass --cli)")

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    tmp = args.keep or tempfile.mkdtemp(prefix="vitscope-bench-")
    rows = []
    device = driver = ""
    try:
        for key in args.models.split(","):
            key = key.strip()
            if key == "fashion":
                if not os.path.exists(os.path.join(FASHION_DIR, "model.safetensors")):
                    print(f"skipping fashion: {FASHION_DIR} has no model yet", file=sys.stderr)
                    continue
                label, model, d, shape = build_fashion()
            elif key in STANDARD:
                label, model, d, shape = build_standard(key, tmp)
            else:
                sys.exit(f"unknown model '{key}' (ti, s, b, fashion)")
            model = model.to(args.torch_device)
            for batch, dtype, kernels in [(int(b), d, k) for b in args.batches.split(",") for d in dtypes
                                          for k in kernel_list]:
                big = {"b": 4, "s": 2}.get(key, 1) * batch
                if args.torch_device == "cuda":
                    iters = args.iters or 20
                    warmup = 3
                else:
                    iters = args.iters or (3 if big >= 16 else 5 if big >= 4 else 10)
                    warmup = 1
                precision = args.precision or dtype
                pt, vs, vs_min, gf, ops = [], [], [], [], None
                for _ in range(args.rounds):
                    pt += torch_times(model, batch, shape, warmup, iters, args.torch_device, dtype)
                    j = vitscope_bench(args.cli, d, batch, warmup, iters, precision, kernels)
                    device, driver = j["device"], j.get("driver", "")
                    vs.append(j["latency_ms"]["median"])
                    vs_min.append(j["latency_ms"]["min"])
                    gf.append(j["gflops"])
                    ops = j["ops"]
                torch_label = ("CUDA " if args.torch_device == "cuda" else "") + \
                    ("fp16 autocast" if dtype == "fp16" else "fp32")
                row = {"model": label, "batch": batch, "torch": torch_label, "precision": j["precision"],
                       "kernels": j.get("kernels", kernels), "torch_ms": statistics.median(pt),
                       "vitscope_ms": statistics.median(vs), "gflops": statistics.median(gf),
                       "torch_min": min(pt), "vitscope_min": min(vs_min),
                       "top_op": ops[0]["name"] if ops else ""}
                row["ratio"] = row["vitscope_ms"] / row["torch_ms"]
                row["torch_images_per_s"] = batch / row["torch_ms"] * 1e3
                row["vitscope_images_per_s"] = batch / row["vitscope_ms"] * 1e3
                rows.append(row)
                print(f"{label} batch {batch}, PyTorch {torch_label}, vitscope {row['precision']} {row['kernels']}: "
                      f"PyTorch {row['torch_ms']:.2f} ms, vitscope {row['vitscope_ms']:.2f} ms "
                      f"(x{row['ratio']:.2f}, {row['gflops']:.1f} GFLOP/s; fastest runs {row['torch_min']:.2f} and "
                      f"{row['vitscope_min']:.2f} ms)", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    gpu = args.torch_device == "cuda"
    if gpu or len(kernel_list) > 1:
        header = ("| model | batch | PyTorch | PyTorch (ms) | vitscope precision, kernels | vitscope (ms) "
                  "| vitscope / PyTorch | images/s PyTorch / vitscope | fastest run: PyTorch / vitscope (ms) |\n"
                  "|---|---|---|---|---|---|---|---|---|")
        lines = [f"| {r['model']} | {r['batch']} | {r['torch']} | {r['torch_ms']:.2f} | {r['precision']}, "
                 f"{r['kernels']} | {r['vitscope_ms']:.2f} | {r['ratio']:.2f} | "
                 f"{r['torch_images_per_s']:.0f} / {r['vitscope_images_per_s']:.0f} | "
                 f"{r['torch_min']:.2f} / {r['vitscope_min']:.2f} |" for r in rows]
    else:
        header = ("| model | batch | PyTorch eager (ms) | vitscope (ms) | vitscope / PyTorch | vitscope GFLOP/s "
                  "| fastest run: PyTorch / vitscope (ms) |\n"
                  "|---|---|---|---|---|---|---|")
        lines = [f"| {r['model']} | {r['batch']} | {r['torch_ms']:.1f} | {r['vitscope_ms']:.1f} | "
                 f"{r['ratio']:.2f} | {r['gflops']:.1f} | {r['torch_min']:.1f} / {r['vitscope_min']:.1f} |"
                 for r in rows]
    cpu = sh("lscpu | sed -n 's/^Model name:[ \\t]*//p' | head -1")
    commit = sh("git rev-parse --short HEAD") + (" (with local changes)" if sh("git status --porcelain -uno") else "")
    torch_dev = torch.cuda.get_device_name(0) if gpu else f"{cpu}, {threads} threads"
    if args.json:
        setup = {"date": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z", "command": sys.argv,
                 "vulkan_device": device, "vulkan_driver": driver, "torch": torch.__version__,
                 "torch_device": torch_dev, "cuda": torch.version.cuda if gpu else None, "cpu": cpu,
                 "commit": commit, "rounds": args.rounds}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"setup": setup, "rows": rows}, f, indent=2)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown:
        print(f"### {datetime.date.today().isoformat()}: {device}\n")
        print(f"- PyTorch {torch.__version__} eager on {torch_dev}" +
              (f", CUDA {torch.version.cuda}" if gpu else f", OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"))
        print(f"- Vulkan device: {device} ({driver})")
        print(f"- command: `{' '.join(sys.argv)}`")
        print(f"- commit: {commit}; medians of {args.rounds} alternating rounds (the last column: the fastest "
              f"single forward of each side, less sensitive to other load)\n")
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
