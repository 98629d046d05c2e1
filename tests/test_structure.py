"""Tests of nanotraj.structure: CNA, BOO classes, surface, close contacts, summary.

Expected classes of the perfect clusters (cutoff between the first and second shells; bcc
between the second and third):

* fcc / hcp / bcc spheres: every atom with a complete shell (12 bonds; bcc 14) is fcc / hcp /
  bcc by CNA; by BOO every atom whose neighbours also have complete shells (its coarse-grained
  Q then equals the bulk value) is fcc / hcp / bcc.
* Mackay icosahedron (20 fcc tetrahedra sharing the centre): by CNA the centre is ico, the
  interior atoms on the twelve 5-fold axes are other (two 555 bonds along the axis, ten 422),
  atoms on the 30 twin planes between tetrahedra are hcp, atoms inside a tetrahedron fcc.
  By BOO the centre and the interior 5-fold-axis atoms are ico (local five-fold symmetry; the
  ico reference point itself is the centre of a perfect icosahedron).
* Ino decahedron (5 fcc tetrahedra around a 5-fold axis): by CNA interior atoms on the axis are
  other, on the 5 twin planes hcp, inside a tetrahedron fcc.  By BOO the twin-plane atoms whose
  neighbours have complete shells are hcp, the fcc atoms whose neighbours are all CNA-fcc
  are fcc and the interior 5-fold-axis atoms are ico.  (fcc atoms *next to* a twin plane are
  averaged with the twin and come out hcp or fcc: coarse-graining; not tested.)
* With Gaussian noise of 0.05 A at least 95 % of those interior atoms keep their CNA class.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from nanotraj import cna as cn_mod
from nanotraj import lattices as lat
from nanotraj import structure as st
from nanotraj.bonds import find_bonds

SHARED = Path(__file__).resolve().parents[2] / "shared"
SERIES = SHARED / "data" / "single-pt-series"
OVITO_TSV = Path(__file__).resolve().parents[1] / "resources" / "ovito_cna_counts.tsv"
NN = lat.PT_NN
A_BCC = 2.0 * NN / math.sqrt(3.0)
CUT = 1.2 * NN  # between the 1st (nn) and 2nd (sqrt(2) nn) fcc/hcp shells
CUT_BCC = 0.5 * (1.0 + math.sqrt(2.0)) * A_BCC  # between the 2nd (a) and 3rd (sqrt(2) a) shells


def _bonds(x, cutoff):
    b, _ = find_bonds(x, cutoff)
    return b, np.bincount(b.ravel(), minlength=len(x))


def _all_neighbours(b, n, flag):
    """(N,) bool: every bonded neighbour of the atom has ``flag``."""
    ok = np.ones(n, bool)
    np.logical_and.at(ok, b[:, 0], flag[b[:, 1]])
    np.logical_and.at(ok, b[:, 1], flag[b[:, 0]])
    return ok


# ----------------------------------------------------------------------------------------------
# expected CNA classes of multiply twinned clusters, from geometry
# ----------------------------------------------------------------------------------------------
def _expected_icosahedron(x):
    verts, faces = lat._icosahedron_vertices()
    out = np.full(len(x), -1)
    for idx, p in enumerate(x):
        if np.linalg.norm(p) < 1e-6:
            out[idx] = st.ICO
            continue
        for f in faces:
            coef = np.linalg.solve(verts[list(f)].T, p)
            if np.all(coef > -1e-6):
                zeros = int(np.sum(np.abs(coef) < 1e-6 * np.abs(coef).sum()))
                out[idx] = {0: st.FCC, 1: st.HCP, 2: st.OTHER}[zeros]
                break
    assert np.all(out >= 0)
    return out


def _expected_decahedron(x):
    out = np.full(len(x), st.FCC)
    r = np.hypot(x[:, 0], x[:, 1])
    axis = r < 1e-6
    phi = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi / 5)
    twin = (np.minimum(phi, 2 * np.pi / 5 - phi) * np.maximum(r, 1.0) < 1e-6) & ~axis
    out[twin] = st.HCP
    out[axis] = st.OTHER
    return out


CLUSTERS = {
    # name: (generator(noise), cutoff, full shell, expected CNA class of interior atoms)
    "fcc": (lambda s: lat.fcc_sphere(4.0 * NN, noise=s), CUT, 12, lambda x: st.FCC),
    "hcp": (lambda s: lat.hcp_sphere(4.0 * NN, noise=s), CUT, 12, lambda x: st.HCP),
    "bcc": (lambda s: lat.bcc_sphere(4.0 * A_BCC, noise=s), CUT_BCC, 14, lambda x: st.BCC),
    "ico": (lambda s: lat.icosahedron(4, noise=s), CUT, 12, _expected_icosahedron),
    "deca": (lambda s: lat.decahedron(8, noise=s), CUT, 12, _expected_decahedron),
}


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_cna_perfect_clusters(name):
    make, cutoff, full, expected = CLUSTERS[name]
    x = make(0.0)
    b, cn = _bonds(x, cutoff)
    sig, s = cn_mod.cna(len(x), b)
    assert sig.shape == (len(b), 3) and s.shape == (len(x),) and s.dtype == np.int8
    interior = cn == full
    assert interior.sum() >= 20
    want = np.broadcast_to(expected(x), (len(x),))
    np.testing.assert_array_equal(s[interior], want[interior])
    assert np.all(s[cn != full] == st.OTHER)  # incomplete shells are never crystalline
    if name in ("ico", "deca"):  # every kind of interior atom is present
        assert set(np.unique(s[interior])) >= {st.FCC, st.HCP, st.OTHER}


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_cna_noise_005(name):
    make, cutoff, full, expected = CLUSTERS[name]
    x0 = make(0.0)
    _, cn0 = _bonds(x0, cutoff)
    interior = cn0 == full
    want = np.broadcast_to(expected(x0), (len(x0),))[interior]
    fractions = []
    for seed in range(3):
        x = x0 + np.random.default_rng(seed).normal(0.0, 0.05, x0.shape)
        b, _ = _bonds(x, cutoff)
        _, s = cn_mod.cna(len(x), b)
        fractions.append(np.mean(s[interior] == want))
    assert min(fractions) >= 0.95, fractions


def test_cna_signatures_known_values():
    x = lat.fcc_sphere(3.0 * NN)
    b, cn = _bonds(x, CUT)
    sig, _ = cn_mod.cna(len(x), b)
    centre = int(np.argmin(np.linalg.norm(x, axis=1)))
    mine = (b == centre).any(axis=1)
    np.testing.assert_array_equal(sig[mine], np.tile([4, 2, 1], (12, 1)))
    x = lat.icosahedron(2)
    b, _ = _bonds(x, CUT)
    sig, s = cn_mod.cna(len(x), b)
    np.testing.assert_array_equal(sig[(b == 0).any(axis=1)], np.tile([5, 5, 5], (12, 1)))
    assert s[0] == st.ICO


def _brute_force_signatures(n, bonds):
    nb = [set() for _ in range(n)]
    for i, j in bonds:
        nb[i].add(j)
        nb[j].add(i)
    out = []
    for i, j in bonds:
        common = sorted(nb[i] & nb[j])
        edges = [(p, q) for a, p in enumerate(common) for q in common[a + 1 :] if q in nb[p]]
        best, seen = 0, set()
        for e in edges:  # largest connected cluster of bonds among the common neighbours
            if e in seen:
                continue
            cluster, stack = {e}, [e]
            while stack:
                p, q = stack.pop()
                for f in edges:
                    if f not in cluster and ({p, q} & set(f)):
                        cluster.add(f)
                        stack.append(f)
            seen |= cluster
            best = max(best, len(cluster))
        out.append((len(common), len(edges), best))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cna_signatures_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    # a noisy, partly disordered cluster with a generous cutoff: many kinds of signatures
    x = lat.fcc_sphere(2.5 * NN, noise=0.25, seed=seed)
    b, _ = _bonds(x, 1.35 * NN)
    perm = rng.permutation(len(b))
    flip = rng.random(len(b)) < 0.5
    shuffled = b[perm]
    shuffled[flip] = shuffled[flip][:, ::-1]  # any order, any orientation
    sig, s = cn_mod.cna(len(x), shuffled)
    np.testing.assert_array_equal(sig, _brute_force_signatures(len(x), shuffled))
    sig_sorted, s_sorted = cn_mod.cna(len(x), b)
    np.testing.assert_array_equal(sig_sorted[perm], sig)
    np.testing.assert_array_equal(s_sorted, s)
    assert len(np.unique(sig, axis=0)) > 10


def test_cna_threads_give_the_same_signatures(monkeypatch):
    """The mask pass in chunks run by threads (each bond end written by one chunk) gives the
    signatures of one thread, also against brute force, with many small chunks."""
    x = lat.fcc_sphere(3.0 * NN, noise=0.2, seed=4)
    b, _ = _bonds(x, 1.3 * NN)
    one = cn_mod.cna(len(x), b)
    monkeypatch.setattr(cn_mod, "_CHUNK", 4096)  # a few bonds per chunk: many chunks
    # and few bonds per chunk of the per-atom sums: the in-positions and the class counts of
    # large frames are split between the threads too
    monkeypatch.setattr(cn_mod, "SUM_CHUNK", 64)
    ub = cn_mod.normalise_bonds(len(x), b)[0]
    assert len(ub) >= 8 * 64
    serial = cn_mod._in_positions(len(x), ub[:, 0], ub[:, 1])
    for workers in (2, 3):
        sig, s = cn_mod.cna(len(x), b, workers=workers)
        np.testing.assert_array_equal(sig, one[0])
        np.testing.assert_array_equal(s, one[1])
        np.testing.assert_array_equal(cn_mod._in_positions(len(x), ub[:, 0], ub[:, 1], workers),
                                      serial)
    # the in-positions: the rank of a among b's in-neighbours, in bond order
    for k in np.random.default_rng(0).choice(len(ub), 50, replace=False):
        a, c = ub[k]
        assert serial[k] == np.count_nonzero((ub[:, 1] == c) & (ub[:, 0] < a))
    np.testing.assert_array_equal(one[0], _brute_force_signatures(len(x), b))


@pytest.mark.parametrize("seed", range(2))
def test_cna_triangle_path_matches_brute_force(monkeypatch, seed):
    """Atoms with more than _MASK_BITS bonds take the triangle-enumeration path: its signatures
    (and per-atom classes) equal brute force and the bit-mask path's."""
    x = lat.fcc_sphere(2.5 * NN, noise=0.25, seed=seed)
    b, _ = _bonds(x, 1.35 * NN)
    masks = cn_mod.cna(len(x), b)
    monkeypatch.setattr(cn_mod, "_MASK_BITS", 0)  # every atom has more bonds: no mask path
    assert cn_mod.signatures_masks(len(x), b[:, 0], b[:, 1]) is None
    sig, s = cn_mod.cna(len(x), b)
    np.testing.assert_array_equal(sig, _brute_force_signatures(len(x), b))
    np.testing.assert_array_equal(sig, masks[0])
    np.testing.assert_array_equal(s, masks[1])
    assert (sig[:, 0] > 6).any()  # the computed (not tabulated) chains are exercised too


