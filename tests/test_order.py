"""Tests of nanotraj.order (bond-orientational order, pyboo 1.0.0 conventions)."""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import sph_harm_y

from nanotraj import _boo_numpy, _sph, order
from nanotraj.errors import ConfigError
from nanotraj.lattices import PT_A, PT_NN, fcc_sphere, icosahedron

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "single-pt-series"
REF = SHARED / "reference" / "pyboo"
CUTOFF = 3.41  # the seed's cutoff for these files (A)
HAVE_PYBOO = importlib.util.find_spec("boo") is not None
PER_ATOM = ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6")


def read_columns_7_9(path):
    """The seed's reader: whitespace columns 7-9 of every line (Angstrom)."""
    rows = [line.split()[6:9] for line in Path(path).read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=float)


def bonds_of(coords, cutoff):
    return cKDTree(coords).query_pairs(cutoff, output_type="ndarray").astype(np.int64)


def w_hat_to_w(w_hat, q, l):
    """Unnormalised w_l (pyboo) from Steinhardt's normalised w_hat_l and q_l.

    w_hat = w / (sum_m |q_lm|^2)^(3/2) and sum_m |q_lm|^2 = (2l+1)/(4 pi) q_l^2.
    """
    return w_hat * ((2 * l + 1) / (4 * math.pi)) ** 1.5 * q**3


def noisy_cluster(noise=0.15, radius=8.0, seed=1):
    return fcc_sphere(radius, PT_A, noise=noise, seed=seed)


# ------------------------------------------------------------------------------------------
# against stored pyboo 1.0.0 values
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stage1_docked_ATMS", "COM_trunc-octa-3_2.7nm"])
def test_matches_pyboo_reference(name):
    pdb = DATA / f"{name}.pdb"
    csv = REF / f"{name}.atoms.csv"
    if not (pdb.exists() and csv.exists()):
        pytest.skip(f"shared reference data not found under {SHARED}")
    coords = read_columns_7_9(pdb)
    ref = np.genfromtxt(csv, delimiter=",", names=True)
    assert len(ref) == len(coords)
    bonds = bonds_of(coords, CUTOFF)
    res = order.boo(coords, bonds)
    cn = np.bincount(bonds.ravel(), minlength=len(coords))
    np.testing.assert_array_equal(cn, ref["Nngb"])
    for key in PER_ATOM:
        np.testing.assert_allclose(res[key], ref[key], rtol=0, atol=1e-10, err_msg=key)
    np.testing.assert_array_equal(res["crystalline"], ref["xtal"].astype(bool))
    # the seed's whole-particle figures
    expected_disordered = {"stage1_docked_ATMS": 2, "COM_trunc-octa-3_2.7nm": 0}[name]
    assert int((~res["crystalline"]).sum()) == expected_disordered


# ------------------------------------------------------------------------------------------
# literature constants, from first principles (explicit neighbour vectors)
# ------------------------------------------------------------------------------------------
def _star(vectors):
    """A central atom bonded to atoms at ``vectors``: coords and bonds (0, k)."""
    v = np.asarray(vectors, float)
    coords = np.vstack([np.zeros(3), v])
    bonds = np.column_stack([np.zeros(len(v), int), np.arange(1, len(v) + 1)])
    return coords, bonds


def _fcc_vectors():
    return [
        p
        for p in np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).reshape(3, -1).T
        if np.sum(np.abs(p)) == 2
    ]


def _hcp_vectors():
    inplane = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3), 0.0) for k in range(6)]
    h = math.sqrt(2.0 / 3.0)
    r = 1 / math.sqrt(3.0)
    above = [
        (r * math.cos(a), r * math.sin(a), h)
        for a in (math.pi / 6, 5 * math.pi / 6, 3 * math.pi / 2)
    ]
    below = [(x, y, -z) for x, y, z in above]  # hcp: mirror image (fcc would be rotated)
    return inplane + above + below


def _bcc_vectors():
    first = [p for p in np.array(np.meshgrid(*[[-1, 1]] * 3)).reshape(3, -1).T]
    second = [s * np.eye(3)[k] * 2 for k in range(3) for s in (-1, 1)]
    return first + second  # 8 at sqrt(3), 6 at 2: 14 neighbours


def _ico_vectors():
    phi = (1 + math.sqrt(5)) / 2
    return [
        p
        for s1 in (-1, 1)
        for s2 in (-1, 1)
        for p in ((0, s1, s2 * phi), (s1, s2 * phi, 0), (s2 * phi, 0, s1))
    ]


