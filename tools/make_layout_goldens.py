#!/usr/bin/python3
"""Extra golden cases for the checkpoint layouts (issue 5), beside tools/make_goldens.py.

Usage (Debian's interpreter, torch 1.13 / torchvision 0.14):

    /usr/bin/python3 tools/make_layout_goldens.py          # write every case below
    /usr/bin/python3 tools/make_layout_goldens.py --only hf_deit_teacher_resized

Every case runs at an input size that differs from the checkpoint's, so the position
table is resampled the way the checkpoint's framework does it:

  hf_deit_teacher_resized   transformers DeiTForImageClassificationWithTeacher ('deit.' prefix,
                            distillation_token, cls_classifier + distillation_classifier),
                            4x4 table -> 6x5 grid, interpolate_pos_encoding (bicubic, no antialias)
  hf_dinov2_reg_resized     transformers Dinov2WithRegistersModel (register_tokens inserted after
                            cls with no position), 6x6 -> 4x7, bicubic with antialias
  hf_vitmodel_resized       transformers ViTModel without pooler (DINO v1 style, no prefix),
                            4x4 -> 7x5, interpolate_pos_encoding=True; features = layernorm(x)[:,0]
  tv_legacy_resized         torchvision VisionTransformer saved with the legacy mlp.linear_1/linear_2
                            names, run at 24x24 after torchvision's own interpolate_embeddings
                            (bicubic, align_corners=True) from its 16x16 table
  timm_dinov2_resized       timm DINOv2-style ViT (LayerScale, registers, no_embed_class) at a
                            non-square size: every pos_embed row is resampled (no prefix rows)
  hf_preprocess/            preprocessor_config.json variants (shortest edge + crop, squash + crop,
                            no normalisation) applied with PIL + numpy as transformers' slow image
                            processors do, to tests/golden/preprocess/rgb.png

Files per case as in tests/golden/README.md (model.safetensors, config.json,
[preprocessor_config.json], input.npy, logits.npy or features.npy, attention.npy, meta.json).
The transformers modules here follow transformers' eager code path (modeling_deit.py,
modeling_dinov2_with_registers.py); the building blocks come from tools/torch_ref.py.
"""

import argparse
import os
import shutil
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

torch.set_num_threads(1)


def seed(case):
    torch.manual_seed(zlib.crc32(case.encode()))


def fresh_dir(case):
    d = os.path.join(GOLDEN, case)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def stack(attns):
    return torch.stack([a[0] for a in attns], 0).detach().numpy()