def test_cna_edge_cases():
    sig, s = cn_mod.cna(5, np.zeros((0, 2), np.int64))
    assert sig.shape == (0, 3) and np.all(s == st.OTHER) and len(s) == 5
    sig, s = cn_mod.cna(3, [[0, 1], [1, 2], [0, 2]])
    np.testing.assert_array_equal(sig, [[1, 0, 0]] * 3)
    with pytest.raises(ValueError):
        cn_mod.cna(2, [[0, 2]])
    with pytest.raises(ValueError):
        cn_mod.cna(2, [[1, 1]])
    with pytest.raises(ValueError):
        cn_mod.cna(3, [[0, 1], [1, 0]])


def test_cna_speed_1e5():
    x = lat.fcc_sphere(18.2 * lat.PT_A)  # ~1e5 atoms
    b, cn = _bonds(x, CUT)
    t = time.perf_counter()
    _, s = cn_mod.cna(len(x), b)
    elapsed = time.perf_counter() - t
    assert len(x) > 9e4
    assert np.all(s[cn == 12] == st.FCC)
    assert elapsed < 10.0  # ~1 s on a laptop core


# ----------------------------------------------------------------------------------------------
# BOO classes
# ----------------------------------------------------------------------------------------------
def _boo(x, b):
    from nanotraj.order import boo

    return boo(x, b)


