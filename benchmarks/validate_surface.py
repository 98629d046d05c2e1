"""How the alpha-shape surface depends on the probe radius: the data behind the default.

The probe radius is given as a factor times the element's nearest-neighbour distance
(``alpha = f d_nn``; Pt: d_nn = 2.766 A, OVITO's default 4 A is f = 1.45).  Too small a probe
enters the gaps between atoms (holes open inside the particle: interior atoms become
"surface"); too large a probe bridges concavities (steps, pits, the gap between touching
particles are filled: exposed atoms are missed).  This script measures both, for every factor
in ``--factors``:

1. **Known surface.**  Perfect Pt particles whose surface atoms are known from the lattice --
   the atoms with fewer than 12 neighbours within 1.2 d_nn in the perfect positions: truncated
   octahedra (586 and 2406 atoms), fcc spheres (radius 15 and 25 A), the 2406-atom truncated
   octahedron with a monatomic step (half of a {100} top layer removed) and with a
   hemispherical pit (radius 7 A) in a {100} facet, each with Gaussian noise of 0 .. 0.25 A
   added (the truth stays that of the perfect positions).  Printed: the interior atoms called
   surface (% of the interior; "holes") and the true surface atoms missed (% of the surface;
   "filled").
2. **Amorphous.**  ``nanotraj.lattices.amorphous_sphere`` (Pd d_nn; ``--amorphous-radius``,
   default 30 A, 7,400 atoms, ~20 s to generate; 57.5 A gives the 52,308 atoms of the
   published amorphous Pd particle, ~3 min): surface fraction against the factor, next to the
   project's current bond-vector criterion (:func:`nanotraj.structure.surface`, bonds within
   the first minimum of g(r)).  Reference: on the published 52,308-atom amorphous Pd particle
   the alpha-shape surface at 4 A is 9.4 % and the bond-vector criterion 68.5 %.
3. **Real frames.**  The shared Pt series (``../shared/data/single-pt-series``), when present:
   surface fraction against the factor, and the atoms called surface although they have 12
   or more neighbours within 1.2 d_nn (no real surface site has: they line interior holes).

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/validate_surface.py
    PYTHONPATH=src .venv/bin/python benchmarks/validate_surface.py --amorphous-radius 57.5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from nanotraj import lattices as lat  # noqa: E402
from nanotraj.alphashape import alpha_shape  # noqa: E402

SERIES = REPO.parent / "shared" / "data" / "single-pt-series"
PT_NN = lat.PT_NN
PD_NN = 3.8907 / np.sqrt(2.0)  # Pd fcc, a = 3.8907 A (resources/elements.tsv)
FACTORS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.45, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0)
NOISES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)


def known_particles():
    """(name, perfect positions) of particles whose surface is known."""
    to6 = lat.truncated_octahedron(6)
    top = to6[:, 2].max()
    return [
        ("TO 586", lat.truncated_octahedron(4)),
        ("TO 2406", to6),
        ("sphere r15", lat.fcc_sphere(15.0)),
        ("sphere r25", lat.fcc_sphere(25.0)),
        ("TO 2406 step", to6[~((to6[:, 2] > top - 0.5) & (to6[:, 0] > 0))]),
        ("TO 2406 pit", to6[np.linalg.norm(to6 - [0.0, 0.0, top + 2.0], axis=1) > 7.0]),
    ]


def truth(x):
    from scipy.spatial import cKDTree

    cn = cKDTree(x).query_ball_point(x, 1.2 * PT_NN, return_length=True) - 1
    return cn < 12


def bond_vector_surface(x, nn):
    """The project's current criterion on bonds within the first minimum of g(r)."""
    from nanotraj.bonds import bond_counts, find_bonds
    from nanotraj.rdf import first_minimum, rdf
    from nanotraj.structure import surface

    r, g, counts = rdf(x, return_counts=True)
    cutoff = first_minimum(r, g, counts=counts)
    bonds, _ = find_bonds(x, cutoff)
    return surface(x, bond_counts(len(x), bonds), bonds, nn), cutoff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    parser.add_argument("--noises", type=float, nargs="+", default=list(NOISES))
    parser.add_argument("--amorphous-radius", type=float, default=30.0)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["known", "amorphous", "frames"])
    args = parser.parse_args(argv)
    factors = args.factors
    head = " ".join(f"{f:>6.2f}" for f in factors)

    if "known" not in args.skip:
        print("1. Known surface (Pt; truth: < 12 neighbours in the perfect lattice).")
        print("   Each cell: interior atoms called surface % / true surface atoms missed %.")
        print(f"   probe radius alpha = f x {PT_NN:.3f} A; f = {head}")
        worst = {f: [0.0, 0.0] for f in factors}
        for name, x0 in known_particles():
            t = truth(x0)
            for noise in args.noises:
                x = x0 + np.random.default_rng(1).normal(0.0, noise, x0.shape) if noise else x0
                cells = []
                for f in factors:
                    s = alpha_shape(x, f * PT_NN)["surface"]
                    fp = 100.0 * float((s & ~t).sum()) / max(1, int((~t).sum()))
                    fn = 100.0 * float((~s & t).sum()) / max(1, int(t.sum()))
                    worst[f][0] = max(worst[f][0], fp)
                    worst[f][1] = max(worst[f][1], fn)
                    cells.append(f"{fp:4.1f}/{fn:<4.1f}")
                print(f"   {name:13s} {len(x):5d} noise {noise:4.2f}: " + " ".join(cells))
        print("   worst over all particles and noise levels (holes % / filled %):")
        for f in factors:
            print(f"     f = {f:4.2f} (alpha {f * PT_NN:5.2f} A): {worst[f][0]:5.1f} / "
                  f"{worst[f][1]:5.1f}")

    if "amorphous" not in args.skip:
        t0 = time.perf_counter()
        x = lat.amorphous_sphere(args.amorphous_radius, nn=PD_NN, seed=1)
        print(f"\n2. Amorphous Pd particle, radius {args.amorphous_radius} A, {len(x)} atoms "
              f"(generated in {time.perf_counter() - t0:.0f} s).")
        bv, cutoff = bond_vector_surface(x, PD_NN)
        print(f"   bond-vector criterion (bonds <= {cutoff:.2f} A): {100 * bv.mean():.1f} % "
              "surface")
        fr = [100.0 * alpha_shape(x, f * PD_NN)["surface"].mean() for f in factors]
        print(f"   alpha shape, f = {head}")
        print("   surface %       " + " ".join(f"{v:6.1f}" for v in fr))
        at4 = alpha_shape(x, 4.0)["surface"]
        print(f"   at alpha = 4 A: {100 * at4.mean():.1f} % (bond-vector criterion "
              f"{100 * bv.mean():.1f} %; of those {100 * (bv & ~at4).sum() / max(1, bv.sum()):.0f}"
              " % are inside the alpha-shape surface)")

    if "frames" not in args.skip:
        files = sorted(SERIES.glob("*.pdb"))
        if not files:
            print(f"\n3. shared frames not found at {SERIES}: skipped")
        else:
            from nanotraj.io import read_frame

            print("\n3. Shared Pt frames: surface % / of those with 12 or more neighbours "
                  "within 1.2 d_nn (no real surface site has 12: interior holes), against")
            print(f"   f = {head}")
            for path in files:
                x = read_frame(path).coords
                full = truth(x) == 0  # 12 or more neighbours within 1.2 d_nn
                cells = []
                for f in factors:
                    s = alpha_shape(x, f * PT_NN)["surface"]
                    holes = 100.0 * (s & full).sum() / len(x)
                    cells.append(f"{100.0 * s.mean():4.1f}/{holes:<3.1f}")
                bv, _ = bond_vector_surface(x, PT_NN)
                print(f"   {path.name[:12]:12s} {len(x):4d} " + " ".join(cells)
                      + f"   (bond vector {100 * bv.mean():.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
