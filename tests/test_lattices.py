"""Tests of nanotraj.lattices (generated perfect structures and reference order parameters)."""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from nanotraj import lattices as lat

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRUNC_OCTA = SHARED / "data" / "single-pt-series" / "COM_trunc-octa-3_2.7nm.pdb"


def neighbour_counts(coords, cutoff):
    tree = cKDTree(coords)
    return np.array([len(x) - 1 for x in tree.query_ball_point(coords, cutoff)])


def min_distance(coords):
    d, _ = cKDTree(coords).query(coords, k=2)
    return d[:, 1].min()


def centre_index(coords):
    return int(np.argmin(np.linalg.norm(coords, axis=1)))


def distances_from_centre(coords):
    c = coords[centre_index(coords)]
    d = np.linalg.norm(coords - c, axis=1)
    return np.sort(d[d > 0])


# ------------------------------------------------------------------------------------------
# lattices
# ------------------------------------------------------------------------------------------
def test_fcc_lattice_block():
    x = lat.fcc_lattice(3, a=4.0)
    assert x.shape == (4 * 27, 3)
    assert min_distance(x) == pytest.approx(4.0 / math.sqrt(2))
    assert x.min() == 0.0 and x.max() < 3 * 4.0
    assert len(np.unique(np.round(x, 6), axis=0)) == len(x)


def test_fcc_sphere_shells_and_size():
    r = 12.0
    x = lat.fcc_sphere(r)
    assert np.linalg.norm(x, axis=1).max() <= r + 1e-9
    assert np.any(np.all(x == 0.0, axis=1))  # an atom at the origin
    d = distances_from_centre(x)
    nn = lat.PT_A / math.sqrt(2)
    # FCC shells: 12 at a/sqrt2, 6 at a, 24 at a sqrt(3/2), 12 at a sqrt2
    for n_shell, dist in (
        (12, nn),
        (6, lat.PT_A),
        (24, lat.PT_A * math.sqrt(1.5)),
        (12, lat.PT_A * math.sqrt(2)),
    ):
        assert np.sum(np.isclose(d, dist)) == n_shell
    expected = 16 * math.pi * r**3 / (3 * lat.PT_A**3)
    assert abs(len(x) - expected) / expected < 0.15
    interior = np.linalg.norm(x, axis=1) < r - 1.2 * nn
    assert np.all(neighbour_counts(x, 1.2 * nn)[interior] == 12)


def test_noise_is_deterministic_and_has_the_right_size():
    a = lat.fcc_sphere(15.0, noise=0.05, seed=3)
    b = lat.fcc_sphere(15.0, noise=0.05, seed=3)
    c = lat.fcc_sphere(15.0, noise=0.05, seed=4)
    perfect = lat.fcc_sphere(15.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == perfect.shape
    assert np.std(a - perfect) == pytest.approx(0.05, rel=0.1)
    with pytest.raises(ValueError):
        lat.fcc_sphere(5.0, noise=-1.0)


def test_hcp_sphere():
    x = lat.hcp_sphere(10.0)
    d = distances_from_centre(x)
    assert np.sum(np.isclose(d, lat.PT_NN)) == 12
    assert d[12] == pytest.approx(lat.PT_NN * math.sqrt(2))  # next shell (6 atoms)
    assert min_distance(x) == pytest.approx(lat.PT_NN)


def test_bcc_sphere():
    a = 3.0
    x = lat.bcc_sphere(8.0, a)
    d = distances_from_centre(x)
    assert np.sum(np.isclose(d, a * math.sqrt(3) / 2)) == 8
    assert np.sum(np.isclose(d, a)) == 6
    assert d[14] == pytest.approx(a * math.sqrt(2))
    # default: same nearest-neighbour distance as Pt FCC
    assert min_distance(lat.bcc_sphere(6.0)) == pytest.approx(lat.PT_NN)


@pytest.mark.parametrize(("n_edge", "n_atoms"), [(1, 1), (2, 38), (3, 201), (4, 586), (5, 1289)])
def test_truncated_octahedron_magic_numbers(n_edge, n_atoms):
    x = lat.truncated_octahedron(n_edge)
    assert len(x) == n_atoms
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    if n_atoms > 1:
        assert min_distance(x) == pytest.approx(lat.PT_NN)


def test_truncated_octahedron_is_the_reference_cluster():
    if not TRUNC_OCTA.exists():
        pytest.skip(f"shared reference cluster not found: {TRUNC_OCTA}")
    rows = [line.split()[6:9] for line in TRUNC_OCTA.read_text().splitlines() if line.strip()]
    ref = np.array(rows, float)
    ref = np.round(ref - ref.mean(axis=0), 3)
    ours = np.round(lat.truncated_octahedron(4), 3) + 0.0
    assert len(ours) == len(ref) == 586
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], ref[np.lexsort(ref.T)])


@pytest.mark.parametrize(("shells", "n_atoms"), [(0, 1), (1, 13), (2, 55), (3, 147), (4, 309)])
def test_icosahedron_magic_numbers(shells, n_atoms):
    x = lat.icosahedron(shells, nn=2.5)
    assert len(x) == n_atoms
    np.testing.assert_array_equal(x[0], 0.0)
    if shells:
        assert min_distance(x) == pytest.approx(2.5)
        r = np.linalg.norm(x, axis=1)
        assert r.max() == pytest.approx(2.5 * shells)


