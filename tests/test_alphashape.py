"""Tests of nanotraj.alphashape: alpha-shape surface atoms, area, volume and facets.

References (OVITO itself: tests/oracle/test_ovito_alphashape.py):

* the full-Delaunay path (:func:`alpha_shape_reference`): the fast path must give the same
  surface atoms and facets and the same area and volume (1e-9 relative) on perfect, noisy,
  amorphous, hollow, pitted, stepped, touching and flat particles at several probe radii;
* analytic cases: a cube of 8 atoms (area 24 a^2 / 4, volume a^3, all or nothing around the
  circumradius), a single tetrahedron, the convex hull for a huge probe radius, the perfect
  truncated octahedron (surface = atoms with fewer than 12 neighbours, area and volume those
  of its convex hull), additivity over separate particles;
* the oriented boundary: outward normals, volume from the boundary = sum of the solid
  tetrahedra, every edge shared by an even number of facets (closed surface);
* invariances (translation, rotation, permutation, threads) and bad input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull, cKDTree

from nanotraj import alphashape as als
from nanotraj import lattices as lat

NN = lat.PT_NN
RTOL = 1e-9


def _noisy(x, noise, seed=0):
    return x + np.random.default_rng(seed).normal(0.0, noise, x.shape) if noise else x


def hollow(noise=0.0):
    """fcc sphere of radius 18 A with an empty spherical void of radius 8 A inside."""
    x = lat.fcc_sphere(18.0)
    return _noisy(x[np.linalg.norm(x, axis=1) > 8.0], noise, 1)


def pit(noise=0.0):
    """Truncated octahedron (1289 atoms) with a hemispherical pit of radius 7 A in a facet."""
    x = lat.truncated_octahedron(5)
    top = x[:, 2].max()
    return _noisy(x[np.linalg.norm(x - [0.0, 0.0, top + 2.0], axis=1) > 7.0], noise, 2)


def step(noise=0.0):
    """Truncated octahedron with half of one {100} top layer removed (a monatomic step)."""
    x = lat.truncated_octahedron(5)
    top = x[:, 2].max()
    return _noisy(x[~((x[:, 2] > top - 0.5) & (x[:, 0] > 0))], noise, 3)


def touching(noise=0.0):
    """Two fcc spheres (radius 10 A) one nearest-neighbour distance apart."""
    a = lat.fcc_sphere(10.0)
    return _noisy(np.concatenate([a, a + [20.0 + NN, 0.3, 0.1]]), noise, 4)


def slab(noise=0.0):
    """A 3-layer (001) plate: every atom near a surface."""
    x = lat.fcc_sphere(16.0)
    return _noisy(x[np.abs(x[:, 2]) < 2.5], noise, 5)


@pytest.fixture(scope="module")
def particles():
    out = {}
    for noise in (0.0, 0.05, 0.2):
        out[f"to {noise}"] = lat.truncated_octahedron(4, noise=noise, seed=1)
        out[f"fcc {noise}"] = lat.fcc_sphere(12.0, noise=noise, seed=2)
        out[f"hcp {noise}"] = lat.hcp_sphere(11.0, noise=noise, seed=3)
        out[f"bcc {noise}"] = lat.bcc_sphere(11.0, noise=noise, seed=4)
        out[f"ico {noise}"] = lat.icosahedron(4, noise=noise, seed=5)
        out[f"deca {noise}"] = lat.decahedron(6, noise=noise, seed=6)
    for noise in (0.0, 0.1):
        for f in (hollow, pit, step, touching, slab):
            out[f"{f.__name__} {noise}"] = f(noise)
    out["amorphous"] = lat.amorphous_sphere(11.0, steps=150, seed=3)
    out["gas"] = np.random.default_rng(8).uniform(0.0, 20.0, (500, 3))
    return out


def _area_by_plane(res, x):
    """Boundary area per facet orientation (outward normal rounded to 1e-6): the same for
    any tetrahedralisation of a perfect lattice's flat faces (a square may be split along
    either diagonal)."""
    f = res["facets"]
    area = 0.5 * np.linalg.norm(np.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]]),
                                axis=1)
    keys, inv = np.unique(np.round(res["normals"], 6) + 0.0, axis=0, return_inverse=True)
    return keys, np.bincount(inv.ravel(), area)


def _same(fast, ref, name, x=None):
    """Same surface atoms, area and volume; the same facets for inputs in general position,
    the same area per facet plane for perfect lattices (``x`` given)."""
    np.testing.assert_array_equal(fast["surface"], ref["surface"], err_msg=name)
    if x is None:
        np.testing.assert_array_equal(fast["facets"], ref["facets"], err_msg=name)
    else:
        (k1, a1), (k2, a2) = _area_by_plane(fast, x), _area_by_plane(ref, x)
        np.testing.assert_array_equal(k1, k2, err_msg=name)
        np.testing.assert_allclose(a1, a2, rtol=RTOL, atol=1e-9, err_msg=name)
    assert fast["area"] == pytest.approx(ref["area"], rel=RTOL, abs=1e-9), name
    assert fast["volume"] == pytest.approx(ref["volume"], rel=RTOL, abs=1e-9), name


# ----------------------------------------------------------------------------------------------
# fast path == reference
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [2.5, 4.0, 6.0])
def test_fast_equals_reference(particles, alpha):
    methods = set()
    for name, x in particles.items():
        ref = als.alpha_shape_reference(x, alpha)
        fast = als.alpha_shape(x, alpha)
        methods.add(fast["method"])
        perfect = name.endswith(" 0.0")  # exact lattice positions: not in general position
        _same(fast, ref, f"{name} alpha={alpha}", x if perfect else None)
        assert ref["volume_tetrahedra"] == pytest.approx(ref["volume"], rel=RTOL, abs=1e-9)
        assert fast["n_candidates"] >= fast["surface"].sum()
    assert methods == {"fast"}  # every case ran the fast path (perfect ones: slivers too)


def test_perfect_lattices_exercise_the_sliver_path():
    """Perfect lattices have slivers (four atoms on a circle): the fast path's local
    tetrahedralisation must be used and agree."""
    x = lat.truncated_octahedron(4)
    fr = als._Frame(x, 4.0)
    from scipy.spatial import Delaunay

    tri = Delaunay(fr.xp)
    _, status, _ = als._solid(fr.xp, np.asarray(tri.simplices, np.int64), tri.neighbors, 16.0)
    assert (status == 2).sum() > 0
    _same(als.alpha_shape(x, 4.0), als.alpha_shape_reference(x, 4.0), "to", x)


def test_reference_path_when_the_cell_list_would_be_huge():
    a = lat.fcc_sphere(8.0, noise=0.05, seed=1)
    b = lat.fcc_sphere(8.0, noise=0.05, seed=2)
    x = np.concatenate([a, b + [1e6, 0.0, 0.0]])
    got = als.alpha_shape(x, 4.0)
    assert got["method"] == "reference"
    one, two = als.alpha_shape(a, 4.0), als.alpha_shape(b, 4.0)
    np.testing.assert_array_equal(got["surface"], np.concatenate([one["surface"],
                                                                  two["surface"]]))
    assert got["area"] == pytest.approx(one["area"] + two["area"], rel=RTOL)
    assert got["volume"] == pytest.approx(one["volume"] + two["volume"], rel=RTOL)


def test_surface_atoms_are_candidates(particles):
    """Every surface atom passes the candidate test (the fast path's premise), directly."""
    from nanotraj.acna import grid_build, grid_for

    for name in ("fcc 0.2", "amorphous", "hollow 0.1", "gas"):
        x = particles[name]
        fr = als._Frame(x, 4.0)
        origin, h, dims = grid_for(fr.xp, 4.0, 1 << 22)
        order, start = grid_build(fr.xp, origin, h, dims)
        cand = np.zeros(len(fr.xp), np.int8)
        als._candidates_range(fr.xp[order], start, origin, h, dims, 4.0, *als._directions(),
                              cand, 0, len(fr.xp))
        is_cand = np.zeros(len(fr.xp), bool)
        is_cand[order] = cand.astype(bool)
        surf = als.alpha_shape_reference(x, 4.0)["surface"]
        assert not (surf & ~is_cand).any(), name
        assert is_cand.sum() < 1.2 * surf.sum() + 10, name  # and the test is not too loose


def test_non_candidates_have_no_empty_probe_ball():
    """Independent check of the candidate test: around atoms it rejects, no empty ball of
    radius alpha touching the atom is found among 20,000 random directions."""
    from nanotraj.acna import grid_build, grid_for

    x = lat.fcc_sphere(10.0, noise=0.15, seed=4)
    alpha = 4.0
    origin, h, dims = grid_for(x, alpha, 1 << 22)
    order, start = grid_build(x, origin, h, dims)
    cand = np.zeros(len(x), np.int8)
    als._candidates_range(x[order], start, origin, h, dims, alpha, *als._directions(), cand, 0,
                          len(x))
    rejected = order[cand == 0]
    u = np.random.default_rng(0).normal(size=(20000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    tree = cKDTree(x)
    for p in rejected[:: max(1, len(rejected) // 60)]:
        centres = x[p] + alpha * u
        d, _ = tree.query(centres)
        assert (d < alpha * (1 - 1e-12)).all()


# ----------------------------------------------------------------------------------------------
# analytic cases
# ----------------------------------------------------------------------------------------------
def test_cube_of_eight_atoms():
    """Eight corners of a cube of edge 2: all Delaunay tetrahedra (and slivers) share the
    circumsphere of radius sqrt 3."""
    cube = np.array([[i, j, k] for i in (0, 2) for j in (0, 2) for k in (0, 2)], float)
    for fn in (als.alpha_shape, als.alpha_shape_reference):
        full = fn(cube, 1.8)
        assert full["surface"].all()
        assert full["area"] == pytest.approx(24.0, rel=1e-12)
        assert full["volume"] == pytest.approx(8.0, rel=1e-12)
        assert len(full["facets"]) == 12
        empty = fn(cube, 1.7)
        assert not empty["surface"].any() and empty["area"] == 0 and empty["volume"] == 0


def test_single_tetrahedron():
    t = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    r = math.sqrt(3.0) / 2.0  # its circumradius
    got = als.alpha_shape(t, r * 1.01)
    assert got["surface"].all()
    assert got["area"] == pytest.approx(1.5 + math.sqrt(3.0) / 2.0, rel=1e-12)
    assert got["volume"] == pytest.approx(1.0 / 6.0, rel=1e-12)
    assert not als.alpha_shape(t, r * 0.99)["surface"].any()


def test_truncated_octahedron_is_its_convex_hull():
    """Convex and without holes wider than the octahedral hole (radius a/2 = 1.96 A): at
    alpha = 4 A the solid is the convex hull and the surface atoms are those with fewer
    than 12 neighbours."""
    x = lat.truncated_octahedron(4)
    got = als.alpha_shape(x, 4.0)
    cn = cKDTree(x).query_ball_point(x, 1.2 * NN, return_length=True) - 1
    np.testing.assert_array_equal(got["surface"], cn < 12)
    hull = ConvexHull(x)
    assert got["area"] == pytest.approx(hull.area, rel=RTOL)
    assert got["volume"] == pytest.approx(hull.volume, rel=RTOL)


def test_huge_probe_radius_gives_the_convex_hull():
    x = lat.fcc_sphere(10.0, noise=0.05, seed=7)
    got = als.alpha_shape(x, 1e6)
    hull = ConvexHull(x)
    surf = np.zeros(len(x), bool)
    surf[hull.vertices] = True
    np.testing.assert_array_equal(got["surface"], surf)
    assert got["area"] == pytest.approx(hull.area, rel=RTOL)
    assert got["volume"] == pytest.approx(hull.volume, rel=RTOL)


def test_void_and_two_particles():
    """The void of the hollow particle is a second surface: with a probe smaller than the
    void both are found, the volume excludes the void; separate particles add up."""
    x = hollow(0.05)
    got = als.alpha_shape(x, 4.0)
    r = np.linalg.norm(x, axis=1)
    assert got["surface"][r < 8.5].all()  # the void's wall
    assert got["surface"][r < 9.5].mean() > 0.95
    assert not got["surface"][(r > 9.5) & (r < 14.5)].any()  # the shell's interior
    full = als.alpha_shape(_noisy(lat.fcc_sphere(18.0), 0.05, 1), 4.0)
    void = full["volume"] - got["volume"]  # the void is not solid
    assert 0.5 < void / (4.0 / 3.0 * math.pi * 8.0**3) < 1.5
    a = lat.fcc_sphere(9.0, noise=0.05, seed=1)
    b = lat.fcc_sphere(9.0, noise=0.05, seed=2) + [40.0, 0.0, 0.0]
    both = als.alpha_shape(np.concatenate([a, b]), 4.0)
    one, two = als.alpha_shape(a, 4.0), als.alpha_shape(b, 4.0)
    assert both["area"] == pytest.approx(one["area"] + two["area"], rel=RTOL)
    assert both["volume"] == pytest.approx(one["volume"] + two["volume"], rel=RTOL)


def test_probe_radius_fills_concavities():
    """A pit of radius 7 A is open to a 4 A probe and filled (its bottom atoms inside) by a
    20 A probe."""
    x = pit(0.05)
    top = x[:, 2].max()
    bottom = (np.linalg.norm(x[:, :2], axis=1) < 2.0) & (x[:, 2] > top - 9.0) & (
        x[:, 2] < top - 3.0)
    assert bottom.any()
    small = als.alpha_shape(x, 4.0)
    large = als.alpha_shape(x, 20.0)
    assert small["surface"][bottom].any()
    assert not large["surface"][bottom].any()
    assert large["volume"] > small["volume"]


# ----------------------------------------------------------------------------------------------
# the oriented boundary
# ----------------------------------------------------------------------------------------------
def test_boundary_is_closed_and_outward(particles):
    for name in ("to 0.05", "hollow 0.1", "pit 0.1", "touching 0.1", "amorphous"):
        x = particles[name]
        got = als.alpha_shape(x, 4.0)
        f = got["facets"]
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        # closed and consistently oriented: every directed edge has its reverse
        fwd = set(map(tuple, edges))
        assert all((b, a) in fwd for a, b in fwd), name
        cr = np.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]])
        np.testing.assert_allclose(got["normals"],
                                   cr / np.linalg.norm(cr, axis=1)[:, None], atol=1e-12)
        assert got["area"] == pytest.approx(0.5 * np.linalg.norm(cr, axis=1).sum(), rel=1e-12)
        # outward orientation: the divergence-theorem volume is the (positive) sum of the
        # solid tetrahedra
        ref = als.alpha_shape_reference(x, 4.0)
        assert got["volume"] > 0
        assert got["volume"] == pytest.approx(ref["volume_tetrahedra"], rel=RTOL)


def test_outer_normals_point_away_from_a_convex_particle():
    x = lat.fcc_sphere(12.0, noise=0.05, seed=3)
    got = als.alpha_shape(x, 4.0)
    centre = x[got["facets"]].mean(axis=1)
    assert (np.einsum("ij,ij->i", centre, got["normals"]) > 0).mean() > 0.99


# ----------------------------------------------------------------------------------------------
# invariances and threads
# ----------------------------------------------------------------------------------------------
def test_translation_rotation_permutation(particles):
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    for name in ("fcc 0.05", "amorphous", "pit 0.1"):
        x = particles[name]
        ref = als.alpha_shape(x, 4.0)
        for y, perm in ((x + [500.0, -300.0, 80.0], None), (x @ q.T, None),
                        (x[p := rng.permutation(len(x))], p)):
            got = als.alpha_shape(y, 4.0)
            want = ref["surface"] if perm is None else ref["surface"][perm]
            np.testing.assert_array_equal(got["surface"], want, err_msg=name)
            assert got["area"] == pytest.approx(ref["area"], rel=RTOL)
            assert got["volume"] == pytest.approx(ref["volume"], rel=RTOL)
            assert len(got["facets"]) == len(ref["facets"])


def test_threads_do_not_matter(monkeypatch):
    x = lat.fcc_sphere(16.0, noise=0.1, seed=12)
    monkeypatch.setattr(als, "_CHUNK", 300)  # many ranges
    one = als.alpha_shape(x, 4.0, workers=1)
    for w in (2, 3):
        got = als.alpha_shape(x, 4.0, workers=w)
        for k in ("surface", "facets", "normals"):
            np.testing.assert_array_equal(got[k], one[k])
        assert got["area"] == one["area"] and got["volume"] == one["volume"]


# ----------------------------------------------------------------------------------------------
# degenerate and bad input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [als.alpha_shape, als.alpha_shape_reference])
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_fewer_than_four_atoms(fn, n):
    x = lat.fcc_sphere(6.0)[:n]
    got = fn(x, 4.0)
    assert got["surface"].shape == (n,) and got["surface"].all()
    assert got["area"] == 0.0 and got["volume"] == 0.0 and got["facets"].shape == (0, 3)


@pytest.mark.parametrize("fn", [als.alpha_shape, als.alpha_shape_reference])
def test_coplanar_and_collinear(fn):
    layer = lat.fcc_sphere(12.0)
    layer = layer[np.abs(layer[:, 2]) < 0.1]
    line = np.outer(np.arange(10.0), [1.0, 2.0, 3.0])
    tilted = layer @ np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0].T
    for x in (layer, line, tilted):
        got = fn(x, 4.0)
        assert got["surface"].all() and got["area"] == 0.0 and got["volume"] == 0.0
        assert got["facets"].shape == (0, 3)


def test_duplicates_are_one_atom():
    x = lat.fcc_sphere(10.0, noise=0.05, seed=2)
    dup_of = np.array([0, 5, 17, 17, 300])
    y = np.concatenate([x, x[dup_of]])
    got = als.alpha_shape(y, 4.0)
    ref = als.alpha_shape(x, 4.0)
    np.testing.assert_array_equal(got["surface"][: len(x)], ref["surface"])
    np.testing.assert_array_equal(got["surface"][len(x):], ref["surface"][dup_of])
    np.testing.assert_array_equal(got["facets"], ref["facets"])  # name the first copies
    assert got["area"] == ref["area"] and got["volume"] == ref["volume"]


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_probe_radius(radius):
    with pytest.raises(ValueError, match="probe_radius"):
        als.alpha_shape(lat.fcc_sphere(6.0), radius)


@pytest.mark.parametrize("fn", [als.alpha_shape, als.alpha_shape_reference])
def test_bad_coordinates(fn):
    x = lat.fcc_sphere(6.0).copy()
    x[2, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fn(x, 4.0)
    with pytest.raises(ValueError, match="shape"):
        fn(np.zeros((5, 2)), 4.0)


def test_isolated_atom_is_not_surface():
    x = np.concatenate([lat.fcc_sphere(9.0, noise=0.05, seed=1), [[40.0, 0.0, 0.0]]])
    got = als.alpha_shape(x, 4.0)
    assert not got["surface"][-1]
    _same(got, als.alpha_shape_reference(x, 4.0), "isolated")


def test_shared_frames(shared_series):
    from nanotraj.io import read_frame

    for path in sorted(shared_series.glob("*.pdb")):
        x = read_frame(path).coords
        for alpha in (3.0, 4.0):
            fast = als.alpha_shape(x, alpha)
            _same(fast, als.alpha_shape_reference(x, alpha), f"{path.name} {alpha}")
            assert 0.2 < fast["surface"].mean() < 0.7


def test_default_probe_radius():
    assert als.default_probe_radius("Pt") == pytest.approx(als.PROBE_FACTOR * NN, rel=1e-12)
    assert als.default_probe_radius("Pt") == pytest.approx(4.0, abs=0.02)  # OVITO's default
    assert als.default_probe_radius("Au") > als.default_probe_radius("Pt")
