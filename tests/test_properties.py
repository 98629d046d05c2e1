"""Property-based tests (hypothesis, derandomised): random valid clusters never crash the
descriptors and satisfy their invariants; random bytes never crash the reader with anything but
FrameError."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from nanotraj.bonds import bond_counts, find_bonds
from nanotraj.coordination import mean_bond_distance
from nanotraj.errors import FrameError
from nanotraj.io import read_frame, write_values
from nanotraj.order import boo

from .conftest import REPO

# deterministic: the same examples on every run and machine, no example database
PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=150,
                 suppress_health_check=[HealthCheck.too_slow])

A = 3.912  # Pt lattice constant, Angstrom
FCC_BASIS = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
PER_ATOM = ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C4", "C6")


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@st.composite
def lattice_clusters(draw):
    """A random subset of fcc lattice points (2-3 cells a side), perturbed and rotated."""
    seed = draw(st.integers(0, 2**32 - 1))
    cells = draw(st.integers(2, 3))
    noise = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    rng = np.random.default_rng(seed)
    g = np.arange(cells)
    pts = (np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 1, 3) + FCC_BASIS)
    pts = pts.reshape(-1, 3) * A
    keep = rng.random(len(pts)) < draw(st.sampled_from([0.6, 0.9, 1.0]))
    pts = pts[keep] if keep.sum() >= 4 else pts
    pts = pts + rng.normal(scale=noise, size=pts.shape)
    return pts @ random_rotation(rng).T + rng.uniform(-50, 50, 3)


@st.composite
def hard_core_clusters(draw):
    """4..60 random points in a box, at least 2 A apart (a dense gas or an amorphous blob)."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(4, 60))
    half = draw(st.sampled_from([4.0, 6.0, 10.0]))
    rng = np.random.default_rng(seed)
    pts = [rng.uniform(-half, half, 3)]
    for _ in range(200 * n):
        if len(pts) == n:
            break
        p = rng.uniform(-half, half, 3)
        if np.min(np.linalg.norm(np.asarray(pts) - p, axis=1)) >= 2.0:
            pts.append(p)
    return np.asarray(pts)


clusters = st.one_of(lattice_clusters(), hard_core_clusters())
cutoffs = st.sampled_from([2.5, 3.0, 3.41, 4.2])


def descriptors(coords, cutoff):
    bonds, dist = find_bonds(coords, cutoff)
    res = boo(coords, bonds, ls=(4, 6))
    res["cn"] = bond_counts(len(coords), bonds)
    res["nn_distance"] = mean_bond_distance(len(coords), bonds, dist)
    return bonds, dist, res


def far_from_cutoff(coords, cutoff, margin=1e-6) -> bool:
    """No pair distance within ``margin`` of the cutoff (rounding cannot flip a bond)."""
    return bool(len(coords) < 2 or np.min(np.abs(pdist(coords) - cutoff)) > margin)


@PROPS
@given(coords=clusters, cutoff=cutoffs)
def test_descriptor_invariants(coords, cutoff):
    n = len(coords)
    bonds, dist, res = descriptors(coords, cutoff)
    # bonds: each pair once, i < j, exactly the pairs within the cutoff
    assert bonds.shape == (len(dist), 2) and (bonds[:, 0] < bonds[:, 1]).all()
    assert len({tuple(b) for b in bonds.tolist()}) == len(bonds)
    d = squareform(pdist(coords))
    if far_from_cutoff(coords, cutoff):
        expected = {(i, j) for i, j in itertools.combinations(range(n), 2) if d[i, j] <= cutoff}
        assert {tuple(b) for b in bonds.tolist()} == expected
    np.testing.assert_allclose(dist, d[bonds[:, 0], bonds[:, 1]], rtol=0, atol=1e-12)
    # cn symmetric: every bond counts once for each end; bond count = sum(cn) / 2
    adj = np.zeros((n, n), dtype=int)
    adj[bonds[:, 0], bonds[:, 1]] = 1
    adj = adj + adj.T
    assert (adj == adj.T).all()
    np.testing.assert_array_equal(res["cn"], adj.sum(axis=1))
    assert res["cn"].sum() == 2 * len(bonds)
    # ranges
    for key in ("q4", "q6", "Q4", "Q6"):
        v = res[key]
        assert np.isfinite(v).all() and (v >= -1e-12).all() and (v <= 1 + 1e-12).all(), key
    for key in ("s4", "s6", "C4", "C6"):
        v = res[key]
        assert np.isfinite(v).all() and (np.abs(v) <= 1 + 1e-9).all(), key
    for key in ("w4", "w6", "W4", "W6"):
        assert np.isfinite(res[key]).all(), key
    # atoms without bonds: zero order, not crystalline, no neighbour distance
    lone = res["cn"] == 0
    for key in PER_ATOM:
        assert (res[key][lone] == 0).all(), key
    assert not res["crystalline"][lone].any()
    assert np.isnan(res["nn_distance"][lone]).all()
    assert np.isfinite(res["nn_distance"][~lone]).all()
    assert (res["nn_distance"][~lone] <= cutoff + 1e-12).all()