def test_icosahedron_centre_shell():
    x = lat.icosahedron(3)
    d = distances_from_centre(x)
    assert np.allclose(d[:12], lat.PT_NN)
    assert d[12] > 1.2 * lat.PT_NN
    cn = neighbour_counts(x, 1.2 * lat.PT_NN)
    assert cn[0] == 12
    assert np.all(cn[1:13] == 12)  # first-shell atoms are also fully coordinated


@pytest.mark.parametrize(("n", "n_atoms"), [(1, 7), (2, 23), (3, 54), (4, 105)])
def test_decahedron(n, n_atoms):
    x = lat.decahedron(n)
    assert len(x) == n_atoms
    assert min_distance(x) == pytest.approx(lat.PT_NN)
    # five-fold axis along z: a 72 degree rotation maps the cluster onto itself
    c, s = math.cos(2 * math.pi / 5), math.sin(2 * math.pi / 5)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    d, _ = cKDTree(x).query(x @ rot.T)
    assert d.max() < 1e-9
    axis = np.abs(x[:, :2]).max(axis=1) < 1e-9
    assert axis.sum() == n + 1


def test_generators_are_deterministic():
    for make in (
        lambda: lat.icosahedron(2, noise=0.1, seed=1),
        lambda: lat.decahedron(3),
        lambda: lat.truncated_octahedron(3, noise=0.1),
        lambda: lat.hcp_sphere(7.0),
    ):
        np.testing.assert_array_equal(make(), make())


# ------------------------------------------------------------------------------------------
# reference points
# ------------------------------------------------------------------------------------------
# q_l: Steinhardt, Nelson & Ronchetti, PRB 28, 784 (1983), table I; bcc with 14 neighbours
# (first + second shell).  Unnormalised w_l (pyboo) from the normalised literature w_hat_l:
# w_l = w_hat_l ((2l+1)/(4 pi))^(3/2) q_l^3.
LIT = {
    "fcc": {"q4": 0.19094, "q6": 0.57452, "wh4": -0.159317, "wh6": -0.013161, "cn": 12},
    "hcp": {"q4": 0.09722, "q6": 0.48476, "wh4": 0.134097, "wh6": -0.012442, "cn": 12},
    "bcc": {"q4": 0.03637, "q6": 0.51069, "wh4": 0.159317, "wh6": 0.013161, "cn": 14},
    "ico": {"q4": 0.0, "q6": 0.66332, "wh6": -0.169754, "cn": 12},
}


@pytest.mark.parametrize("structure", sorted(LIT))
def test_reference_points_literature(structure):
    ref = lat.reference_points()[structure]
    lit = LIT[structure]
    assert ref["cn"] == lit["cn"]
    for l in (4, 6):
        q = ref[f"q{l}"]
        assert q == pytest.approx(lit[f"q{l}"], abs=1e-5)
        if f"wh{l}" in lit:
            w_hat = ref[f"w{l}"] / (math.sqrt((2 * l + 1) / (4 * math.pi)) * q) ** 3
            assert w_hat == pytest.approx(lit[f"wh{l}"], abs=1e-5)
        if structure != "ico":  # bulk crystal: neighbours identical to the centre
            assert ref[f"Q{l}"] == pytest.approx(q, abs=1e-12)
            assert ref[f"W{l}"] == pytest.approx(ref[f"w{l}"], abs=1e-12)
    if structure == "fcc":
        assert ref["w4"] == pytest.approx(-0.0006722, abs=1e-7)
        assert ref["w6"] == pytest.approx(-0.002626, abs=1e-6)
    if structure == "ico":
        assert abs(ref["w4"]) < 1e-12
        assert ref["w6"] == pytest.approx(-0.05213, abs=1e-5)  # the seed's plot label
        assert 0 < ref["Q6"] < ref["q6"]  # shell-1 neighbours are not icosahedral centres


def test_reference_points_cached_copy_and_other_ls():
    a = lat.reference_points()
    a["fcc"]["q6"] = -1.0
    b = lat.reference_points()
    assert b["fcc"]["q6"] == pytest.approx(0.57452, abs=1e-5)
    assert set(b) == {"fcc", "hcp", "bcc", "ico"}
    c = lat.reference_points(ls=(6, 8))
    assert c["fcc"]["q6"] == pytest.approx(b["fcc"]["q6"], abs=1e-14)
    assert c["fcc"]["q8"] == pytest.approx(0.40391, abs=1e-5)  # Steinhardt et al. (1983)
    assert "q4" not in c["fcc"]


def test_amorphous_sphere_is_dense_disordered_and_deterministic():
    from nanotraj.cna import cna_structure
    from nanotraj.rdf import first_minimum, rdf

    x = lat.amorphous_sphere(14.0, seed=3)
    assert np.array_equal(x, lat.amorphous_sphere(14.0, seed=3))
    expected = 0.96 * math.sqrt(2.0) / lat.PT_NN**3 * 4.0 / 3.0 * math.pi * 14.0**3
    assert len(x) == round(expected)
    d, _ = cKDTree(x).query(x, k=2)
    assert np.median(d[:, 1]) == pytest.approx(lat.PT_NN, rel=1e-12)
    assert d[:, 1].min() > 0.9 * lat.PT_NN  # no overlaps left
    assert np.linalg.norm(x.mean(axis=0)) < 1e-9
    r, g = rdf(x)
    cutoff = first_minimum(r, g)
    assert 1.25 * lat.PT_NN < cutoff < 1.45 * lat.PT_NN  # glass: first minimum ~1.34 nn
    bonds = cKDTree(x).query_pairs(cutoff, output_type="ndarray")
    codes = cna_structure(len(x), bonds)
    assert np.count_nonzero(np.isin(codes, (1, 2, 3))) <= 0.01 * len(x)  # no crystal
