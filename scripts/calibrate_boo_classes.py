"""Regenerate the calibration data of nanotraj.noise and nanotraj.boo_classes (fixed seeds).

Writes, in ``src/nanotraj/data/``:

* ``noise_calibration.json`` -- the constants ``a``, ``b`` of
  :func:`nanotraj.noise.noise_estimate`, fitted by least squares on synthetic fcc and hcp
  particles (three sizes, ~300 to ~20,000 atoms; the lattice constants of Pt, Au and Ni; noise
  0.02 .. 0.30 A; the workflow's g(r), cutoff and bonds);
* ``boo_reference.npz`` -- the reference table of :func:`nanotraj.boo_classes.reference_table`
  (means and covariances of (Q4, Q6, W4, W6) of the reference environments -- interior atoms
  of noisy perfect fcc, hcp, bcc particles, Mackay-icosahedron centres, fcc atoms next to twin
  planes, a glass, five-fold axes -- on the grid of relative noise x relative cutoff).

Everything is deterministic (``numpy.random.default_rng`` with fixed seeds; the library's
computations do not depend on the thread count), so a rerun writes the same numbers.

Usage (about 4 minutes: the noise constants ~1.5, the table ~2; the report ~6)::

    PYTHONPATH=src python scripts/calibrate_boo_classes.py              # both files
    PYTHONPATH=src python scripts/calibrate_boo_classes.py --noise      # the noise constants only
    PYTHONPATH=src python scripts/calibrate_boo_classes.py --table      # the BOO table only
    PYTHONPATH=src python scripts/calibrate_boo_classes.py --noise-report
        # the accuracy of the noise estimate (bias and spread per structure, size, element and
        # noise level) as a Markdown table; writes nothing
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from nanotraj import boo_classes as bc  # noqa: E402
from nanotraj import lattices as lat  # noqa: E402
from nanotraj import noise as nz  # noqa: E402
from nanotraj.elements import lattice  # noqa: E402

DATA = REPO / "src" / "nanotraj" / "data"

#: the calibration particles of the noise estimate
NOISE_STRUCTURES = ("fcc", "hcp")
NOISE_ELEMENTS = ("Pt", "Au", "Ni")
NOISE_SIZES = (300, 2000, 20000)
NOISE_LEVELS = tuple(round(0.02 * k, 2) for k in range(1, 16))  # 0.02 .. 0.30 A
#: the particles of the accuracy report
REPORT_CASES = (  # structure, element, target sizes
    ("fcc", "Pt", (300, 2000, 20000)),
    ("fcc", "Au", (2000,)),
    ("fcc", "Ni", (2000,)),
    ("hcp", "Pt", (300, 2000, 20000)),
    ("bcc", "Fe", (300, 2000, 20000)),
    ("ico", "Pt", (300, 2000, 5000)),
    ("deca", "Pt", (300, 2000, 5000)),
    ("amorphous", "Pt", (300, 2000)),
)
REPORT_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
REPORT_SEEDS = 3


def nn_of(structure, element):
    """Nearest-neighbour distance (A) of a synthetic particle of ``element``'s spacing."""
    lat_ = lattice(element)
    if structure == "bcc" and lat_["structure"] == "bcc":
        return lat_["a"] * math.sqrt(3.0) / 2.0
    return lat_["nn_distance"]


@cache
def _amorphous(n_target, nn):
    radius = (n_target / (0.96 * math.sqrt(2.0) / nn**3 * 4.0 / 3.0 * math.pi)) ** (1.0 / 3.0)
    return lat.amorphous_sphere(radius, nn, seed=7)