# Literature values: q_l rounded to 5 decimals and normalised w_hat_l to 6 decimals.
# Steinhardt, Nelson & Ronchetti, PRB 28, 784 (1983), table I (fcc, hcp, bcc, icosahedral);
# Lechner & Dellago, JCP 129, 114707 (2008), table I; bcc with its 14 first+second neighbours.
LITERATURE = {
    "fcc": (_fcc_vectors, 12, {"q4": 0.19094, "q6": 0.57452, "wh4": -0.159317, "wh6": -0.013161}),
    "hcp": (_hcp_vectors, 12, {"q4": 0.09722, "q6": 0.48476, "wh4": 0.134097, "wh6": -0.012442}),
    "bcc": (_bcc_vectors, 14, {"q4": 0.03637, "q6": 0.51069, "wh4": 0.159317, "wh6": 0.013161}),
    "ico": (_ico_vectors, 12, {"q4": 0.0, "q6": 0.66332, "wh6": -0.169754}),
}


@pytest.mark.parametrize("structure", sorted(LITERATURE))
def test_literature_constants(structure):
    make, n_nb, lit = LITERATURE[structure]
    coords, bonds = _star(make())
    assert len(bonds) == n_nb
    res = order.boo(coords, bonds)
    for l in (4, 6):
        q = res[f"q{l}"][0]
        assert q == pytest.approx(lit[f"q{l}"], abs=1e-5)
        if f"wh{l}" in lit:
            # normalised w_hat = w / (sqrt((2l+1)/(4 pi)) q)^3 within 1e-5 of the literature
            w_hat = res[f"w{l}"][0] / (math.sqrt((2 * l + 1) / (4 * math.pi)) * q) ** 3
            assert w_hat == pytest.approx(lit[f"wh{l}"], abs=1e-5)
            # and the unnormalised value from the literature w_hat within its rounding
            expected = w_hat_to_w(lit[f"wh{l}"], q, l)
            assert res[f"w{l}"][0] == pytest.approx(expected, rel=1e-4)
    # published unnormalised values used by the seed's plots (w6 = -0.002626 fcc, -0.00149 hcp,
    # -0.05213 ico)
    seed_w6 = {"fcc": -0.002626, "hcp": -0.00149, "ico": -0.05213}
    if structure in seed_w6:
        assert res["w6"][0] == pytest.approx(seed_w6[structure], abs=1e-5)
    if structure == "ico":
        assert abs(res["w4"][0]) < 1e-12


def test_fcc_w4_unnormalised_value():
    # pyboo's (unnormalised) w4 of perfect FCC, as in the brief and the reference CSV
    coords, bonds = _star(_fcc_vectors())
    assert order.boo(coords, bonds)["w4"][0] == pytest.approx(-0.0006722, abs=1e-7)


# ------------------------------------------------------------------------------------------
# Wigner 3j symbols
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((2, 2, 2, 0, 0, 0), -math.sqrt(2 / 35)),
        ((1, 1, 0, 0, 0, 0), -1 / math.sqrt(3)),
        ((1, 1, 0, 1, -1, 0), 1 / math.sqrt(3)),
        ((0.5, 0.5, 1, 0.5, -0.5, 0), 1 / math.sqrt(6)),
        ((1, 1, 2, 1, -1, 0), 1 / math.sqrt(30)),
        ((2, 2, 2, 1, -1, 0), 1 / math.sqrt(70)),
        ((2, 2, 2, 2, -2, 0), math.sqrt(2 / 35)),
        ((4, 4, 4, 0, 0, 0), 3 * math.sqrt(2 / 1001)),
        ((6, 6, 6, 0, 0, 0), -20 / math.sqrt(46189)),
        ((1, 1, 1, 0, 0, 0), 0.0),  # odd sum of j with all m = 0
        ((2, 2, 2, 1, 1, 0), 0.0),  # m1 + m2 + m3 != 0
        ((1, 1, 3, 0, 0, 0), 0.0),  # triangle rule
        ((2, 2, 2, 3, -3, 0), 0.0),  # |m| > j
    ],
)
def test_wigner3j_known_values(args, expected):
    assert order.wigner3j(*args) == pytest.approx(expected, abs=1e-15)


def test_wigner3j_orthogonality():
    # sum_{m1,m2} (j1 j2 j3; m1 m2 m3)(j1 j2 j3'; m1 m2 m3') = delta_{j3 j3'} delta_{m3 m3'}/(2j3+1)
    j1, j2 = 4, 6
    for j3 in range(2, 11):
        for j3p in (j3, j3 + 1):
            for m3 in range(-j3, j3 + 1):
                tot = sum(
                    order.wigner3j(j1, j2, j3, m1, -m1 - m3, m3)
                    * order.wigner3j(j1, j2, j3p, m1, -m1 - m3, m3)
                    for m1 in range(-j1, j1 + 1)
                )
                expected = 1 / (2 * j3 + 1) if j3p == j3 else 0.0
                assert tot == pytest.approx(expected, abs=1e-14)