@pytest.mark.parametrize("name", ["fcc", "hcp", "bcc"])
def test_boo_class_perfect_lattices(name):
    make, cutoff, full, _ = CLUSTERS[name]
    x = make(0.0)
    b, cn = _bonds(x, cutoff)
    r = _boo(x, b)
    cls, d = st.boo_class(r["Q4"], r["Q6"], r["W6"], r["crystalline"], return_distance=True)
    inner = (cn == full) & _all_neighbours(b, len(x), cn == full)
    assert inner.sum() >= 10
    assert np.all(cls[inner] == name)
    assert d[inner].max() < 1e-6


def test_boo_class_icosahedron():
    x = lat.icosahedron(4)
    b, cn = _bonds(x, CUT)
    r = _boo(x, b)
    cls = st.boo_class(r["Q4"], r["Q6"], r["W6"], r["crystalline"])
    assert cls[0] == "ico"  # the centre
    assert not r["crystalline"][0]  # five-fold order is never "crystalline" (s6 criterion)
    expected = _expected_icosahedron(x)
    inner = (cn == 12) & _all_neighbours(b, len(x), cn == 12)
    axis = inner & (expected == st.OTHER)
    assert axis.sum() == 24  # 1st and 2nd shell atoms on the 12 five-fold axes
    assert np.all(cls[axis] == "ico")


