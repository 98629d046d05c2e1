"""Speed of the domain segmentation and of the series-wide atom identities.

    .venv/bin/python benchmarks/bench_domains.py                 # 1e4 and 1e5 atoms (~1 min)
    .venv/bin/python benchmarks/bench_domains.py --sizes 1000000 # one size

Prints the median of ``--repeat`` runs of :func:`nanotraj.domains.find_domains` (both methods)
on a decahedron-free fcc sphere of each size (its PTM and bonds computed once, not timed), and of
:func:`nanotraj.identities.chain` + :func:`nanotraj.identities.rmsd_matrix` for a series of
``--frames`` frames of that size (each frame losing 1 % of its atoms), seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from nanotraj import lattices as lat
    from nanotraj.bonds import find_bonds
    from nanotraj.domains import find_domains
    from nanotraj.identities import chain, rmsd_matrix
    from nanotraj.order import boo
    from nanotraj.ptm import ptm

    print("| atoms | find_domains orientation (s) | find_domains order (s) | "
          f"ids + RMSD matrix, {args.frames} frames (s) |")
    print("|---|---|---|---|")
    for n in args.sizes:
        radius = (n * 3.0 * lat.PT_A**3 / (16.0 * np.pi)) ** (1.0 / 3.0)
        x = lat.fcc_sphere(radius, noise=0.05)
        bonds, dist = find_bonds(x, 1.21 * lat.PT_NN)
        o = boo(x, bonds)
        p = ptm(x, rmsd_cutoff=0.13)
        args_ = (x, bonds, p["structure"], p["orientation"])
        kw = {"Q4": o["Q4"], "Q6": o["Q6"], "distances": dist}
        t = {m: median_time(lambda m=m, a=args_, k=kw: find_domains(*a, method=m, **k),
                            args.repeat) for m in ("orientation", "order")}
        rng = np.random.default_rng(0)
        coords, previous, cur = [x], [None], x
        for _ in range(1, args.frames):
            keep = np.flatnonzero(rng.random(len(cur)) > 0.01)
            cur = cur[keep] + rng.normal(0, 0.03, (len(keep), 3))
            coords.append(cur)
            previous.append(keep)

        def identities(coords=coords, previous=previous):
            ids = chain(previous, [len(c) for c in coords])
            rmsd_matrix(ids, coords)

        t_ids = median_time(identities, 1)
        print(f"| {len(x)} | {t['orientation']:.3f} | {t['order']:.3f} | {t_ids:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
