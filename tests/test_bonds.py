"""nanotraj.bonds: kd-tree bonds equal brute force; counts."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from nanotraj.bonds import bond_counts, find_bonds


def fcc_block(n_cells, a=3.912):
    g = np.arange(n_cells)
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 1, 3)
    return ((cells + base) * a).reshape(-1, 3)


@pytest.mark.parametrize("seed", range(4))
def test_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0, 15, (300, 3))
    cutoff = 3.41
    bonds, dist = find_bonds(xyz, cutoff)
    d = squareform(pdist(xyz))
    i, j = np.nonzero(np.triu(d <= cutoff, k=1))  # row-major: already lexicographic
    np.testing.assert_array_equal(bonds, np.column_stack([i, j]))
    np.testing.assert_allclose(dist, d[i, j], rtol=1e-14)
    assert bonds.dtype == np.int64 and dist.dtype == np.float64
    assert (bonds[:, 0] < bonds[:, 1]).all()
    cn = bond_counts(len(xyz), bonds)
    assert cn.sum() == 2 * len(bonds)
    np.testing.assert_array_equal(cn, (d <= cutoff).sum(axis=1) - 1)


def test_perfect_fcc_interior_has_12():
    xyz = fcc_block(5)
    bonds, dist = find_bonds(xyz, 3.41)
    cn = bond_counts(len(xyz), bonds)
    centre = xyz.mean(axis=0)
    interior = np.linalg.norm(xyz - centre, axis=1) < 4
    assert interior.sum() > 5
    assert (cn[interior] == 12).all()
    np.testing.assert_allclose(dist, 3.912 / np.sqrt(2))


def test_no_bonds_and_isolated_atoms():
    xyz = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0.0]])
    bonds, dist = find_bonds(xyz, 3.0)
    assert bonds.shape == (0, 2) and dist.shape == (0,)
    np.testing.assert_array_equal(bond_counts(3, bonds), [0, 0, 0])
    bonds, _ = find_bonds(np.zeros((1, 3)), 3.0)
    assert bonds.shape == (0, 2)


def test_bad_input():
    with pytest.raises(ValueError):
        find_bonds(np.zeros((4, 2)), 3.0)
    with pytest.raises(ValueError):
        find_bonds(np.zeros((4, 3)), 0.0)
    with pytest.raises(ValueError):
        bond_counts(2, [[0, 5]])


def test_threaded_pair_search_equals_serial():
    """Slabs searched in threads (plus the pairs across each cut) give exactly the serial bonds,
    including pairs at exactly the cutoff (a lattice without noise has many)."""
    from nanotraj.lattices import fcc_sphere

    for noise in (0.05, 0.0):
        x = fcc_sphere(64.0, 3.912, noise=noise, seed=5)  # ~70,000 atoms (threads from 50,000)
        assert len(x) > 50_000
        cutoff = 3.912 / 2**0.5 if noise == 0 else 3.4  # noise 0: every nearest pair at d == cutoff
        one = find_bonds(x, cutoff)
        for workers in (2, 3):
            many = find_bonds(x, cutoff, workers=workers)
            np.testing.assert_array_equal(many[0], one[0])
            np.testing.assert_array_equal(many[1], one[1])
        assert len(one[0]) > 2 * len(x)  # noise 0: round-off puts some pairs just beyond


@pytest.mark.parametrize("chunk", [1, 5, 1 << 18])
def test_bond_sums_and_masked_counts_against_loops(monkeypatch, chunk):
    """Chunked per-atom reductions equal plain loops over the bonds, for bonds in any order and
    atoms without bonds (including the first and the last atom)."""
    from nanotraj import bonds as bonds_module
    from nanotraj.bonds import bond_counts_where, bond_sums

    rng = np.random.default_rng(3)
    n = 40
    b = rng.integers(1, n - 1, size=(120, 2))
    b = b[b[:, 0] != b[:, 1]]
    b[::3] = b[::3, ::-1]
    v, w = rng.normal(size=(2, len(b)))
    mask = rng.random(len(b)) < 0.4
    monkeypatch.setattr(bonds_module, "_SUM_CHUNK", chunk)
    sv, sw = bond_sums(n, b, v, w)
    count = bond_counts_where(n, b, mask)
    ev, ew, ec = np.zeros(n), np.zeros(n), np.zeros(n, int)
    for (i, j), a, c, m in zip(b, v, w, mask, strict=True):
        ev[[i, j]] += a
        ew[[i, j]] += c
        ec[[i, j]] += m
    np.testing.assert_allclose(sv, ev, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sw, ew, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(count, ec)
    assert sv[0] == sv[-1] == 0.0 and count[0] == count[-1] == 0
    assert [a.tolist() for a in bond_sums(n, np.zeros((0, 2), int), np.zeros(0))] == [[0.0] * n]
    assert bond_counts_where(n, np.zeros((0, 2), int), np.zeros(0, bool)).tolist() == [0] * n
