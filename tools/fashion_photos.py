"""Fashion-MNIST garments rendered as "photos", and the bundled model's preprocessing of them.

A photo: the 28x28 garment scaled up to a fraction of the canvas's shorter side and placed
anywhere inside the canvas's central square (the part the model's centre crop keeps), on a
background of some grey level (optionally tinted), with sensor noise and sometimes saved as
JPEG.  `preprocess` is the engine's timm pipeline for the bundled model's config (grey with
PIL's luma weights, shorter side to 28 with PIL's antialiased bicubic, centre crop 28x28), so
what the training script feeds the model is what `vitscope-cli classify` makes of the file.

Used by tools/make_fashion_photos.py (test images -> robustness set and samples) and
tools/train_fashion_vit.py (training images -> augmentation).
"""
import io

import cv2
import numpy as np
from PIL import Image

# The distribution of the robustness set (the description of user photos).
EVAL_STYLE = dict(short=(120, 480), aspects=(1.0, 4 / 3, 3 / 2, 16 / 9, 5 / 4), frac=(0.55, 0.95), bg=(0, 90),
                  noise=(0.0, 8.0), jpeg_p=0.4, jpeg_q=(40, 95), tint_p=0.3, fg=(200, 255), gradient_p=0.0)
# Training: a little wider everywhere, background gradients, and only square canvases of 28-84
# pixels: the centre crop keeps only the central square, so the rest of a canvas never reaches
# the model, and rendering small squares costs a fraction of big canvases (noise is stronger
# after the smaller downscale, which does no harm).
TRAIN_STYLE = dict(short=(28, 84), aspects=(1.0,), frac=(0.45, 1.0), bg=(0, 120), noise=(0.0, 10.0),
                   jpeg_p=0.4, jpeg_q=(25, 95), tint_p=0.3, fg=(170, 255), gradient_p=0.3)


def render(img28, rng, style):
    """One photo of `img28` (uint8 [28,28], bright garment on black). Returns
    (uint8 [H,W] or [H,W,3], 'png' or 'jpg', JPEG-encoded bytes or None)."""
    lo, hi = style["short"]
    S = int(rng.integers(lo, hi + 1))
    aspect = style["aspects"][int(rng.integers(len(style["aspects"])))]
    L = int(round(S * aspect))
    W, H = (L, S) if rng.random() < 0.5 else (S, L)
    g = max(8, int(round(S * rng.uniform(*style["frac"]))))
    # the central square, in the same place the engine's centre crop takes it
    sx, sy = (W - S) // 2, (H - S) // 2
    x0 = sx + int(rng.integers(0, S - g + 1))
    y0 = sy + int(rng.integers(0, S - g + 1))
    up = cv2.resize(img28, (g, g), interpolation=cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR)
    a = np.clip(up.astype(np.float32) / 255.0, 0.0, 1.0)

    bg = float(rng.uniform(*style["bg"]))
    canvas = np.full((H, W), bg, np.float32)
    if rng.random() < style["gradient_p"]:  # uneven lighting
        amp = float(rng.uniform(-25, 25))
        ang = float(rng.uniform(0, 2 * np.pi))
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        canvas += amp * ((xx / W - 0.5) * np.cos(ang) + (yy / H - 0.5) * np.sin(ang)) * 2
    fg = float(rng.uniform(*style["fg"]))
    region = canvas[y0:y0 + g, x0:x0 + g]
    if rng.random() < 0.5:  # garment as opacity over the background
        region[:] = region * (1 - a) + fg * a
    else:  # the brighter of garment and background
        region[:] = np.maximum(region, a * fg)

    rgb = rng.random() < style["tint_p"]
    if rgb:
        tint = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
        canvas = canvas[:, :, None] * tint[None, None, :]
    sigma = float(rng.uniform(*style["noise"]))
    if sigma > 0:
        canvas = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * sigma
    out = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    if rng.random() < style["jpeg_p"]:
        q = int(rng.integers(style["jpeg_q"][0], style["jpeg_q"][1] + 1))
        bgr = out[:, :, ::-1] if rgb else out
        ok, enc = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, q])
        assert ok
        return out, "jpg", enc.tobytes()
    return out, "png", None


def decode(arr, jpeg_bytes):
    """The pixels a decoder reads back from the file (JPEG through PIL, as a user's viewer would)."""
    if jpeg_bytes is None:
        return arr
    im = Image.open(io.BytesIO(jpeg_bytes))
    im.load()
    return np.asarray(im)


def preprocess_u8(pixels, size=28):
    """The engine's timm pipeline for crop_pct 1.0: grey (PIL 'L'), shorter side to `size`
    (longer side int(size * long / short), PIL antialiased bicubic), centre crop. uint8 [size,size]."""
    im = Image.fromarray(pixels)
    if im.mode != "L":
        im = im.convert("L")
    w, h = im.size
    rw, rh = (size, size * h // w) if w <= h else (size * w // h, size)
    im = im.resize((rw, rh), Image.BICUBIC)
    a = np.asarray(im)
    top = int(round((rh - size) / 2.0))
    left = int(round((rw - size) / 2.0))
    return a[top:top + size, left:left + size]


def render_input(img28, rng, style):
    """render + decode + preprocess: the 28x28 uint8 the model sees for one random photo."""
    arr, _, enc = render(img28, rng, style)
    return preprocess_u8(decode(arr, enc))