def test_boo_class_decahedron():
    x = lat.decahedron(10)
    b, cn = _bonds(x, CUT)
    _, s = cn_mod.cna(len(x), b)
    r = _boo(x, b)
    cls = st.boo_class(r["Q4"], r["Q6"], r["W6"], r["crystalline"])
    inner = (cn == 12) & _all_neighbours(b, len(x), cn == 12)
    twin = inner & (s == st.HCP)
    deep_fcc = (s == st.FCC) & _all_neighbours(b, len(x), s == st.FCC)
    assert twin.sum() >= 50 and deep_fcc.sum() >= 20
    assert np.all(cls[twin] == "hcp")
    assert np.all(cls[deep_fcc] == "fcc")
    axis = inner & (s == st.OTHER)  # interior atoms of the 5-fold axis: local five-fold order
    assert axis.sum() == 7 and np.all(cls[axis] == "ico")


def test_boo_class_whole_truncated_octahedron_is_fcc():
    # surface atoms included: their Q is averaged over incomplete shells but stays near fcc
    x = lat.truncated_octahedron(4)
    b, _ = _bonds(x, CUT)
    r = _boo(x, b)
    cls, d = st.boo_class(r["Q4"], r["Q6"], r["W6"], r["crystalline"], return_distance=True)
    assert np.all(cls == "fcc")
    assert d.max() < 0.06


