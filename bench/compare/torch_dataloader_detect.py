#!/usr/bin/env python3
"""The PyTorch way to run a detector over a folder of photos, as training and labelling scripts
do it: the peer of `vpipe detect --device cuda` (docs/DEVICE-CHECKS.md, "not covered yet").

  torch_dataloader_detect.py --model M.pt [--input 640] [--batch 64] [--workers 16]
                             [--device cuda|cpu] [--fp16|--no-fp16] [--limit N] FILE_LIST|DIR

A torch.utils.data.DataLoader with WORKERS processes: PIL decode, letterbox to INPUT x INPUT
(aspect kept, padded with 114 gray, as Ultralytics does; torchvision's resize when torchvision is
there, else PIL's), uint8 CHW tensors collated into batches of BATCH, pinned; on the device each
batch is scaled to [0, 1] (fp16 with --fp16, the default on cuda) and run through the TorchScript
model under inference_mode. The first batch is a warm-up (CUDA context, cuDNN autotuning) and is
not timed. Prints: "torch-dataloader: N images in S s = R images/s (batch B, W workers, device D,
dtype T)" and a line of phases.
Runs with any Python that has torch, PIL and numpy: on the GPU machine its python3 (torch 2.11,
torchvision 0.26); here Debian's /usr/bin/python3 (torch 1.13, no torchvision) with --device cpu
for a smoke test.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

try:
    import torchvision.transforms.functional as tvf
except ImportError:  # the PIL + numpy letterbox below does the same
    tvf = None

PAD = 114
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def list_images(source):
    if os.path.isdir(source):
        found = []
        for root, _, files in os.walk(source):
            found += [os.path.join(root, f) for f in files if f.lower().endswith(EXTENSIONS)]
        return sorted(found)
    with open(source) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def letterbox(img, size):
    """img: PIL RGB. Returns uint8 [3, size, size]: scaled to fit, centred, padded with PAD."""
    w, h = img.size
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = (size - nw) // 2, (size - nh) // 2
    if tvf is not None:
        t = tvf.pil_to_tensor(img)
        t = tvf.resize(t, [nh, nw], antialias=True)
        out = torch.full((3, size, size), PAD, dtype=torch.uint8)
        out[:, top:top + nh, left:left + nw] = t
        return out
    a = np.asarray(img.resize((nw, nh), Image.BILINEAR))
    out = np.full((size, size, 3), PAD, dtype=np.uint8)
    out[top:top + nh, left:left + nw] = a
    return torch.from_numpy(out).permute(2, 0, 1).contiguous()


class Photos(torch.utils.data.Dataset):
    def __init__(self, paths, size):
        self.paths, self.size = paths, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            with Image.open(self.paths[i]) as im:
                img = im.convert("RGB")
            return letterbox(img, self.size), True
        except Exception:  # a file that will not decode counts as failed, as in vpipe
            return torch.full((3, self.size, self.size), PAD, dtype=torch.uint8), False


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", help="a file with one path per line, or a folder")
    p.add_argument("--model", required=True, help="a TorchScript detector (.pt)")
    p.add_argument("--input", type=int, default=640)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=None,
                   help="half precision on the device (default: on for cuda, off for cpu)")
    p.add_argument("--limit", type=int, default=0, help="only the first N images")
    a = p.parse_args()
    fp16 = a.fp16 if a.fp16 is not None else a.device.startswith("cuda")
    dtype = torch.float16 if fp16 else torch.float32
    device = torch.device(a.device)

    paths = list_images(a.source)
    if a.limit:
        paths = paths[:a.limit]
    if not paths:
        sys.exit("torch-dataloader: no images")
    model = torch.jit.load(a.model, map_location=device).eval()
    if fp16:
        model = model.half()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    extra = {"prefetch_factor": 4} if a.workers > 0 else {}  # torch 1.13 refuses None
    loader = torch.utils.data.DataLoader(
        Photos(paths, a.input), batch_size=a.batch, num_workers=a.workers,
        pin_memory=device.type == "cuda", **extra)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    images = failed = 0
    wait_s = infer_s = 0.0
    start = None
    t_wait = time.perf_counter()
    with torch.inference_mode():
        for k, (batch, ok) in enumerate(loader):
            t_got = time.perf_counter()
            x = batch.to(device, non_blocking=True).to(dtype).div_(255)
            out = model(x)
            sync()
            t_done = time.perf_counter()
            if k == 0:  # warm-up: context, cuDNN autotuning, worker start
                start = t_done
                first = len(batch)
                del out
                t_wait = time.perf_counter()
                continue
            wait_s += t_got - t_wait
            infer_s += t_done - t_got
            images += len(batch)
            failed += int((~ok).sum())
            t_wait = time.perf_counter()
    if images == 0:  # one batch only: time it, warm-up included
        images, start = first, t_wait - 1e-9
    s = time.perf_counter() - start
    print(f"torch-dataloader: {images} images in {s:.2f} s = {images / s:.1f} images/s "
          f"(batch {a.batch}, {a.workers} workers, device {a.device}, dtype {str(dtype)[6:]}, "
          f"{'torchvision' if tvf else 'PIL'} letterbox, {failed} failed)")
    print(f"phases (s): waiting for batches {wait_s:.2f}, copy + model {infer_s:.2f}; torch "
          f"{torch.__version__}")


if __name__ == "__main__":
    main()