def test_wigner3j_symmetries():
    rng = np.random.default_rng(0)
    for _ in range(200):
        j1, j2 = (int(x) for x in rng.integers(0, 8, 2))
        j3 = int(rng.integers(abs(j1 - j2), j1 + j2 + 1))
        m1 = int(rng.integers(-j1, j1 + 1))
        m2 = int(rng.integers(-j2, j2 + 1))
        m3 = -m1 - m2
        v = order.wigner3j(j1, j2, j3, m1, m2, m3)
        sign = (-1) ** (j1 + j2 + j3)
        assert order.wigner3j(j2, j3, j1, m2, m3, m1) == pytest.approx(v, abs=1e-15)  # cyclic
        assert order.wigner3j(j2, j1, j3, m2, m1, m3) == pytest.approx(sign * v, abs=1e-15)
        assert order.wigner3j(j1, j2, j3, -m1, -m2, -m3) == pytest.approx(sign * v, abs=1e-15)


def test_wigner3j_rejects_non_half_integers():
    with pytest.raises(ValueError):
        order.wigner3j(1, 1, 1, 0.25, 0, -0.25)


# ------------------------------------------------------------------------------------------
# spherical harmonics
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("l", range(0, 13, 2))
def test_spherical_harmonics_match_scipy(l):
    rng = np.random.default_rng(l)
    v = rng.normal(size=(300, 3)) * rng.uniform(0.1, 10, size=(300, 1))
    # special directions: poles, axes, the xy plane
    v = np.vstack([v, [[0, 0, 1], [0, 0, -2], [1, 0, 0], [0, -3, 0], [1, 1, 0], [-1, 0, 1e-9]]])
    theta = np.arccos(np.clip(v[:, 2] / np.linalg.norm(v, axis=1), -1, 1))
    phi = np.arctan2(v[:, 1], v[:, 0])
    y = order.spherical_harmonics(v, l)
    assert y.shape == (len(v), 2 * l + 1)
    for m in range(-l, l + 1):
        np.testing.assert_allclose(
            y[:, l + m], sph_harm_y(l, m, theta, phi), rtol=0, atol=1e-12, err_msg=f"m={m}"
        )


def test_spherical_harmonics_zero_vector_is_north_pole():
    y = order.spherical_harmonics([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0]], 6)
    np.testing.assert_array_equal(y[0], y[1])


# ------------------------------------------------------------------------------------------
# invariances
# ------------------------------------------------------------------------------------------
def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))  # a random orthogonal matrix (may be improper)


def _compare(a, b, perm=None, bond_map=None):
    for key in a:
        x, y = a[key], b[key]
        if key.startswith("s"):
            y = y[bond_map] if bond_map is not None else y
        elif perm is not None:
            y = y[perm]
        if key == "crystalline":
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-10, err_msg=key)


@pytest.mark.parametrize("seed", [0, 1])
def test_invariance_rotation_translation_permutation(seed):
    rng = np.random.default_rng(seed)
    coords = noisy_cluster(noise=0.22, radius=9.0, seed=seed)
    cutoff = 1.2 * PT_NN
    bonds = bonds_of(coords, cutoff)
    ref = order.boo(coords, bonds, ls=(4, 6, 8))
    assert ref["crystalline"].any() and not ref["crystalline"].all()

    rot = _random_rotation(rng)
    moved = coords @ rot.T + rng.normal(scale=50.0, size=3)
    b2 = bonds_of(moved, cutoff)
    np.testing.assert_array_equal(np.sort(b2, axis=0), np.sort(bonds, axis=0))
    key = {tuple(b): k for k, b in enumerate(map(tuple, b2))}
    _compare(
        ref, order.boo(moved, b2, ls=(4, 6, 8)), bond_map=np.array([key[tuple(b)] for b in bonds])
    )

    perm = rng.permutation(len(coords))  # new atom k is old atom perm[k]
    shuffled = coords[perm]
    b3 = bonds_of(shuffled, cutoff)
    inv = np.argsort(perm)  # old atom i is new atom inv[i]
    key = {tuple(sorted(b)): k for k, b in enumerate(map(tuple, b3))}
    bond_map = np.array([key[tuple(sorted((inv[i], inv[j])))] for i, j in bonds])
    _compare(ref, order.boo(shuffled, b3, ls=(4, 6, 8)), perm=inv, bond_map=bond_map)


def test_bond_order_and_direction_do_not_matter():
    coords = noisy_cluster(radius=7.0)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    ref = order.boo(coords, bonds)
    rng = np.random.default_rng(3)
    p = rng.permutation(len(bonds))
    flipped = bonds[p][:, ::-1]
    other = order.boo(coords, flipped)
    inv = np.argsort(p)
    _compare(ref, other, bond_map=inv)