def test_boo_class_rules():
    ref = lat.reference_points()
    q4 = np.array([ref[k]["Q4"] for k in ("fcc", "hcp", "bcc", "ico")] + [0.19, 0.5, 0.0])
    q6 = np.array([ref[k]["Q6"] for k in ("fcc", "hcp", "bcc", "ico")] + [0.57, 0.5, 0.0])
    w6 = np.array([ref[k]["W6"] for k in ("fcc", "hcp", "bcc", "ico")] + [-0.0026, 0.0, 0.0])
    xtal = np.array([True] * 3 + [False, False, True, True])
    cls, d = st.boo_class(q4, q6, w6, xtal, ref, return_distance=True)
    # ico does not need `crystalline` (five-fold order never passes it); fcc/hcp/bcc do
    assert cls.tolist() == ["fcc", "hcp", "bcc", "ico", "disordered", "disordered", "disordered"]
    np.testing.assert_allclose(d[:4], 0.0, atol=1e-12)
    strict = st.boo_class(q4, q6, w6, xtal, ref, require_crystalline=st.BOO_REFERENCE_STRUCTURES)
    assert strict[3] == "disordered"
    # the metric: sqrt(dQ4^2 + dQ6^2 + (40 dW6)^2)
    p = np.array([ref["fcc"]["Q4"] + 0.03, ref["fcc"]["Q6"] - 0.04, ref["fcc"]["W6"] + 0.0005])
    cls, d = st.boo_class(*p[:, None], [True], ref, return_distance=True)
    assert cls[0] == "fcc"
    assert d[0] == pytest.approx(math.sqrt(0.03**2 + 0.04**2 + (40 * 0.0005) ** 2))
    assert st.boo_class(*p[:, None], [True], ref, max_distance=0.05)[0] == "disordered"
    assert st.boo_class([], [], [], [], ref).shape == (0,)
    only = {"fcc": ref["fcc"], "hcp": ref["hcp"]}
    assert st.boo_class([0.0], [0.3], [-0.0048], [True], only, np.inf)[0] in ("fcc", "hcp")


def test_boo_class_equals_brute_force_nearest_point():
    """Every atom gets the nearest reference point by an explicit search over the points
    (the first on ties), the crystalline and distance rules, and NaN input is disordered."""
    ref = lat.reference_points()
    names, pts = st.boo_reference_points(ref)
    rng = np.random.default_rng(9)
    n = 3000
    k = rng.integers(0, len(names), n)
    q4 = pts[k, 0] + rng.normal(0, 0.04, n)
    q6 = pts[k, 1] + rng.normal(0, 0.04, n)
    w6 = pts[k, 2] + rng.normal(0, 0.001, n)
    q4[:5] = pts[1, 0]  # exactly on a reference point
    q6[:5], w6[:5] = pts[1, 1], pts[1, 2]
    q6[7:10] = np.nan
    xtal = rng.random(n) > 0.2
    cls, d = st.boo_class(q4, q6, w6, xtal, ref, return_distance=True)
    for a in range(n):
        dd = [math.sqrt((q4[a] - p[0]) ** 2 + (q6[a] - p[1]) ** 2 + (40 * w6[a] - 40 * p[2]) ** 2)
              for p in pts]
        if any(math.isnan(v) for v in dd):
            assert cls[a] == "disordered" and math.isnan(d[a])
            continue
        best = int(np.argmin(dd))
        assert d[a] == pytest.approx(dd[best], rel=1e-12, abs=1e-15)
        name = names[best]
        ok = dd[best] <= st.MAX_BOO_DISTANCE and (xtal[a] or name == "ico")
        assert cls[a] == (name if ok else "disordered"), a
    assert (cls[:5] == "hcp").sum() == xtal[:5].sum()


# ----------------------------------------------------------------------------------------------
# surface and close contacts
# ----------------------------------------------------------------------------------------------
def _on_hull(x, tol=1e-6):
    from scipy.spatial import ConvexHull

    h = ConvexHull(x)
    return ((x @ h.equations[:, :3].T + h.equations[:, 3]) > -tol).any(axis=1)