def particle(structure, element, n_target, noise, seed):
    """A synthetic particle of about ``n_target`` atoms with Gaussian ``noise`` (A)."""
    nn = nn_of(structure, element)
    if structure == "fcc":
        a = nn * math.sqrt(2.0)
        r = (3.0 * n_target * a**3 / (16.0 * math.pi)) ** (1.0 / 3.0)
        return lat.fcc_sphere(r, a, noise=noise, seed=seed)
    if structure == "hcp":
        a = nn * math.sqrt(2.0)  # same density as fcc
        r = (3.0 * n_target * a**3 / (16.0 * math.pi)) ** (1.0 / 3.0)
        return lat.hcp_sphere(r, nn, noise=noise, seed=seed)
    if structure == "bcc":
        a = 2.0 * nn / math.sqrt(3.0)
        r = (3.0 * n_target * a**3 / (8.0 * math.pi)) ** (1.0 / 3.0)
        return lat.bcc_sphere(r, a, noise=noise, seed=seed)
    if structure == "ico":
        k = min(range(1, 30), key=lambda k: abs((10 * k**3 + 15 * k**2 + 11 * k + 3) / 3
                                                   - n_target))
        return lat.icosahedron(k, nn, noise=noise, seed=seed)
    if structure == "deca":
        k = min(range(1, 40), key=lambda k: abs(_deca_count(k) - n_target))
        return lat.decahedron(k, nn, noise=noise, seed=seed)
    if structure == "amorphous":
        x = _amorphous(n_target, nn)
        if noise == 0:
            return x
        return x + np.random.default_rng(seed).normal(0.0, noise, x.shape)
    raise ValueError(structure)


@cache
def _deca_count(k):
    return len(lat.decahedron(k))


def measure(structure, element, n_target, noise, seed):
    """(true sigma, noise_estimate dict, nn, n_atoms) of one particle through the workflow."""
    x = particle(structure, element, n_target, noise, seed)
    d = bc.workflow_descriptors(x, element=element)
    return noise, d["noise"], nn_of(structure, element), len(x)


# ----------------------------------------------------------------------------------------------
# noise calibration
# ----------------------------------------------------------------------------------------------
def noise_row(structure, element, n_target, k):
    """One calibration particle: ``[structure, element, n_target, noise, s, s_hat, peak/d_nn]``
    (``noise`` in A, the rest relative to the true d_nn; seed = ``k``, the level's index)."""
    noise = NOISE_LEVELS[k]
    x = particle(structure, element, n_target, noise, seed=k)
    d = bc.workflow_descriptors(x, element=element, noise=False)
    sp = nz.bond_spread(x, d["bonds"], d["distances"])
    nn = nn_of(structure, element)
    s_hat = sp["width"] / (math.sqrt(2.0) * sp["peak"])
    return [structure, element, n_target, noise, noise / nn, s_hat, sp["peak"] / nn]


def fit(rows):
    """Least-squares ``a`` (s / s_hat - 1 = a s_hat^2) and ``b`` (peak / d_nn - 1 = b s^2),
    both through the origin, and the relative residuals of sigma."""
    s, s_hat, mu = (np.array([r[k] for r in rows], float) for k in (4, 5, 6))
    a = float(np.sum((s / s_hat - 1.0) * s_hat**2) / np.sum(s_hat**4))
    b = float(np.sum((mu - 1.0) * s**2) / np.sum(s**4))
    resid = s_hat * (1.0 + a * s_hat**2) / s - 1.0
    return a, b, resid


def fit_noise():
    """The calibration of nanotraj.noise: the rows of every calibration particle and the fit."""
    rows = [noise_row(structure, element, n_target, k)
            for structure in NOISE_STRUCTURES for element in NOISE_ELEMENTS
            for n_target in NOISE_SIZES for k in range(len(NOISE_LEVELS))]
    a, b, resid = fit(rows)
    return {
        "a": a,
        "b": b,
        "model": "s = s_hat (1 + a s_hat^2); d_nn = peak / (1 + b s^2); sigma = s d_nn",
        "particles": f"{', '.join(NOISE_STRUCTURES)} spheres of ~{NOISE_SIZES} atoms with the "
                     f"lattice constants of {', '.join(NOISE_ELEMENTS)}, noise "
                     f"{NOISE_LEVELS[0]}..{NOISE_LEVELS[-1]} A (seed = level index), the "
                     "workflow's g(r) cutoff and bonds",
        "n_particles": len(rows),
        "relative_residual_rms": float(np.sqrt(np.mean(resid**2))),
        "relative_residual_max": float(np.max(np.abs(resid))),
        "script": "scripts/calibrate_boo_classes.py",
        "columns": ["structure", "element", "n_target", "noise_A", "s", "s_hat", "peak_rel"],
        "rows": rows,
    }


