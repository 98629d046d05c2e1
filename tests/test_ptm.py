"""Polyhedral template matching (nanotraj.ptm) without OVITO.

Against analytic cases (ideal environments: RMSD 0 and the known spacing; homogeneously
stretched environments: the closed-form RMSD and deformation gradient; a rotated crystal: the
rotation), independent counts of the template tables (Burnside's lemma), invariance under
translation, rotation and permutation of the atoms, bad input, and independence of the number
of threads.  Atom-for-atom agreement with OVITO is in ``tests/oracle/test_ovito_ptm.py``.
"""

import itertools
import math

import numpy as np
import pytest

from nanotraj import lattices as lat
from nanotraj import ptm as ptm_mod
from nanotraj.ptm import BCC, FCC, HCP, ICO, OTHER, SC, TEMPLATES, ptm

A_SC = 2.7
A_BCC = lat.BCC_A_PT_NN
NN = {FCC: lat.PT_NN, HCP: lat.PT_NN, BCC: A_BCC * math.sqrt(3) / 2, SC: A_SC}


def _sc_block(n, a=A_SC):
    g = np.arange(-n, n + 1)
    return np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3) * a


def _quat_matrix(q):
    """Rotation matrix of (x, y, z, w)."""
    x, y, z, w = q
    return np.array(
        [
            [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z],
        ]
    )


def _identity(n):
    return np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))


def _random_rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _in_group(M, group, tol=1e-8):
    return any(np.abs(M - G).max() < tol for G in group)


CUBIC = [
    np.array(p) * np.array(s)[:, None]
    for p in itertools.permutations(np.eye(3))
    for s in itertools.product((1, -1), repeat=3)
    if np.linalg.det(np.array(p) * np.array(s)[:, None]) > 0
]


def _interior(x, margin):
    """Atoms farther than ``margin`` inside the cluster's outermost atom (spheres: radially;
    the simple cubic block, whose corners are farthest: along the axes)."""
    c = x - x.mean(axis=0)
    r = np.linalg.norm(c, axis=1)
    rc = np.abs(c).max(axis=1)
    if np.sum(rc > rc.max() - 1e-9) > np.sum(r > r.max() - 1e-9):  # a cube: flat faces
        return rc < rc.max() - margin
    return r < r.max() - margin


# ----------------------------------------------------------------------------------------------
# fixtures (module level: generated once)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def perfect():
    """Ideal crystals (Pt spacing; sc 2.7 A) and the structure of their interior atoms."""
    return {
        FCC: lat.fcc_sphere(12.0),
        HCP: lat.hcp_sphere(12.0),
        BCC: lat.bcc_sphere(12.0),
        SC: _sc_block(4),
    }


@pytest.fixture(scope="module")
def noisy():
    """Thermal-like particles (no exact ties): a noisy fcc sphere and a decahedron."""
    return np.vstack(
        [lat.fcc_sphere(11.0, noise=0.1, seed=3), lat.decahedron(6, noise=0.08, seed=4) + 40.0]
    )


# ----------------------------------------------------------------------------------------------
# ideal environments
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [FCC, HCP, BCC, SC])
def test_ideal_crystal_interior(perfect, code):
    x = perfect[code]
    res = ptm(x)
    inner = _interior(x, 2.5 * NN[code])
    assert inner.sum() > 20
    assert np.all(res["structure"][inner] == code)
    assert np.all(res["rmsd"][inner] < 1e-6)
    np.testing.assert_allclose(res["interatomic_distance"][inner], NN[code], rtol=1e-9)
    m = {FCC: 12, HCP: 12, BCC: 14, SC: 6}[code]
    nb = res["neighbours"][inner]
    assert np.all(nb[:, :m] >= 0) and np.all(nb[:, m:] == -1)
    # the matched neighbours are the first shell (bcc: first and second)
    d = np.linalg.norm(x[nb[:, :m]] - x[inner][:, None, :], axis=2)
    limit = 1.01 * (A_BCC if code == BCC else NN[code])
    assert np.all(d < limit)


def test_ideal_crystal_orientation_is_identity(perfect):
    """Crystals in the templates' frames: orientation (0, 0, 0, 1)."""
    for code in (FCC, BCC, SC):
        x = perfect[code]
        res = ptm(x)
        inner = _interior(x, 2.5 * NN[code])
        np.testing.assert_allclose(res["orientation"][inner], _identity(inner.sum()), atol=1e-9)
        assert np.all(res["template_index"][inner] == 0)


