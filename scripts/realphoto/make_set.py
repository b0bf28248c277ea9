#!/usr/bin/python3
"""Builds the real-photo calibration set: bases cut from real photographs, their clean
near-duplicates and graded defects, and a truth CSV saying what a person would call each file.

    /usr/bin/python3 scripts/realphoto/make_set.py SRC_DIR OUT_DIR [--small] [--seed N] [--jobs N]

SRC_DIR holds the photos of photos.csv (next to this script) as <id>.<ext>, as
scripts/realphoto/fetch.sh leaves them. OUT_DIR gets truth.csv, SET.txt (how it was made) and the
images under OUT_DIR/<split>/<base>/. The same inputs and seed give the same files, byte for byte.
Definitions of every operation and verdict: scripts/realphoto/README.md.

Needs PIL, numpy and OpenCV (Debian: python3-pil python3-numpy python3-opencv).
"""
import argparse
import csv
import hashlib
import io
import math
import os
import shutil
import sys
import time
import zlib
from multiprocessing import Pool

try:
    import cv2
    import numpy as np
    from PIL import Image
except ImportError as e:  # the message names the Debian packages, which is what a user needs
    sys.exit(f"make_set.py: {e}; run it with /usr/bin/python3 and install python3-pil "
             "python3-numpy python3-opencv")

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS_CSV = os.path.join(HERE, "photos.csv")

MAX_LONG_SIDE = 2048        # bases made from whole photos: long side capped here (INTER_AREA)
TILE_MIN_LONG_SIDE = 2000   # sources at least this large also give 4 native-resolution tiles
T_ORIGINALS = 1577836800    # 2020-01-01T00:00:00Z: mtime of every original
T_COPIES = 1609459200       # 2021-01-01T00:00:00Z: copies are a year younger (+ their index, s)

# The --small subset: skimage and opencv photos, both splits; a dark one (scenetext02), a low-key
# astronomy photo (hubble), a bright one (smarties, mean gray 223) and one real motion blur.
SMALL_IDS = [
    "opencv-scenetext02", "skimage-hubble-deep-field", "opencv-smarties", "skimage-coffee",
    "skimage-chelsea", "skimage-camera", "opencv-building", "opencv-messi5",
    "opencv-licenseplate-motion",
]

TRUTH_COLUMNS = ["file", "source", "split", "base", "role", "op", "strength", "unit", "expect",
                 "dup_group", "orientation"]

# Clean near-duplicates: (op, strength, unit, orientation, in --small).
NEAR_DUPLICATES = [
    ("reencode", 75, "jpeg_quality", "", True),
    ("reencode", 85, "jpeg_quality", "", False),
    ("resize", 0.5, "scale", "", True),
    ("resize", 0.75, "scale", "", False),
    ("crop", 0.95, "side_fraction_centre", "", True),
    ("crop", 0.9, "side_fraction_offset", "", False),
    ("brightness", 20, "gray_levels", "", False),
    ("brightness", -20, "gray_levels", "", False),
    ("rot90", "", "", "rotate90", True),
    ("rot180", "", "", "rotate180", False),
    ("rot270", "", "", "rotate270", False),
    ("mirror", "", "", "mirror", True),
]