@PROPS
@given(coords=clusters, cutoff=cutoffs, seed=st.integers(0, 2**32 - 1))
def test_rotation_and_permutation_invariance(coords, cutoff, seed):
    assume(far_from_cutoff(coords, cutoff))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(coords))
    moved = (coords @ random_rotation(rng).T + rng.uniform(-20, 20, 3))[perm]
    bonds, _, a = descriptors(coords, cutoff)
    _, _, b = descriptors(moved, cutoff)
    np.testing.assert_array_equal(b["cn"], a["cn"][perm])
    for key in PER_ATOM:
        want, got = a[key][perm], b[key]
        if key[0] == "C":  # s_l = q_l(i).q_l(j) / (|q_l(i)| |q_l(j)|) is 0/0 where q_l vanishes
            ok = ~degenerate(a[f"q{key[1]}"], bonds)[perm]
            want, got = want[ok], got[ok]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=key)
    np.testing.assert_allclose(b["nn_distance"], a["nn_distance"][perm], rtol=0, atol=1e-9)
    s6 = np.concatenate([a["s6"], b["s6"]])
    ok = ~degenerate(a["q6"], bonds)[perm]
    if not (np.abs(s6 - 0.8) < 1e-9).any():  # a bond product on the threshold may flip
        np.testing.assert_array_equal(b["crystalline"][ok], a["crystalline"][perm][ok])


def degenerate(q, bonds, eps=1e-8):
    """Atoms whose own q_l or a bonded neighbour's q_l is ~0 (a symmetric environment, e.g. q4
    of an icosahedron or of an fcc atom bonded to 12 + 6 neighbours): their s_l is undefined."""
    small = q < eps
    out = small.copy()
    np.logical_or.at(out, bonds[:, 0], small[bonds[:, 1]])
    np.logical_or.at(out, bonds[:, 1], small[bonds[:, 0]])
    return out


def test_bond_product_where_q4_vanishes_is_rotation_invariant():
    g = np.arange(2)
    x = (np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 1, 3) + FCC_BASIS)
    x = x.reshape(-1, 3) * A  # perfect fcc; at 4.2 A an inner atom has 12 + 6 bonds: q4 = 0
    rot = random_rotation(np.random.default_rng(0))
    bonds, _, a = descriptors(x, 4.2)
    assert (a["q4"] < 1e-12).any()
    _, _, b = descriptors(x @ rot.T, 4.2)
    np.testing.assert_allclose(b["C4"], a["C4"], rtol=0, atol=1e-9)


@settings(PROPS, max_examples=30)
@given(coords=lattice_clusters(), cutoff=st.sampled_from([3.0, 3.41]))
def test_run_frame_on_random_clusters(coords, cutoff, tmp_path_factory):
    from nanotraj.stages.frame import run_frame

    work = tmp_path_factory.mktemp("frame")
    src = work / "frame.pdb"
    write_values(src, coords, np.zeros(len(coords)))
    coords = read_frame(src).coords  # as written: 3 decimals
    assume(far_from_cutoff(coords, cutoff, margin=1e-9))
    try:
        files = run_frame(src, work / "results", series="p", frame="f", time=0.0, cutoff=cutoff)
    except FrameError as err:  # e.g. flat clusters; the message is one line naming the file
        assert str(err).startswith(f"{src}: ") and "\n" not in str(err)
        return
    with open(files["atoms"], newline="") as fh:
        atoms = list(csv.DictReader(fh))
    with open(files["bonds"], newline="") as fh:
        n_bonds = sum(1 for _ in csv.DictReader(fh))
    with open(files["summary"], newline="") as fh:
        summary = next(csv.DictReader(fh))
    cn = np.array([int(r["cn"]) for r in atoms])
    assert len(atoms) == len(coords) and cn.sum() == 2 * n_bonds
    assert summary["status"] == "ok" and int(summary["n_bonds"]) == n_bonds
    for key in ("q4", "q6", "Q4", "Q6"):
        v = np.array([float(r[key]) for r in atoms])
        assert ((v >= 0) & (v <= 1)).all(), key


