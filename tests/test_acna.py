"""Tests of nanotraj.acna: adaptive common neighbour analysis.

References used here (OVITO itself: tests/oracle/test_ovito_acna.py):

* a brute-force implementation written from the paper's definition (Stukowski, Modelling
  Simul. Mater. Sci. Eng. 20, 045021 (2012)) with dense distance matrices and explicit graph
  searches, sharing no code with the module;
* perfect lattices, where the answer follows from geometry: an atom of a perfect fcc or hcp
  particle is fcc / hcp exactly when its 12-atom first shell is complete, a bcc atom when its
  8 + 6 first and second shells are; on perfect clusters a-CNA equals the conventional CNA
  with a cutoff between the shells (:func:`nanotraj.cna.cna`);
* invariances: scaling by powers of two (the local cutoff scales with the lattice: exact in
  floating point), rotation, translation, permutation, threads.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanotraj import acna
from nanotraj import cna as st
from nanotraj import lattices as lat
from nanotraj.bonds import find_bonds

NN = lat.PT_NN
A_BCC = 2.0 * NN / math.sqrt(3.0)


# ----------------------------------------------------------------------------------------------
# an independent brute-force a-CNA
# ----------------------------------------------------------------------------------------------
def _chain(bonds):
    """Bonds in the largest connected cluster of ``bonds`` (pairs), by explicit search."""
    left = [tuple(b) for b in bonds]
    best = 0
    while left:
        cluster = [left.pop()]
        atoms = set(cluster[0])
        grown = True
        while grown:
            grown = False
            for b in list(left):
                if b[0] in atoms or b[1] in atoms:
                    left.remove(b)
                    cluster.append(b)
                    atoms.update(b)
                    grown = True
        best = max(best, len(cluster))
    return best


def _signatures(vec, nn, cutoff):
    bonded = np.linalg.norm(vec[:nn, None] - vec[None, :nn], axis=-1) <= cutoff
    np.fill_diagonal(bonded, False)
    sigs = []
    for j in range(nn):
        common = np.flatnonzero(bonded[j])
        bonds = [(a, b) for a in common for b in common if a < b and bonded[a, b]]
        sigs.append((len(common), len(bonds), _chain(bonds)))
    return sigs


def brute_acna(x):
    """a-CNA from the definition: dense distances, neighbours ordered by (distance, index)."""
    n = len(x)
    out = np.zeros(n, np.int8)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    f12 = float(np.float32(1.0) + np.sqrt(np.float32(2.0))) * 0.5
    f14 = float(np.float32(1.207))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        others.sort(key=lambda j: (d[i, j] ** 2, j))
        if len(others) < 12:
            continue
        nb12 = others[:12]
        vec = x[nb12] - x[i]
        cut = sum(math.sqrt(float(v @ v)) for v in vec) / 12.0 * f12
        sigs = _signatures(vec, 12, cut)
        if all(s == (4, 2, 1) for s in sigs):
            out[i] = st.FCC
            continue
        if sorted(sigs) == [(4, 2, 1)] * 6 + [(4, 2, 2)] * 6:
            out[i] = st.HCP
            continue
        if all(s == (5, 5, 5) for s in sigs):
            out[i] = st.ICO
            continue
        if len(others) < 14:
            continue
        nb14 = others[:14]
        vec = x[nb14] - x[i]
        r = [math.sqrt(float(v @ v)) for v in vec]
        cut = (sum(math.sqrt(q * q / 0.75) for q in r[:8]) + sum(r[8:])) / 14.0 * f14
        sigs = _signatures(vec, 14, cut)
        if sorted(sigs) == [(4, 4, 4)] * 6 + [(6, 6, 6)] * 8:
            out[i] = st.BCC
    return out


# ----------------------------------------------------------------------------------------------
# fixtures: particles generated once per module
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def perfect():
    return {
        "fcc": lat.fcc_sphere(12.0),
        "hcp": lat.hcp_sphere(12.0),
        "bcc": lat.bcc_sphere(12.0),
        "ico": lat.icosahedron(4),
        "deca": lat.decahedron(6),
        "to": lat.truncated_octahedron(4),
    }


@pytest.fixture(scope="module")
def noisy():
    out = {}
    for noise in (0.05, 0.15, 0.25):
        out[f"fcc {noise}"] = lat.fcc_sphere(10.0, noise=noise, seed=3)
        out[f"hcp {noise}"] = lat.hcp_sphere(10.0, noise=noise, seed=4)
        out[f"bcc {noise}"] = lat.bcc_sphere(10.0, noise=noise, seed=5)
        out[f"ico {noise}"] = lat.icosahedron(3, noise=noise, seed=6)
    out["amorphous"] = lat.amorphous_sphere(9.0, steps=120, seed=2)
    out["gas"] = np.random.default_rng(7).uniform(0.0, 18.0, (400, 3))
    return out


# ----------------------------------------------------------------------------------------------
# against references
# ----------------------------------------------------------------------------------------------
def test_equals_brute_force(perfect, noisy):
    cases = dict(noisy)
    cases["to"] = perfect["to"]
    cases["ico"] = perfect["ico"]
    for name, x in cases.items():
        got = acna.adaptive_cna(x)
        ref = brute_acna(x)
        bad = np.flatnonzero(got != ref)
        assert len(bad) == 0, f"{name}: atoms {bad[:10]}: {got[bad[:10]]} vs {ref[bad[:10]]}"


def test_noisy_cases_contain_every_class(noisy):
    """The comparison above is only meaningful if the cases exercise every class."""
    codes = np.concatenate([acna.adaptive_cna(x) for x in noisy.values()])
    assert set(np.unique(codes)) == {st.OTHER, st.FCC, st.HCP, st.BCC, st.ICO}


@pytest.mark.parametrize(("name", "shell", "code"), [
    ("fcc", (1.2 * NN, 12), st.FCC),
    ("hcp", (1.2 * NN, 12), st.HCP),
    ("bcc", (0.5 * (1.0 + math.sqrt(2.0)) * A_BCC, 14), st.BCC),
])
def test_perfect_lattice_complete_shells(perfect, name, shell, code):
    """An atom of a perfect crystal is classified exactly when its shell(s) are complete."""
    from scipy.spatial import cKDTree

    x = perfect[name]
    cutoff, full = shell
    cn = cKDTree(x).query_ball_point(x, cutoff, return_length=True) - 1
    got = acna.adaptive_cna(x)
    expect = np.where(cn == full, code, st.OTHER)
    np.testing.assert_array_equal(got, expect)
    assert (got == code).sum() > 0.35 * len(x)


@pytest.mark.parametrize(("name", "cutoff"), [
    ("fcc", 1.2 * NN), ("hcp", 1.2 * NN), ("to", 1.2 * NN), ("ico", 1.2 * NN),
    ("deca", 1.2 * NN), ("bcc", 0.5 * (1.0 + math.sqrt(2.0)) * A_BCC),
])
def test_perfect_clusters_equal_conventional_cna(perfect, name, cutoff):
    x = perfect[name]
    bonds, _ = find_bonds(x, cutoff)
    _, conventional = st.cna(len(x), bonds)
    np.testing.assert_array_equal(acna.adaptive_cna(x), conventional)


def test_icosahedron_centre_is_ico(perfect):
    got = acna.adaptive_cna(perfect["ico"])
    assert got[0] == st.ICO  # the centre atom comes first
    assert (got == st.ICO).sum() == 1


def test_strained_and_noisy_fcc_stays_fcc():
    """The point of the adaptive cutoff: a 15 % larger lattice changes nothing (the cutoff
    scales with the atom's own neighbours), where a fixed cutoff tuned to Pt loses the bulk."""
    x = lat.fcc_sphere(14.0, noise=0.1, seed=11)
    ref = acna.adaptive_cna(x)
    got = acna.adaptive_cna(x * 1.15)
    assert (got == ref).mean() > 0.995
    assert (got == st.FCC).sum() > 0.45 * len(x)
    bonds, _ = find_bonds(x * 1.15, 1.2 * NN)  # fixed cutoff for unstrained Pt
    _, fixed = st.cna(len(x), bonds)
    assert (fixed == st.FCC).sum() < 0.02 * len(x)


# ----------------------------------------------------------------------------------------------
# invariances
# ----------------------------------------------------------------------------------------------
def test_scaling_by_powers_of_two_is_exact(noisy):
    for name, x in noisy.items():
        ref = acna.adaptive_cna(x)
        for s in (0.5, 2.0, 8.0):
            np.testing.assert_array_equal(acna.adaptive_cna(x * s), ref, err_msg=name)


def test_rotation_translation_permutation(noisy):
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    for name, x in noisy.items():
        ref = acna.adaptive_cna(x)
        np.testing.assert_array_equal(acna.adaptive_cna(x @ q.T), ref, err_msg=name)
        np.testing.assert_array_equal(acna.adaptive_cna(x + [1e3, -2e3, 5e2]), ref, err_msg=name)
        perm = rng.permutation(len(x))
        np.testing.assert_array_equal(acna.adaptive_cna(x[perm]), ref[perm], err_msg=name)


def test_threads_and_ranges_do_not_matter(monkeypatch):
    x = lat.fcc_sphere(30.0, noise=0.12, seed=9)
    monkeypatch.setattr(acna, "_CHUNK", 700)  # many ranges of atoms
    one = acna.adaptive_cna(x, workers=1)
    np.testing.assert_array_equal(acna.adaptive_cna(x, workers=2), one)
    np.testing.assert_array_equal(acna.adaptive_cna(x, workers=3), one)


def test_kd_tree_path_equals_cell_list_path():
    """Two particles 1e7 A apart need too many cells: every atom then goes through the
    kd-tree; each particle's result must equal its result alone (cell list)."""
    a = lat.fcc_sphere(9.0, noise=0.1, seed=1)
    b = lat.bcc_sphere(9.0, noise=0.1, seed=2)
    assert acna.grid_for(np.concatenate([a, b + 1e7]), 1.3 * NN, 1 << 20) is None
    got = acna.adaptive_cna(np.concatenate([a, b + 1e7]))
    np.testing.assert_array_equal(got, np.concatenate([acna.adaptive_cna(a),
                                                       acna.adaptive_cna(b)]))


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 5, 12])
def test_too_few_atoms_are_other(n):
    x = lat.fcc_sphere(10.0)[:n]
    got = acna.adaptive_cna(x)
    assert got.dtype == np.int8 and got.shape == (n,)
    assert (got == st.OTHER).all()