# Defects: (op, strength, unit, expect, in --small). Blur strengths are % of the base's long
# side; "blurry" means visibly blurred when the whole image is seen at 640 px on its long side
# (the input size of common detectors): a Gaussian sigma >= 3.2 px there = 0.5% of the long
# side, or a blur of the same spread (motion length 2%, defocus radius 1%). Weaker blur is
# borderline. "dark" means under-exposed by 3 stops or more (1/8 of the light: a normal scene's
# highlights no longer reach mid-gray); -1 and -2 stops and the gamma curves are borderline (a
# gamma curve keeps the highlights: whether the result reads as dark depends on the scene).
# "overexposed" is decided per file (overexposed_expect): a gain of 1.5 stops or more that newly
# clipped at least a quarter of the picture.
DEFECTS = [
    ("gaussian_blur", 0.15, "sigma_pct_long_side", "borderline", True),
    ("gaussian_blur", 0.3, "sigma_pct_long_side", "borderline", False),
    ("gaussian_blur", 0.6, "sigma_pct_long_side", "blurry", True),
    ("gaussian_blur", 1.2, "sigma_pct_long_side", "blurry", False),
    ("motion_blur", 0.5, "length_pct_long_side", "borderline", True),
    ("motion_blur", 1, "length_pct_long_side", "borderline", False),
    ("motion_blur", 2, "length_pct_long_side", "blurry", True),
    ("motion_blur", 4, "length_pct_long_side", "blurry", False),
    ("defocus_blur", 0.25, "radius_pct_long_side", "borderline", True),
    ("defocus_blur", 0.5, "radius_pct_long_side", "borderline", False),
    ("defocus_blur", 1, "radius_pct_long_side", "blurry", True),
    ("defocus_blur", 2, "radius_pct_long_side", "blurry", False),
    ("under_gain", -1, "stops", "borderline", True),
    ("under_gain", -2, "stops", "borderline", False),
    ("under_gain", -3, "stops", "dark", True),
    ("under_gain", -4, "stops", "dark", False),
    ("under_gamma", 1.5, "gamma", "borderline", True),
    ("under_gamma", 2.2, "gamma", "borderline", True),
    ("under_gamma", 3.0, "gamma", "borderline", False),
    ("under_gain_noise", -2, "stops", "borderline", False),
    ("under_gain_noise", -3, "stops", "dark", True),
    ("over_gain", 1, "stops", "borderline", True),
    ("over_gain", 1.5, "stops", "overexposed", False),
    ("over_gain", 2, "stops", "overexposed", True),
    ("over_gain", 3, "stops", "overexposed", False),
    ("haze", 0.3, "alpha_to_gray215", "borderline", True),
    ("haze", 0.5, "alpha_to_gray215", "hazy", False),
    ("haze", 0.7, "alpha_to_gray215", "hazy", True),
    ("low_contrast", 0.5, "contrast_factor", "borderline", True),
    ("low_contrast", 0.3, "contrast_factor", "low_contrast", False),
    ("low_contrast", 0.15, "contrast_factor", "low_contrast", True),
    ("jpeg", 20, "jpeg_quality", "borderline", True),
    ("jpeg", 10, "jpeg_quality", "compressed", True),
    ("jpeg", 5, "jpeg_quality", "compressed", False),
    ("truncated", 30, "pct_bytes_kept", "corrupt", True),
    ("truncated", 70, "pct_bytes_kept", "corrupt", False),
    ("corrupt_bytes", 2, "pct_bytes_replaced", "corrupt", True),
    ("corrupt_header", 256, "bytes_replaced", "corrupt", True),
]

# Sensor noise of under_gain_noise, in linear light (0..1 = black..white): shot noise of a sensor
# whose full scale (1.0) holds 1000 photo-electrons, plus a read noise of 2 levels of 255.
FULL_WELL_ELECTRONS = 1000.0
READ_NOISE = 2.0 / 255.0


# ---- pixels --------------------------------------------------------------------------------
# Images are numpy uint8 arrays, HxW (gray) or HxWx3 (RGB), row-major.

_SRGB_TO_LINEAR = np.array(
    [(v / 255.0) / 12.92 if v / 255.0 <= 0.04045 else ((v / 255.0 + 0.055) / 1.055) ** 2.4
     for v in range(256)], dtype=np.float32)


def to_linear(img):
    """uint8 sRGB -> float32 linear light, 0..1."""
    return _SRGB_TO_LINEAR[img]


def _linear_to_srgb_exact(x):
    s = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.clip(np.rint(s * 255.0), 0, 255).astype(np.uint8)


# linear light quantised to 16 bits -> uint8 sRGB: a table lookup instead of a power per pixel
# (one step of 1/65535 is at most 0.05 sRGB levels, at black).
_LINEAR16_TO_SRGB = _linear_to_srgb_exact(np.arange(65536, dtype=np.float64) / 65535.0)