# ----------------------------------------------------------------------------------------------
# the reader: anything but a valid frame is a FrameError, never another exception

VALID_PDB = (REPO / "resources" / "demo" / "demo_t07.pdb").read_bytes()


def _valid_cif() -> bytes:
    import gemmi

    return gemmi.read_structure(str(REPO / "resources" / "demo" / "demo_t07.pdb")) \
        .make_mmcif_document().as_string().encode()


VALID_CIF = _valid_cif()


@st.composite
def mutated(draw, source):
    """A valid file cut at a random place, with a few random bytes overwritten or inserted."""
    data = bytearray(source[: draw(st.integers(0, len(source)))])
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        k = draw(st.integers(0, len(data) - 1))
        b = draw(st.binary(min_size=1, max_size=8))
        if draw(st.booleans()):
            data[k : k + len(b)] = b
        else:
            data[k:k] = b
    return bytes(data)


TOKENS = [b"ATOM  ", b"HETATM", b"MODEL 1", b"ENDMDL", b"END", b"data_x", b"loop_",
          b"_atom_site.Cartn_x", b"_atom_site.Cartn_y", b"_atom_site.Cartn_z",
          b"_atom_site.pdbx_PDB_model_num", b"?", b".", b"nan", b"1e999", b"-1.5", b"\t",
          b"\r", b"\n", b" ", b"'", b";", b"\x1f\x8b", b"\x00", b"\xff"]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=80).map(b"".join)
byte_strings = st.one_of(st.binary(max_size=600), mutated(VALID_PDB), mutated(VALID_CIF),
                         token_soup)


@settings(PROPS, max_examples=1500)
@given(data=byte_strings)
def test_random_bytes_only_raise_frame_error(data, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "fuzz.pdb"
    path.write_bytes(data)
    try:
        frame = read_frame(path)
    except FrameError as err:
        msg = str(err)
        assert msg.startswith(f"{path}: ") and "\n" not in msg and err.reason
        return
    # accepted: a usable frame
    assert frame.coords.ndim == 2 and frame.coords.shape[1] == 3 and frame.n_atoms >= 4
    assert np.isfinite(frame.coords).all()
    assert len(frame.elements) == len(frame.b_factors) == frame.n_atoms


@pytest.mark.parametrize("field", ["   1_000", "  1.5\x0b", "   0x1A", "  1.5d3", "1.5e+",
                                   "   --1.5"])
def test_reader_rejects_numbers_float_would_accept_or_misread(tmp_path, field):
    """Fixed-column coordinates are plain decimal numbers; Python's float() is wider."""
    lines = VALID_PDB.decode().split("\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith("HETATM"))
    lines[k] = lines[k][:38] + f"{field:>8}" + lines[k][46:]
    p = tmp_path / "f.pdb"
    p.write_text("\n".join(lines))
    with pytest.raises(FrameError, match="y field"):
        read_frame(p)


@pytest.mark.parametrize("token", ["1_000", "12.5(3)", "0x1A", "\u0661\u0662"])
def test_mmcif_reader_rejects_non_plain_numbers(tmp_path, token):
    text = VALID_CIF.decode()
    first = next(ln for ln in text.splitlines() if ln.startswith("HETATM"))
    x = first.split()[10]  # Cartn_x of the first atom
    p = tmp_path / "f.cif"
    p.write_text(text.replace(first, first.replace(f" {x} ", f" {token} ", 1), 1))
    with pytest.raises(FrameError, match="Cartn_x|not a valid mmCIF"):
        read_frame(p)
