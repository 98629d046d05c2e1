"""Tests of nanotraj.facets: the alpha-shape surface grouped into planes with Miller indices.

Known answers: a perfect truncated octahedron (n atoms per edge, edge L = (n - 1) d_nn, any
orientation) has exactly 8 {111} hexagons of area (3 sqrt 3 / 2) L^2 and 3 n^2 - 3 n + 1 atoms
and 6 {100} squares of area L^2 and n^2 atoms: area fractions 12 sqrt 3 : 6, each plane's
normal along R (h, k, l); an fcc cube has only {100}; cuts along (110) and (311) give those
planes; an Ino decahedron is {111} in its segments' own frames (not in the dominant one);
0.1 A of noise moves the fractions by < 0.01.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanotraj import crystal
from nanotraj import facets as fc
from nanotraj import lattices as lat
from nanotraj import orientations as ori
from nanotraj.alphashape import alpha_shape
from nanotraj.bonds import find_bonds
from nanotraj.ptm import ptm

NN = lat.PT_NN
A = lat.PT_A
F111 = 12.0 * math.sqrt(3.0) / (12.0 * math.sqrt(3.0) + 6.0)




def _planes(x, rotation=None):
    s = alpha_shape(x, 1.45 * NN)
    res = fc.facet_planes(x, s["facets"], s["normals"], None,
                          np.eye(3) if rotation is None else rotation)
    return res, s


@pytest.mark.parametrize("n, seed", [(3, 0), (4, 1), (5, 2), (7, 3)])
def test_truncated_octahedron(n, seed):
    R = lat.random_rotation(seed)
    x = lat.truncated_octahedron(n) @ R.T
    res, s = _planes(x, R)
    t = res["table"]
    L = (n - 1) * NN
    assert len(t["area"]) == 14
    fam = t["family"]
    assert (fam == 0).sum() == 8 and (fam == 1).sum() == 6
    np.testing.assert_allclose(t["area"][fam == 0], 1.5 * math.sqrt(3.0) * L * L, rtol=1e-9)
    np.testing.assert_allclose(t["area"][fam == 1], L * L, rtol=1e-9)
    np.testing.assert_array_equal(t["n_atoms"][fam == 0], 3 * n * n - 3 * n + 1)
    np.testing.assert_array_equal(t["n_atoms"][fam == 1], n * n)
    assert t["area"].sum() == pytest.approx(s["area"], rel=1e-12)
    fr = fc.facet_fractions(t)
    assert fr["facet_fraction_111"] == pytest.approx(F111, abs=1e-12)
    assert fr["facet_fraction_100"] == pytest.approx(1.0 - F111, abs=1e-12)
    assert fr["facet_fraction_110"] == 0 and fr["facet_fraction_other"] == 0
    assert fr["n_facets"] == 14
    hkl = np.column_stack([t["h"], t["k"], t["l"]])
    assert len({tuple(v) for v in hkl.tolist()}) == 14  # every direction once
    normal = np.column_stack([t["normal_x"], t["normal_y"], t["normal_z"]])
    expected = hkl @ R.T / np.linalg.norm(hkl, axis=1, keepdims=True)
    np.testing.assert_allclose(normal, expected, atol=1e-9)
    # each triangle's plane: the areas add up
    np.testing.assert_allclose(np.bincount(res["plane"], weights=fc.triangle_areas(
        x, s["facets"])), t["area"], rtol=1e-12)


@pytest.mark.parametrize("noise", [0.05, 0.1, 0.15])
def test_noisy_truncated_octahedron(noise):
    R = lat.random_rotation(9)
    x = lat.truncated_octahedron(6) @ R.T
    x = x + np.random.default_rng(1).normal(0.0, noise, x.shape)
    r = ptm(x, rmsd_cutoff=0.13)
    _, q = ori.grains(r["orientation"], r["structure"] == 1, "fcc")
    assert len(q) == 1
    res, _ = _planes(x, ori.rotation_matrices(q)[0])
    fr = fc.facet_fractions(res["table"])
    assert fr["n_facets"] == 14
    assert abs(fr["facet_fraction_111"] - F111) < 0.01
    assert fr["facet_fraction_111"] + fr["facet_fraction_100"] > 0.99


def test_without_crystal_frame_planes_are_other():
    x = lat.truncated_octahedron(4) @ lat.random_rotation(4).T
    s = alpha_shape(x, 1.45 * NN)
    res = fc.facet_planes(x, s["facets"], s["normals"])
    t = res["table"]
    assert len(t["area"]) == 14  # region growing still finds the planes
    assert np.isnan(t["h"]).all() and (t["family"] == 3).all()
    assert fc.facet_fractions(t)["facet_fraction_other"] == pytest.approx(1.0)
    hexagonal = fc.facet_planes(x, s["facets"], s["normals"], None, np.eye(3), cubic=False)
    assert (hexagonal["table"]["family"] == 3).all()


def _block(cut):
    big = lat.fcc_lattice(10) - 5 * A
    u = np.round(big / (A / 2)).astype(int)
    return big[(np.abs(u).max(axis=1) <= 8) & cut(u)]


def test_cube_110_and_311_planes():
    cube = _block(lambda u: np.ones(len(u), bool))
    t = _planes(cube)[0]["table"]
    assert fc.facet_fractions(t)["facet_fraction_100"] == pytest.approx(1.0)
    assert len(t["area"]) == 6
    t = _planes(_block(lambda u: u[:, 0] + u[:, 1] <= 6))[0]["table"]
    i = np.flatnonzero(t["family"] == 2)
    assert len(i) == 1 and (t["h"][i[0]], t["k"][i[0]], t["l"][i[0]]) == (1, 1, 0)
    t = _planes(_block(lambda u: 3 * u[:, 0] + u[:, 1] + u[:, 2] <= 12))[0]["table"]
    big = int(np.argmax(np.where(t["family"] == 3, t["area"], 0)))
    assert (t["h"][big], t["k"][big], t["l"][big]) == (3, 1, 1)
    assert t["area"][big] > 0.15 * t["area"].sum()


def test_decahedron_facets_in_their_segments_frames():
    """Ino decahedron: ten {111} faces in five twin-related segments. Indexed in each segment's
    own frame they are {111}; in the dominant orientation's frame only two of them are."""
    x = lat.decahedron(10)
    x = x + np.random.default_rng(0).normal(0.0, 0.05, x.shape)
    r = ptm(x, rmsd_cutoff=0.13)
    s = alpha_shape(x, 1.45 * NN)
    bonds, _ = find_bonds(x, 1.2 * NN)
    res = crystal.analyse(x, bonds, s["surface"], s["facets"], s["normals"], r,
                          structure="fcc", a=A, nn_distance=NN)
    assert len(res["grain_orientations"]) == 5
    assert res["summary"]["facet_fraction_111"] > 0.9
    dominant = ori.rotation_matrices(res["grain_orientations"][:1])[0]
    t = fc.facet_planes(x, s["facets"], s["normals"], None, dominant)["table"]
    assert fc.facet_fractions(t)["facet_fraction_111"] < 0.3


