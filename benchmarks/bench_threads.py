"""In-memory library time of the stages that take threads, 1 thread against ``--threads``.

    .venv/bin/python benchmarks/bench_threads.py                  # 1e6 atoms, 1 vs 2 threads
    .venv/bin/python benchmarks/bench_threads.py --atoms 1e5 --repeat 5

On a noisy FCC sphere (a = 3.912 A, 0.05 A noise, :func:`nanotraj.lattices.fcc_sphere`), with no
file I/O: ``rdf.rdf`` (sampled centres above 20,000 atoms), ``bonds.find_bonds`` at the g(r)
cutoff, ``order.boo`` (l = 4, 6; s_l and C_l of l = 6, as the workflow) and the common
neighbour analysis ``structure.cna``, each with ``workers=1`` and ``workers=--threads``,
alternating, median of ``--repeat`` runs.  Prints both times, the speed-up, and checks that the
results are identical (they must be, bit for bit).  The workflow gives these threads to frames
whose file exceeds 2 MB (config ``large_frame_threads``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median  # noqa: E402
from bench_frame_sizes import NOISE, A, radius_for  # noqa: E402


def timed(fn, workers):
    t0 = time.perf_counter()
    out = fn(workers)
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, default=1e6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from nanotraj.bonds import find_bonds
    from nanotraj.cna import cna
    from nanotraj.lattices import fcc_sphere
    from nanotraj.order import boo
    from nanotraj.rdf import first_minimum, rdf

    x = fcc_sphere(radius_for(args.atoms), A, noise=NOISE, seed=0)
    cutoff = first_minimum(*rdf(x, workers=args.threads))
    bonds, _ = find_bonds(x, cutoff, workers=args.threads)
    stages = {
        "rdf": lambda w: rdf(x, workers=w)[1],
        "bonds": lambda w: find_bonds(x, cutoff, workers=w)[0],
        "boo": lambda w: boo(x, bonds, workers=w, products=(6,))["W6"],
        "cna": lambda w: cna(len(x), bonds, workers=w)[0],
    }
    print(f"{len(x):,} atoms, cutoff {cutoff:.3f} A, {len(bonds):,} bonds; "
          f"median of {args.repeat}")
    print(f"{'stage':8s}{'1 thread s':>12s}{f'{args.threads} threads s':>14s}{'speed-up':>10s}"
          f"{'identical':>11s}")
    tot1 = totn = 0.0
    for name, fn in stages.items():
        t1, tn, same = [], [], True
        for _ in range(args.repeat):
            a, r1 = timed(fn, 1)
            b, rn = timed(fn, args.threads)
            t1.append(a)
            tn.append(b)
            same = same and np.array_equal(r1, rn)
        m1, mn = median(t1), median(tn)
        tot1 += m1
        totn += mn
        print(f"{name:8s}{m1:12.2f}{mn:14.2f}{m1 / mn:10.2f}{str(same):>11s}", flush=True)
    print(f"{'sum':8s}{tot1:12.2f}{totn:14.2f}{tot1 / totn:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