def test_surface_truncated_octahedron_is_hull():
    x = lat.truncated_octahedron(4)
    b, cn = _bonds(x, CUT)
    surf = st.surface(x, cn, b, NN)
    hull = _on_hull(x)
    assert hull.sum() == 272  # 586 - 314 interior atoms
    np.testing.assert_array_equal(surf, hull)
    np.testing.assert_array_equal(surf, cn < 12)
    # robust to 0.05 A noise: the same atoms
    xn = lat.truncated_octahedron(4, noise=0.05)
    bn, cnn = _bonds(xn, CUT)
    np.testing.assert_array_equal(st.surface(xn, cnn, bn, NN), hull)


def test_surface_vacancy_is_not_surface():
    x = lat.fcc_sphere(4.0 * NN)
    centre = int(np.argmin(np.linalg.norm(x, axis=1)))
    x = np.delete(x, centre, axis=0)
    b, cn = _bonds(x, CUT)
    surf = st.surface(x, cn, b, NN)
    around = np.linalg.norm(x, axis=1) < 1.1 * NN  # the 12 atoms next to the vacancy
    assert around.sum() == 12 and not surf[around].any()
    assert np.all(surf[cn <= 9])  # facet, edge and vertex atoms of the sphere
    assert not surf[cn == 11].any()  # one missing bond, like the vacancy's neighbours


def test_surface_isolated_and_small():
    x = np.array([[0.0, 0, 0], [NN, 0, 0], [50.0, 0, 0]])
    b, cn = _bonds(x, CUT)
    assert st.surface(x, cn, b, NN).tolist() == [True, True, True]


def test_n_close_contacts_constructed():
    # isolated pairs 20 A apart with separations 0.5, 0.79, 0.81, 1.0 x nn: two are close
    seps = [0.5, 0.79, 0.81, 1.0]
    pts = []
    for k, f in enumerate(seps):
        pts += [[20.0 * k, 0, 0], [20.0 * k, f * NN, 0]]
    x = np.array(pts)
    assert st.n_close_contacts(x, NN) == 2
    assert st.n_close_contacts(x, NN, factor=0.9) == 3
    assert st.n_close_contacts(lat.fcc_sphere(10.0), NN) == 0
    assert st.n_close_contacts(x[:1], NN) == 0
    # an atom dropped into an octahedral hole of fcc: 6 contacts at a/2 = 0.707 nn
    y = lat.fcc_sphere(10.0)
    y = np.vstack([y, [[lat.PT_A / 2, 0, 0]]])
    assert st.n_close_contacts(y, NN) == 6


@pytest.mark.parametrize("chunk", [7, 1 << 18])
def test_surface_and_cna_classes_chunked_equal_loops(monkeypatch, chunk):
    """The per-atom sums over bonds behind ``surface`` (bond vector sums) and ``cna`` (bonds
    per signature class), done in chunks of bonds, equal plain loops, for bonds in any order."""
    from nanotraj.bonds import bond_counts, find_bonds

    x = lat.fcc_sphere(9.0, noise=0.1, seed=4)
    bonds, _ = find_bonds(x, 1.2 * NN)
    bonds = bonds[np.random.default_rng(0).permutation(len(bonds))][:, ::-1]
    cn = bond_counts(len(x), bonds)
    total = np.zeros((len(x), 3))
    for i, j in bonds:
        total[i] += x[j] - x[i]
        total[j] += x[i] - x[j]
    want = (np.linalg.norm(total, axis=1) > st.SURFACE_THRESHOLD * NN) | (cn < st.SURFACE_MIN_CN)
    ref_sig, ref_structure = cn_mod.cna(len(x), bonds)
    monkeypatch.setattr(cn_mod, "SUM_CHUNK", chunk)
    monkeypatch.setattr(st, "_SUM_CHUNK", chunk)
    np.testing.assert_array_equal(st.surface(x, cn, bonds, NN), want)
    np.testing.assert_array_equal(st.surface(x, cn, bonds, NN, workers=2), want)
    sig, structure = cn_mod.cna(len(x), bonds)
    np.testing.assert_array_equal(sig, ref_sig)
    np.testing.assert_array_equal(structure, ref_structure)
    expected = np.zeros(len(x), np.int8)
    for a in range(len(x)):
        mine = ref_sig[(bonds == a).any(axis=1)]
        codes = sorted(int(m) * 100 + int(k) * 10 + int(c) for m, k, c in mine)
        if codes == [421] * 12:
            expected[a] = st.FCC
        elif codes == [421] * 6 + [422] * 6:
            expected[a] = st.HCP
    np.testing.assert_array_equal(structure, expected)
    assert (structure == st.FCC).sum() > 50


