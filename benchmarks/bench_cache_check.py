"""What checking the decompressed-MNIST cache costs per start: CRC-32 (used) against MD5 and gunzip.

    python benchmarks/bench_cache_check.py --repeats 15
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import statistics
import time
import zlib

from mlcl_train.data import loader as data


def timed(fn, repeats: int) -> tuple[float, float]:
    """(best, median) wall time of fn in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    repeats = parser.parse_args().repeats
    files, md5s = data.locate("mnist", None)
    for name in md5s:
        data.read_verified(files[name], md5s[name])  # fill the cache
    raws = [(data.cache_dir() / f"{md5s[name]}.idx").read_bytes() for name in md5s]
    print(f"{sum(map(len, raws)):,} bytes in {len(raws)} cached files")
    cases = {
        "read_verified, all four files (read + size + CRC-32)":
            lambda: [data.read_verified(files[n], md5s[n]) for n in md5s],
        "CRC-32 of the cached bytes": lambda: [zlib.crc32(r) for r in raws],
        "MD5 of the cached bytes": lambda: [hashlib.md5(r).hexdigest() for r in raws],
        "gunzip of the bundled .gz files (no cache)": lambda: [gzip.decompress(files[n].read_bytes()) for n in md5s],
    }
    for label, fn in cases.items():
        best, median = timed(fn, repeats)
        print(f"{label:55s} best {best:6.1f} ms   median {median:6.1f} ms")


if __name__ == "__main__":
    main()
