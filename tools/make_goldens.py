#!/usr/bin/python3
"""Generate the golden test cases under tests/golden/ for the vitscope engine.

Usage (Debian's interpreter, it has torch 1.13 / torchvision 0.14):

    /usr/bin/python3 tools/make_goldens.py                # write every case
    /usr/bin/python3 tools/make_goldens.py --only tv_timm_small [--only ...]
    /usr/bin/python3 tools/make_goldens.py --check        # re-verify the files on disk
    /usr/bin/python3 tools/make_goldens.py --list

Each case directory tests/golden/<case>/ holds
    model.safetensors (+ config.json, preprocessor_config.json)  checkpoint as the framework saves it
    input.npy        float32 [B,C,H,W], already preprocessed
    logits.npy       float32 [B,K]   (features.npy [B,D] for headless models)
    attention.npy    float32 [L,H,N,N]  post-softmax, batch 1
    meta.json        case/framework/description/tokens/prefix_tokens/grid/notes (+ extras)

fashion_samples needs assets/models/fashion-vit/{model.safetensors,config.json} and assets/samples/*.png
(made by tools/train_fashion_vit.py); it is skipped while they are missing.  Its weights are not
copied: meta.json "model" points at the model directory.  tools/eval_fashion_torch.py runs the same
PyTorch model over all 10k Fashion-MNIST test images for engine-vs-PyTorch comparison.

--check reloads every model.safetensors with our own strict parser, maps the native names to a
canonical parameter set and re-runs an independent float64 forward (tools/torch_ref.py
ref_forward64), plus (timm-named files) the TimmViT module built from_checkpoint; both must
reproduce the stored outputs.  Everything is seeded, single-threaded and deterministic.
"""

import argparse
import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
FASHION_DIR = os.path.join(ROOT, "assets", "models", "fashion-vit")
SAMPLES_DIR = os.path.join(ROOT, "assets", "samples")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

torch.set_num_threads(1)


def seed_for(case):
    s = zlib.crc32(case.encode())
    torch.manual_seed(s)
    return s


def case_dir(case, clean=True):
    d = os.path.join(GOLDEN, case)
    if clean and os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d, exist_ok=True)
    return d


def attn_stack(attns):
    """list of (1,H,N,N) -> (L,H,N,N)"""
    return torch.stack([a[0] for a in attns], 0).detach().numpy()


def write_meta(d, **kw):
    R.write_json(os.path.join(d, "meta.json"), kw)


# ---------------------------------------------------------------------------
# torchvision -> timm names
# ---------------------------------------------------------------------------

def tv_to_timm(sd):
    out = {}
    for k, v in sd.items():
        n = k
        n = n.replace("class_token", "cls_token")
        n = n.replace("encoder.pos_embedding", "pos_embed")
        n = n.replace("conv_proj.", "patch_embed.proj.")
        n = n.replace("encoder.layers.encoder_layer_", "blocks.")
        n = n.replace(".ln_1.", ".norm1.").replace(".ln_2.", ".norm2.")
        n = n.replace(".self_attention.in_proj_weight", ".attn.qkv.weight")
        n = n.replace(".self_attention.in_proj_bias", ".attn.qkv.bias")
        n = n.replace(".self_attention.out_proj.", ".attn.proj.")
        n = n.replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.3.", ".mlp.fc2.")
        n = n.replace("encoder.ln.", "norm.")
        n = n.replace("heads.head.", "head.")
        out[n] = v.detach().clone().contiguous()
    return out


def run_tv_with_attn(model, x):
    """Run a torchvision VisionTransformer, capturing every EncoderBlock's attention probabilities
    by re-calling its nn.MultiheadAttention with need_weights=True, average_attn_weights=False."""
    attns = []
    saved = []
    for layer in model.encoder.layers:
        mha = layer.self_attention
        orig = mha.forward

        def fwd(query, key, value, need_weights=False, _orig=orig, **kw):
            kw.pop("average_attn_weights", None)
            out, w = _orig(query, key, value, need_weights=True, average_attn_weights=False, **kw)
            attns.append(w.detach())
            return out, w

        mha.forward = fwd
        saved.append(mha)
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for mha in saved:
            del mha.forward
    return y, attns


def make_tv_model(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, num_classes):
    from torchvision.models.vision_transformer import VisionTransformer
    m = VisionTransformer(image_size=image_size, patch_size=patch_size, num_layers=num_layers,
                          num_heads=num_heads, hidden_dim=hidden_dim, mlp_dim=mlp_dim,
                          num_classes=num_classes)
    R.randomize_(m)
    return m.eval()


