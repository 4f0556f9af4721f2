#!/usr/bin/python3
"""Writes the few test images that stb_image_write cannot make (run with Debian's
/usr/bin/python3, PIL). The error-catalogue test (tests/test_errors.cpp) generates
everything else at run time. Deterministic; each file is well under 2 KB."""
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(HERE, "bad"), exist_ok=True)
os.makedirs(os.path.join(HERE, "odd"), exist_ok=True)

y, x = np.mgrid[0:24, 0:20]
rgb = np.stack([x * 12, y * 10, (x + y) * 5], axis=-1).astype(np.uint8)

# CMYK JPEG (PIL writes Adobe-style inverted CMYK with an APP14 marker): refused.
Image.fromarray(rgb, "RGB").convert("CMYK").save(os.path.join(HERE, "bad", "cmyk.jpg"), quality=90)
# A plain RGB JPEG; the test cuts it short to make the truncated case.
Image.fromarray(rgb, "RGB").save(os.path.join(HERE, "odd", "rgb.jpg"), quality=90)
# 16-bit grey PNG: values k*4097 so that the 8-bit value (v >> 8) is exactly k*16.
grey16 = ((x + y) % 16 * 4097).astype(np.uint16)
Image.fromarray(grey16, "I;16").save(os.path.join(HERE, "odd", "grey16.png"))
# Animated GIF: frame 0 solid (200, 40, 40), frame 1 solid (10, 220, 30).
frames = [Image.fromarray(np.full((12, 16, 3), c, np.uint8), "RGB") for c in ((200, 40, 40), (10, 220, 30))]
frames[0].save(os.path.join(HERE, "odd", "anim.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
# 24-bit BMP.
Image.fromarray(rgb, "RGB").save(os.path.join(HERE, "odd", "rgb.bmp"))
