#!/usr/bin/env python3
"""The Python way to crawl a URL list, for `make bench` (bench/run.sh, section 6).

What curation scripts do today: a thread pool of `requests` sessions (one per thread, so
connections are kept alive; Debian's python3-requests, run under /usr/bin/python3), at most
PER_HOST in flight per host, each body checked for an image signature and written under a
temporary name, then renamed to a name derived from a hash of the URL. No decode, no hashes of the pixels: it does less work
than `vpipe crawl`, which also scans every image into the manifest.

  python_crawl.py --threads 64 --per-host 4 --out DIR LIST   prints "N urls in S s = R urls/s"
"""
import argparse
import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*", b"BM")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("--out", required=True)
    ap.add_argument("list")
    a = ap.parse_args()
    urls = [line.strip() for line in open(a.list) if line.strip() and not line.startswith("#")]
    os.makedirs(a.out, exist_ok=True)
    limits = {}
    lock = threading.Lock()
    local = threading.local()

    def session():
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.trust_env = False  # no proxies from the environment, as vpipe
        return local.s

    def host_limit(url):
        host = urlsplit(url).hostname  # per host name, as vpipe (ports of one host share it)
        with lock:
            if host not in limits:
                limits[host] = threading.BoundedSemaphore(a.per_host)
            return limits[host]

    def fetch(url):
        name = hashlib.sha1(url.encode()).hexdigest()
        final = os.path.join(a.out, name + ".img")
        tmp = final + ".part"
        with host_limit(url):
            try:
                r = session().get(url, timeout=30)
                if r.status_code != 200:
                    return False
                body = r.content
            except Exception:
                return False
        if not body.startswith(SIGNATURES):
            return False
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, final)
        return True

    t0 = time.monotonic()
    with ThreadPoolExecutor(a.threads) as pool:
        ok = sum(pool.map(fetch, urls))
    dt = time.monotonic() - t0
    print(f"{len(urls)} urls ({ok} ok) in {dt:.2f} s = {len(urls) / dt:.1f} urls/s")


if __name__ == "__main__":
    main()
