"""Check nanotraj's native BOO engine against pyboo 1.0.0 (run by CI in a second venv).

pyboo 1.0.0 imports ``scipy.special.sph_harm`` (removed in scipy 1.17), so it needs its own
virtual environment, e.g.::

    python -m venv .venv-pyboo
    .venv-pyboo/bin/pip install numpy==2.4.6 numba 'scipy==1.16.3' gemmi==0.7.5
    .venv-pyboo/bin/pip install --no-build-isolation pyboo==1.0.0
    .venv-pyboo/bin/pip install -e . --no-deps
    .venv-pyboo/bin/python scripts/ci/check_pyboo.py

For every case it compares, column by column (max |difference| over atoms or bonds):

* ``native`` -- ``nanotraj.order.boo(...)`` (the default engine "auto": numpy or compiled)
* ``engine`` -- ``nanotraj.order.boo(..., engine="pyboo")``
* ``direct`` -- the published analysis' own calls: ``boo.bonds2qlm``, ``boo.coarsegrain_qlm``,
  ``boo.ql``, ``boo.wl``, ``boo.crystallinity``, ``boo.x_particles``, normalised
  ``boo.product`` (``shared/seed/analysis-structural-tutorial.md``)

Cases: the four stages of ``shared/data/single-pt-series`` (seed's reader: whitespace columns
7-9, bonds = ``cKDTree.query_pairs(3.41)``) and generated structures (noisy FCC sphere, Mackay
icosahedron, decahedron; cutoff 1.2 x nearest-neighbour distance, l = 2..10).  ``s_l`` and
``C_l`` are compared only where ``q_l > 1e-6`` at both ends of a bond (they are 0/0 where
``q_l`` vanishes, see :func:`conditioning_masks`; the number left out is printed).  Exits 0
when every difference is <= 1e-10 (crystalline flags identical), 1 otherwise, 2 when pyboo is
missing.
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

TOL = 1e-10
REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "single-pt-series"


def read_columns_7_9(path):
    rows = [line.split()[6:9] for line in Path(path).read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=float)


def direct_pyboo(boo, coords, bonds, ls, threshold=0.8):
    """The published analysis' calls to pyboo, generalised to several l."""
    inside = np.full(len(coords), True)
    nngb = np.zeros(len(coords), int)
    np.add.at(nngb, bonds.ravel(), 1)
    out = {}
    for l in ls:
        qlm = boo.bonds2qlm(coords, bonds, l=l)
        big, _ = boo.coarsegrain_qlm(qlm, bonds, inside)
        q = boo.ql(qlm)
        out[f"q{l}"] = q
        out[f"Q{l}"] = boo.ql(big)
        out[f"w{l}"] = boo.wl(qlm)
        out[f"W{l}"] = boo.wl(big)
        out[f"C{l}"] = boo.crystallinity(qlm, bonds)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"s{l}"] = boo.product(qlm[bonds[:, 0]], qlm[bonds[:, 1]]) / (
                q[bonds[:, 0]] * q[bonds[:, 1]]
            )
        if l == 6:
            out["crystalline"] = boo.x_particles(
                qlm, bonds, value_thr=threshold, nb_thr=np.ceil(nngb / 2 + 0.01)
            )
    return out


def conditioning_masks(res, bonds, ls, n_atoms, q_min=1e-6):
    """Where s_l and C_l are well defined.

    ``s_l = s / (q_l(i) q_l(j))`` is 0/0 when ``q_l`` vanishes (e.g. ``q_4`` of a perfect
    icosahedron's centre is 0 up to round-off, ~1e-16): any two implementations then give
    unrelated values (pyboo NaN or noise, nanotraj 0 or noise).  Bonds with ``q_l < q_min`` at
    an end, and atoms with such a bond, are left out of the ``s_l`` / ``C_l`` comparison and
    counted in the table's last column.
    """
    masks = {}
    for l in ls:
        q = res[f"q{l}"]
        good = (q[bonds[:, 0]] > q_min) & (q[bonds[:, 1]] > q_min)
        masks[f"s{l}"] = good
        bad_atoms = np.zeros(n_atoms, bool)
        bad_atoms[bonds[~good].ravel()] = True
        masks[f"C{l}"] = ~bad_atoms
    return masks


