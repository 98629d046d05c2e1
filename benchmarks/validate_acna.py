"""Adaptive CNA against the conventional (fixed-cutoff) CNA on noisy particles.

Perfect particles whose per-atom structure is known -- Pt-spaced fcc, hcp and bcc spheres
(radius 20 A), a 2406-atom truncated octahedron, a 5-shell Mackay icosahedron and a 10-layer
Ino decahedron -- get Gaussian noise of 0 .. 0.25 A per coordinate (``--seeds`` noise
realisations each).  The truth is the class of every *interior* atom in the perfect positions
(conventional CNA with a cutoff between the shells, equal to a-CNA there: fcc, hcp, bcc, ico;
atoms that are "other" in the perfect particle -- surface, five-fold axes -- are left out).
For each noise level the script prints, over the interior atoms:

* **right** %: the class found equals the truth;
* **wrong** %: another crystalline class (fcc <-> hcp <-> bcc <-> ico) -- a misclassification;
* the rest ("other") is lost;

and the surface atoms (other in the perfect particle) called crystalline (%), for

* ``a-CNA``: :func:`nanotraj.acna.adaptive_cna`;
* ``CNA g(r)``: conventional CNA (:func:`nanotraj.cna.cna`) on the bonds within the first
  minimum of the frame's own g(r) (what the workflow does; for bcc the search starts at the
  lattice constant, :func:`nanotraj.elements.auto_cutoff_min`);
* ``CNA ideal``: conventional CNA with the ideal cutoff of the perfect lattice (between the
  first and second shells, for bcc between the second and third): the best a fixed cutoff
  can do, which needs the answer in advance.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/validate_acna.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from nanotraj import lattices as lat  # noqa: E402
from nanotraj.acna import adaptive_cna  # noqa: E402
from nanotraj.bonds import find_bonds  # noqa: E402
from nanotraj.cna import OTHER, cna  # noqa: E402
from nanotraj.rdf import first_minimum, rdf  # noqa: E402

NN = lat.PT_NN
A_BCC = 2.0 * NN / math.sqrt(3.0)
FCC_CUT = 0.5 * (1.0 + math.sqrt(2.0)) * NN  # between the 1st and 2nd fcc/hcp shells
BCC_CUT = 0.5 * (1.0 + math.sqrt(2.0)) * A_BCC  # between the 2nd and 3rd bcc shells
NOISES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)


def particles():
    """(name, perfect positions, ideal cutoff, r_min of the g(r) cutoff search)."""
    return [
        ("fcc sphere", lat.fcc_sphere(20.0), FCC_CUT, 0.0),
        ("hcp sphere", lat.hcp_sphere(20.0), FCC_CUT, 0.0),
        ("bcc sphere", lat.bcc_sphere(20.0), BCC_CUT, A_BCC),
        ("trunc. octahedron", lat.truncated_octahedron(6), FCC_CUT, 0.0),
        ("icosahedron", lat.icosahedron(5), FCC_CUT, 0.0),
        ("decahedron", lat.decahedron(10), FCC_CUT, 0.0),
    ]


def conventional(x, cutoff):
    bonds, _ = find_bonds(x, cutoff)
    return cna(len(x), bonds)[1]


def gr_cutoff(x, r_min):
    r, g, counts = rdf(x, return_counts=True)
    return first_minimum(r, g, r_min=r_min, counts=counts)


def scores(got, want, interior):
    right = got[interior] == want[interior]
    wrong = (got[interior] != want[interior]) & (got[interior] != OTHER)
    surface_xtal = got[~interior] != OTHER
    n_surf = max(1, int((~interior).sum()))
    return (100.0 * right.mean(), 100.0 * wrong.mean(),
            100.0 * surface_xtal.sum() / n_surf)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noises", type=float, nargs="+", default=list(NOISES))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    print("Interior atoms right % / wrong % (rest: other), surface atoms called crystalline %")
    total = {}
    for name, x0, ideal, r_min in particles():
        want = conventional(x0, ideal)
        assert np.array_equal(adaptive_cna(x0), want)  # perfect: a-CNA = CNA between shells
        interior = want != OTHER
        counts = np.bincount(want, minlength=5)[1:]
        kinds = ", ".join(f"{k} {v}" for k, v in zip(("fcc", "hcp", "bcc", "ico"), counts,
                                                      strict=True) if v)
        print(f"\n{name}: {len(x0)} atoms, {int(interior.sum())} interior ({kinds})")
        print(f"  {'noise A':>7s}  {'a-CNA':>18s}  {'CNA g(r)':>26s}  {'CNA ideal':>18s}")
        for noise in args.noises:
            acc = {"a-CNA": [], "CNA g(r)": [], "CNA ideal": []}
            cuts = []
            for seed in range(args.seeds):
                x = x0 + np.random.default_rng(seed).normal(0.0, noise, x0.shape) if noise \
                    else x0
                cut = gr_cutoff(x, r_min)
                cuts.append(cut)
                acc["a-CNA"].append(scores(adaptive_cna(x), want, interior))
                acc["CNA g(r)"].append(scores(conventional(x, cut), want, interior))
                acc["CNA ideal"].append(scores(conventional(x, ideal), want, interior))
                if noise == 0:
                    break
            m = {k: np.mean(v, axis=0) for k, v in acc.items()}
            for k, v in m.items():
                total.setdefault((k, noise), []).append(v)
            print(f"  {noise:7.2f}  {m['a-CNA'][0]:5.1f} / {m['a-CNA'][1]:4.1f} / "
                  f"{m['a-CNA'][2]:4.1f}  {m['CNA g(r)'][0]:5.1f} / {m['CNA g(r)'][1]:4.1f} / "
                  f"{m['CNA g(r)'][2]:4.1f} (cut {np.mean(cuts):4.2f})  "
                  f"{m['CNA ideal'][0]:5.1f} / {m['CNA ideal'][1]:4.1f} / "
                  f"{m['CNA ideal'][2]:4.1f}")
    print("\nMean over the particles (interior right % / wrong % / surface crystalline %):")
    for noise in args.noises:
        cells = "  ".join(f"{k} " + " / ".join(f"{v:5.1f}" for v in
                                                 np.mean(total[(k, noise)], axis=0))
                          for k in ("a-CNA", "CNA g(r)", "CNA ideal"))
        print(f"  noise {noise:4.2f}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
