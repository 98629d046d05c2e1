"""Benchmark of nanotraj.order.boo (the default engine, "auto") on noisy FCC spheres.

For N = 1e3, 1e4, 1e5, 1e6 atoms: an FCC sphere (a = 3.912 A, Gaussian noise 0.05 A per
coordinate, :func:`nanotraj.lattices.fcc_sphere`), bonds = pairs closer than
1.2 a / sqrt(2) (``scipy.spatial.cKDTree.query_pairs``, ~12 bonds per interior atom), then
``boo(coords, bonds, ls=(4, 6))`` (q4, q6, Q4, Q6, w4, w6, W4, W6, C4, C6, s4, s6,
crystalline).  Reports the wall time of ``boo`` (median of 3 runs, 1 run for N >= 1e6) and its
peak traced memory (``tracemalloc``, a separate run: numpy registers its buffers with
tracemalloc, so this is the peak of the arrays allocated inside ``boo``, inputs excluded).

Usage: python benchmarks/bench_order.py [--sizes 1000 10000 ...] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import tracemalloc

import numpy as np
from scipy.spatial import cKDTree

from nanotraj.lattices import fcc_sphere
from nanotraj.order import boo

A = 3.912
NOISE = 0.05
CUTOFF = 1.2 * A / math.sqrt(2.0)


def radius_for(n_atoms, a=A):
    """Radius of an FCC sphere with about ``n_atoms`` atoms (4 atoms per a^3)."""
    return a * (3.0 * n_atoms / (16.0 * math.pi)) ** (1.0 / 3.0)


def bench(n_atoms, repeat):
    coords = fcc_sphere(radius_for(n_atoms), A, noise=NOISE, seed=0)
    t0 = time.perf_counter()
    tree = cKDTree(coords)
    bonds = tree.query_pairs(CUTOFF, output_type="ndarray")
    bonds = bonds[np.lexsort((bonds[:, 1], bonds[:, 0]))]  # as nanotraj.bonds.find_bonds
    t_bonds = time.perf_counter() - t0
    del tree
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = boo(coords, bonds, ls=(4, 6))
        times.append(time.perf_counter() - t0)
        del res
    tracemalloc.start()
    res = boo(coords, bonds, ls=(4, 6))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out_mb = sum(v.nbytes for v in res.values()) / 1e6
    return {
        "atoms": len(coords),
        "bonds": len(bonds),
        "bonds_s": t_bonds,
        "boo_s": statistics.median(times),
        "runs": repeat,
        "peak_MB": peak / 1e6,
        "output_MB": out_mb,
        "inputs_MB": (coords.nbytes + bonds.nbytes) / 1e6,
        "crystalline": float(np.mean(res["crystalline"])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--csv", help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    boo(fcc_sphere(6.0), np.array([[0, 1]]))  # warm-up: imports, caches
    rows = []
    header = (
        "atoms",
        "bonds",
        "bonds_s",
        "boo_s",
        "runs",
        "peak_MB",
        "output_MB",
        "inputs_MB",
        "crystalline",
    )
    print(" ".join(f"{h:>11}" for h in header))
    for n in args.sizes:
        row = bench(n, 1 if n >= 1_000_000 else 3)
        rows.append(row)
        cells = []
        for h in header:
            v = row[h]
            cells.append(f"{v:>11d}" if isinstance(v, int) else f"{v:>11.3f}")
        print(" ".join(cells), flush=True)
    if args.csv:
        with open(args.csv, "w") as fh:
            fh.write(",".join(header) + "\n")
            for row in rows:
                fh.write(",".join(str(row[h]) for h in header) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