def to_srgb(lin):
    """float linear light (any range; clipped to 0..1) -> uint8 sRGB, rounded."""
    idx = np.rint(np.clip(lin, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return _LINEAR16_TO_SRGB[idx]


def filter_linear(img, kernel):
    """Convolves in linear light (optics blur irradiance, not gamma-encoded values)."""
    out = cv2.filter2D(to_linear(img), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return to_srgb(out)


def gaussian_blur(img, sigma):
    out = cv2.GaussianBlur(to_linear(img), (0, 0), sigmaX=sigma, sigmaY=sigma,
                           borderType=cv2.BORDER_REFLECT)
    return to_srgb(out)


def motion_kernel(length, angle):
    """A line of `length` px at `angle` radians, anti-aliased by bilinear splatting of points
    every 1/8 px; sums to 1. Square, odd size."""
    size = int(math.ceil(length)) + 3
    size += 1 - size % 2
    k = np.zeros((size, size), np.float64)
    c = (size - 1) / 2.0
    n = max(2, int(math.ceil(length * 8)))
    for t in np.linspace(-length / 2.0, length / 2.0, n):
        x, y = c + t * math.cos(angle), c + t * math.sin(angle)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return (k / k.sum()).astype(np.float32)


def disk_kernel(radius):
    """A uniform disk of `radius` px, edge pixels weighted by their covered area (8x8
    supersampling); sums to 1."""
    r = max(radius, 0.5)
    size = 2 * int(math.ceil(r)) + 1
    c = (size - 1) / 2.0
    sub = (np.arange(size * 8) + 0.5) / 8.0 - 0.5 - c
    inside = (sub[None, :] ** 2 + sub[:, None] ** 2) <= r * r
    k = inside.reshape(size, 8, size, 8).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def gray_mean(img):
    return float(img.mean())


def apply_defect(img, op, strength, rng):
    """Pixels of a defect (not the byte-level ones: jpeg, truncated, corrupt_*)."""
    long_side = max(img.shape[0], img.shape[1])
    if op == "gaussian_blur":
        return gaussian_blur(img, strength / 100.0 * long_side)
    if op == "motion_blur":
        angle = float(rng.uniform(0.0, math.pi))
        return filter_linear(img, motion_kernel(strength / 100.0 * long_side, angle))
    if op == "defocus_blur":
        return filter_linear(img, disk_kernel(strength / 100.0 * long_side))
    if op in ("under_gain", "over_gain"):
        return to_srgb(to_linear(img) * (2.0 ** strength))
    if op == "under_gamma":
        return np.clip(np.rint(255.0 * (img / 255.0) ** strength), 0, 255).astype(np.uint8)
    if op == "under_gain_noise":
        lin = to_linear(img).astype(np.float64) * (2.0 ** strength)
        electrons = rng.poisson(lin * FULL_WELL_ELECTRONS)
        noisy = electrons / FULL_WELL_ELECTRONS + rng.normal(0.0, READ_NOISE, lin.shape)
        return to_srgb(noisy.astype(np.float32))
    if op == "haze":
        return np.clip(np.rint((1.0 - strength) * img + strength * 215.0), 0, 255).astype(np.uint8)
    if op == "low_contrast":
        m = gray_mean(img)
        return np.clip(np.rint(m + strength * (img.astype(np.float32) - m)), 0, 255).astype(np.uint8)
    raise ValueError(op)


def apply_near_duplicate(img, op, strength, rng):
    h, w = img.shape[:2]
    if op == "reencode":
        return img
    if op == "resize":
        size = (max(1, round(w * strength)), max(1, round(h * strength)))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if op == "crop":
        cw, ch = round(w * strength), round(h * strength)
        if strength >= 0.95:  # centre crop
            x, y = (w - cw) // 2, (h - ch) // 2
        else:  # offset crop: anywhere in the slack, drawn from the seed
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return np.ascontiguousarray(img[y:y + ch, x:x + cw])
    if op == "brightness":
        return np.clip(img.astype(np.int16) + int(strength), 0, 255).astype(np.uint8)
    if op == "rot90":
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if op == "rot180":
        return cv2.rotate(img, cv2.ROTATE_180)
    if op == "rot270":
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if op == "mirror":
        return np.ascontiguousarray(img[:, ::-1])
    raise ValueError(op)


# ---- files ---------------------------------------------------------------------------------

def encode(img, fmt, quality=95):
    buf = io.BytesIO()
    pil = Image.fromarray(img)
    if fmt == "jpg":
        pil.save(buf, format="JPEG", quality=quality)
    else:
        pil.save(buf, format="PNG", compress_level=1)  # speed over size
    return buf.getvalue()


def decode(data):
    return load_pixels(Image.open(io.BytesIO(data)))


def load_pixels(pil):
    """RGB or gray uint8. Alpha is dropped (the colour under it is the photo's own)."""
    if pil.mode in ("L", "RGB"):
        return np.asarray(pil).copy()
    if pil.mode in ("I;16", "I", "F"):
        return np.asarray(pil.convert("L")).copy()
    if pil.mode == "LA":
        return np.asarray(pil.getchannel(0)).copy()
    return np.asarray(pil.convert("RGBA").convert("RGB")).copy()


def truncate(data, pct):
    return data[: len(data) * pct // 100]


def corrupt_bytes(data, pct, rng):
    b = bytearray(data)
    span = len(b) - 600
    n = max(1, span * pct // 100)
    pos = rng.choice(span, size=n, replace=False) + 600
    for p, v in zip(pos.tolist(), rng.integers(0, 256, size=n).tolist()):
        b[p] = v
    return bytes(b)


def corrupt_header(data, nbytes, rng):
    b = bytearray(data)
    b[:nbytes] = rng.integers(0, 256, size=nbytes, dtype=np.uint8).tobytes()
    return bytes(b)


def fmt_strength(v):
    if v == "":
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def file_name(op, strength, unit, ext):
    if strength == "":
        return f"{op}.{ext}"
    s = fmt_strength(strength)
    if op == "crop":
        s += "_offset" if unit.endswith("offset") else "_centre"
    if op in ("brightness", "under_gain", "under_gain_noise", "over_gain") and not s.startswith("-"):
        s = "+" + s
    return f"{op}_{s}.{ext}"


# ---- bases ---------------------------------------------------------------------------------

class Base:
    def __init__(self, base_id, photo, pixels, fmt, tile):
        self.base_id, self.photo, self.pixels, self.fmt, self.tile = base_id, photo, pixels, fmt, tile


def bases_of(photo, src_dir, small):
    """The bases a photo gives: the photo at a moderate size, and its 4 quadrant tiles at native
    resolution when it is large (not with --small)."""
    ext = photo["path"].rsplit(".", 1)[1].lower()
    path = os.path.join(src_dir, f"{photo['id']}.{ext}")
    if not os.path.exists(path):
        raise SystemExit(f"make_set.py: {path} missing; run scripts/realphoto/fetch.sh first")
    pixels = load_pixels(Image.open(path))
    fmt = "png" if ext == "png" else "jpg"
    h, w = pixels.shape[:2]
    long_side = max(h, w)
    whole = pixels
    if long_side > MAX_LONG_SIDE:
        f = MAX_LONG_SIDE / long_side
        whole = cv2.resize(pixels, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    out = [Base(photo["id"], photo, whole, fmt, False)]
    if not small and long_side >= TILE_MIN_LONG_SIDE and photo["kind"] == "photo":
        hh, hw = h // 2, w // 2
        for name, (y, x) in (("tl", (0, 0)), ("tr", (0, hw)), ("bl", (hh, 0)), ("br", (hh, hw))):
            tile = np.ascontiguousarray(pixels[y:y + hh, x:x + hw])
            out.append(Base(f"{photo['id']}-{name}", photo, tile, fmt, True))
    return out


def overexposed_expect(original, result, stops):
    """'overexposed' when a gain of at least 1.5 stops newly clipped (a channel at 254 or more
    where the original had none at 250 or more) at least a quarter of the pixels: the lost
    highlights a person sees. A gain that clips little (a night photo brightened) is borderline."""
    newly = (result.max(axis=2) >= 254) & (original.max(axis=2) < 250) if result.ndim == 3 \
        else (result >= 254) & (original < 250)
    return "overexposed" if stops >= 1.5 and float(newly.mean()) >= 0.25 else "borderline"


def make_base(job):
    """Writes one base and everything derived from it; returns its truth rows (dicts) with a
    private '_mtime' key. Runs in a worker process."""
    base, out_dir, small, seed = job
    cv2.setNumThreads(1)
    rng = np.random.default_rng([seed, zlib.crc32(base.base_id.encode())])
    photo = base.photo
    rel_dir = os.path.join(photo["split"], base.base_id)
    os.makedirs(os.path.join(out_dir, rel_dir), exist_ok=True)
    rows = []

    def write(name, data, role, op, strength, unit, expect, orientation=""):
        rel = os.path.join(rel_dir, name)
        with open(os.path.join(out_dir, rel), "wb") as f:
            f.write(data)
        mtime = T_ORIGINALS if op == "original" else T_COPIES + len(rows)
        rows.append({"file": rel, "source": photo["id"], "split": photo["split"],
                     "base": base.base_id, "role": role, "op": op,
                     "strength": fmt_strength(strength), "unit": unit, "expect": expect,
                     "dup_group": base.base_id, "orientation": orientation, "_mtime": mtime})

    original = encode(base.pixels, base.fmt, 95)
    if photo["kind"] == "real_blur":
        write(f"original.{base.fmt}", original, "real_defect", "original", "", "", "blurry")
        return rows
    write(f"original.{base.fmt}", original, "original", "original", "", "", "clean")
    img = decode(original)  # copies are made from the original file, as people make them

    for op, strength, unit, orientation, in_small in NEAR_DUPLICATES:
        if small and not in_small:
            continue
        pixels = apply_near_duplicate(img, op, strength, rng)
        if op == "reencode":
            data, ext = encode(pixels, "jpg", strength), "jpg"
        elif op in ("rot90", "rot180", "rot270"):  # turned copies keep the original's format
            data, ext = encode(pixels, base.fmt, 95), base.fmt
        else:
            data, ext = encode(pixels, "jpg", 90), "jpg"
        write(file_name(op, strength, unit, ext), data, "near_duplicate", op, strength, unit,
              "clean", orientation)

    jpeg90 = None
    for op, strength, unit, expect, in_small in DEFECTS:
        if small and not in_small:
            continue
        if op == "jpeg":
            data, ext = encode(img, "jpg", strength), "jpg"
        elif op in ("truncated", "corrupt_bytes", "corrupt_header"):
            if jpeg90 is None:
                jpeg90 = encode(img, "jpg", 90)
            if op == "truncated":
                data = truncate(jpeg90, strength)
            elif op == "corrupt_bytes":
                data = corrupt_bytes(jpeg90, strength, rng)
            else:
                data = corrupt_header(jpeg90, strength, rng)
            ext = "jpg"
        else:
            pixels = apply_defect(img, op, strength, rng)
            if op == "over_gain":
                expect = overexposed_expect(img, pixels, strength)
            data, ext = encode(pixels, base.fmt, 95), base.fmt
        write(file_name(op, strength, unit, ext), data, "defect", op, strength, unit, expect)
    return rows


def read_photos():
    with open(PHOTOS_CSV, newline="") as f:
        return list(csv.DictReader(f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--small", action="store_true",
                    help=f"{len(SMALL_IDS)} photos, no tiles, fewer copies and strengths (tests)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    start = time.monotonic()
    photos = read_photos()
    if args.small:
        by_id = {p["id"]: p for p in photos}
        photos = [by_id[i] for i in SMALL_IDS]
    if os.path.exists(args.out_dir):
        # Only a folder this script made is replaced, never some other folder given by mistake.
        if os.listdir(args.out_dir) and not os.path.exists(os.path.join(args.out_dir, "truth.csv")):
            sys.exit(f"make_set.py: {args.out_dir} exists, is not empty and has no truth.csv; "
                     "refusing to replace it")
        shutil.rmtree(args.out_dir)
    os.makedirs(args.out_dir)

    bases = [b for p in photos for b in bases_of(p, args.src_dir, args.small)]
    # Largest first, so the pool does not end on one big base.
    jobs = sorted(((b, args.out_dir, args.small, args.seed) for b in bases),
                  key=lambda j: -j[0].pixels.size)
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            results = pool.map(make_base, jobs, chunksize=1)
    else:
        results = [make_base(j) for j in jobs]
    rows = sorted((r for rs in results for r in rs), key=lambda r: r["file"])

    for r in rows:
        mtime = r.pop("_mtime")
        os.utime(os.path.join(args.out_dir, r["file"]), ns=(mtime * 10**9, mtime * 10**9))
    with open(os.path.join(args.out_dir, "truth.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    total = sum(os.path.getsize(os.path.join(args.out_dir, r["file"])) for r in rows)
    with open(PHOTOS_CSV, "rb") as f:
        photos_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.abspath(__file__), "rb") as f:
        script_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.out_dir, "SET.txt"), "w") as f:
        f.write(f"made by scripts/realphoto/make_set.py (sha256 {script_sha})\n"
                f"photos.csv sha256 {photos_sha}\n"
                f"seed {args.seed}, small {args.small}\n"
                f"photos {len(photos)}, bases {len(bases)}, files {len(rows)}, bytes {total}\n"
                "definitions: scripts/realphoto/README.md\n")
    elapsed = time.monotonic() - start
    print(f"make_set: {len(rows)} files ({total / 1e6:.1f} MB) from {len(bases)} bases of "
          f"{len(photos)} photos in {args.out_dir}, {elapsed:.1f} s")


if __name__ == "__main__":
    main()
