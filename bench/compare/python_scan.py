#!/usr/bin/python3
"""The Python way to do vpipe's scan pass, as dataset scripts do it: PIL + numpy + OpenCV in a
multiprocessing pool, computing the same content hash, pHash, dHash and quality signals.

  python_scan.py --mode full|draft --threads N FILE_LIST

full:  Image.open + convert: a full-resolution decode (what most scripts do).
draft: Image.draft('RGB', (256, 256)) first: libjpeg's DCT scaling, the best a careful user does.
Prints: "python-<mode>: N images in S s = R images/s (M failed)".
Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy, python3-opencv, python3-xxhash).
"""
import argparse
import hashlib
import multiprocessing as mp
import time

import cv2
import numpy as np
from PIL import Image

try:
    import xxhash

    def content_hash(data):
        return xxhash.xxh3_128_hexdigest(data)
except ImportError:  # still a fast hash, so the comparison stays about decode + signals
    def content_hash(data):
        return hashlib.blake2b(data, digest_size=16).hexdigest()

WORKING = 256
MODE = "full"


def phash(gray):
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)


def dhash(gray):
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, :-1] > small[:, 1:]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def signals(rgb):
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    sharp = cv2.Laplacian(gray, cv2.CV_64F).var()
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    nz = p[p > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    mean, std = float(gray.mean()), float(gray.std())
    dark = float(p[:17].sum())
    bright = float(p[239:].sum())
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    colorful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return gray, (sharp, mean, std, dark, bright, entropy, float(colorful))


def scan_one(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        h = content_hash(data)
        import io
        img = Image.open(io.BytesIO(data))
        size = img.size
        if MODE == "draft":
            img.draft("RGB", (WORKING, WORKING))
        img = img.convert("RGB")
        img.thumbnail((WORKING, WORKING), Image.BOX)
        rgb = np.asarray(img)
        gray, sig = signals(rgb)
        return (path, h, size, phash(gray), dhash(gray), sig)
    except Exception as e:  # noqa: BLE001 - a broken file is a result, not a crash
        return (path, None, str(e))


def init(mode):
    global MODE
    MODE = mode
    cv2.setNumThreads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["full", "draft"], required=True)
    ap.add_argument("--threads", type=int, default=mp.cpu_count())
    ap.add_argument("list")
    a = ap.parse_args()
    paths = [line.rstrip("\n") for line in open(a.list) if line.strip()]
    start = time.perf_counter()
    with mp.Pool(a.threads, initializer=init, initargs=(a.mode,)) as pool:
        results = pool.map(scan_one, paths, chunksize=16)
    s = time.perf_counter() - start
    failed = sum(1 for r in results if r[1] is None)
    print(f"python-{a.mode}: {len(paths)} images in {s:.2f} s = {len(paths) / s:.1f} images/s ({failed} failed)")


if __name__ == "__main__":
    main()
