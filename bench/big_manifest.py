#!/usr/bin/python3
"""Grows a scanned manifest to N file rows for the dedup-pass memory benchmark (PERFORMANCE.md).

    /usr/bin/python3 bench/big_manifest.py RUN_DB N

RUN_DB must hold at least one scanned `ok` row (its signals and size are copied). Adds N rows
with random 64-bit hashes, every tenth a near copy of the row before it (one bit flipped in its
pHash and one in its dHash, so it is near in both, as the default `match: both` needs), and random
content hashes. Standard library only. For hashes that cluster like real photo collections, see
bench/cluster_manifest.cpp.
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
    prev_p = prev_d = 0
    rows = []
    for i in range(n):
        if i % 10 == 1:
            p = prev_p ^ (1 << rng.randrange(64))
            d = prev_d ^ (1 << rng.randrange(64))
        else:
            p = rng.getrandbits(64)
            d = rng.getrandbits(64)
        prev_p, prev_d = p, d
        rows.append((f"/data/set{i // 10000:03d}/image_{i:08d}.jpg", src[0], src[1], "ok", "jpeg",
                     src[2], src[3], "%032x" % rng.getrandbits(128), signed(p),
                     signed(d)) + tuple(src[4:]))
    con.executemany(
        "INSERT INTO files (path, size_bytes, mtime_ns, status, format, width, height, content_hash,"
        " phash, dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction, entropy,"
        " colorfulness, run_id, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    print(con.execute("SELECT count(*) FROM files").fetchone()[0], "rows")


if __name__ == "__main__":
    main()