def test_hcp_template_index(perfect):
    """Both stacking positions of hcp appear, with the identity orientation (the second
    template is the first rotated by 60 deg about c)."""
    x = perfect[HCP]
    res = ptm(x)
    inner = _interior(x, 2.5 * NN[HCP])
    np.testing.assert_allclose(res["orientation"][inner], _identity(inner.sum()), atol=1e-9)
    assert set(res["template_index"][inner].tolist()) == {0, 1}
    # the A and B layers alternate along z
    layer = np.round(x[inner, 2] / (lat.PT_NN * math.sqrt(2 / 3))).astype(int) % 2
    ti = res["template_index"][inner]
    assert np.all(ti == ti[layer == 0][0] * (layer == 0) + ti[layer == 1][0] * (layer == 1))


def _template_cluster(name, scale, ti=0):
    return np.vstack([np.zeros(3), TEMPLATES[name][ti] * scale])


@pytest.mark.parametrize(
    ("name", "code"), [("fcc", FCC), ("hcp", HCP), ("bcc", BCC), ("ico", ICO), ("sc", SC)]
)
def test_template_cluster_centre(name, code):
    """The central atom of a template cluster: its structure, RMSD 0, its spacing and the
    identity correspondence (neighbour k of the template is atom k + 1)."""
    res = ptm(_template_cluster(name, 2.5))
    assert res["structure"][0] == code
    assert res["rmsd"][0] < 1e-7
    t_nn = np.linalg.norm(TEMPLATES[name][0], axis=1).min()
    assert res["interatomic_distance"][0] == pytest.approx(2.5 * t_nn, rel=1e-9)
    np.testing.assert_allclose(res["orientation"][0], [0, 0, 0, 1], atol=1e-9)
    m = TEMPLATES[name].shape[1]
    np.testing.assert_array_equal(res["neighbours"][0, :m], np.arange(1, m + 1))
    # the outer atoms have the central atom on their hull: no match
    assert np.all(res["structure"][1:] == OTHER)


def test_mackay_icosahedron_centre():
    x = lat.icosahedron(3, nn=2.7)
    res = ptm(x)
    assert res["structure"][0] == ICO
    assert res["rmsd"][0] < 1e-7
    assert res["interatomic_distance"][0] == pytest.approx(2.7, rel=1e-9)


def test_stretched_sc_rmsd_closed_form():
    """Octahedron with axes a, a, b: optimal rotation identity, scale
    s = (4a + 2b) / (4a^2 + 2b^2), RMSD^2 = (6 - (4a + 2b)^2 / (4a^2 + 2b^2)) / 7."""
    a, b = 2.7, 2.9
    x = np.vstack([np.zeros(3), TEMPLATES["sc"][0] * [a, a, b]])
    res = ptm(x, rmsd_cutoff=0)
    expected = math.sqrt((6 - (4 * a + 2 * b) ** 2 / (4 * a * a + 2 * b * b)) / 7)
    assert res["structure"][0] == SC
    assert res["rmsd"][0] == pytest.approx(expected, rel=1e-9)
    s = (4 * a + 2 * b) / (4 * a * a + 2 * b * b)
    assert res["interatomic_distance"][0] == pytest.approx(1 / s, rel=1e-9)


def test_tetragonal_fcc_rmsd_closed_form():
    """Cuboctahedron stretched by c along z: with sum_k t_k t_k^T = 4 I,
    RMSD^2 = (12 - 4 (2 + c)^2 / (2 + c^2)) / 13."""
    c = 1.04
    x = np.vstack([np.zeros(3), TEMPLATES["fcc"][0] * [1, 1, c] * 2.766])
    res = ptm(x, rmsd_cutoff=0)
    expected = math.sqrt((12 - 4 * (2 + c) ** 2 / (2 + c * c)) / 13)
    assert res["structure"][0] == FCC
    assert res["rmsd"][0] == pytest.approx(expected, rel=1e-9)