def test_chunking_does_not_change_results(monkeypatch):
    coords = noisy_cluster(radius=7.0)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    ref = order.boo(coords, bonds, ls=(2, 4, 6, 12))
    monkeypatch.setattr(_boo_numpy, "CHUNK", 7)
    monkeypatch.setattr(_sph, "SUB", 5)
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", 3)  # many segments of atoms: incoming bonds
    assert len(_boo_numpy.segments(len(coords))) >= 10
    _compare(ref, order.boo(coords, bonds, ls=(2, 4, 6, 12)))


# ------------------------------------------------------------------------------------------
# atoms without bonds, edge cases, validation
# ------------------------------------------------------------------------------------------
def test_atoms_without_bonds():
    coords = np.vstack([noisy_cluster(radius=5.0), [[100.0, 0, 0], [0, 200.0, 0]]])
    bonds = bonds_of(coords, 1.2 * PT_NN)
    lonely = [len(coords) - 2, len(coords) - 1]
    res = order.boo(coords, bonds, ls=(4, 6))
    for key in ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C4", "C6"):
        np.testing.assert_array_equal(res[key][lonely], 0.0, err_msg=key)
    assert not res["crystalline"][lonely].any()
    qlm = order.bond_qlm(coords, bonds, 6)
    np.testing.assert_array_equal(qlm[lonely], 0.0)
    assert res["q6"][:-2].min() > 0


def test_no_bonds_at_all():
    coords = np.array([[0.0, 0, 0], [10.0, 0, 0], [0, 10.0, 0]])
    res = order.boo(coords, np.zeros((0, 2), int))
    for key in ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6"):
        np.testing.assert_array_equal(res[key], 0.0)
        assert res[key].shape == (3,)
    assert res["s6"].shape == (0,)
    assert not res["crystalline"].any()


def test_single_bond_pair():
    coords = np.array([[0.0, 0, 0], [0, 0, 2.7]])
    res = order.boo(coords, [[0, 1]])
    np.testing.assert_allclose(res["q6"], 1.0, atol=1e-14)  # one bond: |q_lm| = |Y_lm|
    np.testing.assert_allclose(res["s6"], 1.0, atol=1e-14)
    np.testing.assert_allclose(res["C6"], 1.0, atol=1e-14)
    assert res["crystalline"].all()  # 1 crystalline bond >= ceil(1/2 + 0.01) = 1


def test_bond_product_zero_q_is_zero():
    # q4 of a perfect icosahedron centre is 0 (round-off): s4 is round-off noise there, but
    # an exactly zero qlm row must give s = 0, not NaN (documented deviation from pyboo)
    qlm = np.zeros((2, 9), complex)
    qlm[1, 4] = 0.5
    s = order.bond_product(qlm, [[0, 1]])
    np.testing.assert_array_equal(s, [0.0])


def test_output_keys_and_shapes():
    coords = noisy_cluster(radius=6.0)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    res = order.boo(coords, bonds, ls=(4, 6))
    expected = {
        "q4",
        "q6",
        "Q4",
        "Q6",
        "w4",
        "w6",
        "W4",
        "W6",
        "C4",
        "C6",
        "crystalline",
        "s4",
        "s6",
    }
    assert set(res) == expected
    for key, val in res.items():
        assert val.shape == ((len(bonds),) if key.startswith("s") else (len(coords),))
    assert res["crystalline"].dtype == bool
    # crystalline is computed from l = 6 even when 6 is not requested
    res4 = order.boo(coords, bonds, ls=(4,))
    assert set(res4) == {"q4", "Q4", "w4", "W4", "C4", "crystalline", "s4"}
    np.testing.assert_array_equal(res4["crystalline"], res["crystalline"])


@pytest.mark.parametrize(("ls", "products"), [((4, 6), (6,)), ((4, 6), ()), ((4,), (6,)),
                                              ((6, 4), (4, 8))])
