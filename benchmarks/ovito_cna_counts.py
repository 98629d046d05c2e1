"""Conventional CNA of nanotraj against OVITO's CommonNeighborAnalysisModifier (fixed cutoff).

For every shared real frame (``../shared/data/single-pt-series/*.pdb``: the four stages and the
ideal truncated octahedron ``COM_trunc-octa-3_2.7nm.pdb``) this runs

* OVITO 3.17.2, ``CommonNeighborAnalysisModifier(mode=FixedCutoff, cutoff=3.41)``, and
* :func:`nanotraj.cna.cna` on ``nanotraj.bonds``-style bonds (all pairs with
  ``|r_i - r_j| <= 3.41`` A, ``scipy.spatial.cKDTree.query_pairs``),

on the same coordinates (columns 7-9 of every ATOM/HETATM line, CRLF tolerated; OVITO gets a
DataCollection built here, in a non-periodic cell enclosing the atoms, so that its PDB reader is
not involved), compares the per-atom structure types atom for atom, prints the table and writes
``resources/ovito_cna_counts.tsv`` (frame, n_atoms, OVITO's count per class, ovito version,
cutoff).  ``tests/test_structure.py`` compares against that file when ``ovito`` is not importable.

OVITO needs its own environment (it pulls PySide6; never install it into ``.venv``)::

    python3 -m venv .venv-ovito
    .venv-ovito/bin/pip install ovito==3.17.2 numpy gemmi scipy
    .venv-ovito/bin/python benchmarks/ovito_cna_counts.py            # writes the TSV
    .venv-ovito/bin/python benchmarks/ovito_cna_counts.py --no-write  # compare only
    .venv-ovito/bin/python benchmarks/ovito_cna_counts.py --synthetic # + generated clusters

nanotraj itself is imported from ``src/`` (it need not be installed in that environment).
Exit status 1 when any atom disagrees.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SERIES = REPO.parent / "shared" / "data" / "single-pt-series"
OUT = REPO / "resources" / "ovito_cna_counts.tsv"
CUTOFF = 3.41
CLASSES = ("other", "fcc", "hcp", "bcc", "ico")  # OVITO's CNA Type numbering 0..4

sys.path.insert(0, str(REPO / "src"))
from _common import ovito_collection  # noqa: E402

from nanotraj.cna import cna  # noqa: E402


def read_coords(path):
    """Columns 7-9 (1-based 31-54) of every ATOM/HETATM record, in Angstrom."""
    rows = []
    with open(path, encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith(("ATOM", "HETATM")):
                rows.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    return np.array(rows, dtype=np.float64)


def bonds_within(coords, cutoff):
    from scipy.spatial import cKDTree

    pairs = cKDTree(coords).query_pairs(cutoff, output_type="ndarray").astype(np.int64)
    pairs.sort(axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def ovito_cna(coords, cutoff):
    """OVITO's per-atom CNA structure types (fixed cutoff) and its version string."""
    import ovito
    from ovito.modifiers import CommonNeighborAnalysisModifier

    data = ovito_collection(coords)
    data.apply(
        CommonNeighborAnalysisModifier(
            mode=CommonNeighborAnalysisModifier.Mode.FixedCutoff, cutoff=cutoff
        )
    )
    types = np.asarray(data.particles["Structure Type"][...], dtype=np.int64)
    return types, ovito.version_string


def compare_synthetic():
    """OVITO vs nanotraj on generated clusters (nanotraj.lattices), atom for atom."""
    from nanotraj import lattices as lat

    nn = lat.PT_NN
    a_bcc = 2 * nn / np.sqrt(3)
    rng = np.random.default_rng(1)
    cases = []
    for noise in (0.0, 0.05, 0.15):
        cases += [
            (f"fcc_sphere r=15 noise={noise}", lat.fcc_sphere(15, noise=noise), 1.2 * nn),
            (f"hcp_sphere r=15 noise={noise}", lat.hcp_sphere(15, noise=noise), 1.2 * nn),
            (f"bcc_sphere r=15 noise={noise}", lat.bcc_sphere(15, noise=noise), 1.21 * a_bcc),
            (f"icosahedron(5) noise={noise}", lat.icosahedron(5, noise=noise), 1.2 * nn),
            (f"decahedron(8) noise={noise}", lat.decahedron(8, noise=noise), 1.2 * nn),
        ]
    cases.append(("random gas 2000 atoms", rng.uniform(0, 30, (2000, 3)), 3.41))
    ok = True
    for name, x, cutoff in cases:
        ref, _ = ovito_cna(x, cutoff)
        _, mine = cna(len(x), bonds_within(x, cutoff))
        agree = int(np.count_nonzero(ref == mine))
        ok &= agree == len(x)
        counts = "/".join(map(str, np.bincount(ref, minlength=5)[:5]))
        print(f"{name:32s} {len(x):5d}  {counts:26s} {agree:5d}/{len(x):<5d} cutoff {cutoff:.3f}")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=Path, default=SERIES)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cutoff", type=float, default=CUTOFF)
    parser.add_argument("--no-write", action="store_true", help="compare only")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="also compare on perfect and noisy fcc/hcp/bcc/ico/decahedral clusters and on a "
        "dense random cluster (printed only, not written)",
    )
    args = parser.parse_args(argv)

    files = sorted(args.series.glob("*.pdb"))
    if not files:
        sys.exit(f"no PDB files in {args.series}")
    header = ["frame", "n_atoms", *(f"n_{c}" for c in CLASSES), "ovito_version", "cutoff"]
    rows = []
    all_agree = True
    head = "OVITO other/fcc/hcp/bcc/ico   nanotraj same   agree  t_ovito t_nanotraj"
    print(f"{'frame':32s} {'N':>5s}  {head}")
    for path in files:
        x = read_coords(path)
        t0 = time.perf_counter()
        ref, version = ovito_cna(x, args.cutoff)
        t1 = time.perf_counter()
        _, mine = cna(len(x), bonds_within(x, args.cutoff))
        t2 = time.perf_counter()
        agree = int(np.count_nonzero(ref == mine))
        all_agree &= agree == len(x)
        c_ref = np.bincount(ref, minlength=5)[:5]
        c_mine = np.bincount(mine, minlength=5)[:5]
        print(
            f"{path.name:32s} {len(x):5d}  {'/'.join(map(str, c_ref)):26s} "
            f"{'/'.join(map(str, c_mine)):15s} {agree:4d}/{len(x):<4d} "
            f"{t1 - t0:7.3f} {t2 - t1:7.3f}"
        )
        if agree != len(x):
            bad = np.flatnonzero(ref != mine)
            print(f"    disagreeing atoms (0-based): {bad[:20].tolist()}")
        rows.append([path.name, len(x), *c_ref.tolist(), version, f"{args.cutoff:g}"])
    if args.synthetic:
        all_agree &= compare_synthetic()
    print("agreement: all atoms identical" if all_agree else "agreement: DIFFERENCES (see above)")
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = "\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
        print(f"wrote {args.out}")
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