def timm_config(arch, num_classes, C, img, P, depth, heads, mlp_ratio, in_chans=3, global_pool="token",
                mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.9, extra_args=None, label_names=True):
    img_hw = list(img) if isinstance(img, (list, tuple)) else [img, img]
    ma = {"img_size": img if not isinstance(img, (list, tuple)) else list(img), "patch_size": P,
          "in_chans": in_chans, "embed_dim": C, "depth": depth, "num_heads": heads,
          "mlp_ratio": mlp_ratio, "qkv_bias": True}
    if extra_args:
        ma.update(extra_args)
    cfg = {"architecture": arch, "num_classes": num_classes, "num_features": C, "global_pool": global_pool,
           "model_args": ma,
           "pretrained_cfg": {"input_size": [in_chans] + img_hw, "interpolation": "bicubic",
                              "crop_pct": crop_pct, "crop_mode": "center", "mean": mean, "std": std,
                              "num_classes": num_classes}}
    if label_names and num_classes > 0:
        cfg["label_names"] = [f"c{i}" for i in range(num_classes)]
    return cfg


# ---------------------------------------------------------------------------
# Phase 1: torchvision models exported with timm names
# ---------------------------------------------------------------------------

def _tv_timm_case(case, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, num_classes,
                  arch, batch3, description, notes):
    seed_for(case)
    model = make_tv_model(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, num_classes)
    x = torch.randn(1, 3, image_size, image_size)
    y, attns = run_tv_with_attn(model, x)
    d = case_dir(case)
    R.save_safetensors(os.path.join(d, "model.safetensors"), tv_to_timm(model.state_dict()))
    cfg = timm_config(arch, num_classes, hidden_dim, image_size, patch_size, num_layers, num_heads,
                      mlp_dim / hidden_dim)
    R.write_json(os.path.join(d, "config.json"), cfg)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, "logits.npy"), y.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), attn_stack(attns))
    files = ["input.npy", "logits.npy", "attention.npy"]
    if batch3:
        xb = torch.randn(3, 3, image_size, image_size)
        yb, _ = run_tv_with_attn(model, xb)
        R.save_npy(os.path.join(d, "input_b3.npy"), xb.numpy())
        R.save_npy(os.path.join(d, "logits_b3.npy"), yb.numpy())
        files += ["input_b3.npy", "logits_b3.npy"]
    g = image_size // patch_size
    write_meta(d, case=case, framework="timm", description=description, tokens=g * g + 1, prefix_tokens=1,
               grid=[g, g], num_heads=num_heads, layers=num_layers, embed_dim=hidden_dim, mlp_hidden=mlp_dim,
               num_classes=num_classes, input_size=[image_size, image_size],
               reference="torchvision.models.vision_transformer.VisionTransformer (torchvision 0.14.1) run in "
                         "eval, float32; weights renamed to timm names",
               files=files, notes=notes)


def case_tv_timm_small():
    _tv_timm_case("tv_timm_small", 32, 8, 2, 3, 48, 192, 10, "vit_custom_patch8_32", True,
                  "torchvision ViT (32px, patch 8, 2 layers, 3 heads, C=48, M=192, 10 classes), random "
                  "weights, saved with timm names; input_b3/logits_b3 = batch of 3",
                  "qkv rows are [q;k;v] exactly as torchvision in_proj_weight. LayerNorm eps 1e-6, exact GELU.")


def case_tv_timm_197():
    _tv_timm_case("tv_timm_197", 112, 8, 1, 5, 60, 152, 13, "vit_custom_patch8_112", False,
                  "torchvision ViT with the real ViT token count (112px, patch 8: 14x14+1=197 tokens), "
                  "C=60, 5 heads (D=12), M=152 (mlp_ratio 152/60), 1 layer, 13 classes",
                  "num_layers reduced from 2 to 1 to keep phase-1 goldens under 2 MB (the [L,5,197,197] "
                  "attention alone is 0.78 MB per layer); multi-layer chaining is covered by tv_timm_small. "
                  "model_args.mlp_ratio = 152/60 = 2.533333333333333 and int(60*ratio) == 152 in Python, but "
                  "readers should take M from blocks.0.mlp.fc1.weight.")


# ---------------------------------------------------------------------------
# Phase 2: Fashion-MNIST model goldens (model read from assets/models/fashion-vit)
# ---------------------------------------------------------------------------

def load_timm_dir(path):
    sd, _ = R.load_safetensors(os.path.join(path, "model.safetensors"), upcast=True)
    cfg = json.load(open(os.path.join(path, "config.json")))
    return R.TimmVisionTransformer.from_checkpoint(sd, cfg), cfg


