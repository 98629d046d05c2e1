"""The compiled kernels of large frames (nanotraj._kernels, numba) against the numpy paths,
brute force and the stored pyboo values.

Small test frames are sent through the kernels with ``engine="compiled"`` and through the numpy
paths with ``engine="numpy"`` (:mod:`nanotraj.engine`).
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics)
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree

from nanotraj import _kernels, cna, engine, order, rdf, structure
from nanotraj.errors import ConfigError
from nanotraj.lattices import (
    BCC_A_PT_NN,
    PT_A,
    PT_NN,
    bcc_sphere,
    decahedron,
    fcc_sphere,
    hcp_sphere,
    icosahedron,
)

from .test_order import CUTOFF, DATA, PER_ATOM, REF, read_columns_7_9

CNA_CUTOFF = 0.5 * (1 + math.sqrt(2)) * PT_NN  # between the 1st and 2nd shells (fcc, hcp, ico)
BCC_CUTOFF = 0.5 * (1 + math.sqrt(2)) * BCC_A_PT_NN  # between the 2nd and 3rd shells of bcc


def pairs(coords, cutoff):
    return cKDTree(coords).query_pairs(cutoff, output_type="ndarray").astype(np.int64)


def boo_both(coords, bonds, **kw):
    """(numpy result, compiled result) of order.boo."""
    return (order.boo(coords, bonds, engine="numpy", **kw),
            order.boo(coords, bonds, engine="compiled", **kw))


def assert_same_boo(ref, got, atol=1e-12):
    assert list(ref) == list(got)
    for key in ref:
        assert got[key].shape == ref[key].shape, key
        if key == "crystalline":
            np.testing.assert_array_equal(got[key], ref[key])
        else:
            np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=atol, err_msg=key)


# ------------------------------------------------------------------------------------------
# bond-orientational order
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stage1_docked_ATMS", "COM_trunc-octa-3_2.7nm"])
def test_compiled_boo_matches_pyboo_reference(name):
    pdb = DATA / f"{name}.pdb"
    csv = REF / f"{name}.atoms.csv"
    if not (pdb.exists() and csv.exists()):
        pytest.skip("shared reference data not found")
    coords = read_columns_7_9(pdb)
    ref = np.genfromtxt(csv, delimiter=",", names=True)
    res = order.boo(coords, pairs(coords, CUTOFF), engine="compiled")
    for key in PER_ATOM:
        np.testing.assert_allclose(res[key], ref[key], rtol=0, atol=1e-10, err_msg=key)
    np.testing.assert_array_equal(res["crystalline"], ref["xtal"].astype(bool))


@pytest.mark.parametrize("layout", ["ordered", "atoms shuffled", "bonds shuffled and flipped"])
def test_compiled_boo_equals_numpy(layout):
    rng = np.random.default_rng(3)
    x = fcc_sphere(14.0, PT_A, noise=0.12, seed=2)
    x = np.vstack([x, [[60.0, 0.0, 0.0]]])  # an atom without bonds
    if layout == "atoms shuffled":
        x = x[rng.permutation(len(x))]
    bonds = pairs(x, 3.4)
    if layout == "bonds shuffled and flipped":
        bonds = bonds[rng.permutation(len(bonds))]
        flip = rng.random(len(bonds)) < 0.5
        bonds[flip] = bonds[flip][:, ::-1]
    ref, got = boo_both(x, bonds)
    assert_same_boo(ref, got)
    lonely = np.bincount(bonds.ravel(), minlength=len(x)) == 0
    assert lonely.sum() == 1
    for key in PER_ATOM:
        assert got[key][lonely] == 0.0


def test_compiled_boo_every_degree():
    """All even l up to L_MAX, several products, l = 6 neither asked nor a product."""
    x = icosahedron(3, noise=0.08, seed=5)
    bonds = pairs(x, 3.4)
    for ls, products in (((0, 2, 4, 6, 8, 10, 12), (4, 6, 12)), ((4, 8), (8,)), ((10,), ())):
        ref, got = boo_both(x, bonds, ls=ls, products=products)
        assert_same_boo(ref, got)


def test_compiled_boo_perfect_fcc_constants():
    """Bulk atoms of a perfect FCC sphere: q6 = 0.57452, q4 = 0.19094 (Steinhardt et al. 1983,
    the constants test_order checks on the numpy path), crystalline."""
    x = fcc_sphere(12.0, PT_A)
    bonds = pairs(x, 3.0)
    res = order.boo(x, bonds, engine="compiled")
    bulk = np.bincount(bonds.ravel(), minlength=len(x)) == 12
    assert bulk.sum() > 100
    np.testing.assert_allclose(res["q6"][bulk], 0.57452, atol=5e-6)
    np.testing.assert_allclose(res["q4"][bulk], 0.19094, atol=5e-6)
    assert res["crystalline"][bulk].all()


def test_kernels_give_bit_identical_results_for_any_threads(monkeypatch):
    x = fcc_sphere(13.0, PT_A, noise=0.1, seed=4)
    bonds = pairs(x, 3.4)
    for name, size in (("ATOM_CHUNK", 37), ("BOND_CHUNK", 101)):  # many ranges of atoms, bonds
        monkeypatch.setattr(_kernels, name, size)
    one = order.boo(x, bonds, workers=1, engine="compiled")
    three = order.boo(x, bonds, workers=3, engine="compiled")
    for key in one:
        np.testing.assert_array_equal(one[key], three[key], err_msg=key)
    cna_one = cna.cna(len(x), bonds, workers=1, engine="compiled")
    cna_three = cna.cna(len(x), bonds, workers=3, engine="compiled")
    np.testing.assert_array_equal(cna_one[0], cna_three[0])
    np.testing.assert_array_equal(cna_one[1], cna_three[1])
    monkeypatch.setattr(_kernels, "CENTRE_CHUNK", 7)
    centres = x[::50]
    np.testing.assert_array_equal(_kernels.centre_histogram(x, centres, 0.02, 750, 15.0, 1),
                                  _kernels.centre_histogram(x, centres, 0.02, 750, 15.0, 3))


def test_compiled_boo_zero_length_bond_is_north_pole():
    """Two atoms at the same place: the bond vector is +z, as on the numpy path (pyboo)."""
    x = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 0.5], [2.0, -1.0, 1.0]])
    bonds = np.array([[0, 1], [0, 2], [1, 3], [2, 3]])
    ref, got = boo_both(x, bonds, products=(4, 6))
    assert_same_boo(ref, got)


def test_engine_auto_sends_only_large_frames_to_the_kernels():
    assert engine.kernels_for("auto", engine.LARGE_BONDS - 1) is None
    assert engine.kernels_for("auto", engine.LARGE_BONDS) is _kernels
    assert engine.kernels_for("numpy", 10**9) is None
    assert engine.kernels_for("compiled", 0) is _kernels
    with pytest.raises(ConfigError, match="unknown engine 'fast'"):
        engine.kernels_for("fast", 0)
    with pytest.raises(ConfigError, match="unknown engine"):
        order.boo(np.zeros((2, 3)), np.array([[0, 1]]), engine="native")


def test_small_frames_do_not_import_numba():
    """Per-job start-up stays lean: the stages of a small frame never import numba."""
    code = (
        "import sys\n"
        "from nanotraj import lattices, bonds, order, cna, rdf\n"
        "x = lattices.fcc_sphere(15.0)\n"
        "b, d = bonds.find_bonds(x, 3.4)\n"
        "r = order.boo(x, b, workers=2)\n"
        "cna.cna(len(x), b, workers=2)\n"
        "rdf.rdf(x, max_centres=500, workers=2)\n"  # the sampled path, like large frames
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # the sampled g(r) uses the kernels (its cost does not depend on N); BOO and CNA do not
    assert out.stdout.strip() == "True"
    exact = code.replace("max_centres=500", "max_centres=None")
    out = subprocess.run([sys.executable, "-c", exact], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------
# common neighbour analysis
# ------------------------------------------------------------------------------------------
CNA_CASES = {
    "fcc": (lambda: fcc_sphere(13.0, PT_A, noise=0.05, seed=1), CNA_CUTOFF),
    "hcp": (lambda: hcp_sphere(12.0, noise=0.04, seed=2), CNA_CUTOFF),
    "bcc": (lambda: bcc_sphere(12.0, noise=0.03, seed=3), BCC_CUTOFF),
    "ico": (lambda: icosahedron(4, noise=0.02, seed=4), CNA_CUTOFF),
    "decahedron": (lambda: decahedron(5), CNA_CUTOFF),
    "noisy": (lambda: fcc_sphere(12.0, PT_A, noise=0.3, seed=5), 3.6),
}


@pytest.mark.parametrize("case", sorted(CNA_CASES))
def test_compiled_cna_equals_numpy(case):
    make, cutoff = CNA_CASES[case]
    x = make()
    bonds = pairs(x, cutoff)
    bonds = bonds[np.random.default_rng(0).permutation(len(bonds))]  # any order
    sig_ref, st_ref = cna.cna(len(x), bonds, engine="numpy")
    sig, st = cna.cna(len(x), bonds, workers=2, engine="compiled")
    np.testing.assert_array_equal(sig, sig_ref)
    np.testing.assert_array_equal(st, st_ref)
    expected = {"fcc": cna.FCC, "hcp": cna.HCP, "bcc": cna.BCC, "ico": cna.ICO}.get(case)
    if expected is not None:  # the lattice's own class is found
        assert (st == expected).sum() > 0


def test_compiled_cna_signatures_by_brute_force():
    """Every bond's (n_common, n_bonds, longest chain) from sets and a graph search."""
    x = fcc_sphere(9.0, PT_A, noise=0.25, seed=7)
    bonds = pairs(x, 3.5)
    sig = cna.cna_signatures(len(x), bonds, engine="compiled")
    nbrs = [set() for _ in x]
    for i, j in bonds:
        nbrs[i].add(j)
        nbrs[j].add(i)
    for (i, j), (m, k, chain) in zip(bonds, sig, strict=True):
        common = nbrs[i] & nbrs[j]
        edges = [(a, b) for a in common for b in common if a < b and b in nbrs[a]]
        best = 0
        left = set(edges)
        while left:  # largest connected cluster of bonds
            cluster = {left.pop()}
            grew = True
            while grew:
                ends = {v for e in cluster for v in e}
                more = {e for e in left if e[0] in ends or e[1] in ends}
                grew = bool(more)
                cluster |= more
                left -= more
            best = max(best, len(cluster))
        assert (m, k, chain) == (len(common), len(edges), best)


