#!/usr/bin/env python3
"""The Python way to run BlazeFace (front, 128 px) over a list of images, for bench/run.sh.

What a competent user writes with Debian's python3-opencv, python3-pil and python3-numpy: for
each file, PIL decodes it in full (open, EXIF transpose, convert to RGB); the image is
letterboxed to 128 x 128 with vpipe's maths (resize keeping the aspect ratio with cv2.resize,
INTER_LINEAR; black padding split in integer halves, the odd pixel right / bottom), scaled to
[-1, 1], NHWC; one cv2.dnn network, read once, runs net.forward per image; the anchors are
decoded and the faces blended (MediaPipe's weighted NMS) in numpy, vectorised where it counts.

    detect_python.py --model MODEL.onnx --threads N LIST   (LIST: one image path per line)

Prints images/s, the faces found, and the seconds spent in each phase (decode, preprocess,
infer, post). --per-file CSV writes path,faces for each image (to compare with vpipe's).
"""
import argparse
import sys
import time

import cv2
import numpy as np
from PIL import Image, ImageOps

INPUT = 128
STRIDES = (8, 16, 16, 16)  # MediaPipe's front model: 16x16 grid x 2 anchors, 8x8 x 6
MIN_SCORE = 0.75
SUPPRESSION_IOU = 0.3


def anchors(size=INPUT, strides=STRIDES):
    """MediaPipe's SSD anchors for BlazeFace: centres (x, y) in [0, 1], width = height = 1."""
    out = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        last = layer
        while last < len(strides) and strides[last] == stride:
            last += 1
        per_cell = 2 * (last - layer)
        grid = (size + stride - 1) // stride
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


ANCHORS = anchors()


def letterbox(rgb):
    """HWC uint8 RGB -> 1 x 128 x 128 x 3 float32 in [-1, 1], black padding."""
    h, w = rgb.shape[:2]
    scale = min(INPUT / w, INPUT / h)
    rw = min(max(int(round(w * scale)), 1), INPUT)
    rh = min(max(int(round(h * scale)), 1), INPUT)
    resized = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((INPUT, INPUT, 3), np.uint8)
    top, left = (INPUT - rh) // 2, (INPUT - rw) // 2
    canvas[top:top + rh, left:left + rw] = resized
    blob = canvas.astype(np.float32) * (2.0 / 255.0) - 1.0
    return blob[None], scale, left, top


def iou(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0)


def decode(outputs):
    """The four outputs (scores 512 / 384 x 1, regressors 512 / 384 x 16) -> faces in model
    pixels: an array of rows (x1, y1, x2, y2, score), MediaPipe's weighted NMS applied."""
    scores = sorted((o for o in outputs if o.shape[-1] == 1), key=lambda o: -o.size)
    regs = sorted((o for o in outputs if o.shape[-1] == 16), key=lambda o: -o.size)
    raw = np.concatenate([s.reshape(-1) for s in scores])
    reg = np.concatenate([r.reshape(-1, 16) for r in regs])
    with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf: a score of 0, as in C
        score = 1.0 / (1.0 + np.exp(-np.clip(raw, -100.0, 100.0)))
    keep = score >= MIN_SCORE
    if not keep.any():
        return np.zeros((0, 5), np.float32)
    r, a, s = reg[keep], ANCHORS[keep], score[keep]
    cx = r[:, 0] + a[:, 0] * INPUT
    cy = r[:, 1] + a[:, 1] * INPUT
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], 1)
    order = np.argsort(-s, kind="stable")
    boxes, s = boxes[order], s[order]
    faces = []
    while len(s):
        cluster = iou(boxes[0], boxes) > SUPPRESSION_IOU
        cluster[0] = True
        w = s[cluster]
        faces.append(np.append((boxes[cluster] * w[:, None]).sum(0) / w.sum(), s[0]))
        boxes, s = boxes[~cluster], s[~cluster]
    return np.array(faces, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("list", help="file with one image path per line")
    ap.add_argument("--model", default="models/blazeface/face_detection_front_128x128.onnx")
    ap.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads")
    ap.add_argument("--per-file", help="write path,faces per image to this CSV")
    args = ap.parse_args()

    cv2.setNumThreads(args.threads)
    paths = [p for p in open(args.list).read().split("\n") if p]
    net = cv2.dnn.readNetFromONNX(args.model)
    names = net.getUnconnectedOutLayersNames()

    phase = dict(decode=0.0, preprocess=0.0, infer=0.0, post=0.0)
    faces_total = failed = 0
    per_file = []
    start = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        try:
            with Image.open(path) as im:
                rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        except Exception as e:  # a file that will not decode is counted, not fatal
            failed += 1
            print(f"{path}: {e}", file=sys.stderr)
            continue
        t1 = time.perf_counter()
        blob, scale, left, top = letterbox(rgb)
        t2 = time.perf_counter()
        net.setInput(blob)
        outs = net.forward(names)
        t3 = time.perf_counter()
        faces = decode(outs)
        # Back to source pixels (what a user keeps), clamped to the image.
        h, w = rgb.shape[:2]
        boxes = (faces[:, :4] - [left, top, left, top]) / scale
        boxes = np.clip(boxes, 0, [w, h, w, h])
        t4 = time.perf_counter()
        phase["decode"] += t1 - t0
        phase["preprocess"] += t2 - t1
        phase["infer"] += t3 - t2
        phase["post"] += t4 - t3
        faces_total += len(boxes)
        if args.per_file:
            per_file.append(f"{path},{len(boxes)}")
    seconds = time.perf_counter() - start
    done = len(paths) - failed
    if args.per_file:
        with open(args.per_file, "w") as f:
            f.write("path,faces\n" + "\n".join(per_file) + "\n")
    print(f"python blazeface: {done} images in {seconds:.2f} s = {done / seconds:.1f} images/s, "
          f"{faces_total} faces, {failed} failed, {args.threads} OpenCV threads")
    print("phases (s): " + ", ".join(f"{k} {v:.2f} ({100 * v / seconds:.0f}%)"
                                     for k, v in phase.items()))


if __name__ == "__main__":
    main()