def test_adjacency_and_vertex_normals():
    f = np.array([[0, 1, 2], [1, 3, 2], [3, 4, 2], [5, 6, 7]])
    np.testing.assert_array_equal(fc.adjacency(f), [[0, 1], [1, 2]])
    assert fc.adjacency(np.zeros((0, 3), int)).shape == (0, 2)
    x = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [2, 2, 0],
                  [0, 0, 1], [1, 0, 1], [0, 1, 1], [5, 5, 5]])
    nrm = np.tile([0.0, 0.0, 1.0], (4, 1))
    vn = fc.vertex_normals(len(x), x, f, nrm)
    np.testing.assert_allclose(vn[:8], np.tile([0, 0, 1.0], (8, 1)))
    assert np.isnan(vn[8]).all()


def test_empty_surface():
    res = fc.facet_planes(np.zeros((4, 3)), np.zeros((0, 3), int), np.zeros((0, 3)), None,
                          np.eye(3))
    assert len(res["table"]["area"]) == 0 and len(res["plane"]) == 0
    fr = fc.facet_fractions(res["table"])
    assert math.isnan(fr["facet_fraction_111"]) and fr["n_facets"] == 0


def test_low_index_directions():
    d, hkl, fam = fc.low_index_directions()
    assert d.shape == (26, 3)
    assert np.bincount(fam).tolist() == [8, 6, 12]
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    c = d @ d.T - 2 * np.eye(26)
    # the families are at least 35.26 deg apart: a label within 15 deg is unambiguous
    assert np.degrees(np.arccos(c.max())) > 35.0 > 2 * fc.TOLERANCE