def test_products_choose_s_and_c(ls, products):
    """``products`` picks the degrees of s_l and C_l; every value is the full call's."""
    coords = noisy_cluster(radius=6.0)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    full = order.boo(coords, bonds, ls=(4, 6, 8))
    res = order.boo(coords, bonds, ls=ls, products=products, workers=2)
    expected = [f"{p}{l}" for p in "qQwW" for l in ls] + [f"C{l}" for l in products]
    expected += ["crystalline"] + [f"s{l}" for l in products]
    assert list(res) == expected
    for key, value in res.items():
        np.testing.assert_allclose(value, full[key], rtol=0, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("bad", [3, -2, 14, 2.0, "6", True])
def test_invalid_l(bad):
    coords = noisy_cluster(radius=4.0)
    with pytest.raises(ConfigError):
        order.bond_qlm(coords, bonds_of(coords, 3.3), bad)


def test_invalid_inputs():
    with pytest.raises(ValueError):
        order.bond_qlm(np.zeros((3, 2)), [[0, 1]], 6)
    with pytest.raises(ValueError):
        order.bond_qlm(np.zeros((3, 3)), [[0, 3]], 6)
    with pytest.raises(ValueError):
        order.bond_qlm(np.zeros((3, 3)), [[0.0, 1.0]], 6)
    with pytest.raises(ValueError):
        order.ql(np.zeros((3, 4), complex))
    with pytest.raises(ConfigError):
        order.boo(np.zeros((2, 3)), [[0, 1]], engine="nope")


# ------------------------------------------------------------------------------------------
# brute force cross-checks (plain Python loops, scipy's spherical harmonics)
# ------------------------------------------------------------------------------------------
def _brute_force(coords, bonds, l, threshold=0.8):
    n = len(coords)
    nbrs = [[] for _ in range(n)]
    for i, j in bonds:
        nbrs[i].append(j)
        nbrs[j].append(i)
    ms = np.arange(-l, l + 1)
    qlm = np.zeros((n, 2 * l + 1), complex)
    for i in range(n):
        for j in nbrs[i]:
            d = coords[j] - coords[i]
            r = np.linalg.norm(d)
            qlm[i] += sph_harm_y(l, ms, math.acos(d[2] / r), math.atan2(d[1], d[0]))
        if nbrs[i]:
            qlm[i] /= len(nbrs[i])
    big = np.zeros_like(qlm)
    for i in range(n):
        for j in nbrs[i]:
            big[i] += qlm[j]
        if nbrs[i]:
            big[i] /= len(nbrs[i])

    def q_of(x):
        return math.sqrt(4 * math.pi / (2 * l + 1) * float(np.sum(np.abs(x) ** 2)))

    def w_of(x):
        tot = 0.0
        for m1 in range(-l, l + 1):
            for m2 in range(-l, l + 1):
                m3 = -m1 - m2
                if abs(m3) <= l:
                    tot += (
                        order.wigner3j(l, l, l, m1, m2, m3)
                        * (x[m1 + l] * x[m2 + l] * x[m3 + l]).real
                    )
        return tot

    q = np.array([q_of(x) for x in qlm])
    s = {}
    for i, j in bonds:
        prod = 4 * math.pi / (2 * l + 1) * np.sum(qlm[i] * np.conj(qlm[j])).real
        s[(i, j)] = prod / (q[i] * q[j])
    c = np.zeros(n)
    xtal = np.zeros(n, bool)
    for i in range(n):
        vals = [s[(i, j)] if (i, j) in s else s[(j, i)] for j in nbrs[i]]
        if vals:
            c[i] = sum(vals) / len(vals)
            xtal[i] = sum(v > threshold for v in vals) >= math.ceil(len(vals) / 2 + 0.01)
    return {
        "qlm": qlm,
        "Qlm": big,
        "q": q,
        "Q": np.array([q_of(x) for x in big]),
        "w": np.array([w_of(x) for x in qlm]),
        "W": np.array([w_of(x) for x in big]),
        "s": np.array([s[(i, j)] for i, j in bonds]),
        "C": c,
        "xtal": xtal,
    }


@pytest.mark.parametrize("l", [4, 6])
def test_brute_force_small_noisy_cluster(l):
    coords = noisy_cluster(noise=0.2, radius=6.5, seed=5)
    coords = np.vstack([coords, [[60.0, 0.0, 0.0]]])  # plus one atom without bonds
    bonds = bonds_of(coords, 1.2 * PT_NN)
    bf = _brute_force(coords, bonds, l)
    qlm = order.bond_qlm(coords, bonds, l)
    np.testing.assert_allclose(qlm, bf["qlm"], rtol=0, atol=1e-13)
    big = order.coarse_grain(qlm, bonds)
    np.testing.assert_allclose(big, bf["Qlm"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(order.ql(qlm), bf["q"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(order.wl(qlm), bf["w"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(order.wl(big), bf["W"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(order.bond_product(qlm, bonds), bf["s"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(order.crystallinity(qlm, bonds), bf["C"], rtol=0, atol=1e-12)
    res = order.boo(coords, bonds, ls=(l,))
    np.testing.assert_allclose(res[f"C{l}"], bf["C"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res[f"Q{l}"], bf["Q"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res[f"W{l}"], bf["W"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(res[f"s{l}"], bf["s"], rtol=0, atol=1e-12)
    if l == 6:
        np.testing.assert_array_equal(order.crystalline(qlm, bonds), bf["xtal"])
        np.testing.assert_array_equal(res["crystalline"], bf["xtal"])
        assert bf["xtal"].any() and not bf["xtal"].all()


def test_public_functions_agree_with_boo():
    coords = noisy_cluster(noise=0.25, radius=9.0, seed=7)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    res = order.boo(coords, bonds, ls=(4, 6, 10), threshold=0.7)
    for l in (4, 6, 10):
        qlm = order.bond_qlm(coords, bonds, l)
        # q_{l,-m} = (-1)^m conj(q_lm)
        for m in range(1, l + 1):
            np.testing.assert_allclose(
                qlm[:, l - m], (-1) ** m * np.conj(qlm[:, l + m]), atol=1e-15
            )
        big = order.coarse_grain(qlm, bonds)
        for key, val in (
            ("q", order.ql(qlm)),
            ("w", order.wl(qlm)),
            ("Q", order.ql(big)),
            ("W", order.wl(big)),
            ("C", order.crystallinity(qlm, bonds)),
            ("s", order.bond_product(qlm, bonds)),
        ):
            np.testing.assert_allclose(
                res[f"{key}{l}"], val, rtol=0, atol=1e-13, err_msg=f"{key}{l}"
            )
    q6m = order.bond_qlm(coords, bonds, 6)
    np.testing.assert_array_equal(res["crystalline"], order.crystalline(q6m, bonds, 0.7))


# ------------------------------------------------------------------------------------------
# optional engine "pyboo"
# ------------------------------------------------------------------------------------------
@pytest.mark.skipif(HAVE_PYBOO, reason="pyboo is installed here")
def test_pyboo_engine_missing_gives_install_recipe():
    with pytest.raises(ConfigError, match="pyboo==1.0.0"):
        order.boo(np.zeros((2, 3)), [[0, 1]], engine="pyboo")


@pytest.mark.skipif(not HAVE_PYBOO, reason="pyboo (module 'boo') is not installed")
@pytest.mark.parametrize("structure", ["fcc", "ico"])
def test_native_equals_pyboo(structure):
    if structure == "fcc":
        coords = fcc_sphere(12.0, noise=0.1, seed=2)
    else:
        coords = icosahedron(3, noise=0.05, seed=2)
    bonds = bonds_of(coords, 1.2 * PT_NN)
    nat = order.boo(coords, bonds, ls=(4, 6, 8, 10))
    ext = order.boo(coords, bonds, ls=(4, 6, 8, 10), engine="pyboo")
    _compare(nat, ext)
    # the pipeline's call: s_l and C_l of l = 6 only
    nat = order.boo(coords, bonds, ls=(4, 6), products=(6,))
    ext = order.boo(coords, bonds, ls=(4, 6), products=(6,), engine="pyboo")
    assert list(nat) == list(ext)
    _compare(nat, ext)


def test_workers_give_bit_identical_results(monkeypatch):
    """Threads split the bonds and atoms in chunks; partial sums are combined in a fixed order,
    so every array is bit-for-bit the one of workers=1 (small chunks force many of them)."""
    x = fcc_sphere(4.5 * PT_A, PT_A, noise=0.05, seed=3)  # ~1,600 atoms
    bonds = np.array(sorted(cKDTree(x).query_pairs(1.2 * PT_NN)))
    monkeypatch.setattr(_boo_numpy, "CHUNK", 700)  # not a multiple of _SUB: ragged blocks
    monkeypatch.setattr(_sph, "SUB", 384)
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", 64)  # segments of atoms for the threads
    assert len(bonds) > 5 * 700 and len(_boo_numpy.segments(len(x))) >= 10
    one = order.boo(x, bonds, ls=(4, 6, 8))
    for workers in (2, 3):
        many = order.boo(x, bonds, ls=(4, 6, 8), workers=workers)
        assert list(many) == list(one)
        for key, value in one.items():
            np.testing.assert_array_equal(many[key], value, err_msg=f"{key}, {workers} workers")
    # and the chunked result is the unchunked one up to summation order
    monkeypatch.setattr(_boo_numpy, "CHUNK", 1 << 18)
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", 1 << 12)
    whole = order.boo(x, bonds, ls=(4, 6, 8))
    for key, value in one.items():
        np.testing.assert_allclose(whole[key], value, rtol=0, atol=1e-13, err_msg=key)


def test_ring_of_segment_slots_gives_the_whole_array_results(monkeypatch):
    """The streamed engine keeps q_lm in a ring of segment slots when the bonds reach only a
    few segments; reusing slots changes nothing: every result is bit-for-bit the one computed
    with the whole (N, C) array, for 1 and 3 threads (the tasks wait for each other)."""
    x = fcc_sphere(5.0 * PT_A, PT_A, noise=0.05, seed=7)  # ~2,100 atoms in lattice order
    bonds = np.array(sorted(cKDTree(x).query_pairs(1.2 * PT_NN)))
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", 32)
    monkeypatch.setattr(_boo_numpy, "_SEG_PARTS", 64)
    monkeypatch.setattr(_sph, "SUB", 100)
    plan = _boo_numpy.Plan(bonds, len(x))
    lo, hi, slots, ring = _boo_numpy.ring_of(plan)
    assert ring is not None and slots < len(plan.segs)  # slots are reused
    assert ring & (ring - 1) == 0 and all(h > k for k, h in enumerate(hi[:-1]))
    streamed = [order.boo(x, bonds, products=(4, 6), workers=w) for w in (1, 3)]
    monkeypatch.setattr(_boo_numpy, "_LOOKAHEAD", 10_000)  # slots for every segment: no ring
    assert _boo_numpy.ring_of(plan)[3] is None
    whole = order.boo(x, bonds, products=(4, 6))
    for res in streamed:
        assert list(res) == list(whole)
        for key, value in whole.items():
            np.testing.assert_array_equal(res[key], value, err_msg=key)


def _layout(name, rng):
    """Atoms and bonds of a small cluster in one of the layouts the engine must handle."""
    x = fcc_sphere(2.2 * PT_A, PT_A, noise=0.05, seed=2)
    if name == "isolated_ends":  # far-away atoms at the start, the middle and the end
        far = 1000.0 + 50.0 * np.arange(6)[:, None] * np.ones(3)
        x = np.vstack([far[:2], x[: len(x) // 2], far[2:4], x[len(x) // 2 :], far[4:]])
    if name == "shuffled_atoms":
        x = x[rng.permutation(len(x))]
    bonds = np.array(sorted(cKDTree(x).query_pairs(1.2 * PT_NN)))
    if name == "unsorted_bonds":
        bonds = bonds[rng.permutation(len(bonds))][:, ::-1]
    if name == "duplicates_and_loops":  # pyboo counts a repeated pair twice; i-i: +z twice
        bonds = np.vstack([bonds, bonds[::7], [[3, 3], [10, 10]]])
    return x, bonds


LAYOUTS = ["sorted", "isolated_ends", "shuffled_atoms", "unsorted_bonds", "duplicates_and_loops"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sorted_bonds_and_plan(layout):
    """Bonds put as (low, high) sorted by low (nothing copied when they already are), and the
    segments' own and incoming bonds equal a brute-force split, for every layout."""
    rng = np.random.default_rng(4)
    x, bonds = _layout(layout, rng)
    n = len(x)
    sb, order_ = _boo_numpy.sorted_bonds(bonds, n)
    if order_ is None:
        assert sb is bonds and layout in ("sorted", "isolated_ends", "shuffled_atoms")
        order_ = np.arange(len(bonds))
    np.testing.assert_array_equal(sb, np.sort(bonds[order_], axis=1))
    assert (np.diff(sb[:, 0]) >= 0).all()
    new = rng.permutation(n)  # relabelled: new[a] is atom a's label
    rb, rorder = _boo_numpy.sorted_bonds(bonds, n, new)
    np.testing.assert_array_equal(rb, np.sort(new[bonds[rorder]], axis=1))
    assert (np.diff(rb[:, 0]) >= 0).all()
    for seg_min, chunk in ((1, 5), (7, 64), (1 << 12, 1 << 16)):
        old = _boo_numpy.SEG_MIN, _boo_numpy.CHUNK
        _boo_numpy.SEG_MIN, _boo_numpy.CHUNK = seg_min, chunk
        try:
            plan = _boo_numpy.Plan(sb, n)
            segs = plan.segs
            assert segs[0][0] == 0 and segs[-1][1] == n
            assert all(s[1] == t[0] for s, t in zip(segs, segs[1:], strict=False))
            for k, (a, b) in enumerate(segs):
                own = sb[plan.own[k] : plan.own[k + 1]]
                np.testing.assert_array_equal(own, sb[(sb[:, 0] >= a) & (sb[:, 0] < b)])
                want = sb[(sb[:, 0] < a) & (sb[:, 1] >= a) & (sb[:, 1] < b)]
                np.testing.assert_array_equal(plan.incoming(k), want)
        finally:
            _boo_numpy.SEG_MIN, _boo_numpy.CHUNK = old


@pytest.mark.parametrize("seg_min", [1, 5, 1 << 12])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_neighbour_mean_against_dense(monkeypatch, seg_min, layout):
    """The neighbour mean, segment by segment of atoms (own and incoming bonds), equals a dense
    adjacency product for every layout, with 1 or 2 threads, and so does each segment's sum
    read from a ring of rows that holds only the segments it reaches."""
    rng = np.random.default_rng(5)
    x, bonds = _layout(layout, rng)
    n = len(x)
    values = rng.normal(size=(n, 6))
    adj = np.zeros((n, n))
    np.add.at(adj, (bonds[:, 0], bonds[:, 1]), 1.0)
    np.add.at(adj, (bonds[:, 1], bonds[:, 0]), 1.0)
    cn = np.bincount(bonds.ravel(), minlength=n)
    expected = adj @ values / np.maximum(cn, 1)[:, None]
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", seg_min)
    monkeypatch.setattr(_boo_numpy, "CHUNK", 9)
    plan = _boo_numpy.Plan(_boo_numpy.sorted_bonds(bonds, n)[0], n)
    for workers in (1, 2):
        got = _boo_numpy.neighbour_mean(values, plan, cn, workers)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # a ring of rows (the streamed engine's layout): atom r in row r % ring, holding only the
    # segments that segment k's bonds reach; every other row is NaN and must not be read
    sb = plan.bonds
    for k, (a, b) in enumerate(plan.segs):
        own = sb[plan.own[k] : plan.own[k + 1]]
        ends = np.concatenate([[a, b - 1], own.ravel(), plan.incoming(k).ravel()])
        first, last = ends.min() // plan.size, ends.max() // plan.size
        ring = plan.size * 1 << int(last - first + 1).bit_length()
        rows = np.arange(first * plan.size, min(n, (last + 1) * plan.size))
        ringed = np.full((ring, values.shape[1]), np.nan)
        ringed[rows % ring] = values[rows]
        acc = np.full((b - a, values.shape[1]), np.nan)
        _boo_numpy.neighbour_segment(ringed, plan, k, acc, ring)
        np.testing.assert_allclose(acc / np.maximum(cn[a:b], 1)[:, None], expected[a:b],
                                   rtol=0, atol=1e-12)


def test_public_sparse_product_fallback_gives_the_same_values(monkeypatch):
    """Without scipy's private csc_matvecs and coo_matmat_dense kernels the public sparse
    products give the same values (up to the order of the additions inside a block)."""
    x = fcc_sphere(4.0 * PT_A, PT_A, noise=0.05, seed=4)
    bonds = np.array(sorted(cKDTree(x).query_pairs(1.2 * PT_NN)))
    assert _boo_numpy.CSC_MATVECS is not None and _boo_numpy.COO_MATMAT is not None  # pinned
    monkeypatch.setattr(_boo_numpy, "CHUNK", 900)
    monkeypatch.setattr(_sph, "SUB", 256)
    monkeypatch.setattr(_boo_numpy, "SEG_MIN", 100)
    kernel = order.boo(x, bonds, workers=2)
    monkeypatch.setattr(_boo_numpy, "CSC_MATVECS", None)
    monkeypatch.setattr(_boo_numpy, "COO_MATMAT", None)
    public = order.boo(x, bonds, workers=2)
    assert list(public) == list(kernel)
    for key, value in kernel.items():
        np.testing.assert_allclose(public[key], value, rtol=0, atol=1e-14, err_msg=key)
    np.testing.assert_array_equal(order.boo(x, bonds, workers=1)["Q6"], public["Q6"])


def test_atoms_in_random_order_are_put_in_spatial_order(monkeypatch):
    """Atoms in random order (a file not written plane by plane) are relabelled into a spatial
    order inside the native engine; the results, mapped back to the caller's atoms and bonds,
    are those of the ordered frame (up to summation order) and the same for any threads."""
    x = fcc_sphere(5.0 * PT_A, PT_A, noise=0.05, seed=6)
    bonds = np.array(sorted(cKDTree(x).query_pairs(1.2 * PT_NN)))
    monkeypatch.setattr(_boo_numpy, "CHUNK", 512)
    monkeypatch.setattr(_boo_numpy, "_REORDER_MIN", 100)
    assert _boo_numpy.spatial_order(x, bonds) is None  # lattice order: local already
    ref = order.boo(x, bonds, products=(4, 6))
    perm = np.random.default_rng(2).permutation(len(x))
    inv = np.argsort(perm)
    xs = x[perm]  # atom a of xs is atom perm[a] of x
    bs = inv[bonds]
    bond_perm = np.random.default_rng(3).permutation(len(bs))
    bs = bs[bond_perm]
    assert _boo_numpy.spatial_order(xs, bs) is not None
    one = order.boo(xs, bs, products=(4, 6))
    two = order.boo(xs, bs, products=(4, 6), workers=2)
    assert list(one) == list(ref)
    for key, value in one.items():
        np.testing.assert_array_equal(two[key], value, err_msg=key)
        expected = ref[key][bond_perm] if key.startswith("s") else ref[key][perm]
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-13, err_msg=key)
