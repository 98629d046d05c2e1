"""nanotraj.acna.adaptive_cna against OVITO 3.17.2's CommonNeighborAnalysisModifier
(mode=AdaptiveCutoff), atom for atom.

Runs only where the ``ovito`` Python module is importable (CI: a separate venv with the
ovito wheel, ``pytest tests/oracle``).  OVITO gets a DataCollection built here (positions and
a non-periodic cell 10 A larger than the atoms on every side), so its file readers are not
involved.  Cases: perfect and noisy (0.05 - 0.3 A) fcc, hcp, bcc spheres, Mackay icosahedra,
Ino decahedra and truncated octahedra, a strained fcc particle next to a bcc one, an amorphous
particle, a random gas and the shared Pt frames.
"""

from __future__ import annotations

import numpy as np
import pytest

ovito = pytest.importorskip("ovito")

from nanotraj import lattices as lat  # noqa: E402
from nanotraj.acna import adaptive_cna  # noqa: E402

from .ovito_data import collection  # noqa: E402


def ovito_acna(x):
    from ovito.modifiers import CommonNeighborAnalysisModifier as CNA

    data = collection(x)
    data.apply(CNA(mode=CNA.Mode.AdaptiveCutoff))
    return np.asarray(data.particles["Structure Type"][...], dtype=np.int64)


def _cases():
    out = []
    for noise in (0.0, 0.05, 0.1, 0.2, 0.3):
        out += [
            (f"fcc {noise}", lat.fcc_sphere(14.0, noise=noise, seed=1)),
            (f"hcp {noise}", lat.hcp_sphere(14.0, noise=noise, seed=2)),
            (f"bcc {noise}", lat.bcc_sphere(14.0, noise=noise, seed=3)),
            (f"ico {noise}", lat.icosahedron(5, noise=noise, seed=4)),
            (f"deca {noise}", lat.decahedron(8, noise=noise, seed=5)),
            (f"to {noise}", lat.truncated_octahedron(4, noise=noise, seed=6)),
        ]
    mixed = np.concatenate([lat.fcc_sphere(10.0, noise=0.08, seed=7) * 1.08,
                            lat.bcc_sphere(10.0, noise=0.08, seed=8) + [30.0, 0.0, 0.0]])
    out.append(("strained fcc + bcc", mixed))
    out.append(("amorphous", lat.amorphous_sphere(14.0, steps=150, seed=1)))
    out.append(("gas", np.random.default_rng(3).uniform(0.0, 30.0, (2000, 3))))
    return out


@pytest.mark.parametrize(("name", "x"), _cases(), ids=[c[0] for c in _cases()])
def test_atom_for_atom(name, x):
    ref = ovito_acna(x)
    got = adaptive_cna(x)
    bad = np.flatnonzero(ref != got)
    assert len(bad) == 0, f"{name}: {len(bad)} atoms differ, e.g. {bad[:10]}"


def test_every_class_is_compared():
    codes = np.concatenate([ovito_acna(x) for _, x in _cases()[:12]])
    assert set(np.unique(codes)) == {0, 1, 2, 3, 4}


def test_shared_frames(shared_series):
    from nanotraj.io import read_frame

    for path in sorted(shared_series.glob("*.pdb")):
        x = read_frame(path).coords
        np.testing.assert_array_equal(adaptive_cna(x), ovito_acna(x), err_msg=path.name)
