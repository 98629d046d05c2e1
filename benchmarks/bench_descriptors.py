"""All per-frame descriptors of the method through the library, in memory, 1 thread vs N.

    .venv/bin/python benchmarks/bench_descriptors.py                     # 1e3 .. 1e6, 1 vs 2
    .venv/bin/python benchmarks/bench_descriptors.py --sizes 1e6 --repeat 5
    .venv/bin/python benchmarks/bench_descriptors.py --sizes 1e6 --shuffle   # atoms in random order

Issue 2's measurement: FCC spheres (:func:`nanotraj.lattices.fcc_sphere`, a = 3.912 A, Gaussian
noise 0.05 A per coordinate) of 1e3, 1e4, 1e5 and 1e6 atoms; wall time and peak memory of all
descriptors together and per stage, with no file I/O (``bench_frame_sizes.py`` measures the
same stages through their files and the workflow):

* ``rdf``: g(r) to 15 A and its first minimum (the bond cutoff), :mod:`nanotraj.rdf`;
* ``bonds``: pairs within the cutoff and their lengths, :func:`nanotraj.bonds.find_bonds`;
* ``boo``: q4 q6 w4 w6 Q4 Q6 W4 W6, C6, s6 and crystalline atoms, :func:`nanotraj.order.boo`
  (``products=(6,)``, as the workflow calls it);
* ``coordination``: ``cn`` and ``cn_lattice`` (1.2 x the Pt nearest-neighbour distance);
* ``geometry``: mean bond length per atom, distance to the centre, convex-hull diameter.

Every (size, threads) run is a fresh Python process (libraries imported before the clock
starts, coordinates generated before it): a first run pays for the memory it touches, as a
workflow job does.  Threads are the ``workers`` of rdf, bonds and boo (the workflow gives
``large_frame_threads`` = 2 to frames above 2 MB).  Peak memory is the process's ``VmHWM``
(reset before each stage; includes ~100 MB of imported libraries).  Frames of at least
``nanotraj.order.LARGE_BONDS`` bonds use the compiled kernels (:mod:`nanotraj._kernels`); their
loading from numba's cache (~0.1-0.2 s per process) is inside the clock.  Medians of ``--repeat``
processes, 1-thread and N-thread processes alternating; the results of both are checked to
be identical (they must be, bit for bit).

``--shuffle`` puts the atoms in random order first (fixed seed), as in a file not written plane
by plane: the BOO engine then relabels them into a spatial order internally.

Target (issue 2): at 1e6 atoms <= 4 s and <= 2 GB on a 2-core machine, memory linear in N.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, median, reset_peak, run_measured, status_mb  # noqa: E402
from bench_frame_sizes import NOISE, A, radius_for  # noqa: E402

STAGES = ("rdf", "bonds", "boo", "coordination", "geometry")
TARGET_S, TARGET_MB = 4.0, 2000.0


def child(n_atoms: float, threads: int, shuffle: bool = False) -> None:
    import numba  # noqa: F401  imported before the clock, as in a warm workflow process
    import numpy as np
    import scipy.sparse  # noqa: F401
    import scipy.spatial  # noqa: F401

    from nanotraj.bonds import bond_counts, find_bonds
    from nanotraj.coordination import cn_lattice, mean_bond_distance
    from nanotraj.elements import nn_distance
    from nanotraj.geometry import distance_to_centre, hull_diameter
    from nanotraj.lattices import fcc_sphere
    from nanotraj.order import boo
    from nanotraj.rdf import first_minimum, rdf

    x = fcc_sphere(radius_for(n_atoms), A, noise=NOISE, seed=0)
    if shuffle:
        x = x[np.random.default_rng(1).permutation(len(x))]
    nn = nn_distance("Pt")
    res: dict = {}

    def rdf_stage():
        r, g = rdf(x, workers=threads)
        res["cutoff"] = first_minimum(r, g)
        return g

    def bonds_stage():
        res["bonds"], res["distances"] = find_bonds(x, res["cutoff"], workers=threads)
        return res["bonds"], res["distances"]

    def coordination_stage():
        cn = bond_counts(len(x), res["bonds"])
        return cn, cn_lattice(x, nn, bonds=res["bonds"], distances=res["distances"],
                              bond_cutoff=res["cutoff"])

    def geometry_stage():
        return (mean_bond_distance(len(x), res["bonds"], res["distances"]),
                distance_to_centre(x), np.array(hull_diameter(x)))

    calls = {
        "rdf": rdf_stage,
        "bonds": bonds_stage,
        "boo": lambda: boo(x, res["bonds"], workers=threads, products=(6,)),
        "coordination": coordination_stage,
        "geometry": geometry_stage,
    }
    out = {"atoms": len(x), "rss_start": status_mb("VmRSS")}
    digest = hashlib.sha256()
    for stage in STAGES:
        reset_peak()
        t0 = time.perf_counter()
        value = calls[stage]()
        out[stage] = {"s": time.perf_counter() - t0, "peak": status_mb("VmHWM")}
        arrays = value.values() if isinstance(value, dict) else (
            value if isinstance(value, tuple) else (value,))
        for a in arrays:
            digest.update(np.ascontiguousarray(a).tobytes())
    out["cutoff"] = float(res["cutoff"])
    out["n_bonds"] = int(len(res["bonds"]))
    out["digest"] = digest.hexdigest()
    print(json.dumps(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5, help="processes per size and thread count")
    ap.add_argument("--shuffle", action="store_true", help="atoms in random order")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(float(args.child[0]), int(args.child[1]), args.child[2] == "1")
        return 0

    counts = (1, args.threads)
    rows = []
    for size in args.sizes:
        runs = {t: [] for t in counts}
        for _ in range(args.repeat):
            for t in counts:  # alternating, so that drifts of a shared machine hit both
                wall, peak, text = run_measured([PYTHON, __file__, "--child", str(size), str(t),
                                                 "1" if args.shuffle else "0"])
                res = json.loads(text.strip().splitlines()[-1])
                res["process_peak"] = peak
                runs[t].append(res)
        digests = {r["digest"] for t in counts for r in runs[t]}
        first = runs[1][0]
        print(f"\n{first['atoms']:,} atoms, cutoff {first['cutoff']:.3f} A, "
              f"{first['n_bonds']:,} bonds; median of {args.repeat} processes; results "
              f"{'identical' if len(digests) == 1 else 'DIFFER between runs'}", flush=True)
        print(f"{'stage':14s}" + "".join(f"{f'{t} thr s':>10s}{f'{t} thr MB':>11s}"
                                          for t in counts) + f"{'speed-up':>10s}")
        total = {}
        for stage in STAGES + ("all",):
            cells = ""
            for t in counts:
                if stage == "all":
                    s = median([sum(r[k]["s"] for k in STAGES) for r in runs[t]])
                    mb = median([max(r[k]["peak"] for k in STAGES) for r in runs[t]])
                    total[t] = (s, mb)
                else:
                    s = median([r[stage]["s"] for r in runs[t]])
                    mb = median([r[stage]["peak"] for r in runs[t]])
                cells += f"{s:10.3f}{mb:11.0f}"
                if t == counts[0]:
                    s1 = s
            print(f"{stage:14s}{cells}{s1 / s:10.2f}")
        rows.append((first["atoms"], total))
    print(f"\nall descriptors together (target at 1e6 atoms: <= {TARGET_S:g} s, "
          f"<= {TARGET_MB:g} MB, linear)")
    print(f"{'atoms':>10s}" + "".join(f"{f'{t} thr s':>10s}{'x/10x':>7s}{f'{t} thr MB':>11s}"
                                      for t in counts))
    prev = None
    for atoms, total in rows:
        line = f"{atoms:10,d}"
        for t in counts:
            s, mb = total[t]
            grow = f"x{s / prev[t][0]:.1f}" if prev else ""
            line += f"{s:10.3f}{grow:>7s}{mb:11.0f}"
        print(line)
        prev = total
    atoms, total = rows[-1]
    s, mb = total[args.threads]
    if atoms >= 900_000:
        print(f"\n{atoms:,} atoms with {args.threads} threads: {s:.2f} s (target {TARGET_S:g}: "
              f"{'met' if s <= TARGET_S else 'NOT met'}), peak {mb:.0f} MB (target "
              f"{TARGET_MB:g}: {'met' if mb <= TARGET_MB else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
