"""Plain-PyTorch reference pieces shared by the vitscope golden tools.

Run with Debian's interpreter: /usr/bin/python3 (torch 1.13, torchvision 0.14).
No timm / transformers / safetensors packages are needed: this module contains

* a safetensors writer and a strict reader (format per docs/checkpoints.md §1),
* an .npy writer (v1.0, '<f4', C order),
* framework-shaped nn.Modules whose state_dict() names are exactly the native
  checkpoint names:
    - TimmVisionTransformer  (timm/models/vision_transformer.py + deit.py)
    - HFViTModel / HFViTForImageClassification (transformers ViT)
    - HFDinov2Model (transformers Dinov2)
  each returning (output, [per-layer attention probabilities (B,H,N,N)]),
* TimmVisionTransformer.from_checkpoint(state_dict, config_json) ("TimmViT"),
* pos-embed resampling functions as each framework does it,
* an independent float64 functional forward over a canonical parameter set,
  used by `make_goldens.py --check` to re-derive every golden from the files
  on disk.
"""

import json
import math
import re
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# safetensors I/O
# ---------------------------------------------------------------------------

_ST_DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "F64": (torch.float64, 8),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "U8": (torch.uint8, 1),
}
_TORCH_TO_ST = {v[0]: k for k, v in _ST_DTYPES.items()}
# Order of the Rust Dtype enum (the reference writer sorts by dtype descending, then name).
_ST_ENUM_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
                  "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16",
                  "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def _tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    arr = t.numpy()
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write a dict name -> torch.Tensor like safetensors' reference serializer."""
    if metadata is None:
        metadata = {"format": "pt"}
    items = []
    for name, t in tensors.items():
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        items.append((name, _TORCH_TO_ST[t.dtype], t))
    # reference writer: dtype descending (enum order), then name
    items.sort(key=lambda it: (-_ST_ENUM_ORDER.index(it[1]), it[0]))
    header = OrderedDict()
    header["__metadata__"] = dict(metadata)
    blobs = []
    off = 0
    for name, dt, t in items:
        b = _tensor_bytes(t)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - len(hj) % 8) % 8
    hj += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path, upcast=False):
    """Strict reader (checks of safetensors' Metadata::validate). Returns (OrderedDict, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("HeaderTooSmall")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000:
        raise ValueError("HeaderTooLarge")
    if 8 + n > len(data):
        raise ValueError("InvalidHeaderLength")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    buf = data[8 + n:]
    expect = 0
    out = OrderedDict()
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != expect or e < b:
            raise ValueError(f"InvalidOffset at {name}")
        dt, size = _ST_DTYPES[info["dtype"]]
        numel = int(np.prod(info["shape"])) if info["shape"] else 1
        if e - b != numel * size:
            raise ValueError(f"TensorInvalidInfo at {name}")
        raw = buf[b:e]
        if dt == torch.bfloat16:
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
        else:
            npdt = {torch.float32: "<f4", torch.float16: "<f2", torch.float64: "<f8",
                    torch.int64: "<i8", torch.int32: "<i4", torch.uint8: "u1"}[dt]
            t = torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy())
        t = t.reshape(info["shape"])
        if upcast and t.is_floating_point():
            t = t.float()
        out[name] = t
        expect = e
    if expect != len(buf):
        raise ValueError("MetadataIncompleteBuffer")
    return out, meta


def save_npy(path, arr):
    arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------
# Position-embedding resampling, per framework
# ---------------------------------------------------------------------------

def resample_grid(grid, new_size, method):
    """grid: [1, Gh, Gw, C] -> [1, gh, gw, C], resampled in float32 (float64 when given float64).

    method: 'timm'  bicubic, antialias=True, align_corners=False, size-based
            'hf'    bicubic, antialias=False, align_corners=False, size-based (HF ViT/DeiT/Dinov2)
            'hf_aa' bicubic, antialias=True (HF Dinov2-with-registers)
            'tv'    bicubic, align_corners=True (torchvision interpolate_embeddings)
    """
    dt = grid.dtype
    g = grid.permute(0, 3, 1, 2)
    if dt not in (torch.float32, torch.float64):
        g = g.float()
    if method in ("timm", "hf_aa"):
        g = F.interpolate(g, size=tuple(new_size), mode="bicubic", antialias=True, align_corners=False)
    elif method == "hf":
        g = F.interpolate(g, size=tuple(new_size), mode="bicubic", align_corners=False)
    elif method == "tv":
        g = F.interpolate(g, size=tuple(new_size), mode="bicubic", align_corners=True)
    else:
        raise ValueError(method)
    return g.permute(0, 2, 3, 1).to(dt)


def timm_resample_abs_pos_embed(posemb, new_size, old_size=None, num_prefix_tokens=1):
    """timm.layers.pos_embed.resample_abs_pos_embed (bicubic, antialias=True)."""
    num_pos_tokens = posemb.shape[1]
    num_new_tokens = new_size[0] * new_size[1] + num_prefix_tokens
    if num_new_tokens == num_pos_tokens and new_size[0] == new_size[1]:
        return posemb
    if old_size is None:
        hw = int(math.sqrt(num_pos_tokens - num_prefix_tokens))
        old_size = hw, hw
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    C = posemb.shape[-1]
    orig = posemb.dtype
    grid = grid.float() if orig != torch.float64 else grid
    grid = grid.reshape(1, old_size[0], old_size[1], C)
    grid = resample_grid(grid, new_size, "timm").reshape(1, -1, C).to(orig)
    return torch.cat([prefix, grid], dim=1) if num_prefix_tokens else grid


# ---------------------------------------------------------------------------
# timm VisionTransformer (names = timm state_dict names)
# ---------------------------------------------------------------------------

class TimmAttention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x), attn


class TimmLayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class TimmMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TimmBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_hidden, qkv_bias, init_values, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = TimmAttention(dim, num_heads, qkv_bias)
        self.ls1 = TimmLayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = TimmMlp(dim, mlp_hidden)
        self.ls2 = TimmLayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x):
        a, attn = self.attn(self.norm1(x))
        x = x + self.ls1(a)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, attn


class TimmPatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, dim):
        super().__init__()
        self.img_size = tuple(img_size)
        self.patch_size = patch_size
        self.grid_size = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


class TimmVisionTransformer(nn.Module):
    """timm VisionTransformer / VisionTransformerDistilled, eval forward only.

    forward(x) -> (logits or features [B,K|C], [attn (B,H,N,N)] per block).
    Inputs whose grid differs from img_size get the pos_embed resampled like timm
    (dynamic_img_size / checkpoint_filter_fn: bicubic, antialias=True).
    """

    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, global_pool="token",
                 embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True, init_values=None,
                 class_token=True, no_embed_class=False, reg_tokens=0, fc_norm=None, distilled=False,
                 eps=1e-6, mlp_hidden=None):
        super().__init__()
        assert global_pool in ("token", "avg", "")
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_heads = num_heads
        self.distilled = distilled
        self.no_embed_class = no_embed_class
        self.num_prefix_tokens = (1 if class_token else 0) + reg_tokens + (1 if distilled else 0)
        use_fc_norm = global_pool in ("avg",) if fc_norm is None else fc_norm
        self.patch_embed = TimmPatchEmbed(_pair(img_size), patch_size, in_chans, embed_dim)
        np_ = self.patch_embed.grid_size[0] * self.patch_embed.grid_size[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, embed_dim)) if reg_tokens else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        pos_len = np_ if no_embed_class else np_ + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_len, embed_dim))
        hidden = mlp_hidden if mlp_hidden is not None else int(embed_dim * mlp_ratio)
        self.blocks = nn.ModuleList([TimmBlock(embed_dim, num_heads, hidden, qkv_bias, init_values, eps)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=eps) if not use_fc_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=eps) if use_fc_norm else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        if distilled:
            self.head_dist = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    # -- construction from a timm checkpoint + hub config.json ("TimmViT") --
    @classmethod
    def from_checkpoint(cls, sd, cfg, img_size=None):
        """Build from a timm-named state dict and a timm hub config.json dict.

        Depth, C, P, in_chans, prefix tokens, qkv_bias, LayerScale, fc_norm, heads come from the
        tensors; num_heads from model_args (or the architecture name); eps from
        model_args['eps'] (non-timm extension) else 1e-6.  img_size defaults to
        pretrained_cfg.input_size; if the checkpoint grid differs, pos_embed is resampled at
        load time as timm's checkpoint_filter_fn does.
        """
        ma = dict(cfg.get("model_args", {}))
        w = sd["patch_embed.proj.weight"]
        C, in_chans, P = w.shape[0], w.shape[1], w.shape[2]
        depth = 1 + max(int(m.group(1)) for k in sd for m in [re.match(r"blocks\.(\d+)\.", k)] if m)
        num_heads = ma.get("num_heads") or heads_from_arch(cfg.get("architecture", ""))
        reg = sd["reg_token"].shape[1] if "reg_token" in sd else 0
        distilled = "dist_token" in sd
        class_token = "cls_token" in sd
        npt = int(class_token) + reg + int(distilled)
        if img_size is None:
            if "input_size" in cfg.get("pretrained_cfg", {}):
                img_size = tuple(cfg["pretrained_cfg"]["input_size"][1:])
            else:
                img_size = _pair(ma.get("img_size", 224))
        img_size = _pair(img_size)
        grid = (img_size[0] // P, img_size[1] // P)
        pos = sd["pos_embed"]
        no_embed_class = bool(ma.get("no_embed_class", False))
        if "no_embed_class" not in ma and npt and pos.shape[1] == grid[0] * grid[1]:
            no_embed_class = True
        num_classes = sd["head.weight"].shape[0] if "head.weight" in sd else 0
        fc_norm = "fc_norm.weight" in sd
        global_pool = cfg.get("global_pool", ma.get("global_pool", "token"))
        hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
        model = cls(img_size=img_size, patch_size=P, in_chans=in_chans, num_classes=num_classes,
                    global_pool=global_pool, embed_dim=C, depth=depth, num_heads=num_heads,
                    qkv_bias="blocks.0.attn.qkv.bias" in sd,
                    init_values=1.0 if "blocks.0.ls1.gamma" in sd else None,
                    class_token=class_token, no_embed_class=no_embed_class, reg_tokens=reg,
                    fc_norm=fc_norm, distilled=distilled, eps=float(ma.get("eps", 1e-6)),
                    mlp_hidden=hidden)
        sd = dict(sd)
        if pos.shape[1] != model.pos_embed.shape[1] or (grid[0] != grid[1]):
            sd["pos_embed"] = timm_resample_abs_pos_embed(
                pos.float(), grid, num_prefix_tokens=0 if no_embed_class else npt)
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
        return model.eval()

    def _pos_embed(self, x, grid):
        pos = self.pos_embed
        if tuple(grid) != tuple(self.patch_embed.grid_size):  # dynamic_img_size path
            pos = timm_resample_abs_pos_embed(pos, grid, old_size=self.patch_embed.grid_size,
                                              num_prefix_tokens=0 if self.no_embed_class else self.num_prefix_tokens)
        B = x.shape[0]
        to_cat = []
        if self.cls_token is not None:
            to_cat.append(self.cls_token.expand(B, -1, -1))
        if self.reg_token is not None:
            to_cat.append(self.reg_token.expand(B, -1, -1))
        if self.dist_token is not None:
            to_cat.append(self.dist_token.expand(B, -1, -1))
        if self.no_embed_class:
            x = x + pos
            x = torch.cat(to_cat + [x], dim=1) if to_cat else x
        else:
            x = torch.cat(to_cat + [x], dim=1) if to_cat else x
            x = x + pos
        return x

    def forward(self, x):
        x = self.patch_embed.proj(x)
        grid = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        x = self._pos_embed(x, grid)
        attns = []
        for blk in self.blocks:
            x, a = blk(x)
            attns.append(a)
        x = self.norm(x)
        if self.distilled:
            out = (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
            return out, attns
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        elif self.global_pool == "token":
            x = x[:, 0]
        x = self.fc_norm(x)
        return self.head(x), attns


def heads_from_arch(name):
    for key, h in (("tiny", 3), ("small", 6), ("base", 12), ("large", 16), ("huge", 16)):
        if key in name:
            return h
    raise ValueError(f"cannot infer num_heads from architecture {name!r}")


# ---------------------------------------------------------------------------
# Hugging Face ViT / Dinov2 (names = transformers state_dict names)
# ---------------------------------------------------------------------------

class _Dense(nn.Module):
    def __init__(self, i, o, bias=True):
        super().__init__()
        self.dense = nn.Linear(i, o, bias=bias)


class HFPatchEmbeddings(nn.Module):
    def __init__(self, C, P, in_chans):
        super().__init__()
        self.patch_size = P
        self.projection = nn.Conv2d(in_chans, C, kernel_size=P, stride=P)


class HFEmbeddings(nn.Module):
    """ViTEmbeddings / Dinov2Embeddings (cls_token, [mask_token], position_embeddings, patch_embeddings)."""

    def __init__(self, C, P, in_chans, num_patches, mask_token=False, mask_token_shape=None,
                 interp="hf"):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(*(mask_token_shape or (1, C))))
        self.patch_embeddings = HFPatchEmbeddings(C, P, in_chans)
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_patches + 1, C))
        self.patch_size = P
        self.interp = interp

    def interpolate_pos_encoding(self, embeddings, height, width):
        num_patches = embeddings.shape[1] - 1
        num_positions = self.position_embeddings.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embeddings
        cls_pos = self.position_embeddings[:, :1]
        patch_pos = self.position_embeddings[:, 1:]
        dim = embeddings.shape[-1]
        s = int(num_positions ** 0.5)
        patch_pos = patch_pos.reshape(1, s, s, dim)
        patch_pos = resample_grid(patch_pos.float() if patch_pos.dtype != torch.float64 else patch_pos,
                                  (height // self.patch_size, width // self.patch_size), self.interp)
        patch_pos = patch_pos.to(self.position_embeddings.dtype).reshape(1, -1, dim)
        return torch.cat((cls_pos, patch_pos), dim=1)

    def forward(self, pixel_values, interpolate_pos_encoding):
        B, _, H, W = pixel_values.shape
        x = self.patch_embeddings.projection(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        if interpolate_pos_encoding:
            x = x + self.interpolate_pos_encoding(x, H, W)
        else:
            assert x.shape[1] == self.position_embeddings.shape[1], "size mismatch (HF raises)"
            x = x + self.position_embeddings
        return x


class HFSelfAttention(nn.Module):
    def __init__(self, C, H, qkv_bias):
        super().__init__()
        self.H, self.D = H, C // H
        self.query = nn.Linear(C, C, bias=qkv_bias)
        self.key = nn.Linear(C, C, bias=qkv_bias)
        self.value = nn.Linear(C, C, bias=qkv_bias)

    def forward(self, x):
        B, N, C = x.shape
        shp = (B, N, self.H, self.D)
        k = self.key(x).view(shp).transpose(1, 2)
        v = self.value(x).view(shp).transpose(1, 2)
        q = self.query(x).view(shp).transpose(1, 2)
        attn = torch.matmul(q, k.transpose(-1, -2)) * self.D ** -0.5
        attn = F.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(B, N, C)
        return ctx, attn


class HFAttention(nn.Module):
    def __init__(self, C, H, qkv_bias):
        super().__init__()
        self.attention = HFSelfAttention(C, H, qkv_bias)
        self.output = _Dense(C, C)

    def forward(self, x):
        ctx, attn = self.attention(x)
        return self.output.dense(ctx), attn


class HFViTLayer(nn.Module):
    def __init__(self, C, H, M, qkv_bias, eps):
        super().__init__()
        self.attention = HFAttention(C, H, qkv_bias)
        self.intermediate = _Dense(C, M)
        self.output = _Dense(M, C)
        self.layernorm_before = nn.LayerNorm(C, eps=eps)
        self.layernorm_after = nn.LayerNorm(C, eps=eps)

    def forward(self, x):
        a, attn = self.attention(self.layernorm_before(x))
        x = a + x
        y = self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))
        return y + x, attn


class _LayerScaleHF(nn.Module):
    def __init__(self, C, v):
        super().__init__()
        self.lambda1 = nn.Parameter(v * torch.ones(C))


class _MlpHF(nn.Module):
    def __init__(self, C, M):
        super().__init__()
        self.fc1 = nn.Linear(C, M)
        self.fc2 = nn.Linear(M, C)


class HFDinov2Layer(nn.Module):
    def __init__(self, C, H, M, qkv_bias, eps, layerscale_value):
        super().__init__()
        self.norm1 = nn.LayerNorm(C, eps=eps)
        self.attention = HFAttention(C, H, qkv_bias)
        self.layer_scale1 = _LayerScaleHF(C, layerscale_value)
        self.norm2 = nn.LayerNorm(C, eps=eps)
        self.mlp = _MlpHF(C, M)
        self.layer_scale2 = _LayerScaleHF(C, layerscale_value)

    def forward(self, x):
        a, attn = self.attention(self.norm1(x))
        x = a * self.layer_scale1.lambda1 + x
        y = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
        return y * self.layer_scale2.lambda1 + x, attn


class _Encoder(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layer = nn.ModuleList(layers)


class HFViTModel(nn.Module):
    """transformers ViTModel (optionally with pooler) / Dinov2Model (dinov2=True)."""

    def __init__(self, cfg, add_pooling_layer=False, dinov2=False):
        super().__init__()
        C, L, H = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
        P, S, in_chans = cfg["patch_size"], cfg["image_size"], cfg.get("num_channels", 3)
        eps, qkv_bias = cfg["layer_norm_eps"], cfg.get("qkv_bias", True)
        np_ = (S // P) ** 2
        self.dinov2 = dinov2
        if dinov2:
            M = int(C * cfg.get("mlp_ratio", 4))
            self.embeddings = HFEmbeddings(C, P, in_chans, np_, mask_token=True, interp="hf")
            layers = [HFDinov2Layer(C, H, M, qkv_bias, eps, cfg.get("layerscale_value", 1.0)) for _ in range(L)]
        else:
            M = cfg["intermediate_size"]
            self.embeddings = HFEmbeddings(C, P, in_chans, np_, interp="hf")
            layers = [HFViTLayer(C, H, M, qkv_bias, eps) for _ in range(L)]
        self.encoder = _Encoder(layers)
        self.layernorm = nn.LayerNorm(C, eps=eps)
        if add_pooling_layer:
            self.pooler = _Dense(C, cfg.get("pooler_output_size") or C)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        """Returns (last_hidden_state, pooler_output or None, attentions)."""
        x = self.embeddings(pixel_values, interpolate_pos_encoding or self.dinov2)
        attns = []
        for layer in self.encoder.layer:
            x, a = layer(x)
            attns.append(a)
        seq = self.layernorm(x)
        if self.dinov2:
            pooled = seq[:, 0, :]
        elif hasattr(self, "pooler"):
            pooled = torch.tanh(self.pooler.dense(seq[:, 0]))
        else:
            pooled = None
        return seq, pooled, attns


class HFViTForImageClassification(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.vit = HFViTModel(cfg, add_pooling_layer=False)
        self.classifier = nn.Linear(cfg["hidden_size"], len(cfg["id2label"]))

    def forward(self, pixel_values):
        seq, _, attns = self.vit(pixel_values)
        return self.classifier(seq[:, 0, :]), attns


# ---------------------------------------------------------------------------
# Random, non-trivial parameter initialisation
# ---------------------------------------------------------------------------

_HEAD_NAMES = ("head.", "head_dist.", "classifier.", "heads.head.")


def randomize_(model, qk_gain=1.5, head_gain=3.0):
    """Deterministic (uses the global torch RNG) non-default init of every parameter."""
    with torch.no_grad():
        for mname, m in model.named_modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.Linear):
                fan_in = m.weight.shape[1]
                gain = head_gain if any((mname + ".").startswith(h) for h in _HEAD_NAMES) else 1.0
                if mname.endswith((".query", ".key")) or mname.endswith(".qkv"):
                    gain = qk_gain
                m.weight.copy_(gain * torch.randn_like(m.weight) / math.sqrt(fan_in))
                if mname.endswith(".qkv"):  # v part back to gain 1
                    C = m.weight.shape[1]
                    m.weight[2 * C:] /= qk_gain
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn_like(m.weight) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.MultiheadAttention):
                C = m.embed_dim
                w = torch.randn_like(m.in_proj_weight) / math.sqrt(C)
                w[:2 * C] *= qk_gain
                m.in_proj_weight.copy_(w)
                m.in_proj_bias.copy_(0.1 * torch.randn_like(m.in_proj_bias))
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            if leaf in ("cls_token", "class_token", "dist_token", "distillation_token"):
                p.copy_(0.5 * torch.randn_like(p))
            elif leaf in ("pos_embed", "pos_embedding", "position_embeddings"):
                p.copy_(0.3 * torch.randn_like(p))
            elif leaf in ("reg_token", "register_tokens"):
                p.copy_(0.4 * torch.randn_like(p))
            elif leaf == "mask_token":
                p.copy_(0.1 * torch.randn_like(p))
            elif leaf in ("gamma", "lambda1"):
                p.copy_(0.5 + 0.3 * torch.randn_like(p))
    return model


# ---------------------------------------------------------------------------
# Canonical parameter set + independent float64 forward (used by --check)
# ---------------------------------------------------------------------------

def canon_from_timm(sd, cfg):
    ma = cfg.get("model_args", {})
    w = sd["patch_embed.proj.weight"]
    P = w.shape[2]
    S = tuple(cfg["pretrained_cfg"]["input_size"][1:])
    grid = (S[0] // P, S[1] // P)
    reg = sd["reg_token"][0] if "reg_token" in sd else None
    prefix = []
    if "cls_token" in sd:
        prefix.append(sd["cls_token"][0])
    if reg is not None:
        prefix.append(reg)
    if "dist_token" in sd:
        prefix.append(sd["dist_token"][0])
    prefix = torch.cat(prefix, 0) if prefix else None
    T = 0 if prefix is None else prefix.shape[0]
    pos = sd["pos_embed"][0]
    pos_prefix = pos[:T] if pos.shape[0] == grid[0] * grid[1] + T else None
    pos_grid = pos[T:] if pos_prefix is not None else pos
    blocks = []
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        p = f"blocks.{i}."
        C = sd[p + "norm1.weight"].shape[0]
        blocks.append(dict(
            n1w=sd[p + "norm1.weight"], n1b=sd[p + "norm1.bias"],
            qkv_w=sd[p + "attn.qkv.weight"], qkv_b=sd.get(p + "attn.qkv.bias", torch.zeros(3 * C)),
            proj_w=sd[p + "attn.proj.weight"], proj_b=sd[p + "attn.proj.bias"],
            ls1=sd.get(p + "ls1.gamma"), ls2=sd.get(p + "ls2.gamma"),
            n2w=sd[p + "norm2.weight"], n2b=sd[p + "norm2.bias"],
            fc1_w=sd[p + "mlp.fc1.weight"], fc1_b=sd[p + "mlp.fc1.bias"],
            fc2_w=sd[p + "mlp.fc2.weight"], fc2_b=sd[p + "mlp.fc2.bias"]))
        i += 1
    heads = []
    if "head.weight" in sd:
        heads.append((0, sd["head.weight"], sd["head.bias"]))
    if "head_dist.weight" in sd:
        heads.append((T - 1, sd["head_dist.weight"], sd["head_dist.bias"]))
    return dict(patch_w=w, patch_b=sd["patch_embed.proj.bias"], prefix=prefix, pos_prefix=pos_prefix,
                pos_grid=pos_grid, grid=grid, resample="timm", blocks=blocks,
                num_heads=ma.get("num_heads") or heads_from_arch(cfg["architecture"]),
                eps=float(ma.get("eps", 1e-6)),
                norm=(sd["norm.weight"], sd["norm.bias"]) if "norm.weight" in sd else None,
                fc_norm=(sd["fc_norm.weight"], sd["fc_norm.bias"]) if "fc_norm.weight" in sd else None,
                pool=cfg.get("global_pool", "token"), heads=heads, pooler=None)


def canon_from_hf(sd, cfg, prefix=""):
    p0 = prefix + "embeddings."
    C = cfg["hidden_size"]
    P = cfg["patch_size"]
    S = cfg["image_size"]
    pos = sd[p0 + "position_embeddings"][0]
    dinov2 = cfg.get("model_type") == "dinov2"
    blocks = []
    i = 0
    while f"{prefix}encoder.layer.{i}.attention.attention.query.weight" in sd:
        p = f"{prefix}encoder.layer.{i}."
        a = p + "attention.attention."
        qkv_w = torch.cat([sd[a + n + ".weight"] for n in ("query", "key", "value")], 0)
        qkv_b = torch.cat([sd.get(a + n + ".bias", torch.zeros(C)) for n in ("query", "key", "value")], 0)
        if dinov2:
            b = dict(n1w=sd[p + "norm1.weight"], n1b=sd[p + "norm1.bias"],
                     n2w=sd[p + "norm2.weight"], n2b=sd[p + "norm2.bias"],
                     fc1_w=sd[p + "mlp.fc1.weight"], fc1_b=sd[p + "mlp.fc1.bias"],
                     fc2_w=sd[p + "mlp.fc2.weight"], fc2_b=sd[p + "mlp.fc2.bias"],
                     ls1=sd[p + "layer_scale1.lambda1"], ls2=sd[p + "layer_scale2.lambda1"])
        else:
            b = dict(n1w=sd[p + "layernorm_before.weight"], n1b=sd[p + "layernorm_before.bias"],
                     n2w=sd[p + "layernorm_after.weight"], n2b=sd[p + "layernorm_after.bias"],
                     fc1_w=sd[p + "intermediate.dense.weight"], fc1_b=sd[p + "intermediate.dense.bias"],
                     fc2_w=sd[p + "output.dense.weight"], fc2_b=sd[p + "output.dense.bias"],
                     ls1=None, ls2=None)
        b.update(qkv_w=qkv_w, qkv_b=qkv_b, proj_w=sd[p + "attention.output.dense.weight"],
                 proj_b=sd[p + "attention.output.dense.bias"])
        blocks.append(b)
        i += 1
    heads = [(0, sd["classifier.weight"], sd["classifier.bias"])] if "classifier.weight" in sd else []
    pooler = (sd[prefix + "pooler.dense.weight"], sd[prefix + "pooler.dense.bias"]) \
        if prefix + "pooler.dense.weight" in sd else None
    return dict(patch_w=sd[p0 + "patch_embeddings.projection.weight"],
                patch_b=sd[p0 + "patch_embeddings.projection.bias"],
                prefix=sd[p0 + "cls_token"][0], pos_prefix=pos[:1], pos_grid=pos[1:],
                grid=(S // P, S // P), resample="hf", blocks=blocks, num_heads=cfg["num_attention_heads"],
                eps=float(cfg["layer_norm_eps"]), norm=(sd[prefix + "layernorm.weight"], sd[prefix + "layernorm.bias"]),
                fc_norm=None, pool="token", heads=heads, pooler=pooler)


def canon_from_tv(sd, num_heads, image_size):
    w = sd["conv_proj.weight"]
    P = w.shape[2]
    pos = sd["encoder.pos_embedding"][0]
    blocks = []
    i = 0
    while f"encoder.layers.encoder_layer_{i}.ln_1.weight" in sd:
        p = f"encoder.layers.encoder_layer_{i}."
        blocks.append(dict(
            n1w=sd[p + "ln_1.weight"], n1b=sd[p + "ln_1.bias"],
            qkv_w=sd[p + "self_attention.in_proj_weight"], qkv_b=sd[p + "self_attention.in_proj_bias"],
            proj_w=sd[p + "self_attention.out_proj.weight"], proj_b=sd[p + "self_attention.out_proj.bias"],
            ls1=None, ls2=None, n2w=sd[p + "ln_2.weight"], n2b=sd[p + "ln_2.bias"],
            fc1_w=sd[p + "mlp.0.weight"], fc1_b=sd[p + "mlp.0.bias"],
            fc2_w=sd[p + "mlp.3.weight"], fc2_b=sd[p + "mlp.3.bias"]))
        i += 1
    return dict(patch_w=w, patch_b=sd["conv_proj.bias"], prefix=sd["class_token"][0], pos_prefix=pos[:1],
                pos_grid=pos[1:], grid=(image_size // P, image_size // P), resample="tv", blocks=blocks,
                num_heads=num_heads, eps=1e-6, norm=(sd["encoder.ln.weight"], sd["encoder.ln.bias"]),
                fc_norm=None, pool="token", heads=[(0, sd["heads.head.weight"], sd["heads.head.bias"])],
                pooler=None)


def _ln64(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def ref_forward64(c, x, reg_without_pos=False):
    """Independent float64 forward over a canonical parameter dict.

    reg_without_pos: HF/original DINOv2-with-registers ordering (not used by timm files).
    Returns (output [B,K] or features [B,C], attention list of (B,H,N,N)).
    """
    d = lambda t: None if t is None else t.double()
    x = x.double()
    B = x.shape[0]
    P = c["patch_w"].shape[2]
    # patch embedding as an explicit GEMM over unfolded patches (independent of conv)
    gh, gw = x.shape[2] // P, x.shape[3] // P
    patches = x[:, :, :gh * P, :gw * P].reshape(B, x.shape[1], gh, P, gw, P).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(B, gh * gw, -1)
    t = patches @ d(c["patch_w"]).reshape(c["patch_w"].shape[0], -1).T + d(c["patch_b"])
    pos_grid = d(c["pos_grid"])
    if (gh, gw) != tuple(c["grid"]):
        Cd = pos_grid.shape[-1]
        pos_grid = resample_grid(pos_grid.reshape(1, c["grid"][0], c["grid"][1], Cd), (gh, gw),
                                 c["resample"]).reshape(-1, Cd)
    prefix = d(c["prefix"])
    if c["pos_prefix"] is not None:
        tokens = torch.cat([prefix.expand(B, -1, -1), t], 1) if prefix is not None else t
        x = tokens + torch.cat([d(c["pos_prefix"]), pos_grid], 0)
    else:  # no_embed_class
        x = t + pos_grid
        if prefix is not None:
            x = torch.cat([prefix.expand(B, -1, -1), x], 1)
    T = 0 if prefix is None else prefix.shape[0]
    H = c["num_heads"]
    eps = c["eps"]
    attns = []
    for b in c["blocks"]:
        b = {k: d(v) for k, v in b.items()}
        h = _ln64(x, b["n1w"], b["n1b"], eps)
        qkv = h @ b["qkv_w"].T + b["qkv_b"]
        Cd = x.shape[-1]
        Dh = Cd // H
        q, k, v = [qkv[..., s * Cd:(s + 1) * Cd].reshape(B, -1, H, Dh).transpose(1, 2) for s in range(3)]
        s_ = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
        s_ = s_ - s_.max(-1, keepdim=True).values
        a = torch.exp(s_)
        a = a / a.sum(-1, keepdim=True)
        attns.append(a)
        o = (a @ v).transpose(1, 2).reshape(B, -1, Cd) @ b["proj_w"].T + b["proj_b"]
        if b["ls1"] is not None:
            o = o * b["ls1"]
        x = x + o
        h = _ln64(x, b["n2w"], b["n2b"], eps)
        h = h @ b["fc1_w"].T + b["fc1_b"]
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        h = h @ b["fc2_w"].T + b["fc2_b"]
        if b["ls2"] is not None:
            h = h * b["ls2"]
        x = x + h
    if c["norm"] is not None:
        x = _ln64(x, d(c["norm"][0]), d(c["norm"][1]), eps)
    if len(c["heads"]) > 1:  # distilled: average of per-token heads
        out = sum(x[:, i] @ d(w).T + d(bb) for i, w, bb in c["heads"]) / len(c["heads"])
        return out, attns
    if c["pool"] == "avg":
        f = x[:, T:].mean(1)
    else:
        f = x[:, 0]
    if c["fc_norm"] is not None:
        f = _ln64(f, d(c["fc_norm"][0]), d(c["fc_norm"][1]), eps)
    if c["pooler"] is not None:
        f = torch.tanh(f @ d(c["pooler"][0]).T + d(c["pooler"][1]))
    if c["heads"]:
        _, w, bb = c["heads"][0]
        f = f @ d(w).T + d(bb)
    return f, attns


# ---------------------------------------------------------------------------
# timm eval preprocessing (transforms_imagenet_eval) for one PIL image
# ---------------------------------------------------------------------------

def timm_eval_preprocess(img, pretrained_cfg):
    """PIL image -> float32 tensor [C,H,W] as timm's eval transform would make it.

    Resize shorter side to floor(S/crop_pct) (PIL, cfg interpolation), center crop S, /255,
    normalize.  PIL's resize returns an unchanged copy when the size already matches.
    """
    from PIL import Image
    C, Hs, Ws = pretrained_cfg["input_size"]
    crop_pct = pretrained_cfg.get("crop_pct", 0.875)
    interp = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR,
              "nearest": Image.NEAREST}[pretrained_cfg.get("interpolation", "bicubic")]
    img = img.convert("L" if C == 1 else "RGB")
    if Hs == Ws:
        scale = int(math.floor(Hs / crop_pct))
        w, h = img.size
        if w <= h:
            nw, nh = scale, int(scale * h / w)
        else:
            nh, nw = scale, int(scale * w / h)
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), interp)
    else:
        scale = (int(math.floor(Hs / crop_pct)), int(math.floor(Ws / crop_pct)))
        if (scale[1], scale[0]) != img.size:
            img = img.resize((scale[1], scale[0]), interp)
    w, h = img.size
    top = int(round((h - Hs) / 2.0))
    left = int(round((w - Ws) / 2.0))
    img = img.crop((left, top, left + Ws, top + Hs))
    a = np.asarray(img, dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    mean = np.asarray(pretrained_cfg["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(pretrained_cfg["std"], dtype=np.float32).reshape(-1, 1, 1)
    return torch.from_numpy(((a - mean) / std).astype(np.float32))
