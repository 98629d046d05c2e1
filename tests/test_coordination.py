"""nanotraj.coordination against brute force and the pyboo reference columns."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from nanotraj.bonds import bond_counts, find_bonds
from nanotraj.coordination import cn_lattice, mean_bond_distance
from nanotraj.geometry import distance_to_centre
from nanotraj.io import read_frame

SHARED = Path(__file__).resolve().parents[2] / "shared"


def reference(name):
    pdb = SHARED / "data" / "single-pt-series" / f"{name}.pdb"
    csv = SHARED / "reference" / "pyboo" / f"{name}.atoms.csv"
    if not (pdb.exists() and csv.exists()):
        pytest.skip(f"shared data not available at {SHARED}")
    return read_frame(pdb).coords, np.genfromtxt(csv, delimiter=",", names=True)


@pytest.mark.parametrize("name", ["stage1_docked_ATMS", "COM_trunc-octa-3_2.7nm"])
def test_matches_pyboo_reference(name):
    xyz, ref = reference(name)
    cn = cn_lattice(xyz, 3.912 / np.sqrt(2))
    np.testing.assert_array_equal(cn, ref["CN_numnn"])
    bonds, dist = find_bonds(xyz, 3.41)
    np.testing.assert_array_equal(bond_counts(len(xyz), bonds), ref["Nngb"])
    mbd = mean_bond_distance(len(xyz), bonds, dist)
    np.testing.assert_allclose(mbd, ref["dist_to_NNs"], rtol=0, atol=1e-10, equal_nan=True)
    np.testing.assert_allclose(distance_to_centre(xyz), ref["d_center"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_cn_lattice_brute_force(seed):
    xyz = np.random.default_rng(seed).uniform(0, 12, (250, 3))
    d = squareform(pdist(xyz))
    expected = (d < 1.2 * 2.7662).sum(axis=1) - 1
    np.testing.assert_array_equal(cn_lattice(xyz, 2.7662), expected)
    assert cn_lattice(xyz, 2.7662).dtype == np.int64


def test_cn_lattice_strict_inequality():
    xyz = np.array([[0, 0, 0], [3.0, 0, 0], [0, 3.3, 0.0]])
    np.testing.assert_array_equal(cn_lattice(xyz, 3.0, factor=1.0), [0, 0, 0])  # d == cutoff
    np.testing.assert_array_equal(cn_lattice(xyz, 3.0, factor=1.0001), [1, 1, 0])
    np.testing.assert_array_equal(cn_lattice(xyz[:1], 2.5), [0])


def test_mean_bond_distance_nan_without_bonds():
    bonds = np.array([[0, 1], [0, 2]])
    out = mean_bond_distance(4, bonds, np.array([2.0, 3.0]))
    np.testing.assert_array_equal(out[:3], [2.5, 2.0, 3.0])
    assert np.isnan(out[3])
    assert np.isnan(mean_bond_distance(2, np.zeros((0, 2), int), np.zeros(0))).all()
    with pytest.raises(ValueError):
        mean_bond_distance(2, bonds, np.array([1.0]))


@pytest.mark.parametrize("bond_cut", [3.0, 3.4, 4.5])
def test_cn_lattice_from_bonds_equals_kdtree(bond_cut):
    """Reusing the bond list gives the same counts; a too-short bond cutoff falls back."""
    from nanotraj.lattices import fcc_sphere

    xyz = fcc_sphere(12.0, 3.912, noise=0.08, seed=3)
    bonds, dist = find_bonds(xyz, bond_cut)
    expected = cn_lattice(xyz, 2.7662)
    for kw in ({"bond_cutoff": bond_cut}, {}):
        got = cn_lattice(xyz, 2.7662, bonds=bonds, distances=dist, **kw)
        np.testing.assert_array_equal(got, expected)