def pick_fashion_samples(samples_dir, n=4):
    """The first 28x28 sample of each class (files sorted by name), one of them a bag; photo_* skipped."""
    files = sorted(f for f in os.listdir(samples_dir)
                   if f.endswith(".png") and not f.startswith(("photo_", ".")))
    first = {}
    for f in files:
        cls_ = f.rsplit("_", 1)[0]
        first.setdefault(cls_, f)
    classes = sorted(first)
    chosen = [c for c in classes if "bag" in c][:1]
    chosen += [c for c in classes if c not in chosen][:n - len(chosen)]
    return sorted(first[c] for c in chosen)


def case_fashion_samples(model_dir=None, samples_dir=None, case="fashion_samples"):
    from PIL import Image
    model_dir = model_dir or FASHION_DIR
    samples_dir = samples_dir or SAMPLES_DIR
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")) or not os.path.isdir(samples_dir):
        print(f"  {case}: {model_dir} or {samples_dir} not present yet")
        return "skipped"
    model, cfg = load_timm_dir(model_dir)
    names = pick_fashion_samples(samples_dir)
    imgs = []
    for n in names:
        im = Image.open(os.path.join(samples_dir, n))
        assert im.size == (28, 28), (n, im.size)
        imgs.append(R.timm_eval_preprocess(im, cfg["pretrained_cfg"]))
    x = torch.stack(imgs, 0)
    with torch.no_grad():
        y, attns = model(x)
        y1, attns1 = model(x[:1])
    d = case_dir(case)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, "logits.npy"), y.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), attn_stack(attns1))
    labels = cfg.get("label_names")
    pred = y.argmax(1).tolist()
    rel = os.path.relpath(model_dir, ROOT)
    g = model.patch_embed.grid_size
    pc = cfg["pretrained_cfg"]
    write_meta(d, case=case, framework="timm", description="bundled Fashion-MNIST ViT on 4 sample PNGs; "
               "attention.npy is for the first image only (batch-1 run)",
               tokens=g[0] * g[1] + model.num_prefix_tokens, prefix_tokens=model.num_prefix_tokens,
               grid=list(g), model=rel, samples=[os.path.join(os.path.relpath(samples_dir, ROOT), n) for n in names],
               num_heads=model.num_heads, layers=len(model.blocks), input_size=list(pc["input_size"][1:]),
               predictions=pred, predicted_labels=[labels[p] for p in pred] if labels else None,
               preprocessing=f"timm eval transform for pretrained_cfg (crop_pct {pc.get('crop_pct')}): "
                             "PNG read as 8-bit grey ('L'), resize is a no-op at 28x28, /255, "
                             f"(x - {pc['mean']}) / {pc['std']} in float32",
               files=["input.npy", "logits.npy", "attention.npy"],
               notes="weights are NOT copied here: load the model from the 'model' directory. Reference = "
                     "tools/torch_ref.py TimmVisionTransformer.from_checkpoint (plain-PyTorch timm equivalent), "
                     "float32.")


# ---------------------------------------------------------------------------
# Phase 3: real checkpoint layouts
# ---------------------------------------------------------------------------