def max_diff(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    if a.dtype == bool or b.dtype == bool:
        return float(np.count_nonzero(a.astype(bool) != b.astype(bool)))
    return float(np.max(np.abs(a - b)))


def cases(data_dir):
    from nanotraj.lattices import PT_NN, decahedron, fcc_sphere, icosahedron

    found = sorted(Path(data_dir).glob("stage*_docked_ATMS.pdb")) if data_dir else []
    for path in found:
        yield path.stem, read_columns_7_9(path), 3.41, (4, 6)
    if data_dir and not found:
        print(f"warning: no stage*_docked_ATMS.pdb under {data_dir}", file=sys.stderr)
    cut = 1.2 * PT_NN
    yield "fcc_sphere(15, noise=0.1)", fcc_sphere(15.0, noise=0.1, seed=0), cut, (2, 4, 6, 8, 10)
    yield "icosahedron(4, noise=0.05)", icosahedron(4, noise=0.05, seed=0), cut, (2, 4, 6, 8, 10)
    yield "icosahedron(3)", icosahedron(3), cut, (4, 6)
    yield "decahedron(4, noise=0.05)", decahedron(4, noise=0.05, seed=0), cut, (4, 6, 8, 10)


def main(argv=None):
    parser = argparse.ArgumentParser(description="native BOO engine vs pyboo 1.0.0")
    parser.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help="folder with stage*_docked_ATMS.pdb (default: ../shared/...)",
    )
    args = parser.parse_args(argv)

    from nanotraj.errors import ConfigError
    from nanotraj.order import boo as nanotraj_boo

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import boo
    except Exception as exc:
        print(f"pyboo is not importable ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    print(f"pyboo {boo.__version__} from {boo.__file__}")
    import numba
    import scipy

    print(f"numpy {np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}")

    failures = []
    width = 28
    for name, coords, cutoff, ls in cases(args.data):
        bonds = cKDTree(coords).query_pairs(cutoff, output_type="ndarray").astype(np.int64)
        native = nanotraj_boo(coords, bonds, ls=ls)
        try:
            engine = nanotraj_boo(coords, bonds, ls=ls, engine="pyboo")
        except ConfigError as exc:
            print(f"{name}: engine pyboo failed: {exc}")
            failures.append((name, "engine", str(exc)))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            direct = direct_pyboo(boo, coords, bonds, ls)
        print(
            f"\n{name}: {len(coords)} atoms, {len(bonds)} bonds, cutoff {cutoff:.4f} A, "
            f"ls={ls}, crystalline {int(np.sum(native['crystalline']))}/{len(coords)}"
        )
        print(
            f"  {'column':<{width}} {'native-engine':>14} {'native-direct':>14} "
            f"{'ill-conditioned':>16}"
        )
        masks = conditioning_masks(native, bonds, ls, len(coords))
        for key in native:
            keep = masks.get(key)
            pick = (lambda v, keep=keep: np.asarray(v)[keep]) if keep is not None else np.asarray
            d1 = max_diff(pick(native[key]), pick(engine[key]))
            d2 = max_diff(pick(native[key]), pick(direct[key])) if key in direct else math.nan
            bad = not (d1 <= TOL) or (key in direct and not (d2 <= TOL))
            flag = "  FAIL" if bad else ""
            n_ill = 0 if keep is None else int(np.size(keep) - np.count_nonzero(keep))
            print(f"  {key:<{width}} {d1:>14.3e} {d2:>14.3e} {n_ill:>16d}{flag}")
            if bad:
                failures.append((name, key, f"{d1:.3e} / {d2:.3e}"))
    print()
    if failures:
        print(f"FAILED: {len(failures)} column(s) differ by more than {TOL:g}:")
        for f in failures:
            print("  ", *f)
        return 1
    print(f"OK: every column agrees within {TOL:g} (crystalline flags identical)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
