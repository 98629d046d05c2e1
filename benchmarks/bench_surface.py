"""Timings of the alpha-shape surface and the adaptive CNA, side by side with OVITO.

For noisy Pt fcc spheres of about 1e4, 1e5 and 1e6 atoms (Gaussian noise ``--noise`` A per
coordinate, default 0.05) this measures, in one process and interleaved (so that every ratio
compares runs made under the same machine load):

* surface: :func:`nanotraj.alphashape.alpha_shape` (fast path) with 1 and 2 threads,
  :func:`nanotraj.alphashape.alpha_shape_reference` (full Delaunay; up to ``--reference-max``
  atoms) and OVITO 3.17.2's ``ConstructSurfaceModifier(method=AlphaShape, radius=4,
  select_surface_particles=True, smoothing_level=0)`` when ``ovito`` is importable;
* a-CNA: :func:`nanotraj.acna.adaptive_cna` with 1 and 2 threads and OVITO's
  ``CommonNeighborAnalysisModifier(mode=AdaptiveCutoff)``.

It prints the median of ``--repeats`` runs of each (wall seconds, inputs already in memory;
OVITO's time includes building its DataCollection and uses all its threads), the ratios, and
the agreement with OVITO (fraction of atoms, relative area difference).  The compiled kernels
are warmed up first (numba cache).  Run it where OVITO is installed, e.g.::

    PYTHONPATH=src /tmp/ovenv/bin/python benchmarks/bench_surface.py
    PYTHONPATH=src .venv/bin/python benchmarks/bench_surface.py --sizes 1e4 1e5  # no OVITO
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from _common import ovito_collection  # noqa: E402

from nanotraj import lattices as lat  # noqa: E402
from nanotraj.acna import adaptive_cna  # noqa: E402
from nanotraj.alphashape import alpha_shape, alpha_shape_reference  # noqa: E402


def sphere_of(n_atoms, noise, seed=0):
    """Noisy Pt fcc sphere of about ``n_atoms`` atoms (4 atoms per a^3)."""
    radius = (3.0 * n_atoms * lat.PT_A**3 / (16.0 * math.pi)) ** (1.0 / 3.0)
    return lat.fcc_sphere(radius, noise=noise, seed=seed)


def ovito_surface(x, alpha):
    from ovito.modifiers import ConstructSurfaceModifier as CS

    data = ovito_collection(x)
    data.apply(CS(method=CS.Method.AlphaShape, radius=alpha, select_surface_particles=True,
                  smoothing_level=0))
    return (np.asarray(data.particles["Selection"][...]).astype(bool),
            float(data.attributes["ConstructSurfaceMesh.surface_area"]))


def ovito_acna(x):
    from ovito.modifiers import CommonNeighborAnalysisModifier as CNA

    data = ovito_collection(x)
    data.apply(CNA(mode=CNA.Mode.AdaptiveCutoff))
    return np.asarray(data.particles["Structure Type"][...])


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=4.0, help="probe radius, A")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--reference-max", type=float, default=2e5,
                        help="largest frame for the full-Delaunay reference (~30 us/atom)")
    parser.add_argument("--no-ovito", action="store_true")
    parser.add_argument("--what", nargs="+", default=["surface", "acna"],
                        choices=["surface", "acna"])
    args = parser.parse_args(argv)

    have_ovito = False
    if not args.no_ovito:
        try:
            import ovito

            have_ovito = True
            print(f"OVITO {ovito.version_string}")
        except ImportError:
            print("ovito not importable: nanotraj only")
    warm = sphere_of(3000, args.noise)
    alpha_shape(warm, args.alpha, workers=2)
    adaptive_cna(warm, workers=2)

    for size in args.sizes:
        x = sphere_of(int(size), args.noise)
        n = len(x)
        print(f"\n== {n} atoms (noisy fcc sphere, noise {args.noise} A)")
        if "surface" in args.what:
            t = {"fast 1": [], "fast 2": [], "reference": [], "ovito": []}
            res = ref = ov = None
            for _ in range(args.repeats):
                dt, res = timed(alpha_shape, x, args.alpha, workers=1)
                t["fast 1"].append(dt)
                dt, res2 = timed(alpha_shape, x, args.alpha, workers=2)
                t["fast 2"].append(dt)
                assert np.array_equal(res["surface"], res2["surface"])
                if n <= args.reference_max:
                    dt, ref = timed(alpha_shape_reference, x, args.alpha)
                    t["reference"].append(dt)
                if have_ovito:
                    dt, ov = timed(ovito_surface, x, args.alpha)
                    t["ovito"].append(dt)
            med = {k: statistics.median(v) for k, v in t.items() if v}
            line = "  ".join(f"{k} {v:7.3f} s" for k, v in med.items())
            print(f"surface (alpha {args.alpha} A, median of {args.repeats}): {line}")
            print(f"  surface atoms {int(res['surface'].sum())}, candidates "
                  f"{res['n_candidates']}, path {res['method']}, "
                  f"{med['fast 1'] / n * 1e6:.2f} us/atom (1 thread)")
            if "reference" in med:
                same = (np.array_equal(ref["surface"], res["surface"])
                        and np.array_equal(ref["facets"], res["facets"]))
                print(f"  reference / fast(2 threads) = {med['reference'] / med['fast 2']:.1f}"
                      f"  (identical surface and facets: {same}, area rel. diff "
                      f"{abs(res['area'] / ref['area'] - 1):.1e})")
            if "ovito" in med:
                agree = float((ov[0] == res["surface"]).mean())
                print(f"  OVITO / fast(1 thread) = {med['ovito'] / med['fast 1']:.2f}, "
                      f"OVITO / fast(2 threads) = {med['ovito'] / med['fast 2']:.2f}  "
                      f"(atoms agreeing {agree:.6f}, area rel. diff "
                      f"{abs(res['area'] / ov[1] - 1):.1e})")
        if "acna" in args.what:
            t = {"acna 1": [], "acna 2": [], "ovito": []}
            for _ in range(args.repeats):
                dt, c1 = timed(adaptive_cna, x, workers=1)
                t["acna 1"].append(dt)
                dt, c2 = timed(adaptive_cna, x, workers=2)
                t["acna 2"].append(dt)
                assert np.array_equal(c1, c2)
                if have_ovito:
                    dt, co = timed(ovito_acna, x)
                    t["ovito"].append(dt)
            med = {k: statistics.median(v) for k, v in t.items() if v}
            line = "  ".join(f"{k} {v:7.3f} s" for k, v in med.items())
            counts = "/".join(map(str, np.bincount(c1, minlength=5)))
            print(f"a-CNA (median of {args.repeats}): {line}  other/fcc/hcp/bcc/ico {counts}")
            if "ovito" in med:
                print(f"  OVITO / acna(1 thread) = {med['ovito'] / med['acna 1']:.2f}, "
                      f"OVITO / acna(2 threads) = {med['ovito'] / med['acna 2']:.2f}  "
                      f"(atoms agreeing {float((co == c1).mean()):.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