def test_compiled_cna_falls_back_above_64_bonds():
    """An atom with more than 64 bonds: the kernel declines, the numpy triangle path serves."""
    rng = np.random.default_rng(1)
    shell = rng.normal(size=(70, 3))
    shell /= np.linalg.norm(shell, axis=1)[:, None]
    x = np.vstack([[0.0, 0.0, 0.0], 3.0 * shell])
    bonds = pairs(x, 3.2)
    assert np.bincount(bonds.ravel()).max() > 64
    assert _kernels.cna(len(x), cna.normalise_bonds(len(x), bonds)[0]) is None
    ref = cna.cna(len(x), bonds, engine="numpy")
    got = cna.cna(len(x), bonds, engine="compiled")
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


# ------------------------------------------------------------------------------------------
# sampled g(r)
# ------------------------------------------------------------------------------------------
def brute_histogram(x, centres, dr, m, r_max):
    counts = np.zeros(m + 1, np.int64)
    for c in centres:
        d = np.sqrt(((x - c) ** 2).sum(axis=1))
        d = d[d <= r_max]
        np.add.at(counts, np.minimum((d * (1.0 / dr)).astype(np.int64), m), 1)
    return counts


@pytest.mark.parametrize("kind", ["noisy fcc", "lattice with ties on bin edges", "elongated"])
def test_centre_histogram_by_brute_force(kind):
    rng = np.random.default_rng(11)
    if kind == "noisy fcc":
        x = fcc_sphere(16.0, PT_A, noise=0.1, seed=1)
    elif kind == "lattice with ties on bin edges":  # distances exactly on the 0.5 A edges
        g = np.arange(12) * 2.0
        x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    else:
        x = rng.uniform(0, 1, size=(3000, 3)) * [120.0, 6.0, 6.0]
    centres = x[rng.choice(len(x), size=min(300, len(x)), replace=False)]
    for dr, r_max in ((0.02, 15.0), (0.5, 9.0)):
        m = int(round(r_max / dr))
        got = _kernels.centre_histogram(x, centres, dr, m, r_max, workers=2)
        np.testing.assert_array_equal(got, brute_histogram(x, centres, dr, m, r_max))