def write_case(case, framework, sd, cfg, preproc, x, out, out_name, attns, T, P, native_grid, heads, description,
               notes, **extra):
    d = fresh_dir(case)
    R.save_safetensors(os.path.join(d, "model.safetensors"), {k: v.detach().clone().contiguous() for k, v in sd.items()})
    if cfg is not None:
        R.write_json(os.path.join(d, "config.json"), cfg)
    if preproc is not None:
        R.write_json(os.path.join(d, "preprocessor_config.json"), preproc)
    R.save_npy(os.path.join(d, "input.npy"), x.numpy())
    R.save_npy(os.path.join(d, out_name), out.detach().numpy())
    R.save_npy(os.path.join(d, "attention.npy"), stack(attns))
    H, W = x.shape[2], x.shape[3]
    g = [H // P, W // P]
    meta = dict(case=case, framework=framework, description=description, tokens=g[0] * g[1] + T, prefix_tokens=T,
                grid=g, native_grid=list(native_grid), num_heads=heads, layers=len(attns), input_size=[H, W],
                reference="tools/make_layout_goldens.py (" + extra.pop("reference") + "), float32",
                files=["input.npy", out_name, "attention.npy"], notes=notes)
    meta.update(extra)
    R.write_json(os.path.join(d, "meta.json"), meta)


def hf_config(arch, model_type, C, L, H, S, P, eps, **kw):
    cfg = {"_name_or_path": "vitscope-layout-golden", "architectures": [arch], "attention_probs_dropout_prob": 0.0,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": C, "image_size": S,
           "initializer_range": 0.02, "layer_norm_eps": eps, "model_type": model_type, "num_attention_heads": H,
           "num_channels": 3, "num_hidden_layers": L, "patch_size": P, "qkv_bias": True,
           "torch_dtype": "float32", "transformers_version": "4.46.0"}
    cfg.update(kw)
    return cfg


# ---------------------------------------------------------------------------
# transformers DeiTForImageClassificationWithTeacher
# ---------------------------------------------------------------------------

class DeiTEmbeddings(nn.Module):
    def __init__(self, C, P, num_patches):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, C))
        self.patch_embeddings = R.HFPatchEmbeddings(C, P, 3)
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_patches + 2, C))
        self.P = P

    def interpolate_pos_encoding(self, emb, height, width):
        num_patches, num_positions = emb.shape[1] - 2, self.position_embeddings.shape[1] - 2
        if num_patches == num_positions and height == width:
            return self.position_embeddings
        head, grid = self.position_embeddings[:, :2], self.position_embeddings[:, 2:]
        s = int(num_positions ** 0.5)
        C = emb.shape[-1]
        grid = grid.reshape(1, s, s, C).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(height // self.P, width // self.P), mode="bicubic", align_corners=False)
        return torch.cat((head, grid.permute(0, 2, 3, 1).reshape(1, -1, C)), dim=1)

    def forward(self, x):
        B, _, H, W = x.shape
        e = self.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        e = torch.cat((self.cls_token.expand(B, -1, -1), self.distillation_token.expand(B, -1, -1), e), dim=1)
        return e + self.interpolate_pos_encoding(e, H, W)


class DeiTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, L, H, M = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["intermediate_size"]
        P, S = cfg["patch_size"], cfg["image_size"]
        self.embeddings = DeiTEmbeddings(C, P, (S // P) ** 2)
        self.encoder = R._Encoder([R.HFViTLayer(C, H, M, True, cfg["layer_norm_eps"]) for _ in range(L)])
        self.layernorm = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])


class DeiTWithTeacher(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, K = cfg["hidden_size"], len(cfg["id2label"])
        self.deit = DeiTModel(cfg)
        self.cls_classifier = nn.Linear(C, K)
        self.distillation_classifier = nn.Linear(C, K)

    def forward(self, x):
        h = self.deit.embeddings(x)
        attns = []
        for layer in self.deit.encoder.layer:
            h, a = layer(h)
            attns.append(a)
        seq = self.deit.layernorm(h)
        return (self.cls_classifier(seq[:, 0]) + self.distillation_classifier(seq[:, 1])) / 2, attns


def case_hf_deit_teacher_resized():
    case = "hf_deit_teacher_resized"
    seed(case)
    C, L, H, M, S, P = 16, 2, 2, 32, 16, 4
    labels = ["tench", "goldfish", "shark", "ray", "hen", "ostrich"]
    cfg = hf_config("DeiTForImageClassificationWithTeacher", "deit", C, L, H, S, P, 1e-12, intermediate_size=M,
                    encoder_stride=P, id2label={str(i): n for i, n in enumerate(labels)},
                    label2id={n: i for i, n in enumerate(labels)})
    pre = {"crop_size": {"height": S, "width": S}, "do_center_crop": True, "do_normalize": True, "do_rescale": True,
           "do_resize": True, "image_mean": IMAGENET_MEAN, "image_processor_type": "DeiTImageProcessor",
           "image_std": IMAGENET_STD, "resample": 3, "rescale_factor": 1 / 255,
           "size": {"height": S * 256 // 224, "width": S * 256 // 224}}
    model = R.randomize_(DeiTWithTeacher(cfg)).eval()
    x = torch.randn(1, 3, 24, 20)
    with torch.no_grad():
        y, attns = model(x)
    write_case(case, "hf", model.state_dict(), cfg, pre, x, y, "logits.npy", attns, 2, P, (S // P, S // P), H,
               "transformers DeiTForImageClassificationWithTeacher: 'deit.' prefix, cls + distillation tokens, "
               "logits = (cls_classifier(x[:,0]) + distillation_classifier(x[:,1])) / 2, run at 24x20 "
               "from a 16x16 checkpoint (patch 4)",
               "DeiTEmbeddings.interpolate_pos_encoding: rows [:2] kept, 4x4 grid -> 6x5 with "
               "F.interpolate(size=(h//P, w//P), mode='bicubic', align_corners=False), no antialias.",
               reference="transformers DeiT eager path", hf_prefix="deit.", embed_dim=C)


# ---------------------------------------------------------------------------
# transformers Dinov2WithRegistersModel
# ---------------------------------------------------------------------------

class Dinov2RegEmbeddings(nn.Module):
    def __init__(self, C, P, num_patches, R_):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.mask_token = nn.Parameter(torch.zeros(1, C))
        self.register_tokens = nn.Parameter(torch.zeros(1, R_, C))
        self.patch_embeddings = R.HFPatchEmbeddings(C, P, 3)
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_patches + 1, C))
        self.P = P

    def interpolate_pos_encoding(self, emb, height, width):
        num_patches, num_positions = emb.shape[1] - 1, self.position_embeddings.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embeddings
        head, grid = self.position_embeddings[:, :1], self.position_embeddings[:, 1:]
        s = int(num_positions ** 0.5)
        C = emb.shape[-1]
        grid = grid.reshape(1, s, s, C).permute(0, 3, 1, 2).to(torch.float32)
        grid = F.interpolate(grid, size=(height // self.P, width // self.P), mode="bicubic", align_corners=False,
                             antialias=True)
        return torch.cat((head, grid.permute(0, 2, 3, 1).reshape(1, -1, C)), dim=1)

    def forward(self, x):
        B, _, H, W = x.shape
        e = self.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        e = torch.cat((self.cls_token.expand(B, -1, -1), e), dim=1)
        e = e + self.interpolate_pos_encoding(e, H, W)
        return torch.cat((e[:, :1], self.register_tokens.expand(B, -1, -1), e[:, 1:]), dim=1)


class Dinov2RegModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, L, H, P, S = (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["patch_size"],
                         cfg["image_size"])
        M = int(C * cfg["mlp_ratio"])
        eps = cfg["layer_norm_eps"]
        self.embeddings = Dinov2RegEmbeddings(C, P, (S // P) ** 2, cfg["num_register_tokens"])
        self.encoder = R._Encoder([R.HFDinov2Layer(C, H, M, True, eps, 1.0) for _ in range(L)])
        self.layernorm = nn.LayerNorm(C, eps=eps)

    def forward(self, x):
        h = self.embeddings(x)
        attns = []
        for layer in self.encoder.layer:
            h, a = layer(h)
            attns.append(a)
        return self.layernorm(h)[:, 0], attns  # pooler_output


def case_hf_dinov2_reg_resized():
    case = "hf_dinov2_reg_resized"
    seed(case)
    C, L, H, S, P, NR = 16, 2, 2, 24, 4, 4
    cfg = hf_config("Dinov2WithRegistersModel", "dinov2_with_registers", C, L, H, S, P, 1e-6, mlp_ratio=4,
                    layerscale_value=1.0, drop_path_rate=0.0, num_register_tokens=NR, use_swiglu_ffn=False,
                    apply_layernorm=True, reshape_hidden_states=True)
    pre = {"crop_size": {"height": 16, "width": 28}, "do_center_crop": True, "do_convert_rgb": True,
           "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": IMAGENET_MEAN,
           "image_processor_type": "BitImageProcessor", "image_std": IMAGENET_STD, "resample": 3,
           "rescale_factor": 1 / 255, "size": {"shortest_edge": 18}}
    model = R.randomize_(Dinov2RegModel(cfg)).eval()
    x = torch.randn(1, 3, 16, 28)
    with torch.no_grad():
        y, attns = model(x)
    write_case(case, "hf", model.state_dict(), cfg, pre, x, y, "features.npy", attns, 1 + NR, P, (S // P, S // P),
               H,
               "transformers Dinov2WithRegistersModel (no prefix): tokens [cls, 4 registers, patches]; positions "
               "added to cls + patches before the registers are inserted; 6x6 table (patch 4) run at 16x28 (4x7)",
               "Dinov2WithRegistersEmbeddings.interpolate_pos_encoding: cls row kept, 6x6 -> 4x7 with "
               "F.interpolate(size=(h//P, w//P), mode='bicubic', align_corners=False, antialias=True) in "
               "float32. features = pooler_output = layernorm(x)[:,0]. mask_token stored, unused.",
               reference="transformers Dinov2WithRegisters eager path", hf_prefix="", embed_dim=C)


# ---------------------------------------------------------------------------
# transformers ViTModel without pooler (DINO v1 layout), resized
# ---------------------------------------------------------------------------

def case_hf_vitmodel_resized():
    case = "hf_vitmodel_resized"
    seed(case)
    C, L, H, M, S, P = 16, 2, 4, 48, 16, 4
    cfg = hf_config("ViTModel", "vit", C, L, H, S, P, 1e-12, intermediate_size=M, encoder_stride=P)
    pre = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": IMAGENET_MEAN,
           "image_processor_type": "ViTImageProcessor", "image_std": IMAGENET_STD, "resample": 2,
           "rescale_factor": 1 / 255, "size": {"height": S, "width": S}}
    model = R.randomize_(R.HFViTModel(cfg, add_pooling_layer=False)).eval()
    x = torch.randn(1, 3, 28, 20)
    with torch.no_grad():
        seq, _, attns = model(x, interpolate_pos_encoding=True)
    write_case(case, "hf", model.state_dict(), cfg, pre, x, seq[:, 0], "features.npy", attns, 1, P,
               (S // P, S // P), H,
               "transformers ViTModel without pooler (DINO v1 hub layout, no prefix) run at 28x20 from a 16x16 "
               "checkpoint (patch 4) with interpolate_pos_encoding=True",
               "features = last_hidden_state[:,0] = layernorm(x)[:,0] (pooler_output is None without a pooler). "
               "4x4 -> 7x5: F.interpolate(size=(h//P, w//P), mode='bicubic', align_corners=False).",
               reference="tools/torch_ref.py HFViTModel", hf_prefix="", embed_dim=C)


# ---------------------------------------------------------------------------
# torchvision, legacy MLP names, interpolate_embeddings
# ---------------------------------------------------------------------------

def run_tv(model, x):
    """torchvision VisionTransformer forward, capturing each block's attention probabilities."""
    attns = []
    for layer in model.encoder.layers:
        mha = layer.self_attention

        def fwd(query, key, value, need_weights=False, _m=mha, **kw):
            kw.pop("average_attn_weights", None)
            out, w = nn.MultiheadAttention.forward(_m, query, key, value, need_weights=True,
                                                   average_attn_weights=False, **kw)
            attns.append(w.detach())
            return out, w

        mha.forward = fwd
    with torch.no_grad():
        y = model(x)
    for layer in model.encoder.layers:
        del layer.self_attention.forward
    return y, attns


def case_tv_legacy_resized():
    from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings
    case = "tv_legacy_resized"
    seed(case)
    S, S2, P, L, H, C, M, K = 16, 24, 4, 2, 2, 16, 32, 5
    native = R.randomize_(VisionTransformer(image_size=S, patch_size=P, num_layers=L, num_heads=H, hidden_dim=C,
                                            mlp_dim=M, num_classes=K)).eval()
    sd = native.state_dict()
    big = VisionTransformer(image_size=S2, patch_size=P, num_layers=L, num_heads=H, hidden_dim=C, mlp_dim=M,
                            num_classes=K).eval()
    big.load_state_dict(interpolate_embeddings(S2, P, sd))
    x = torch.randn(1, 3, S2, S2)
    y, attns = run_tv(big, x)
    legacy = {k.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2."): v for k, v in sd.items()}
    write_case(case, "torchvision", legacy, None, None, x, y, "logits.npy", attns, 1, P, (S // P, S // P), H,
               "torchvision VisionTransformer (16x16, patch 4) saved with the legacy MLP names "
               "mlp.linear_1/linear_2, run at 24x24",
               "Reference = torchvision's own path: interpolate_embeddings(24, 4, state_dict) (bicubic, "
               "align_corners=True, class row kept) loaded into VisionTransformer(image_size=24). No config.json: "
               "the head count (2) must be given (--heads 2).",
               reference="torchvision 0.14.1 VisionTransformer + interpolate_embeddings", embed_dim=C,
               native_image_size=S)


# ---------------------------------------------------------------------------
# timm: DINOv2-style, no_embed_class, resized to a non-square grid
# ---------------------------------------------------------------------------

def case_timm_dinov2_resized():
    case = "timm_dinov2_resized"
    seed(case)
    C, P, S, L, H, NR = 16, 4, 16, 2, 4, 4
    kwargs = dict(img_size=S, patch_size=P, num_classes=0, embed_dim=C, depth=L, num_heads=H, init_values=1e-5,
                  reg_tokens=NR, no_embed_class=True)
    model = R.randomize_(R.TimmVisionTransformer(**kwargs)).eval()
    cfg = {"architecture": "vit_small_patch4_reg4_dinov2", "num_classes": 0, "num_features": C,
           "global_pool": "token",
           "model_args": {"img_size": S, "patch_size": P, "embed_dim": C, "depth": L, "num_heads": H,
                          "init_values": 1e-5, "reg_tokens": NR, "no_embed_class": True},
           "pretrained_cfg": {"input_size": [3, S, S], "interpolation": "bicubic", "crop_pct": 1.0,
                              "crop_mode": "center", "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "num_classes": 0}}
    x = torch.randn(1, 3, 12, 20)
    with torch.no_grad():
        y, attns = model(x)
    write_case(case, "timm", model.state_dict(), cfg, None, x, y, "features.npy", attns, 1 + NR, P, (S // P, S // P),
               H,
               "timm DINOv2-style ViT (LayerScale, 4 registers, no_embed_class) with a 4x4 pos_embed (patch 4) run at "
               "12x20 (grid 3x5)",
               "no_embed_class: pos_embed has no prefix rows, so all 16 rows are resampled 4x4 -> 3x5 with "
               "F.interpolate(bicubic, antialias=True, align_corners=False) in float32; model_args.num_heads "
               "(4) overrides the architecture name (small -> 6).",
               reference="tools/torch_ref.py TimmVisionTransformer dynamic_img_size path", embed_dim=C, dtype="F32")


# ---------------------------------------------------------------------------
# transformers image processors (slow, PIL) on a real image
# ---------------------------------------------------------------------------

def hf_process(path, proc):
    """transformers' slow processor path: PIL resize, centre crop with offsets rounded down,
    x * rescale_factor in float64 -> float32, (x - mean) / std in float32, channels first."""
    import numpy as np
    from PIL import Image
    im = Image.open(path).convert("RGB")
    if proc.get("do_resize", True):
        size = proc["size"]
        if "shortest_edge" in size:
            w, h = im.size
            s = size["shortest_edge"]
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = s, int(s * long / short)
            ow, oh = (new_short, new_long) if w <= h else (new_long, new_short)
        else:
            oh, ow = size["height"], size["width"]
        im = im.resize((ow, oh), resample=proc["resample"], reducing_gap=None)
    a = np.array(im).transpose(2, 0, 1)
    if proc.get("do_center_crop", False):
        ch, cw = proc["crop_size"]["height"], proc["crop_size"]["width"]
        top, left = (a.shape[1] - ch) // 2, (a.shape[2] - cw) // 2
        a = a[:, top:top + ch, left:left + cw]
    if proc.get("do_rescale", True):
        a = (a.astype(np.float64) * proc.get("rescale_factor", 1 / 255)).astype(np.float32)
    else:
        a = a.astype(np.float32)
    if proc.get("do_normalize", True):
        mean = np.array(proc["image_mean"], dtype=np.float32)[:, None, None]
        std = np.array(proc["image_std"], dtype=np.float32)[:, None, None]
        a = (a - mean) / std
    return np.ascontiguousarray(a, dtype=np.float32)


def write_hf_preprocess():
    """tests/golden/hf_preprocess: preprocessor_config.json variants applied by PIL + numpy to
    tests/golden/preprocess/rgb.png (71x45); the crops have odd margins, where transformers'
    rounding down differs from torchvision's rounding to nearest."""
    import json
    d = os.path.join(GOLDEN, "hf_preprocess")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    src = os.path.join(GOLDEN, "preprocess", "rgb.png")
    base = {"do_normalize": True, "do_rescale": True, "do_resize": True, "rescale_factor": 1 / 255,
            "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}
    cases = [
        ("bit_shortest_crop", "hf_dinov2", dict(base, image_processor_type="BitImageProcessor", resample=3,
                                                 size={"shortest_edge": 30}, do_center_crop=True,
                                                 crop_size={"height": 24, "width": 32})),
        ("deit_squash_crop", "hf_deit_teacher_resized",
         dict(base, image_processor_type="DeiTImageProcessor", resample=3, size={"height": 30, "width": 39},
              do_center_crop=True, crop_size={"height": 24, "width": 32})),
        ("vit_squash_nonorm", "hf_vit_classifier",
         dict(base, image_processor_type="ViTImageProcessor", resample=2, size={"height": 24, "width": 40},
              do_normalize=False, rescale_factor=1 / 127.5)),
    ]
    index = []
    for name, model, proc in cases:
        a = hf_process(src, proc)
        R.save_npy(os.path.join(d, name + ".npy"), a)
        index.append({"case": name, "model": model, "source": "../preprocess/rgb.png",
                      "preprocessor_config": proc, "shape": list(a.shape)})
    # --preprocess torchvision on a 32x32 model: torchvision's ImageClassification recipe
    # (shorter side 32 * 256 / 224 = 36, bilinear, centre crop 32) with the model's mean/std.
    from PIL import Image
    from torchvision import transforms as T
    tf = T.Compose([T.Resize(36, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(32), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    a = tf(Image.open(src).convert("RGB")).numpy()
    R.save_npy(os.path.join(d, "override_torchvision_32.npy"), a)
    index.append({"case": "override_torchvision_32", "model": "tv_timm_small", "source": "../preprocess/rgb.png",
                  "override": "torchvision", "shape": list(a.shape)})
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


CASES = {
    "hf_deit_teacher_resized": case_hf_deit_teacher_resized,
    "hf_dinov2_reg_resized": case_hf_dinov2_reg_resized,
    "hf_vitmodel_resized": case_hf_vitmodel_resized,
    "tv_legacy_resized": case_tv_legacy_resized,
    "timm_dinov2_resized": case_timm_dinov2_resized,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=list(CASES))
    args = ap.parse_args()
    for name in args.only or list(CASES):
        print("writing", name)
        CASES[name]()
    if not args.only:
        print("writing hf_preprocess")
        write_hf_preprocess()
    return 0


if __name__ == "__main__":
    sys.exit(main())