def noise_report():
    """Markdown table: mean estimate (spread) per structure, element, size and noise level."""
    head = "| structure | element | N | " + " | ".join(f"{s:.2f} A" for s in REPORT_LEVELS) + " |"
    lines = [head, "|" + "---|" * (3 + len(REPORT_LEVELS))]
    rel_bias = {}
    for structure, element, sizes in REPORT_CASES:
        for n_target in sizes:
            cells = []
            n_atoms = None
            for noise in REPORT_LEVELS:
                est = []
                for seed in range(REPORT_SEEDS):
                    true, res, _, n_atoms = measure(structure, element, n_target, noise, seed)
                    est.append(res["sigma"])
                est = np.array(est)
                cells.append(f"{est.mean():.3f} ({est.std():.3f})")
                if noise > 0:
                    rel_bias.setdefault((structure, noise), []).append(est.mean() / noise - 1)
            lines.append(f"| {structure} | {element} | {n_atoms} | " + " | ".join(cells) + " |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines.append("")
    lines.append("Mean estimate of sigma (A) over seeds 0-2 and, in parentheses, its standard "
                 "deviation; columns: the true noise.")
    lines.append("")
    lines.append("| structure | " + " | ".join(f"bias {s:.2f} A" for s in REPORT_LEVELS[1:]) + " |")
    lines.append("|" + "---|" * len(REPORT_LEVELS))
    for structure in dict.fromkeys(c[0] for c in REPORT_CASES):
        cells = [f"{100 * np.mean(rel_bias[(structure, s)]):+.1f} %" for s in REPORT_LEVELS[1:]]
        lines.append(f"| {structure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# BOO reference table
# ----------------------------------------------------------------------------------------------
def write_table(path, s_grid=bc.S_GRID, kappa_grid=bc.KAPPA_GRID):
    t0 = time.perf_counter()

    def progress(name, s):
        print(f"  {name} s={s:.3f}  {time.perf_counter() - t0:6.1f} s", file=sys.stderr,
              flush=True)

    table = bc.reference_table(s_grid, kappa_grid, progress=progress)
    table["provenance"] = np.array(
        "scripts/calibrate_boo_classes.py: nanotraj.boo_classes.reference_table(); "
        f"{bc.REFERENCE_SEEDS} noise seeds per crystal and level (radius 8 d_nn spheres, atoms "
        f">= 3 d_nn below the hull), {bc.ICO_PARTICLES} Mackay icosahedra (147 atoms) per level; "
        f"numpy {np.__version__}")
    tmp = Path(str(path) + ".tmp.npz")
    np.savez_compressed(tmp, **table)
    tmp.replace(path)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", action="store_true", help="fit the noise constants only")
    parser.add_argument("--table", action="store_true", help="the BOO reference table only")
    parser.add_argument("--noise-report", action="store_true",
                        help="print the accuracy of the noise estimate (writes nothing)")
    parser.add_argument("--out", type=Path, default=DATA, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.noise_report:
        print(noise_report())
        return 0
    both = not (args.noise or args.table)
    if args.noise or both:
        cal = fit_noise()
        path = args.out / "noise_calibration.json"
        rows = cal.pop("rows")
        text = json.dumps(cal, indent=1)[:-2]  # one calibration particle per line
        text += ',\n "rows": [\n' + ",\n".join(json.dumps(r) for r in rows) + "\n ]\n}\n"
        path.write_text(text)
        print(f"wrote {path}: a = {cal['a']:.4f}, b = {cal['b']:.4f}, relative residual rms "
              f"{cal['relative_residual_rms']:.4f}")
    if args.table or both:
        path = args.out / "boo_reference.npz"
        table = write_table(path)
        per_cell = dict(zip(table["environments"].tolist(), table["n"].tolist(), strict=True))
        print(f"wrote {path} ({path.stat().st_size} bytes; {table['mean'].shape[:3]} cells, "
              f"reference atoms per cell {per_cell})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