def test_duplicates_coplanar_collinear_are_defined():
    x = lat.fcc_sphere(9.0)
    centre = int(np.argmin(np.linalg.norm(x, axis=1)))
    ref = acna.adaptive_cna(x)
    dup = np.concatenate([x, x[centre : centre + 1]])
    got = acna.adaptive_cna(dup)
    assert got[centre] == st.OTHER and got[-1] == st.OTHER  # a neighbour at distance 0
    assert (got[:-1] == ref)[np.linalg.norm(x - x[centre], axis=1) > 1.5 * NN].all()
    layer = x[np.abs(x[:, 2]) < 0.1]  # one (001) plane: 8 neighbours in plane, never 12
    assert (acna.adaptive_cna(layer) == st.OTHER).all()
    line = np.outer(np.arange(30.0), [NN, 0.0, 0.0])
    assert (acna.adaptive_cna(line) == st.OTHER).all()


@pytest.mark.parametrize("bad", [np.full((20, 3), np.nan), np.zeros((20, 2)), np.zeros(6)])
def test_bad_coordinates_raise(bad):
    x = lat.fcc_sphere(9.0)[:20].copy()
    if bad.shape == (20, 3):
        x[3, 1] = np.nan
        bad = x
    with pytest.raises(ValueError):
        acna.adaptive_cna(bad)


def test_shared_frames_run(shared_series):
    from nanotraj.io import read_frame

    for path in sorted(shared_series.glob("*.pdb")):
        x = read_frame(path).coords
        np.testing.assert_array_equal(acna.adaptive_cna(x), brute_acna(x), err_msg=path.name)
