#!/usr/bin/env python3
"""Writes the small .npz/.npy files tests/test_npz.cpp reads (tests/data/npz/).

Values are simple functions of the element index (value = index * 0.25 - 1, or its
float16/float64 cast), so the test recomputes them with no reference file. Run from the
repository root with Debian's numpy: /usr/bin/python3 tools/make_npz_fixtures.py
"""
import io
import os
import zipfile

import numpy as np

OUT = os.path.join("tests", "data", "npz")


def ramp(shape, dtype):
    n = int(np.prod(shape)) if shape else 1
    return (np.arange(n, dtype=np.float64) * 0.25 - 1.0).astype(dtype).reshape(shape)


def arrays():
    return {
        "a/f32": ramp((3, 5), np.float32),
        "a/f16": ramp((7,), np.float16),
        "f64": ramp((2, 3, 4), np.float64),
        "scalar": ramp((), np.float32),
        "empty": ramp((0, 4), np.float32),
    }


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)


def main():
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "savez.npz"), **arrays())
    np.savez_compressed(os.path.join(OUT, "savez_compressed.npz"), **arrays())
    # .npy header versions 2.0 and 3.0 inside an archive.
    write_zip(os.path.join(OUT, "versions.npz"),
              {"v2.npy": npy_bytes(ramp((4,), np.float32), (2, 0)),
               "v3.npy": npy_bytes(ramp((4,), np.float32), (3, 0))})
    # Malformed members: each must be refused with a message naming the file and member.
    bad = {
        "fortran": npy_bytes(np.asfortranarray(ramp((2, 3), np.float32))),
        "int64": npy_bytes(np.arange(4, dtype=np.int64)),
        "bigendian": npy_bytes(ramp((4,), ">f4")),
        "truncated": npy_bytes(ramp((8,), np.float32))[:-5],
        "structured": npy_bytes(np.zeros(2, dtype=[("x", "<f4"), ("y", "<f4")])),
    }
    # np.save refuses object arrays without pickling; write such a header by hand.
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (64 - 10 - len(header) - 1) + b"\n"
    bad["object"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x00" * 16
    for name, data in bad.items():
        write_zip(os.path.join(OUT, f"bad_{name}.npz"), {"w.npy": data})
    write_zip(os.path.join(OUT, "bad_member_name.npz"), {"w.txt": b"hello"})
    with open(os.path.join(OUT, "bad_not_zip.npz"), "wb") as f:
        f.write(b"PK\x03\x04" + b"\x00" * 60)
    good = open(os.path.join(OUT, "savez_compressed.npz"), "rb").read()
    with open(os.path.join(OUT, "bad_cut.npz"), "wb") as f:
        f.write(good[: len(good) // 2])


if __name__ == "__main__":
    main()