def _timm_case(case, cfg, model_kwargs, input_hw, description, notes, dtype=None, feature_out=False):
    seed_for(case)
    model = R.TimmVisionTransformer(**model_kwargs)
    R.randomize_(model).eval()
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if dtype is not None:  # store rounded weights; the reference uses the rounded values in float32
        sd = {k: v.to(dtype) for k, v in sd.items()}
        model.load_state_dict({k: v.float() for k, v in sd.items()})
    x = torch.randn(1, model_kwargs.get("in_chans", 3), *input_hw)
    with torch.no_grad():
        y, attns = model(x)
    d = case_dir(case)
    R.save_safetensors(os.path.join(d, "model.safetensors"), sd)
    R.write_json(os.path.join(d, "config.json"), cfg)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    out = "features.npy" if feature_out else "logits.npy"
    R.save_npy(os.path.join(d, out), y.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), attn_stack(attns))
    P = model.patch_embed.patch_size
    g = (input_hw[0] // P, input_hw[1] // P)
    meta = dict(case=case, framework="timm", description=description,
                tokens=g[0] * g[1] + model.num_prefix_tokens, prefix_tokens=model.num_prefix_tokens,
                grid=list(g), num_heads=model.num_heads, layers=len(model.blocks),
                embed_dim=model.pos_embed.shape[-1], input_size=list(input_hw),
                native_grid=list(model.patch_embed.grid_size),
                dtype={None: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[dtype],
                reference="tools/torch_ref.py TimmVisionTransformer (plain-PyTorch emulation of timm "
                          "VisionTransformer eval forward), float32",
                files=["input.npy", out, "attention.npy"], notes=notes)
    write_meta(d, **meta)


def case_timm_deit_distilled():
    C, P, S, L, H, K = 48, 16, 64, 2, 3, 10
    cfg = timm_config("deit_tiny_distilled_patch16_224", K, C, S, P, L, H, 4.0, crop_pct=0.9)
    _timm_case("timm_deit_distilled", cfg,
               dict(img_size=S, patch_size=P, num_classes=K, embed_dim=C, depth=L, num_heads=H, distilled=True),
               (S, S), "timm VisionTransformerDistilled (DeiT): tokens [cls, dist, 16 patches], "
                       "logits = (head(x[:,0]) + head_dist(x[:,1])) / 2",
               "Keys cls_token, dist_token [1,1,C], pos_embed [1,18,C] (covers both prefix tokens), head, "
               "head_dist. Architecture name is the real timm one but dims come from model_args "
               "(a real hub file would have neither num_heads nor depth: tiny -> 3 heads).")


def case_timm_dinov2_reg():
    C, P, S, L, H = 48, 14, 56, 2, 6
    cfg = timm_config("vit_small_patch14_reg4_dinov2", 0, C, S, P, L, H, 4.0, crop_pct=1.0,
                      extra_args={"init_values": 1e-5, "reg_tokens": 4, "no_embed_class": True},
                      label_names=False)
    cfg["pretrained_cfg"]["num_classes"] = 0
    _timm_case("timm_dinov2_reg", cfg,
               dict(img_size=S, patch_size=P, num_classes=0, embed_dim=C, depth=L, num_heads=H,
                    init_values=1e-5, reg_tokens=4, no_embed_class=True),
               (S, S), "timm DINOv2 with 4 registers: tokens [cls, reg x4, 16 patches]; no_embed_class "
                       "(pos_embed [1,16,C] added to patches only); LayerScale ls1/ls2.gamma; "
                       "num_classes 0 -> features = norm(x)[:,0]",
               "gamma values randomised around 0.5 (real DINOv2 ~1e-5..1). As in timm _pos_embed with "
               "no_embed_class: x = patches + pos_embed, then cat([cls, reg, x]). D = 8.",
               feature_out=True)


def case_timm_avgpool_noqkvbias():
    C, P, S, L, H, K = 64, 8, 40, 2, 4, 7
    cfg = timm_config("vit_custom_patch8_gap_40", K, C, S, P, L, H, 3.0, global_pool="avg",
                      extra_args={"qkv_bias": False, "global_pool": "avg", "class_token": True})
    _timm_case("timm_avgpool_noqkvbias", cfg,
               dict(img_size=S, patch_size=P, num_classes=K, embed_dim=C, depth=L, num_heads=H, mlp_ratio=3.0,
                    qkv_bias=False, global_pool="avg"),
               (S, S), "timm ViT with global_pool='avg' (fc_norm replaces norm, mean over x[:,1:] excludes "
                       "cls) and qkv_bias=False (no blocks.i.attn.qkv.bias); 5x5 grid, mlp_ratio 3",
               "No norm.* keys; fc_norm.* applied after pooling. The cls token still exists and takes part "
               "in attention but is not pooled.")


def case_timm_resized():
    C, P, S, L, H, K = 32, 8, 48, 2, 2, 5
    cfg = timm_config("vit_custom_patch8_48", K, C, S, P, L, H, 4.0)
    _timm_case("timm_resized", cfg,
               dict(img_size=S, patch_size=P, num_classes=K, embed_dim=C, depth=L, num_heads=H),
               (32, 64), "timm ViT whose pos_embed grid is 6x6 (trained at 48x48) run at a non-square 32x64 "
                         "input (grid 4x8: rows downsampled, columns upsampled)",
               "input H=32, W=64. pos_embed grid rows resampled like timm resample_abs_pos_embed: cls row "
               "untouched, the 6x6 grid -> 4x8 with F.interpolate(mode='bicubic', antialias=True, "
               "align_corners=False) in float32 (same maths for load-time checkpoint_filter_fn and "
               "dynamic_img_size). config.json still describes the 48x48 checkpoint.")


def _timm_small_lowp(case, dtype, tag):
    C, P, S, L, H, K = 32, 8, 32, 2, 2, 10
    cfg = timm_config("vit_custom_patch8_32", K, C, S, P, L, H, 4.0)
    _timm_case(case, cfg, dict(img_size=S, patch_size=P, num_classes=K, embed_dim=C, depth=L, num_heads=H),
               (S, S), f"small timm ViT stored with {tag} tensors (every tensor {tag})",
               f"Reference computed in float32 from the {tag}-rounded weights (upcast exactly). "
               "BF16 -> f32 = bits << 16; F16 is IEEE binary16.", dtype=dtype)


def case_timm_f16():
    _timm_small_lowp("timm_f16", torch.float16, "F16")


def case_timm_bf16():
    _timm_small_lowp("timm_bf16", torch.bfloat16, "BF16")


def _hf_vit_config(arch, C, L, H, M, S, P, labels=None, eps=1e-12):
    cfg = {"_name_or_path": "vitscope-golden", "architectures": [arch], "attention_probs_dropout_prob": 0.0,
           "encoder_stride": P, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": C,
           "image_size": S, "initializer_range": 0.02, "intermediate_size": M, "layer_norm_eps": eps,
           "model_type": "vit", "num_attention_heads": H, "num_channels": 3, "num_hidden_layers": L,
           "patch_size": P, "qkv_bias": True, "torch_dtype": "float32", "transformers_version": "4.46.0"}
    if labels:
        cfg["id2label"] = {str(i): n for i, n in enumerate(labels)}
        cfg["label2id"] = {n: i for i, n in enumerate(labels)}
    return cfg


def _hf_vit_preproc(S, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)):
    return {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": list(mean),
            "image_processor_type": "ViTImageProcessor", "image_std": list(std), "resample": 2,
            "rescale_factor": 1 / 255, "size": {"height": S, "width": S}}


def _hf_write(case, model, sd_model, cfg, preproc, x, out, out_name, attns, description, notes, prefix,
              input_hw, native_grid, T=1):
    d = case_dir(case)
    sd = {k: v.detach().clone() for k, v in sd_model.state_dict().items()}
    R.save_safetensors(os.path.join(d, "model.safetensors"), sd)
    R.write_json(os.path.join(d, "config.json"), cfg)
    if preproc:
        R.write_json(os.path.join(d, "preprocessor_config.json"), preproc)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, out_name), out.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), attn_stack(attns))
    P = cfg["patch_size"]
    g = (input_hw[0] // P, input_hw[1] // P)
    write_meta(d, case=case, framework="hf", description=description, tokens=g[0] * g[1] + T, prefix_tokens=T,
               grid=list(g), native_grid=list(native_grid), num_heads=cfg["num_attention_heads"],
               layers=cfg["num_hidden_layers"], embed_dim=cfg["hidden_size"], input_size=list(input_hw),
               hf_prefix=prefix,
               reference="tools/torch_ref.py HF* modules (plain-PyTorch emulation of transformers eager "
                         "attention path), float32",
               files=["input.npy", out_name, "attention.npy"], notes=notes)


def case_hf_vit_classifier():
    case = "hf_vit_classifier"
    seed_for(case)
    C, L, H, M, S, P = 48, 2, 4, 128, 32, 8
    labels = ["cat", "dog", "bird", "fish", "horse", "frog"]
    cfg = _hf_vit_config("ViTForImageClassification", C, L, H, M, S, P, labels)
    model = R.randomize_(R.HFViTForImageClassification(cfg)).eval()
    x = torch.randn(1, 3, S, S)
    with torch.no_grad():
        y, attns = model(x)
    _hf_write(case, model, model, cfg, _hf_vit_preproc(S), x, y, "logits.npy", attns,
              "transformers ViTForImageClassification layout: 'vit.' prefix, separate query/key/value, "
              "layernorm_before/after, intermediate/output dense, classifier; eps 1e-12",
              "logits = classifier(vit.layernorm(x)[:,0]). qkv = cat(query, key, value) rows. "
              "layer_norm_eps 1e-12 as in converted hub configs. No pooler in classification models. "
              "intermediate_size 128 (not 4C).", "vit.", (S, S), (S // P, S // P))


def case_hf_vitmodel_pooler():
    case = "hf_vitmodel_pooler"
    seed_for(case)
    C, L, H, M, S, P = 32, 2, 2, 96, 24, 6
    cfg = _hf_vit_config("ViTModel", C, L, H, M, S, P)
    cfg["pooler_act"] = "tanh"
    cfg["pooler_output_size"] = C
    model = R.randomize_(R.HFViTModel(cfg, add_pooling_layer=True)).eval()
    x = torch.randn(1, 3, S, S)
    with torch.no_grad():
        seq, pooled, attns = model(x)
    _hf_write(case, model, model, cfg, _hf_vit_preproc(S), x, pooled, "features.npy", attns,
              "transformers ViTModel (add_pooling_layer=True), keys without prefix: features = "
              "pooler_output = tanh(pooler.dense(layernorm(x)[:,0]))",
              "features.npy is pooler_output (not last_hidden_state[:,0]). pooler_act 'tanh' and "
              "pooler_output_size appear in newer ViTConfig versions; older configs omit them (tanh, C). "
              "patch 6, 4x4 grid.", "", (S, S), (S // P, S // P))


def case_hf_dinov2():
    case = "hf_dinov2"
    seed_for(case)
    C, L, H, S, P = 48, 2, 3, 64, 8
    cfg = {"_name_or_path": "vitscope-golden", "architectures": ["Dinov2Model"], "apply_layernorm": True,
           "attention_probs_dropout_prob": 0.0, "drop_path_rate": 0.0, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.0, "hidden_size": C, "image_size": S, "initializer_range": 0.02,
           "layer_norm_eps": 1e-6, "layerscale_value": 1.0, "mlp_ratio": 4, "model_type": "dinov2",
           "num_attention_heads": H, "num_channels": 3, "num_hidden_layers": L, "out_features": ["stage2"],
           "out_indices": [2], "patch_size": P, "qkv_bias": True, "reshape_hidden_states": True,
           "stage_names": ["stem", "stage1", "stage2"], "torch_dtype": "float32",
           "transformers_version": "4.46.0", "use_swiglu_ffn": False}
    preproc = {"crop_size": {"height": 40, "width": 48}, "do_center_crop": True, "do_convert_rgb": True,
               "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": IMAGENET_MEAN,
               "image_processor_type": "BitImageProcessor", "image_std": IMAGENET_STD, "resample": 3,
               "rescale_factor": 1 / 255, "size": {"shortest_edge": 48}}
    model = R.randomize_(R.HFViTModel(cfg, dinov2=True)).eval()
    Hh, Ww = 40, 48
    x = torch.randn(1, 3, Hh, Ww)
    with torch.no_grad():
        seq, pooled, attns = model(x)
    _hf_write(case, model, model, cfg, preproc, x, pooled, "features.npy", attns,
              "transformers Dinov2Model layout (norm1/norm2, layer_scale1/2.lambda1, mlp.fc1/fc2, mask_token) "
              "run at 40x48, below its native 64x64 (8x8 grid) -> position embeddings interpolated HF-style",
              "features = pooler_output = layernorm(x)[:,0]. Input H=40, W=48 (grid 5x6). HF Dinov2 "
              "interpolate_pos_encoding (transformers main, read from source): cls row kept, 8x8 grid -> "
              "5x6 via F.interpolate(size=(H//P, W//P), mode='bicubic', align_corners=False), no antialias, "
              "in float32. Older transformers releases used scale_factor=((h0+0.1)/8, (w0+0.1)/8) instead, "
              "which gives different numbers; this golden follows the size-based code. mask_token [1,C] is "
              "stored but unused. preprocessor_config.json is illustrative only (input.npy is random).",
              "", (Hh, Ww), (S // P, S // P))


def case_tv_native():
    case = "tv_native"
    seed_for(case)
    S, P, L, H, C, M, K = 32, 8, 2, 4, 32, 80, 10
    model = make_tv_model(S, P, L, H, C, M, K)
    x = torch.randn(1, 3, S, S)
    y, attns = run_tv_with_attn(model, x)
    d = case_dir(case)
    R.save_safetensors(os.path.join(d, "model.safetensors"),
                       {k: v.detach().clone() for k, v in model.state_dict().items()})
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, "logits.npy"), y.numpy())
    R.save_npy(os.path.join(d, "attention.npy"), attn_stack(attns))
    g = S // P
    write_meta(d, case=case, framework="torchvision",
               description="torchvision VisionTransformer state_dict saved as-is (class_token, conv_proj, "
                           "encoder.pos_embedding, encoder.layers.encoder_layer_i.{ln_1, self_attention."
                           "in_proj_weight/in_proj_bias, out_proj, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head)",
               tokens=g * g + 1, prefix_tokens=1, grid=[g, g], native_grid=[g, g], num_heads=H, layers=L,
               embed_dim=C, mlp_hidden=M, num_classes=K, input_size=[S, S], native_image_size=S,
               model_args={"image_size": S, "patch_size": P, "num_layers": L, "num_heads": H, "hidden_dim": C,
                           "mlp_dim": M, "num_classes": K},
               reference="torchvision.models.vision_transformer.VisionTransformer (0.14.1), eval, float32",
               files=["input.npy", "logits.npy", "attention.npy"],
               notes="No config.json: torchvision checkpoints carry none (official weights are .pth; "
                     "safetensors conversions are plain state_dict dumps). num_heads cannot be derived from "
                     "the tensors - take it from meta.json model_args (or vit_b/l/h naming: 12/16/16). "
                     "LayerNorm eps 1e-6, exact GELU, MHA in_proj rows [q;k;v].")


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------

def _cmp(name, got, ref, atol, rtol):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return f"{name}: shape {got.shape} != {ref.shape}"
    diff = np.abs(got - ref)
    bad = diff > atol + rtol * np.abs(ref)
    md = float(diff.max()) if diff.size else 0.0
    status = "OK" if not bad.any() else "MISMATCH"
    print(f"    {name:28s} {str(ref.shape):22s} maxdiff {md:.3e}  {status}")
    return None if not bad.any() else f"{name}: maxdiff {md:.3e}"


def _load_case(case):
    d = os.path.join(GOLDEN, case)
    meta = json.load(open(os.path.join(d, "meta.json")))
    return d, meta


def check_case(case):
    d, meta = _load_case(case)
    errs = []
    fw = meta["framework"]
    model_path = os.path.join(ROOT, meta["model"]) if "model" in meta else d
    sd, md = R.load_safetensors(os.path.join(model_path, "model.safetensors"))
    assert md == {"format": "pt"}, md
    sd32 = {k: v.float() for k, v in sd.items()}
    cfgp = os.path.join(model_path, "config.json")
    cfg = json.load(open(cfgp)) if os.path.exists(cfgp) else None
    if fw == "timm":
        canon = R.canon_from_timm(sd32, cfg)
    elif fw == "hf":
        canon = R.canon_from_hf(sd32, cfg, prefix=meta.get("hf_prefix", ""))
    elif fw == "torchvision":
        canon = R.canon_from_tv(sd32, meta["num_heads"], meta["input_size"][0] if "native_image_size" not in meta
                                else meta["native_image_size"])
    else:
        raise ValueError(fw)
    outname = "features.npy" if os.path.exists(os.path.join(d, "features.npy")) else "logits.npy"
    pairs = [("input.npy", outname, "attention.npy")]
    if os.path.exists(os.path.join(d, "input_b3.npy")):
        pairs.append(("input_b3.npy", "logits_b3.npy", None))
    timm_model = R.TimmVisionTransformer.from_checkpoint(sd32, cfg) if fw == "timm" else None
    for inp, outn, attn in pairs:
        x = torch.from_numpy(np.load(os.path.join(d, inp)))
        ref_out = np.load(os.path.join(d, outn))
        ref_attn = np.load(os.path.join(d, attn)) if attn else None
        with torch.no_grad():
            y64, a64 = R.ref_forward64(canon, x)
        e = _cmp(f"f64 {outn}", y64.numpy(), ref_out, 2e-4, 2e-4)
        errs += [e] if e else []
        if ref_attn is not None:
            got = torch.stack([a[0] for a in a64], 0).numpy()
            e = _cmp(f"f64 {attn}", got, ref_attn, 2e-5, 1e-4)
            errs += [e] if e else []
        if timm_model is not None:
            with torch.no_grad():
                y32, a32 = timm_model(x)
            e = _cmp(f"TimmViT {outn}", y32.numpy(), ref_out, 2e-5, 2e-5)
            errs += [e] if e else []
            if ref_attn is not None:
                e = _cmp(f"TimmViT {attn}", attn_stack(a32), ref_attn, 1e-5, 1e-5)
                errs += [e] if e else []
    if "samples" in meta:  # re-derive input.npy from the PNGs
        from PIL import Image
        xs = torch.stack([R.timm_eval_preprocess(Image.open(os.path.join(ROOT, f)), cfg["pretrained_cfg"])
                          for f in meta["samples"]], 0).numpy()
        e = _cmp("input.npy from PNGs", xs, np.load(os.path.join(d, "input.npy")), 0, 0)
        errs += [e] if e else []
    for k, v in sd.items():
        want = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[meta.get("dtype", "F32")]
        if v.dtype != want:
            errs.append(f"{k}: dtype {v.dtype}, meta says {meta.get('dtype', 'F32')}")
    # shape/format sanity of meta + files
    x = np.load(os.path.join(d, "input.npy"))
    assert x.dtype == np.dtype("<f4") and x.flags.c_contiguous and x.ndim == 4
    if os.path.exists(os.path.join(d, "attention.npy")):
        a = np.load(os.path.join(d, "attention.npy"))
        N = meta["tokens"]
        assert a.shape[-2:] == (N, N), (a.shape, N)
        assert np.allclose(a.sum(-1), 1, atol=1e-5)
    return errs


# ---------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------

def write_imagenet_labels():
    from torchvision.models._meta import _IMAGENET_CATEGORIES as cats
    assert len(cats) == 1000 and len(set(cats)) == 1000
    d = os.path.join(ROOT, "assets", "labels")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "imagenet1k.txt"), "w") as f:
        for c in cats:
            assert "\n" not in c
            f.write(c + "\n")


CASES = {
    "tv_timm_small": case_tv_timm_small,
    "tv_timm_197": case_tv_timm_197,
    "fashion_samples": case_fashion_samples,
    "timm_deit_distilled": case_timm_deit_distilled,
    "timm_dinov2_reg": case_timm_dinov2_reg,
    "timm_avgpool_noqkvbias": case_timm_avgpool_noqkvbias,
    "timm_resized": case_timm_resized,
    "timm_f16": case_timm_f16,
    "timm_bf16": case_timm_bf16,
    "hf_vit_classifier": case_hf_vit_classifier,
    "hf_vitmodel_pooler": case_hf_vitmodel_pooler,
    "hf_dinov2": case_hf_dinov2,
    "tv_native": case_tv_native,
}


def write_index():
    """tests/golden/README.md: a table generated from every case's meta.json and .npy headers."""
    rows = []
    for case in sorted(os.listdir(GOLDEN)):
        d = os.path.join(GOLDEN, case)
        if not os.path.exists(os.path.join(d, "meta.json")):
            continue
        meta = json.load(open(os.path.join(d, "meta.json")))
        shapes = []
        for f in sorted(os.listdir(d)):
            if f.endswith(".npy"):
                with open(os.path.join(d, f), "rb") as fh:
                    np.lib.format.read_magic(fh)
                    shp = np.lib.format.read_array_header_1_0(fh)[0]
                shapes.append(f"{f[:-4]} {list(shp)}")
        model = meta.get("model", f"tests/golden/{case}")
        rows.append(f"| `{case}` | {meta.get('framework')} | {meta.get('dtype', 'F32')} | {model} | "
                    f"{meta.get('tokens')} | {meta.get('prefix_tokens')} | {meta.get('grid')} | {meta.get('num_heads', '?')} | "
                    f"{'<br>'.join(shapes)} | {dir_size(d)} |")
    text = ["# Golden test cases (index generated by tools/make_goldens.py - do not edit)", "",
            "Cases come from tools/make_goldens.py (verify with `--check`) and other tools named in each "
            "meta.json `reference`; meta.json has the description and notes.", "",
            "Layout: `model.safetensors` (+ `config.json`, `preprocessor_config.json`), `input.npy` float32 "
            "NCHW (already preprocessed), `logits.npy` [B,K] or `features.npy` [B,D], `attention.npy` "
            "[L,H,N,N] post-softmax for batch item 0, `meta.json`.", "",
            "| case | framework | dtype | model dir | tokens N | prefix T | grid | heads | arrays | bytes |",
            "|---|---|---|---|---|---|---|---|---|---|"] + rows + [""]
    with open(os.path.join(GOLDEN, "README.md"), "w") as f:
        f.write("\n".join(text))


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="case name (repeatable)")
    ap.add_argument("--check", action="store_true", help="verify files on disk instead of writing")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print(c)
        return 0
    names = args.only or list(CASES)
    for n in names:
        if n not in CASES:
            print(f"unknown case {n}; known: {', '.join(CASES)}", file=sys.stderr)
            return 2
    if args.check:
        failed = []
        for n in names:
            if not os.path.isdir(os.path.join(GOLDEN, n)):
                print(f"[{n}] missing (not generated)")
                continue
            print(f"[{n}]")
            errs = check_case(n)
            if errs:
                failed.append((n, errs))
        if failed:
            print("FAILED:", failed)
            return 1
        print("all checks passed")
        return 0
    if not args.only:
        write_imagenet_labels()
    for n in names:
        print(f"writing {n}")
        r = CASES[n]()
        if r == "skipped":
            print(f"  {n}: skipped")
    write_index()
    print(f"tests/golden total: {dir_size(GOLDEN)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