def test_n_close_contacts_from_bond_lengths():
    """Counted among the bond lengths when the bonds hold every pair within a cutoff of at
    least factor * nn (the workflow's case), by a pair search otherwise: the same counts."""
    from nanotraj.bonds import find_bonds

    rng = np.random.default_rng(3)
    y = lat.fcc_sphere(14.0, noise=0.3, seed=2)  # strong noise: many close pairs
    y = np.vstack([y, y[:5] + rng.normal(0, 0.3, (5, 3))])  # and near-duplicates
    want = st.n_close_contacts(y, NN)
    assert want > 5
    for cutoff in (0.8 * NN, 3.4, 5.0):
        _, d = find_bonds(y, cutoff)
        assert st.n_close_contacts(y, NN, distances=d, cutoff=cutoff) == want
    # a cutoff below the limit cannot be used: the pair search runs (the lengths are ignored)
    _, d = find_bonds(y, 0.5 * NN)
    assert st.n_close_contacts(y, NN, distances=d, cutoff=0.5 * NN) == want
    assert st.n_close_contacts(y, NN, factor=0.7, distances=d, cutoff=0.5 * NN) == (
        st.n_close_contacts(y, NN, factor=0.7))


# ----------------------------------------------------------------------------------------------
# summary and the workflow entry point
# ----------------------------------------------------------------------------------------------
def test_structure_summary():
    cn = np.array([12, 12, 9, 6])
    q6 = np.array([0.5, 0.6, 0.3, 0.1])
    xtal = np.array([True, False, True, False])
    s_cna = np.array([1, 2, 0, 0])
    s_boo = np.array(["fcc", "disordered", "hcp", "disordered"])
    surf = np.array([False, False, True, True])
    out = st.structure_summary(cn, q6, xtal, s_cna, s_boo, surf)
    assert tuple(out) == st.SUMMARY_COLUMNS
    assert out["fraction_fcc"] == 0.25 and out["fraction_hcp"] == 0.25
    assert out["fraction_other"] == 0.5 and out["fraction_bcc"] == 0.0
    assert out["fraction_fcc_boo"] == 0.25 and out["fraction_hcp_boo"] == 0.25
    assert out["fraction_disordered_boo"] == 0.5
    assert out["fraction_surface"] == 0.5
    assert out["cn_mean_core"] == 12.0 and out["cn_mean_surface"] == 7.5
    assert out["Q6_mean_core"] == pytest.approx(0.55)
    assert out["Q6_mean_surface"] == pytest.approx(0.2)
    assert out["fraction_disordered_core"] == 0.5 and out["fraction_disordered_surface"] == 0.5
    none = st.structure_summary(cn, q6, xtal, s_cna, s_boo, np.zeros(4, bool))
    assert math.isnan(none["cn_mean_surface"]) and none["fraction_surface"] == 0.0


def test_classify_truncated_octahedron():
    from nanotraj.order import boo

    x = lat.truncated_octahedron(4)
    b, cn = _bonds(x, 3.41)
    out = st.classify(x, b, boo(x, b), cn, NN, cutoff=3.41,
                      distances=np.linalg.norm(x[b[:, 0]] - x[b[:, 1]], axis=1))
    assert set(out) == {"structure_cna", "structure_acna", "structure_boo", "sigma_estimate",
                        "nn_peak", "n_close_contacts"}
    assert out["sigma_estimate"] == pytest.approx(0.0, abs=1e-9)
    assert out["nn_peak"] == pytest.approx(lat.PT_NN, abs=1e-9)
    assert np.bincount(out["structure_cna"], minlength=5).tolist() == [272, 314, 0, 0, 0]
    np.testing.assert_array_equal(out["structure_acna"], out["structure_cna"])  # perfect
    assert set(out["structure_boo"]) <= {"fcc", "disordered"}
    assert (out["structure_boo"] == "fcc").sum() > 100
    assert out["n_close_contacts"] == 0


