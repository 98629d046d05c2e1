"""Tests of nanotraj.sites: generalised coordination numbers and surface site classes.

Known answers: on a perfect fcc truncated octahedron with n atoms per edge (any orientation,
also with 0.05 A of noise) exactly 24 vertices, 36 (n - 2) edge atoms, 6 (n - 2)^2 {100} and
8 (3 n^2 - 9 n + 7) {111} terrace atoms; GCN 12 in the bulk, 7.5 in the middle of a {111}
terrace, 6.67 in the middle of a {100} terrace (Calle-Vallejo et al. 2014), 4.25 at the
vertices; the GCN equals a brute-force double loop over the bonds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanotraj import crystal, sites
from nanotraj import lattices as lat
from nanotraj.alphashape import alpha_shape
from nanotraj.bonds import find_bonds
from nanotraj.contract import SITE_CLASSES
from nanotraj.ptm import ptm

NN = lat.PT_NN
CODE = {name: k for k, name in enumerate(SITE_CLASSES)}




def _analyse(x, structure="fcc"):
    r = ptm(x, rmsd_cutoff=0.13)
    s = alpha_shape(x, 1.45 * NN)
    bonds, _ = find_bonds(x, 1.2 * NN)
    res = crystal.analyse(x, bonds, s["surface"], s["facets"], s["normals"], r,
                          structure=structure, a=lat.PT_A, nn_distance=NN)
    return res, bonds, s


def expected_counts(n):
    return {"vertex": 24, "edge": 36 * (n - 2), "terrace100": 6 * (n - 2) ** 2,
            "terrace111": 8 * (3 * n * n - 9 * n + 7), "other": 0}


@pytest.mark.parametrize("n, seed, noise", [(4, 0, 0.0), (5, 1, 0.0), (6, 2, 0.0),
                                            (5, 3, 0.05), (6, 4, 0.1)])
def test_truncated_octahedron_site_counts(n, seed, noise):
    x = lat.truncated_octahedron(n) @ lat.random_rotation(seed).T
    x = x + np.random.default_rng(seed).normal(0.0, noise, x.shape) if noise else x
    res, _, s = _analyse(x)
    counts = np.bincount(res["site"], minlength=len(SITE_CLASSES))
    got = {name: int(counts[CODE[name]]) for name in expected_counts(n)}
    assert got == expected_counts(n)
    assert counts[CODE["bulk"]] == len(x) - s["surface"].sum()
    fr = sites.site_fractions(res["site"], s["surface"])
    n_surf = s["surface"].sum()
    for name, k in expected_counts(n).items():
        if name != "other":
            assert fr[f"fraction_{name}"] == pytest.approx(k / n_surf)


def test_gcn_values_of_the_truncated_octahedron():
    x = lat.truncated_octahedron(6)
    res, bonds, s = _analyse(x)
    gcn, site = res["gcn"], res["site"]
    assert gcn[site == CODE["terrace111"]].max() == pytest.approx(7.5)
    assert gcn[site == CODE["terrace100"]].max() == pytest.approx(6.0 + 2.0 / 3.0)
    np.testing.assert_allclose(gcn[site == CODE["vertex"]], 4.25)
    from scipy.spatial import cKDTree

    depth, _ = cKDTree(x[s["surface"]]).query(x)
    deep = depth > 1.5 * NN  # neither the atom nor its neighbours are at the surface
    assert deep.sum() > 100
    np.testing.assert_allclose(gcn[deep], 12.0)


def test_gcn_brute_force():
    x = lat.amorphous_sphere(9.0)
    bonds, _ = find_bonds(x, 1.25 * NN)
    n = len(x)
    nbrs = [[] for _ in range(n)]
    for i, j in bonds.tolist():
        nbrs[i].append(j)
        nbrs[j].append(i)
    cn = [len(v) for v in nbrs]
    expected = np.array([sum(cn[j] for j in nbrs[i]) / 12.0 for i in range(n)])
    np.testing.assert_allclose(sites.gcn(n, bonds), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sites.gcn(n, bonds, cn_max=14), expected * 12 / 14, atol=1e-12)
    lonely = sites.gcn(3, np.zeros((0, 2), np.int64))
    np.testing.assert_array_equal(lonely, 0.0)
    with pytest.raises(ValueError):
        sites.gcn(2, np.array([[0, 5]]))
    with pytest.raises(ValueError):
        sites.gcn(2, np.array([[0, 1]]), cn_max=0)


def test_site_classes_rules():
    cn = np.array([12, 5, 6, 7, 9, 9, 8, 8, 10, 9])
    surface = np.array([False] + [True] * 9)
    s3 = 1.0 / math.sqrt(3.0)
    m = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [s3, s3, s3], [0, 0, 1],
                  [0, 0, -1], [s3, -s3, s3], [s3, s3, s3], [np.nan] * 3])
    codes = sites.site_classes(cn, surface, m)
    assert [SITE_CLASSES[c] for c in codes] == [
        "bulk", "vertex", "vertex", "edge", "terrace111", "other", "terrace100", "other",
        "other", "other"]
    # a normal 14 deg off <111> is a terrace, 16 deg off is not
    for deg, name in ((14.0, "terrace111"), (16.0, "other")):
        axis = np.array([1.0, -1.0, 0.0]) / math.sqrt(2.0)
        n111 = np.ones(3) / math.sqrt(3.0)
        t = math.radians(deg)
        v = math.cos(t) * n111 + math.sin(t) * axis
        assert SITE_CLASSES[sites.site_classes([9], [True], v[None])[0]] == name
    bcc = sites.site_classes(cn, surface, m, lattice="bcc")
    assert set(bcc[surface].tolist()) == {CODE["other"]}
    with pytest.raises(ValueError):
        sites.site_classes(cn[:3], surface, m)


def test_site_fractions_without_surface():
    fr = sites.site_fractions(np.zeros(4, np.int8), np.zeros(4, bool))
    assert all(math.isnan(v) for v in fr.values())
