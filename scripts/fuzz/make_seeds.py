#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets (fuzz/, docs/SECURITY.md "Fuzzing").

    /usr/bin/python3 scripts/fuzz/make_seeds.py BUILD_DIR OUT_DIR

OUT_DIR/<target>/ gets the seeds of each target (fuzz_decode_png, fuzz_robots, ...), and
OUT_DIR/<target>.dict a libFuzzer dictionary where there is one. The sources:
  - BUILD_DIR/bin/vpipe_fuzz_seed_images: every format in its variants through vpipe's own
    encoders (HEIC, AVIF and JPEG XL included), and the config schema's keys as a dictionary;
  - PIL: the variants vpipe's encoders do not write (progressive and CMYK JPEG, palette and
    1-bit PNG, TIFF compressions, animated GIF and WebP, BMP headers and bit depths), from a
    synthetic image and from thumbnails of test-photos/ when present;
  - hand-made BMP, EXIF and text seeds, and configs/*.yaml.
Deterministic: the same bytes every run. Generated corpora live under build-fuzz/ (never
committed). PIL is optional: without it only its variants are left out.
"""

import io
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The seed-image tool's folders, by target.
TOOL_DIRS = {
    "jpeg": "fuzz_decode_jpeg", "png": "fuzz_decode_png", "webp": "fuzz_decode_webp",
    "tiff": "fuzz_decode_tiff", "gif": "fuzz_decode_gif", "bmp": "fuzz_decode_bmp",
    "heif": "fuzz_decode_heif", "jxl": "fuzz_decode_jxl", "exif": "fuzz_exif",
}


class Corpus:
    def __init__(self, out: Path):
        self.out = out

    def add(self, target: str, name: str, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        folder = self.out / target
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


# ---- images -----------------------------------------------------------------------------------

def pil_images(corpus: Corpus):
    try:
        from PIL import Image
    except ImportError:
        print("make_seeds: PIL not found (python3-pil): its image variants are left out",
              file=sys.stderr)
        return

    def synthetic(w, h):
        img = Image.new("RGB", (w, h))
        px = img.load()
        for y in range(h):
            for x in range(w):
                px[x, y] = ((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), (x ^ y) * 16 % 256)
        return img

    sources = [("syn", synthetic(24, 16))]
    for photo in sorted((ROOT / "test-photos").glob("*.png"))[:3]:
        img = Image.open(photo).convert("RGB")
        img.thumbnail((48, 48))
        sources.append((photo.stem, img))

    def save(target, name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        corpus.add(target, name, buf.getvalue())

    for tag, rgb in sources:
        gray = rgb.convert("L")
        rgba = rgb.copy()
        rgba.putalpha(gray)
        pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
        cmyk = rgb.convert("CMYK")
        bw = gray.convert("1")
        # JPEG: progressive, CMYK (Adobe), 4:4:4, gray, with EXIF orientation 6 and restart
        # intervals left to PIL's defaults.
        save("fuzz_decode_jpeg", f"{tag}_progressive.jpg", rgb, "JPEG", progressive=True)
        save("fuzz_decode_jpeg", f"{tag}_cmyk.jpg", cmyk, "JPEG")
        save("fuzz_decode_jpeg", f"{tag}_444.jpg", rgb, "JPEG", subsampling=0, quality=90)
        save("fuzz_decode_jpeg", f"{tag}_gray.jpg", gray, "JPEG")
        exif = Image.Exif()
        exif[0x0112] = 6
        save("fuzz_decode_jpeg", f"{tag}_exif6.jpg", rgb, "JPEG", exif=exif.tobytes())
        save("fuzz_exif", f"{tag}_exif6.jpg", rgb, "JPEG", exif=exif.tobytes())
        # PNG: palette with transparency, 1-bit, gray+alpha, RGBA, 16-bit gray.
        save("fuzz_decode_png", f"{tag}_palette.png", pal, "PNG", transparency=0)
        save("fuzz_decode_png", f"{tag}_1bit.png", bw, "PNG")
        save("fuzz_decode_png", f"{tag}_la.png", rgba.convert("LA"), "PNG")
        save("fuzz_decode_png", f"{tag}_rgba.png", rgba, "PNG")
        save("fuzz_decode_png", f"{tag}_i16.png", gray.convert("I").point(lambda v: v * 257), "PNG")
        # WebP: an animation of two frames, lossless with alpha.
        save("fuzz_decode_webp", f"{tag}_anim.webp", rgb, "WEBP", save_all=True,
             append_images=[gray.convert("RGB")], duration=100, loop=0)
        save("fuzz_decode_webp", f"{tag}_lossless_alpha.webp", rgba, "WEBP", lossless=True)
        # TIFF: each compression PIL's libtiff writes, palette, 1-bit, CMYK, gray, alpha.
        for compression in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
            save("fuzz_decode_tiff", f"{tag}_{compression}.tif", rgb, "TIFF",
                 compression=compression)
        save("fuzz_decode_tiff", f"{tag}_palette.tif", pal, "TIFF")
        save("fuzz_decode_tiff", f"{tag}_1bit.tif", bw, "TIFF", compression="group4")
        save("fuzz_decode_tiff", f"{tag}_cmyk.tif", cmyk, "TIFF")
        save("fuzz_decode_tiff", f"{tag}_rgba_lzw.tif", rgba, "TIFF", compression="tiff_lzw")
        save("fuzz_decode_tiff", f"{tag}_gray_mm.tif", gray, "TIFF")
        # GIF: animated, interlaced, with a transparent index.
        save("fuzz_decode_gif", f"{tag}_anim.gif", pal, "GIF", save_all=True,
             append_images=[gray.convert("P")], duration=100, loop=0)
        save("fuzz_decode_gif", f"{tag}_interlaced.gif", pal, "GIF", interlace=True)
        save("fuzz_decode_gif", f"{tag}_transparent.gif", pal, "GIF", transparency=1)
        # BMP: 1-bit, palette, gray, RGB, RGBA.
        save("fuzz_decode_bmp", f"{tag}_1bit.bmp", bw, "BMP")
        save("fuzz_decode_bmp", f"{tag}_palette.bmp", pal, "BMP")
        save("fuzz_decode_bmp", f"{tag}_rgba.bmp", rgba, "BMP")


def big_images(corpus: Corpus):
    """Images just over vpipe's row-by-row threshold (kRowByRowPixels, 16.8 MP) that compress to
    a few KiB: the reduced decode reads them row by row (PNG) or through libwebp's rescaler."""
    try:
        from PIL import Image
    except ImportError:
        return
    size = (4200, 4100)
    gray = Image.new("L", size, 90)
    save_to = io.BytesIO()
    gray.save(save_to, "PNG", optimize=True)
    corpus.add("fuzz_decode_png", "big_gray.png", save_to.getvalue())
    la = Image.new("LA", size, (90, 200))
    save_to = io.BytesIO()
    la.save(save_to, "PNG", optimize=True)
    corpus.add("fuzz_decode_png", "big_gray_alpha.png", save_to.getvalue())
    rgb = Image.new("RGB", size, (30, 90, 200))
    for name, kw in (("big_lossless.webp", {"lossless": True}), ("big_lossy.webp", {"quality": 10})):
        save_to = io.BytesIO()
        rgb.save(save_to, "WEBP", **kw)
        corpus.add("fuzz_decode_webp", name, save_to.getvalue())
    # TIFF: deflated strips of 8-bit RGB (the scanline path) and of a palette (libtiff's RGBA
    # reader by strips), and deflated tiles (the RGBA reader by rows of tiles).
    save_to = io.BytesIO()
    rgb.save(save_to, "TIFF", compression="tiff_adobe_deflate")
    corpus.add("fuzz_decode_tiff", "big_strips.tif", save_to.getvalue())
    pal = Image.new("P", size, 3)
    pal.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    save_to = io.BytesIO()
    pal.save(save_to, "TIFF", compression="tiff_adobe_deflate")
    corpus.add("fuzz_decode_tiff", "big_palette.tif", save_to.getvalue())
    corpus.add("fuzz_decode_tiff", "big_tiles.tif", tiled_tiff(size, 256, (30, 90, 200)))


def tiled_tiff(size, tile, rgb):
    """A little-endian RGB TIFF of one colour in deflated `tile` x `tile` tiles, every tile
    entry pointing at the same compressed tile (Pillow 9 writes no tiles)."""
    width, height = size
    count = -(-width // tile) * -(-height // tile)
    blob = zlib.compress(bytes(rgb) * (tile * tile), 9)
    entries = 12
    ifd_at = 8
    extra_at = ifd_at + 2 + entries * 12 + 4
    bits_at, offsets_at = extra_at, extra_at + 6
    counts_at = offsets_at + 4 * count
    blob_at = counts_at + 4 * count
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 8),
            (262, 3, 1, 2), (277, 3, 1, 3), (284, 3, 1, 1), (322, 4, 1, tile), (323, 4, 1, tile),
            (324, 4, count, offsets_at), (325, 4, count, counts_at), (339, 3, 1, 1)]
    assert len(tags) == entries
    out = b"II*\0" + struct.pack("<I", ifd_at) + struct.pack("<H", entries)
    out += b"".join(struct.pack("<HHII", *tag) for tag in tags) + struct.pack("<I", 0)
    out += struct.pack("<HHH", 8, 8, 8)
    out += struct.pack(f"<{count}I", *([blob_at] * count))
    out += struct.pack(f"<{count}I", *([len(blob)] * count))
    return out + blob


def bmp(width, height, bits, dib_size=40, compression=0, masks=(), palette=b"", pixels=b""):
    """A BMP of the given header size (12, 40, 56, 108, 124), with `masks` after a 40-byte
    header or inside a larger one."""
    if dib_size == 12:
        dib = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        dib = struct.pack("<IiiHHIIiiII", dib_size, width, height, 1, bits, compression,
                          len(pixels), 2835, 2835, 0, 0)
        if dib_size > 40:
            extra = b"".join(struct.pack("<I", m) for m in masks)
            dib += extra + b"\0" * (dib_size - 40 - len(extra))
        else:
            dib += b"".join(struct.pack("<I", m) for m in masks)
    offset = 14 + len(dib) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return header + dib + palette + pixels


def bmp_seeds(corpus: Corpus):
    def rows(width, height, bpp, fill):
        stride = (width * bpp + 31) // 32 * 4
        return bytes((fill + i) % 256 for i in range(stride * height))

    gray4 = b"".join(bytes((v, v, v, 0)) for v in range(0, 256, 17))
    colour2 = b"\x00\x00\xff\x00\xff\x00\x00\x00"
    corpus.add("fuzz_decode_bmp", "core_8bit.bmp",
               bmp(5, 3, 8, dib_size=12, palette=bytes(i % 256 for i in range(768)),
                   pixels=rows(5, 3, 8, 1)))
    corpus.add("fuzz_decode_bmp", "v3_4bit_gray.bmp",
               bmp(7, 4, 4, palette=gray4, pixels=rows(7, 4, 4, 3)))
    corpus.add("fuzz_decode_bmp", "v3_1bit_topdown.bmp",
               bmp(9, -3, 1, palette=colour2, pixels=rows(9, 3, 1, 5)))
    corpus.add("fuzz_decode_bmp", "v3_16bit_565.bmp",
               bmp(6, 3, 16, compression=3, masks=(0xF800, 0x07E0, 0x001F),
                   pixels=rows(6, 3, 16, 7)))
    corpus.add("fuzz_decode_bmp", "v3_16bit_555.bmp", bmp(6, 3, 16, pixels=rows(6, 3, 16, 9)))
    corpus.add("fuzz_decode_bmp", "v3_32bit_alphabitfields.bmp",
               bmp(4, 3, 32, compression=6, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000),
                   pixels=rows(4, 3, 32, 11)))
    corpus.add("fuzz_decode_bmp", "v4_32bit_bitfields.bmp",
               bmp(4, 3, 32, dib_size=108, compression=3,
                   masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000), pixels=rows(4, 3, 32, 13)))
    corpus.add("fuzz_decode_bmp", "v5_32bit_rgb.bmp",
               bmp(4, 3, 32, dib_size=124, pixels=rows(4, 3, 32, 200)))
    corpus.add("fuzz_decode_bmp", "v3_rle8.bmp",
               bmp(4, 2, 8, compression=1, palette=gray4 * 16, pixels=b"\x04\x01\x00\x00\x00\x01"))
    corpus.add("fuzz_decode_bmp", "v3_truncated.bmp",
               bmp(8, 8, 24, pixels=rows(8, 8, 24, 17))[:-40])


def exif_seeds(corpus: Corpus):
    """Raw TIFF blocks (what follows "Exif\\0\\0" in APP1): the EXIF target wraps an input that is
    not a JPEG in a minimal one, so these reach the IFD walk directly."""
    for orientation in (1, 3, 6, 8):
        le = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 2)
        le += struct.pack("<HHII", 0x010F, 2, 4, 0x6F646976)  # Make, inline
        le += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
        le += struct.pack("<I", 0)
        corpus.add("fuzz_exif", f"tiff_le_{orientation}.bin", le)
        be = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 1)
        be += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
        corpus.add("fuzz_exif", f"tiff_be_{orientation}.bin", be)
    # A JPEG whose APP0 comes before the APP1, with fill bytes between markers.
    tiff = b"II*\0" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 5, 0)
    app1 = b"Exif\0\0" + tiff
    jpeg = (b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\1\1\0\0\1\0\1\0\0"
            + b"\xff\xff\xff\xe1" + struct.pack(">H", 2 + len(app1)) + app1 + b"\xff\xda")
    corpus.add("fuzz_exif", "jfif_then_exif.jpg", jpeg)


# ---- text -------------------------------------------------------------------------------------

CONFIGS = {
    "minimal.yaml": "manifest: run.db\n",
    "inputs.yaml": "inputs: [photos, /abs/more]\nmanifest: run.db\ndevice: cpu\n"
                   "scan:\n  threads: 2\n  max_megapixels: 50.5\n  lenient_decode: true\n",
    "dedup.yaml": "manifest: run.db\ndedup:\n  hash: both\n  phash_threshold: 8\n"
                  "  keeper: [pixels, oldest]\n",
    "ingest.yaml": "manifest: run.db\ningest:\n  urls: [list.csv]\n  out: downloads\n"
                   "  url_field: image_url\n  header: false\n  max_redirects: 3\n",
    "anchors.yaml": "defaults: &d\n  threads: 1\nmanifest: 'run.db'\nscan: *d\n",
    "actions.yaml": "manifest: \"run.db\"\ninput_list: '-'\nnull_delimited: true\n"
                    "actions:\n  copy_keepers: keep/\nreport:\n  out: rep\n  page_size: 50\n",
    "infer.yaml": "manifest: run.db\ninfer:\n  model: yolov8n\n  score_threshold: 0.25\n"
                  "  crops: crops\n  precision: fp16\n",
    "bad_type.yaml": "manifest: [1, 2]\nscan: {threads: many}\n",
    "two_docs.yaml": "manifest: a.db\n---\nmanifest: b.db\n",
}

URL_PLAIN = {
    "list.txt": "# urls\nhttp://example.org/a.jpg\n\n  https://example.org/b.png  \n"
                "http://example.org/a.jpg\r\nftp://x/y\n",
    "bom.txt": "\ufeffhttp://h/1.jpg\n#c\nhttp://h/2.jpg",
}
URL_CSV = {
    "header.csv": "url,caption,license\nhttp://h/1.jpg,\"a, b\",cc-by\n"
                  "http://h/2.jpg,\"multi\nline \"\"quoted\"\"\",\n",
    "crlf.csv": "URL,w\r\nhttp://h/1.jpg,640\r\n\r\n\"http://h/2.jpg\",480\r\n",
    "tabs.tsv": "url\tcaption\nhttp://h/1.jpg\tfirst\nhttp://h/2.jpg\t\"second\tquoted\"\n",
    "bad.csv": "url,x\nhttp://h/1.jpg,1,2\n\"open\n",
}
URL_JSONL = {
    "list.jsonl": '{"url": "http://h/1.jpg", "caption": "caf\\u00e9 \\"x\\"", "width": 640, '
                  '"nsfw": false, "tags": ["a", {"b": 1}], "score": -1.5e3}\n'
                  '{"caption":"two","url":"http://h/2.jpg"}\n\n'
                  '{"url": "http://h/\\ud83d\\ude00.jpg", "n": null}\n',
    "bad.jsonl": '{"url": "http://h/1.jpg"} x\n{"url": 5}\n[1]\n',
}
ROBOTS = {
    "robots.txt": "# comment\nUser-agent: *\nDisallow: /private/\nAllow: /private/ok\n"
                  "Disallow: /*.gif$\n\nUser-agent: BadBot\nUser-agent: vpipe\nDisallow: /\n"
                  "Allow: /public\nSitemap: https://example.org/sitemap.xml\n",
    "crlf.txt": "User-Agent: *\r\nCrawl-delay: 10\r\nDisallow: /a*b*c$\r\nAllow: /a*\r\n",
    "empty_rules.txt": "Disallow: /before-any-agent\nuser-agent:*\ndisallow:\n",
}
YOLO_DATA = {
    "list": "path: .\ntrain: images/train\nval: images/train\nnames: [person, car, dog]\n",
    "map": "names:\n  0: person\n  1: car\nnc: 2\n",
    "pose": "nc: 1\nnames: [person]\nkpt_shape: [2, 3]\n",
    "bad": "names: {1: a, 3: b}\nnc: -4\nkpt_shape: [0, 5]\n",
}
YOLO_LABELS = {
    "boxes": "0 0.5 0.5 0.25 0.25\n1 0.1 0.1 0.05 0.05\n0 0.5 0.5 0.25 0.25\n",
    "polygon": "2 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n",
    "pose": "0 0.5 0.5 0.2 0.2 0.4 0.4 2 0.6 0.6 1\n",
    "bad": "x 0.5 0.5 0.1 0.1\n1.5 0.5 0.5 0.1 0.1\n1e30 0 0 1 1\n0 1.2 0.5 0.5 0.5\n"
           "0 0.5 0.5 0 0.1\n0 1 2\n\n-1 0.5 0.5 0.1 0.1\n",
}
COCO = {
    "valid.json": """{
  "images": [
    {"id": 1, "file_name": "a.png", "width": 4, "height": 3},
    {"id": 2, "file_name": "images/b.png", "width": 3, "height": 4},
    {"id": 3, "file_name": "b.png", "width": 4, "height": 3}
  ],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "iscrowd": 0},
    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},
    {"id": 3, "image_id": 2, "category_id": 2, "bbox": [1.5, 1, 1, 1], "area": 1},
    {"id": 4, "image_id": 3, "category_id": 1, "bbox": [3, 2, 5, 5], "iscrowd": 1}
  ],
  "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
}
""",
    "escapes.json": """{"images": [{"id": 1, "file_name": "../../etc/passwd", "width": 1,
 "height": 1}, {"id": 2, "file_name": "/etc/passwd", "width": 1, "height": 1},
 {"id": 2, "file_name": "./images/../a.png", "width": "4", "height": 3},
 {"id": 4, "file_name": "", "width": -1}],
 "annotations": [{"id": 1, "image_id": 9, "category_id": 7, "bbox": [0, 0, 0, 1]},
 {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1e308, -1e308, 1e308, 1]}, 5],
 "categories": [{"id": 1}, {"id": 1}, {"name": "x"}]}
""",
    "not_map.json": "[1, 2, {\"images\": []}]\n",
    "wrong_types.json": '{"images": {}, "annotations": "x", "categories": null}\n',
}


def text_seeds(corpus: Corpus):
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        corpus.add("fuzz_config_yaml", path.name, path.read_bytes())
    for name, text in CONFIGS.items():
        corpus.add("fuzz_config_yaml", name, text)
    for name, text in URL_PLAIN.items():
        corpus.add("fuzz_url_list_plain", name, text)
    for name, text in URL_CSV.items():
        corpus.add("fuzz_url_list_csv", name, text)
    for name, text in URL_JSONL.items():
        corpus.add("fuzz_url_list_jsonl", name, text)
    for name, text in ROBOTS.items():
        corpus.add("fuzz_robots", name, text)
    for data_name, data in YOLO_DATA.items():
        for label_name, labels in YOLO_LABELS.items():
            corpus.add("fuzz_validate_yolo", f"{data_name}_{label_name}", data + "\0" + labels)
    for label_name, labels in YOLO_LABELS.items():
        corpus.add("fuzz_validate_yolo", f"no_data_yaml_{label_name}", labels)
    for name, text in COCO.items():
        corpus.add("fuzz_validate_coco", name, text)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_seeds.py BUILD_DIR OUT_DIR")
    build, out = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tool_out = out / ".tool"
    # The tool is built with ASan; the HEVC encoder under libheif leaks a few bytes by design.
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    subprocess.run([str(build / "bin" / "vpipe_fuzz_seed_images"), str(tool_out)], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    for folder, target in TOOL_DIRS.items():
        shutil.copytree(tool_out / folder, out / target, dirs_exist_ok=True)
    shutil.copy(tool_out / "config.dict", out / "fuzz_config_yaml.dict")
    shutil.rmtree(tool_out)
    corpus = Corpus(out)
    pil_images(corpus)
    big_images(corpus)
    bmp_seeds(corpus)
    exif_seeds(corpus)
    text_seeds(corpus)
    counts = {p.name: len(list(p.iterdir())) for p in sorted(out.iterdir()) if p.is_dir()}
    print("make_seeds: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