def test_sampled_rdf_kernel_and_tree_give_the_same_counts():
    x = fcc_sphere(22.0, PT_A, noise=0.05, seed=0)
    got = rdf._sampled_counts(x, 400, 0.02, 750, 15.0, workers=2, engine="compiled")
    tree = rdf._sampled_counts(x, 400, 0.02, 750, 15.0, workers=2, engine="numpy")
    np.testing.assert_array_equal(got, tree)
    assert got.sum() > 400 * 500


def test_centre_histogram_declines_a_box_of_far_stray_atoms():
    """Atoms spread over a box with many more cells than atoms (a far stray atom): None, and
    the sampled g(r) still counts (with the kd-tree)."""
    x = np.vstack([fcc_sphere(10.0, PT_A), [[5000.0, 5000.0, 5000.0]]])
    assert _kernels.centre_histogram(x, x[:10], 0.02, 750, 15.0) is None
    counts = rdf._sampled_counts(x, 50, 0.02, 750, 15.0)
    assert counts.sum() > 0


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_compiled_surface_equals_numpy(noise):
    x = fcc_sphere(14.0, PT_A, noise=noise, seed=8)
    x = np.vstack([x, [[80.0, 0.0, 0.0]]])  # an isolated atom: surface (cn < 4)
    bonds = pairs(x, 3.4)
    bonds = bonds[np.random.default_rng(2).permutation(len(bonds))]
    cn = np.bincount(bonds.ravel(), minlength=len(x))
    ref = structure.surface(x, cn, bonds, PT_NN, engine="numpy")
    got = structure.surface(x, cn, bonds, PT_NN, workers=2, engine="compiled")
    np.testing.assert_array_equal(got, ref)
    assert got[-1] and 0 < got.sum() < len(x) - 100


def test_kernels_reject_bond_indices_out_of_range():
    """The compiled kernels do not check bounds: the neighbour lists refuse bad indices."""
    x = fcc_sphere(8.0, PT_A)
    bonds = pairs(x, 3.0)
    bonds[5, 1] = len(x)
    with pytest.raises(ValueError, match="bond indices"):
        structure.surface(x, np.full(len(x), 12), bonds, PT_NN, engine="compiled")
    with pytest.raises(ValueError, match="bond indices"):
        _kernels.csr(len(x), np.array([[0, -1]]))