# ----------------------------------------------------------------------------------------------
# against OVITO (in-process when importable, else the committed counts)
# ----------------------------------------------------------------------------------------------
def _read_columns(path):
    rows = []
    with open(path, encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith(("ATOM", "HETATM")):
                rows.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    return np.array(rows)


def _shared_frames():
    if not SERIES.is_dir():
        pytest.skip(f"shared data not available at {SERIES}")
    files = sorted(SERIES.glob("*.pdb"))
    assert len(files) == 5
    return files


def test_cna_equals_ovito_committed_counts():
    files = _shared_frames()
    lines = OVITO_TSV.read_text().splitlines()
    header = lines[0].split("\t")
    table = {r.split("\t")[0]: dict(zip(header, r.split("\t"), strict=True)) for r in lines[1:]}
    assert set(table) == {f.name for f in files}
    for f in files:
        row = table[f.name]
        x = _read_columns(f)
        assert len(x) == int(row["n_atoms"])
        b, _ = find_bonds(x, float(row["cutoff"]))
        _, s = cn_mod.cna(len(x), b)
        counts = np.bincount(s, minlength=5).tolist()
        want = [int(row[f"n_{c}"]) for c in st.CNA_NAMES]
        assert counts == want, f.name


def test_cna_equals_ovito_atom_for_atom():
    pytest.importorskip("ovito")
    from ovito.modifiers import CommonNeighborAnalysisModifier

    from .oracle.ovito_data import collection

    for f in _shared_frames():
        x = _read_columns(f)
        data = collection(x)
        mode = CommonNeighborAnalysisModifier.Mode.FixedCutoff
        data.apply(CommonNeighborAnalysisModifier(mode=mode, cutoff=3.41))
        ref = np.asarray(data.particles["Structure Type"][...])
        b, _ = find_bonds(x, 3.41)
        _, s = cn_mod.cna(len(x), b)
        np.testing.assert_array_equal(s, ref, err_msg=f.name)


def test_documented_limits_of_the_boo_classes():
    """What the README and nanotraj.boo_classes say of the classes on perfect clusters: no atom
    of a five-fold axis is 'ico' (Mackay icosahedron: every atom disordered, its tetrahedra are
    too thin; the old nearest-point classes called 49 atoms ico), an Ino decahedron has no ico
    and only fcc/hcp where CNA says so, and a perfect hcp sphere has no fcc (the old classes
    called 38 of its surface atoms fcc)."""
    from nanotraj.bonds import bond_counts, find_bonds
    from nanotraj.order import boo

    for x, n_atoms, named in (
        (lat.icosahedron(4), 309, {}),
        (lat.decahedron(8), 609, {"fcc": 110, "hcp": 35}),
        (lat.hcp_sphere(11.0), 383, {"hcp": 51}),
    ):
        b, d = find_bonds(x, 1.2 * NN)
        res = st.classify(x, b, boo(x, b, products=(6,)), bond_counts(len(x), b), NN,
                          cutoff=1.2 * NN, distances=d)
        assert len(x) == n_atoms and res["sigma_estimate"] == pytest.approx(0.0, abs=1e-9)
        got = {c: int((res["structure_boo"] == c).sum()) for c in ("fcc", "hcp", "bcc", "ico")}
        assert {c: k for c, k in got.items() if k} == named
        cna_names = np.array(st.CNA_NAMES)[res["structure_cna"]]
        for c in named:  # every named atom is that structure by CNA
            assert np.all(cna_names[res["structure_boo"] == c] == c)
