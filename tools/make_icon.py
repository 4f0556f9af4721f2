#!/usr/bin/python3
"""Draw vitscope's icon: a 4x4 grid of image patches coloured by a made-up attention map
(viridis), on a dark rounded square, with a lens ring over the most attended patch.

    /usr/bin/python3 tools/make_icon.py [--out packaging]

Writes packaging/vitscope.svg (scalable) and packaging/vitscope.png (128x128) from the same
geometry; both are committed, the script is here to redraw them.
"""
import argparse
import math
import os

from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A few stops of matplotlib's viridis, interpolated linearly.
VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def viridis(t):
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    return tuple(round(a + (b - a) * f) for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1]))


def geometry(size=128):
    """Shapes in a size x size box: background, 16 patches, the lens."""
    s = size / 128.0
    bg = (4 * s, 4 * s, 124 * s, 124 * s, 22 * s)
    patches = []
    cell, gap, origin = 24 * s, 3 * s, 16.5 * s
    for r in range(4):
        for c in range(4):
            x, y = origin + c * (cell + gap), origin + r * (cell + gap)
            att = math.exp(-((r - 1.0) ** 2 + (c - 2.0) ** 2) / 2.2)
            patches.append((x, y, cell, 4 * s, viridis(att)))
    lens = (origin + 2 * (cell + gap) + cell / 2, origin + 1 * (cell + gap) + cell / 2, 20 * s, 5 * s)
    return bg, patches, lens


def svg():
    bg, patches, (cx, cy, r, w) = geometry()
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">',
           f'  <rect x="{bg[0]:g}" y="{bg[1]:g}" width="{bg[2] - bg[0]:g}" height="{bg[3] - bg[1]:g}" rx="{bg[4]:g}" fill="#1b1f2a"/>']
    for x, y, cell, rad, col in patches:
        out.append(f'  <rect x="{x:g}" y="{y:g}" width="{cell:g}" height="{cell:g}" rx="{rad:g}" '
                   f'fill="#{col[0]:02x}{col[1]:02x}{col[2]:02x}"/>')
    out.append(f'  <circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="none" stroke="#ffffff" stroke-width="{w:g}"/>')
    handle = r / math.sqrt(2)
    out.append(f'  <line x1="{cx - handle:g}" y1="{cy + handle:g}" x2="{cx - handle - 22:g}" y2="{cy + handle + 22:g}" '
               f'stroke="#ffffff" stroke-width="{w * 1.6:g}" stroke-linecap="round"/>')
    out.append('</svg>')
    return "\n".join(out) + "\n"


def png(size=128):
    k = 4  # drawn at 4x and downsampled: smooth edges
    bg, patches, (cx, cy, r, w) = geometry(size * k)
    im = Image.new("RGBA", (size * k, size * k), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle(bg[:4], radius=bg[4], fill=(0x1b, 0x1f, 0x2a, 255))
    for x, y, cell, rad, col in patches:
        d.rounded_rectangle((x, y, x + cell, y + cell), radius=rad, fill=col + (255,))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255, 255), width=round(w))
    handle = r / math.sqrt(2)
    d.line((cx - handle, cy + handle, cx - handle - 22 * k, cy + handle + 22 * k), fill=(255, 255, 255, 255),
           width=round(w * 1.6))
    return im.resize((size, size), Image.LANCZOS)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "packaging"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "vitscope.svg"), "w") as f:
        f.write(svg())
    png().save(os.path.join(a.out, "vitscope.png"), optimize=True)


if __name__ == "__main__":
    main()