def test_deformation_gradient_homogeneous_strain(perfect):
    """x -> A x: F = A d0 / d, d the fitted interatomic distance (template nn = 1)."""
    A = np.array([[1.01, 0.004, 0.0], [0.004, 0.99, -0.003], [0.0, -0.003, 1.002]])
    x = perfect[FCC] @ A.T
    res = ptm(x, deformation_gradient=True)
    inner = _interior(x, 2.5 * NN[FCC])
    assert np.all(res["structure"][inner] == FCC)
    expect = A[None] * (lat.PT_NN / res["interatomic_distance"][inner])[:, None, None]
    np.testing.assert_allclose(res["deformation_gradient"][inner], expect, atol=1e-9)
    assert "deformation_gradient" not in ptm(x[:50])


# ----------------------------------------------------------------------------------------------
# orientation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [FCC, BCC, HCP])
def test_rotated_crystal_gives_rotation(perfect, code):
    R = _random_rotation(11 + code)
    x = perfect[code] @ R.T
    res = ptm(x)
    inner = _interior(x, 2.5 * NN[code])
    assert np.all(res["structure"][inner] == code)
    tab = ptm_mod.tables()
    g0, gn = tab["gen_start"][code], tab["gen_count"][code]
    group = [_quat_matrix(np.r_[q[1:], q[0]]) for q in tab["gens"][g0 : g0 + gn]]
    name = ptm_mod.STRUCTURE_NAMES[code]
    for i in np.flatnonzero(inner)[:40]:
        q = res["orientation"][i]
        assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-12)
        M = _quat_matrix(q)
        # the lattice rotation up to a symmetry of the lattice
        assert _in_group(M.T @ R, group)
        # fundamental zone: no symmetry-equivalent rotation has a larger |w|, and w >= 0
        w = [abs(q[3] * g[0] - q[0] * g[1] - q[1] * g[2] - q[2] * g[3]) for g in tab["gens"]]
        assert q[3] >= 0 and max(w[g0 : g0 + gn]) <= abs(q[3]) + 1e-12
        # neighbours in template order: r_j - r_i = R(q) t_k d / t_nn
        tmpl = TEMPLATES[name][res["template_index"][i]]
        m = tmpl.shape[0]
        d = res["interatomic_distance"][i] / np.linalg.norm(tmpl, axis=1).min()
        np.testing.assert_allclose(x[res["neighbours"][i, :m]] - x[i], tmpl @ M.T * d, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# invariances (noisy atoms: no exact ties)
# ----------------------------------------------------------------------------------------------
def test_translation_invariance(noisy):
    a = ptm(noisy, rmsd_cutoff=0)
    b = ptm(noisy + np.array([31.7, -12.2, 5.05]), rmsd_cutoff=0)
    np.testing.assert_array_equal(a["structure"], b["structure"])
    np.testing.assert_array_equal(a["neighbours"], b["neighbours"])
    for key in ("rmsd", "orientation", "interatomic_distance"):
        np.testing.assert_allclose(a[key], b[key], atol=1e-9)
    assert np.mean(a["structure"] > 0) > 0.5


def test_rotation_invariance(noisy):
    R = _random_rotation(5)
    a = ptm(noisy, rmsd_cutoff=0)
    b = ptm(noisy @ R.T, rmsd_cutoff=0)
    np.testing.assert_array_equal(a["structure"], b["structure"])
    for key in ("rmsd", "interatomic_distance"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9)
    tab = ptm_mod.tables()
    for i in np.flatnonzero(a["structure"] > 0)[::7]:
        s = a["structure"][i]
        g0, gn = tab["gen_start"][s], tab["gen_count"][s]
        group = [_quat_matrix(np.r_[q[1:], q[0]]) for q in tab["gens"][g0 : g0 + gn]]
        Ma = _quat_matrix(a["orientation"][i])
        Mb = _quat_matrix(b["orientation"][i])
        assert _in_group(Mb.T @ R @ Ma, group, tol=1e-7)


def test_permutation_invariance(noisy):
    perm = np.random.default_rng(2).permutation(len(noisy))
    a = ptm(noisy, rmsd_cutoff=0)
    b = ptm(noisy[perm], rmsd_cutoff=0)
    np.testing.assert_array_equal(a["structure"][perm], b["structure"])
    for key in ("rmsd", "orientation", "interatomic_distance"):
        np.testing.assert_allclose(a[key][perm], b[key], atol=1e-12)
    nb = b["neighbours"]
    mapped = np.where(nb >= 0, perm[np.maximum(nb, 0)], -1)
    np.testing.assert_array_equal(a["neighbours"][perm], mapped)


def test_workers_bit_for_bit(noisy, monkeypatch):
    monkeypatch.setattr(ptm_mod, "_CHUNK", 97)
    ref = ptm(noisy, workers=1, deformation_gradient=True)
    for w in (2, 3):
        got = ptm(noisy, workers=w, deformation_gradient=True)
        for key in ref:
            np.testing.assert_array_equal(ref[key], got[key])


# ----------------------------------------------------------------------------------------------
# cutoff and structure selection
# ----------------------------------------------------------------------------------------------
def test_rmsd_cutoff_only_relabels(noisy):
    free = ptm(noisy, rmsd_cutoff=0)
    for cut in (0.05, 0.1, 0.2):
        res = ptm(noisy, rmsd_cutoff=cut)
        expect = np.where(free["rmsd"] > cut, OTHER, free["structure"])
        np.testing.assert_array_equal(res["structure"], expect)
        for key in ("rmsd", "orientation", "neighbours", "interatomic_distance"):
            np.testing.assert_array_equal(res[key], free[key])
    assert np.any((free["rmsd"] > 0.1) & (free["structure"] > 0))
    unmatched = free["structure"] == OTHER
    assert np.all(np.isnan(free["rmsd"][unmatched]))
    assert np.all(np.isnan(free["orientation"][unmatched]))
    assert np.all(free["neighbours"][unmatched] == -1)
    assert np.all(free["template_index"][unmatched] == -1)


def test_structure_subset(perfect):
    x = perfect[HCP]
    inner = _interior(x, 2.5 * NN[HCP])
    res = ptm(x, structures=("fcc", "bcc"), rmsd_cutoff=0.1)
    assert set(np.unique(res["structure"])) <= {OTHER, FCC, BCC}
    assert np.all(res["structure"][inner] == OTHER)
    assert np.all(ptm(x, structures=())["structure"] == OTHER)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_empty_and_tiny_frames():
    for n in (0, 1, 2, 5):
        res = ptm(np.random.default_rng(n).uniform(0, 5, (n, 3)))
        assert res["structure"].shape == (n,) and res["structure"].dtype == np.int8
        assert res["orientation"].shape == (n, 4) and res["neighbours"].shape == (n, 14)
        assert np.all(res["structure"] == OTHER)


def test_too_few_neighbours():
    """A cuboctahedron missing two atoms cannot be fcc/hcp/ico (12 neighbours needed)."""
    x = _template_cluster("fcc", 2.7)[:-2]
    res = ptm(x, rmsd_cutoff=0)
    assert res["structure"][0] in (OTHER, SC)


def test_duplicates_do_not_break_matching():
    """A duplicate position is a neighbour at distance 0 without a Voronoi face: it is never
    among the matched neighbours when the shell is complete (as in OVITO)."""
    x = lat.fcc_sphere(9.0, noise=0.03, seed=1)
    c = int(np.argmin(np.linalg.norm(x, axis=1)))
    xd = np.vstack([x, x[c], x[c]])
    res = ptm(xd)
    assert res["structure"][c] == FCC and res["structure"][-1] == FCC
    assert c not in res["neighbours"][-1] and len(x) not in res["neighbours"][c]
    np.testing.assert_allclose(res["rmsd"][c], ptm(x)["rmsd"][c], rtol=1e-12)


def test_flat_and_collinear_atoms():
    tri = np.array(
        [(i + 0.5 * j, j * math.sqrt(3) / 2, 0.0) for i in range(-5, 6) for j in range(-5, 6)]
    )
    sq = np.array([(i, j, 0.0) for i in range(-5, 6) for j in range(-5, 6)], float)
    line = np.array([(i, 0.0, 0.0) for i in range(20)])
    for x in (tri * 2.7, sq * 2.7, line * 2.7):
        res = ptm(x, rmsd_cutoff=0)
        assert np.all(res["structure"] == OTHER)
        assert np.all(np.isnan(res["rmsd"]))


def test_input_errors():
    x = lat.fcc_sphere(6.0)
    with pytest.raises(ValueError, match="shape"):
        ptm(x[:, :2])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ptm(bad)
    with pytest.raises(ValueError, match="unknown structure"):
        ptm(x, structures=("fcc", "diamond"))
    with pytest.raises(ValueError, match="rmsd_cutoff"):
        ptm(x, rmsd_cutoff=-0.1)
    with pytest.raises(ValueError, match="workers"):
        ptm(x, workers=0)


# ----------------------------------------------------------------------------------------------
# templates and derived tables
# ----------------------------------------------------------------------------------------------
def test_templates_normalised():
    for t in TEMPLATES.values():
        for ti in range(t.shape[0]):
            np.testing.assert_allclose(np.linalg.norm(t[ti], axis=1).mean(), 1.0, rtol=1e-12)
            np.testing.assert_allclose(t[ti].sum(axis=0), 0.0, atol=1e-12)
    hcp = TEMPLATES["hcp"]
    c, s = math.cos(math.pi / 3), math.sin(math.pi / 3)
    np.testing.assert_allclose(hcp[1], hcp[0] @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T)
    bcc = np.linalg.norm(TEMPLATES["bcc"][0], axis=1)
    assert bcc.min() == pytest.approx(7 - 3.5 * math.sqrt(3), rel=1e-12)


@pytest.mark.parametrize(
    ("name", "classes"), [("fcc", 8), ("hcp", 16), ("bcc", 218), ("ico", 1), ("sc", 1)]
)
def test_triangulation_classes_burnside(name, classes):
    """Number of classes of triangulations of the template hull (square faces split either
    way) under the template's rotations, by Burnside's lemma: the mean number of
    triangulations fixed by a rotation."""
    pts = TEMPLATES[name][0]
    group = ptm_mod._rotation_group(pts)
    tri = [d for d, _ in ptm_mod._triangulations(pts)]
    fixed = 0
    for R in group:
        p = ptm_mod._match_index(pts @ R.T, pts)
        for d in tri:
            fixed += frozenset(tuple(sorted((p[a], p[b]))) for a, b in d) == d
    assert fixed % len(group) == 0
    assert fixed // len(group) == classes
    assert ptm_mod.tables()["n_classes"][name] == classes


def test_symmetry_groups():
    tab = ptm_mod.tables()
    assert list(tab["gen_count"][1:]) == [24, 12, 24, 60, 24]
    np.testing.assert_allclose(np.linalg.norm(tab["gens"], axis=1), 1.0, atol=1e-12)
    for s in (FCC, HCP, BCC, ICO, SC):
        np.testing.assert_allclose(tab["gens"][tab["gen_start"][s]], [1, 0, 0, 0], atol=1e-12)


def _same_tables(a: dict, b: dict) -> None:
    assert set(a) == set(b) and a["n_classes"] == b["n_classes"]
    for key in set(a) - {"n_classes"}:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_tables_kept_on_disk_are_the_derived_ones(tmp_path, monkeypatch):
    """tables() derives once and keeps the arrays for other processes; what comes back from
    disk is exactly the derivation; a damaged file is derived and kept again; an empty
    NANOTRAJ_CACHE_DIR keeps nothing."""
    derived = ptm_mod.derive_tables()
    monkeypatch.setenv(ptm_mod.CACHE_ENV, str(tmp_path))
    try:
        ptm_mod.tables.cache_clear()
        _same_tables(ptm_mod.tables(), derived)  # derived, then kept
        kept = list(tmp_path.glob("ptm_tables.*.npz"))
        assert len(kept) == 1 and not list(tmp_path.glob("*.part"))
        ptm_mod.tables.cache_clear()
        _same_tables(ptm_mod.tables(), derived)  # read back
        kept[0].write_bytes(b"not an npz")
        ptm_mod.tables.cache_clear()
        _same_tables(ptm_mod.tables(), derived)  # damaged: derived again
        assert ptm_mod._load_tables(str(kept[0])) is not None  # and kept again
        monkeypatch.setenv(ptm_mod.CACHE_ENV, "")
        assert ptm_mod._tables_cache_file() is None
        ptm_mod.tables.cache_clear()
        _same_tables(ptm_mod.tables(), derived)
        # the matcher gives the same answers with tables read back from disk
        x = lat.fcc_sphere(8.0, 3.92, noise=0.1, seed=3)
        monkeypatch.setenv(ptm_mod.CACHE_ENV, str(tmp_path))
        ptm_mod.tables.cache_clear()
        a = ptm(x)
        ptm_mod.tables.cache_clear()
        monkeypatch.setattr(ptm_mod, "_tables_cache_file", lambda: None)
        b = ptm(x)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    finally:
        ptm_mod.tables.cache_clear()


def test_read_only_input(noisy):
    x = noisy.copy()
    x.setflags(write=False)
    a = ptm(x)
    b = ptm(noisy)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
