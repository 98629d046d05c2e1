"""Where the domain segmentation breaks under noise (the measurement behind docs/methods.md,
*Crystalline domains*).

    .venv/bin/python benchmarks/validate_domains.py            # full table (~2 min)
    .venv/bin/python benchmarks/validate_domains.py --seeds 1  # one noise sample per level

Synthetic Pt particles with a known number of domains (:mod:`nanotraj.lattices`): Ino
decahedra (n = 10 and 14: 5 domains, 5 Sigma-3 twins), Mackay icosahedra (7 and 9 shells: 20
domains, 30 twins), an fcc crystal with one coherent twin plane (2 domains, 1 twin), a
30-degree [001] tilt bicrystal (2 domains, no twin) and an fcc sphere (1 domain), with
independent Gaussian noise of 0 ... 0.25 A per coordinate (``--seeds`` samples per level).
Every frame is analysed as the workflow does: the cutoff at the first minimum of g(r), PTM with
the workflow's RMSD cutoff 0.13, :func:`nanotraj.domains.find_domains` with the default
configuration (orientation method, 5 degrees, 13 atoms).  The table gives, per particle and
noise level, the number of domains found (all seeds) and the number of Sigma-3 twins, and the
fraction of samples with exactly the expected count of domains; a last column the order
method's count (orientation-free: one for every particle that is crystalline throughout).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

NOISES = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25)


def particles():
    from nanotraj import lattices as lat

    twin = "ABC" * 5 + "A" + "CBA" * 5  # one twin plane (the middle A) between two fcc halves
    return {
        "decahedron n=10": (lambda s, seed: lat.decahedron(10, noise=s, seed=seed), 5, 5),
        "decahedron n=14": (lambda s, seed: lat.decahedron(14, noise=s, seed=seed), 5, 5),
        "icosahedron 7 shells": (lambda s, seed: lat.icosahedron(7, noise=s, seed=seed), 20, 30),
        "icosahedron 9 shells": (lambda s, seed: lat.icosahedron(9, noise=s, seed=seed), 20, 30),
        "fcc with a twin plane": (
            lambda s, seed: lat.close_packed_sphere(twin, 15.0, noise=s, seed=seed), 2, 1),
        "bicrystal 30 deg [001]": (
            lambda s, seed: lat.bicrystal(15.0, 30.0, noise=s, seed=seed), 2, 0),
        "fcc sphere": (lambda s, seed: lat.fcc_sphere(15.0, noise=s, seed=seed), 1, 0),
    }


def analyse(x):
    """(domains, twins) with the orientation method and domains with the order method, as the
    workflow's stages compute them."""
    from nanotraj.bonds import find_bonds
    from nanotraj.domains import find_domains
    from nanotraj.elements import auto_cutoff_min
    from nanotraj.order import boo
    from nanotraj.ptm import ptm
    from nanotraj.rdf import first_minimum, rdf

    r, g, counts = rdf(x, return_counts=True)
    cutoff = first_minimum(r, g, r_min=auto_cutoff_min("Pt"), counts=counts)
    bonds, dist = find_bonds(x, cutoff)
    o = boo(x, bonds)
    p = ptm(x, rmsd_cutoff=0.13)
    out = []
    for method in ("orientation", "order"):
        res = find_domains(x, bonds, p["structure"], p["orientation"], Q4=o["Q4"], Q6=o["Q6"],
                           method=method, distances=dist)
        out.append((res["summary"]["n_domains"], res["summary"]["n_twin_boundaries"]))
    return out[0][0], out[0][1], out[1][0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="noise samples per level (default 3)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print("| particle (atoms) | expected domains / twins | noise (A) | domains found | twins "
          "found | exact count | order method |")
    print("|---|---|---|---|---|---|---|")
    for name, (make, n_dom, n_twin) in particles().items():
        n_atoms = len(make(0.0, 0))
        for sigma in NOISES:
            seeds = [0] if sigma == 0 else list(range(args.seeds))
            found = [analyse(make(sigma, seed)) for seed in seeds]
            doms = [f[0] for f in found]
            twins = [f[1] for f in found]
            exact = np.mean([d == n_dom for d in doms])
            print(f"| {name} ({n_atoms}) | {n_dom} / {n_twin} | {sigma:.2f} | "
                  f"{', '.join(map(str, doms))} | {', '.join(map(str, twins))} | "
                  f"{100 * exact:.0f} % | {', '.join(str(f[2]) for f in found)} |", flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
