"""Where the lattice analysis breaks under noise: strain, lattice constant, sites and facets of
synthetic fcc particles at 0 ... 0.25 A of Gaussian noise per coordinate (the table of
docs/methods.md, "The crystal lattice per atom").

    .venv/bin/python benchmarks/validate_lattice.py             # full table (~1 min)
    .venv/bin/python benchmarks/validate_lattice.py --seeds 2   # fewer noise samples

Particles (:mod:`nanotraj.lattices`, Pt, a = 3.912 A, d_nn = 2.766 A), each in a random lattice
orientation:

* **strain**: an fcc sphere of radius 22 A (3,000 atoms) deformed homogeneously by
  F = I + (+2 % xx, -1 % yy, 1 % xy); the reference is the true lattice constant.  Interior atoms
  (more than 2 d_nn inside the surface): the % that have a strain (PTM fcc, RMSD cutoff 0.13),
  the rms error of one atom's diagonal (xx, yy, zz) and shear (xy, xz, yz) components against
  the applied Green-Lagrangian tensor with the noise propagation ``sigma / (2 d_nn)`` and
  ``sigma / (2 sqrt(2) d_nn)`` in brackets, and the largest error of the interior's mean
  tensor (the issue's bar: 2e-3 at 0.02 A).  The mean volumetric strain's bias is the mean
  minus the applied tr(E)/3.
* **lattice constant**: the same sphere undeformed, a = 3.912 A: the fit's error (mean over the
  seeds, %), its reported standard error and the actual scatter between seeds.
* **sites and facets**: a truncated octahedron with 6 atoms per edge (2,406 atoms; 24 vertex,
  144 edge, 488 {111}, 96 {100} terrace atoms; 14 facets, {111} area fraction 0.776): the % of
  surface atoms in their right class, the {111} area fraction and the number of facets
  (seed means).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

NOISES = (0.0, 0.02, 0.05, 0.10, 0.15, 0.20, 0.25)
A = 3.912
NN = A / math.sqrt(2.0)
APPLIED = np.array([[1.02, 0.01, 0.0], [0.01, 0.99, 0.0], [0.0, 0.0, 1.0]])




def interior(x, depth):
    from scipy.spatial import ConvexHull

    eq = ConvexHull(x).equations
    return np.min(-(x @ eq[:, :3].T + eq[:, 3]), axis=1) > depth


def strain_case(noise, seed):
    from nanotraj import lattices as lat
    from nanotraj import strain as st
    from nanotraj.ptm import ptm

    x0 = lat.fcc_sphere(22.0) @ lat.random_rotation(seed).T @ APPLIED.T
    inside = interior(x0, 2 * NN)
    x = x0 + np.random.default_rng(100 + seed).normal(0.0, noise, x0.shape)
    r = ptm(x, rmsd_cutoff=0.13)
    E = st.green_lagrange(st.deformation_gradients(x, r, "fcc", NN))
    expected = 0.5 * (APPLIED @ APPLIED.T - np.eye(3))
    sel = inside & np.isfinite(E[:, 0, 0])
    err = E[sel] - expected
    diag = np.sqrt(np.mean([err[:, k, k] ** 2 for k in range(3)]))
    off = np.sqrt(np.mean([err[:, i, j] ** 2 for i, j in ((0, 1), (0, 2), (1, 2))]))
    vol_bias = float(st.volumetric(E[sel]).mean() - np.trace(expected) / 3)
    return {"coverage": sel.sum() / inside.sum(), "diag": diag, "off": off,
            "mean_err": float(np.abs(err.mean(axis=0)).max()), "vol_bias": vol_bias}


def lattice_case(noise, seed):
    from nanotraj import lattices as lat
    from nanotraj import strain as st
    from nanotraj.ptm import ptm

    x = lat.fcc_sphere(22.0) @ lat.random_rotation(seed).T
    x = x + np.random.default_rng(200 + seed).normal(0.0, noise, x.shape)
    fit = st.lattice_fit(x, ptm(x, rmsd_cutoff=0.13), "fcc", nn_factor=1 / math.sqrt(2))
    return fit["lattice_constant"], fit["lattice_constant_err"]


def surface_case(noise, seed):
    from nanotraj import crystal
    from nanotraj import lattices as lat
    from nanotraj.bonds import find_bonds
    from nanotraj.contract import SITE_CLASSES
    from nanotraj.ptm import ptm
    from nanotraj.rdf import first_minimum, rdf

    x0 = lat.truncated_octahedron(6) @ lat.random_rotation(seed).T
    truth = crystal.analyse(x0, find_bonds(x0, 1.2 * NN)[0], *_surface(x0),
                            ptm(x0, rmsd_cutoff=0.13), structure="fcc", a=A,
                            nn_distance=NN)["site"]
    x = x0 + np.random.default_rng(300 + seed).normal(0.0, noise, x0.shape)
    cutoff = 1.2 * NN
    if noise > 0:  # the workflow's cutoff: the first minimum of g(r)
        r, g, counts = rdf(x, return_counts=True)
        cutoff = first_minimum(r, g, counts=counts)
    res = crystal.analyse(x, find_bonds(x, cutoff)[0], *_surface(x),
                          ptm(x, rmsd_cutoff=0.13), structure="fcc", a=A, nn_distance=NN)
    surf = truth != SITE_CLASSES.index("bulk")
    right = float((res["site"][surf] == truth[surf]).mean())
    s = res["summary"]
    return right, s["facet_fraction_111"], s["n_facets"]


def _surface(x):
    from nanotraj.alphashape import alpha_shape

    s = alpha_shape(x, 1.45 * NN)
    return s["surface"], s["facets"], s["normals"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print("| noise (Å) | interior atoms with strain | per-atom error, diagonal (σ/2d) | "
          "shear (σ/2√2d) | error of the interior mean | volumetric bias | "
          "a error | a s.e. reported / scatter | sites right | {111} area (0.776) | "
          "facets (14) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for noise in NOISES:
        s = [strain_case(noise, k) for k in range(args.seeds)]
        a = np.array([lattice_case(noise, k) for k in range(args.seeds)])
        f = np.array([surface_case(noise, k) for k in range(args.seeds)])
        mean = {k: float(np.mean([v[k] for v in s])) for k in s[0]}
        pred = noise / (2 * NN * 0.99)
        scatter = a[:, 0].std(ddof=1) if len(a) > 1 else float("nan")
        print(f"| {noise:.2f} | {100 * mean['coverage']:.1f} % | "
              f"{mean['diag']:.4f} ({pred:.4f}) | {mean['off']:.4f} ({pred / math.sqrt(2):.4f}) | "
              f"{mean['mean_err']:.1e} | {mean['vol_bias']:+.1e} | "
              f"{100 * (a[:, 0].mean() / A - 1):+.3f} % | "
              f"{a[:, 1].mean():.5f} / {scatter:.5f} Å | {100 * f[:, 0].mean():.1f} % | "
              f"{f[:, 1].mean():.3f} | {f[:, 2].mean():.1f} |", flush=True)
    print(f"\n{args.seeds} seeds per noise level, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
