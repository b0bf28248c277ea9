#!/usr/bin/python3
"""Grows a scanned manifest to N file rows for the dedup-pass memory benchmark (PERFORMANCE.md).

    /usr/bin/python3 bench/big_manifest.py RUN_DB N

RUN_DB must hold at least one scanned `ok` row (its signals and size are copied). Adds N rows
with random 64-bit hashes, every tenth a one-bit near copy of the row before it, and random
content hashes. Standard library only.
"""
import random
import sqlite3
import struct
import sys


def signed(v):
    return struct.unpack("<q", struct.pack("<Q", v))[0]


def main():
    db, n = sys.argv[1], int(sys.argv[2])
    con = sqlite3.connect(db)
    src = con.execute(
        "SELECT size_bytes, mtime_ns, width, height, sharpness, brightness, contrast, dark_fraction,"
        " bright_fraction, entropy, colorfulness, run_id, scanned_at FROM files WHERE status = 'ok'"
        " LIMIT 1").fetchone()
    rng = random.Random(1)
    prev = 0
    rows = []
    for i in range(n):
        p = prev ^ (1 << rng.randrange(64)) if i % 10 == 1 else rng.getrandbits(64)
        prev = p
        rows.append((f"/data/set{i // 10000:03d}/image_{i:08d}.jpg", src[0], src[1], "ok", "jpeg",
                     src[2], src[3], "%032x" % rng.getrandbits(128), signed(p),
                     signed(rng.getrandbits(64))) + tuple(src[4:]))
    con.executemany(
        "INSERT INTO files (path, size_bytes, mtime_ns, status, format, width, height, content_hash,"
        " phash, dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction, entropy,"
        " colorfulness, run_id, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    print(con.execute("SELECT count(*) FROM files").fetchone()[0], "rows")


if __name__ == "__main__":
    main()
