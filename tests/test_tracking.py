"""Frame-to-frame tracking (nanotraj.tracking, nanotraj.trackplots): synthetic series with known
truth, optimality of the assignment, rigid alignment, the workflow stage's files, the figures, and
the shared Pt series (skipped cleanly where ../shared is absent)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanotraj import tracking, trackplots
from nanotraj.lattices import fcc_sphere
from nanotraj.stages import figures
from nanotraj.stages import frame as stage
from nanotraj.stages import tracking as track_stage
from nanotraj.tables import load_arrays, read_rows

SHARED = Path(__file__).resolve().parents[2] / "shared"
PT_SERIES = SHARED / "data" / "single-pt-series"
PT_FRAMES = [PT_SERIES / f"stage{k}_docked_ATMS.pdb" for k in range(1, 5)]
MAX_D = tracking.default_max_distance("Pt")  # 1.383 A
PT_NN = 2.0 * MAX_D


def rotation(axis, degrees):
    axis = np.asarray(axis, dtype=float)
    axis /= np.linalg.norm(axis)
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def synthetic_pair(seed=0, *, n_remove=25, n_add=8, max_move=0.4, noise=0.0, radius=10.0):
    """Frame t-1: a shuffled FCC sphere. Frame t: chosen atoms removed, the others moved by known
    vectors (|u| <= max_move), n_add atoms added on empty lattice sites outside the particle,
    optional Gaussian noise, atom order shuffled. Returns prev, next and the truth."""
    rng = np.random.default_rng(seed)
    prev = fcc_sphere(radius)
    prev = prev[rng.permutation(len(prev))]
    n = len(prev)
    removed = np.sort(rng.choice(n, n_remove, replace=False))
    kept = np.setdiff1d(np.arange(n), removed)
    direction = rng.normal(size=(len(kept), 3))
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    moves = direction * rng.uniform(0.0, max_move, size=(len(kept), 1))
    shell = fcc_sphere(radius + 3.0)
    outside = shell[np.linalg.norm(shell, axis=1) > radius + 0.5]
    added = outside[rng.choice(len(outside), n_add, replace=False)]
    nxt = np.concatenate([prev[kept] + moves, added])
    nxt = nxt + rng.normal(0.0, noise, nxt.shape) if noise else nxt
    perm = rng.permutation(len(nxt))  # nxt_shuffled[k] = nxt[perm[k]]
    where = np.empty(len(perm), dtype=np.int64)
    where[perm] = np.arange(len(perm))  # original index -> shuffled index
    nxt = nxt[perm]
    partner = np.full(n, -1, dtype=np.int64)
    partner[kept] = where[: len(kept)]
    displacement = np.full((n, 3), np.nan)
    displacement[kept] = moves
    new = np.zeros(len(nxt), dtype=bool)
    new[where[len(kept):]] = True
    return prev, nxt, {"partner": partner, "new": new, "displacement": displacement,
                       "removed": removed}


# ----------------------------------------------------------------------------------------------
# synthetic series with known truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_truth_without_noise(seed):
    prev, nxt, truth = synthetic_pair(seed)
    res = tracking.match(prev, nxt, max_distance=MAX_D)
    np.testing.assert_array_equal(res.partner, truth["partner"])
    np.testing.assert_array_equal(res.new, truth["new"])
    np.testing.assert_array_equal(np.flatnonzero(res.removed), truth["removed"])
    assert res.n_removed == 25 and res.n_added == 8 and res.n_retained == len(prev) - 25
    ok = res.retained
    np.testing.assert_allclose(res.displacement[ok], truth["displacement"][ok], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.distance[ok], np.linalg.norm(truth["displacement"][ok], axis=1),
                               atol=1e-6, rtol=0)
    assert np.isnan(res.displacement[res.removed]).all() and np.isnan(res.distance[~ok]).all()
    assert (res.previous[res.new] == -1).all()
    np.testing.assert_array_equal(res.partner[res.previous[~res.new]], np.flatnonzero(~res.new))


def test_synthetic_truth_with_noise():
    prev, nxt, truth = synthetic_pair(3, noise=0.05, max_move=0.3)
    res = tracking.match(prev, nxt, max_distance=MAX_D)
    np.testing.assert_array_equal(res.partner, truth["partner"])
    np.testing.assert_array_equal(res.new, truth["new"])
    err = res.displacement[res.retained] - truth["displacement"][res.retained]
    assert np.abs(err).max() < 0.3  # noise of 0.05 A per coordinate, ~6 sigma


def test_moves_beyond_the_limit_are_removal_plus_addition():
    prev = fcc_sphere(6.0)
    nxt = prev.copy()
    nxt[0] += [1.0, 0.5, 0.5]  # 1.22 A: retained
    nxt[1] += [1.2, 0.8, 0.0]  # 1.44 A > 1.383 A: removed + new
    res = tracking.match(prev, nxt, max_distance=MAX_D)
    assert res.partner[0] == 0 and res.partner[1] == -1 and res.new[1]
    assert (res.n_removed, res.n_added) == (1, 1)
    assert np.nanmax(res.distance) <= MAX_D


def test_maximum_cardinality_beats_nearest_neighbour():
    # greedy nearest pairing takes p2-n1 (0.4) and strands p1 and n2; the optimum pairs both
    prev = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    nxt = np.array([[0.6, 0, 0], [1.9, 0, 0]])
    res = tracking.match(prev, nxt, max_distance=1.0)
    np.testing.assert_array_equal(res.partner, [0, 1])
    # with two pairs possible either way, the smaller sum of squares wins
    nxt2 = np.array([[0.1, 0, 0], [0.9, 0, 0]])
    np.testing.assert_array_equal(tracking.match(prev, nxt2, max_distance=1.0).partner, [0, 1])
    np.testing.assert_array_equal(tracking.match(prev, nxt2[::-1], max_distance=1.0).partner,
                                  [1, 0])


def test_empty_frames_and_bad_arguments():
    x = fcc_sphere(5.0)
    res = tracking.match(x, np.zeros((0, 3)), max_distance=1.0)
    assert res.n_removed == len(x) and res.n_added == 0
    res = tracking.match(np.zeros((0, 3)), x, max_distance=1.0)
    assert res.n_retained == 0 and res.n_added == len(x) and len(res.partner) == 0
    with pytest.raises(ValueError, match="max_distance"):
        tracking.match(x, x, max_distance=0.0)
    with pytest.raises(ValueError, match="shape"):
        tracking.match(x[:, :2], x, max_distance=1.0)
    with pytest.raises(ValueError, match="non-finite"):
        tracking.match(np.full((4, 3), np.nan), x, max_distance=1.0)
    with pytest.raises(ValueError, match="does not separate lattice sites"):
        tracking.match(x, x, max_distance=3.0, dense_limit=100)


def test_default_max_distance():
    assert MAX_D == pytest.approx(0.5 * 3.912 / math.sqrt(2), rel=1e-4)  # Pt: 1.383 A
    assert tracking.default_max_distance(bulk_nn=3.0) == 1.5


def brute_force(prev, nxt, max_distance):
    """(largest number of pairs, smallest sum of squares among those) by enumeration."""
    d = np.linalg.norm(prev[:, None] - nxt[None], axis=2)
    best = (0, 0.0)
    n, m = len(prev), len(nxt)
    for k in range(min(n, m), 0, -1):
        costs = [sum(d[i, j] ** 2 for i, j in zip(rows, cols, strict=True))
                 for rows in itertools.combinations(range(n), k)
                 for cols in itertools.permutations(range(m), k)
                 if all(d[i, j] <= max_distance for i, j in zip(rows, cols, strict=True))]
        if costs:
            return k, min(costs)
    return best


points = st.lists(st.tuples(*[st.floats(0.0, 3.0, allow_nan=False)] * 3), min_size=0,
                  max_size=5)


@settings(max_examples=120, deadline=None)
@given(points, points, st.floats(0.3, 2.5))
def test_assignment_is_optimal(p, q, max_distance):
    prev = np.array(p, dtype=float).reshape(-1, 3)
    nxt = np.array(q, dtype=float).reshape(-1, 3)
    res = tracking.match(prev, nxt, max_distance=max_distance)
    matched = res.partner[res.retained]
    assert len(np.unique(matched)) == len(matched)  # one-to-one
    assert np.all(res.distance[res.retained] <= max_distance)
    k, cost = brute_force(prev, nxt, max_distance)
    assert res.n_retained == k
    assert res.sum_squared == pytest.approx(cost, rel=1e-9, abs=1e-12)
    assert res.n_added == len(nxt) - k and res.n_removed == len(prev) - k


def test_permutation_invariance_and_determinism():
    prev, nxt, _ = synthetic_pair(4, noise=0.15, max_move=0.8)
    ref = tracking.match(prev, nxt, max_distance=MAX_D)
    again = tracking.match(prev, nxt, max_distance=MAX_D)
    np.testing.assert_array_equal(ref.partner, again.partner)
    rng = np.random.default_rng(7)
    for _ in range(3):
        pp, pn = rng.permutation(len(prev)), rng.permutation(len(nxt))
        res = tracking.match(prev[pp], nxt[pn], max_distance=MAX_D)
        assert res.n_retained == ref.n_retained
        assert res.sum_squared == pytest.approx(ref.sum_squared, rel=1e-12)


def test_large_frame_is_fast():
    import time

    x = fcc_sphere(40.0)  # ~18,000 atoms
    rng = np.random.default_rng(0)
    y = (x + rng.normal(0, 0.15, x.shape))[rng.permutation(len(x))]
    t0 = time.perf_counter()
    res = tracking.match(x, y, max_distance=MAX_D)
    assert time.perf_counter() - t0 < 3.0
    assert res.n_retained == len(x)


# ----------------------------------------------------------------------------------------------
# rigid alignment


def test_kabsch_recovers_a_rotation():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(20, 3))
    r_true = rotation([1, -2, 0.5], 33.0)
    p = q @ r_true.T + [1.0, 2.0, -3.0]
    r, t = tracking.kabsch(p, q)
    np.testing.assert_allclose(r, r_true, atol=1e-12)
    np.testing.assert_allclose(t, [1.0, 2.0, -3.0], atol=1e-12)
    # a mirror image is fitted by a proper rotation, never a reflection
    r, _ = tracking.kabsch(p * [-1, 1, 1], q)
    assert np.linalg.det(r) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3"):
        tracking.kabsch(p[:2], q[:2])


@pytest.mark.parametrize("degrees", [5.0, 12.0, 20.0, 45.0])
def test_alignment_recovers_a_rotated_translated_copy(degrees):
    """Up to ~15 degrees the first fit finds it; beyond, a lattice turned by 20 degrees still
    matched itself on 81 % of its sites in a wrong orientation (246 of 304 atoms, 'converged'),
    and the search over starting orientations finds the right one, atom for atom."""
    prev, nxt, truth = synthetic_pair(5, max_move=0.0)  # removed and added atoms, no motion
    r_true = rotation([1.0, 2.0, 3.0], degrees)
    shift = np.array([4.0, -3.0, 2.0])
    moved = nxt @ r_true.T + shift
    plain = tracking.match(prev, moved, max_distance=MAX_D)
    assert plain.n_retained < 0.5 * len(prev)  # not docked: the plain matching fails
    res = tracking.match(prev, moved, max_distance=MAX_D,
                         align="search" if degrees > 15 else True)
    assert res.aligned and res.converged and res.n_iter >= 1
    np.testing.assert_array_equal(res.partner, truth["partner"])
    np.testing.assert_array_equal(res.new, truth["new"])
    np.testing.assert_allclose(res.rotation, r_true.T, atol=1e-8)
    np.testing.assert_allclose(moved @ res.rotation.T + res.translation, nxt, atol=1e-8)
    assert np.nanmax(res.distance) < 1e-8


@pytest.mark.parametrize("radius, degrees", [(20.0, 10.0), (20.0, 30.0)])
def test_alignment_of_a_larger_particle(radius, degrees):
    """2,243 atoms: the outer atoms move 3.5 A at 10 degrees, beyond max_distance, and a fit on
    the whole frame from the identity used to settle in a wrong orientation; the growing
    cores (align=True) and at 30 degrees the search (align="search") find the right one,
    atom for atom."""
    prev = fcc_sphere(radius, noise=0.03, seed=1)
    keep = np.random.default_rng(0).random(len(prev)) > 0.05
    moved = prev[keep] @ rotation([1.0, 2.0, 3.0], degrees).T + [3.0, -2.0, 1.0]
    res = tracking.match(prev, moved, max_distance=MAX_D,
                         align="search" if degrees > 15 else True)
    np.testing.assert_array_equal(res.partner[keep], np.arange(keep.sum()))
    assert (res.partner[~keep] == -1).all() and res.n_added == 0
    assert tracking.angle(res.rotation) == pytest.approx(degrees, abs=0.1)


def test_alignment_of_docked_frames_changes_nothing():
    prev, nxt, truth = synthetic_pair(6, noise=0.03)
    res = tracking.match(prev, nxt, max_distance=MAX_D, align=True)
    np.testing.assert_array_equal(res.partner, truth["partner"])
    angle = math.degrees(math.acos(min(1.0, (np.trace(res.rotation) - 1) / 2)))
    assert angle < 1.0 and np.linalg.norm(res.translation) < 0.1


def test_alignment_of_a_symmetric_particle_takes_the_smallest_rotation():
    """Turned by 90 degrees about a cube axis, an fcc sphere is itself: the alignment cannot
    tell which atom is which and takes the smallest rotation (none), with the true counts."""
    prev, nxt, truth = synthetic_pair(7, max_move=0.0, n_add=0)
    centre = prev.mean(axis=0)
    moved = (nxt - centre) @ rotation([0.0, 0.0, 1.0], 90.0).T + centre + [0.5, -0.3, 0.2]
    res = tracking.match(prev, moved, max_distance=MAX_D, align="search")
    assert res.n_retained == int((truth["partner"] >= 0).sum()) and res.n_added == 0
    assert np.nanmax(res.distance) < 1e-8
    assert tracking.angle(res.rotation) < 90.0 - 1.0


def test_alignment_without_overlap_is_an_error():
    x = fcc_sphere(6.0)
    triangle = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [0.5, 0.3, 0.8]])
    with pytest.raises(ValueError, match="pre-align"):  # no 3 atoms of x are that close
        tracking.match(x, triangle + 50.0, max_distance=0.3, align="search")


# ----------------------------------------------------------------------------------------------
# pair summary


def test_pair_summary():
    prev = np.array([[0.0, 0, 0], [3, 0, 0], [6, 0, 0], [9, 0, 0]])
    nxt = np.array([[0.3, 0, 0], [6.0, 0.4, 0], [20, 0, 0]])
    res = tracking.match(prev, nxt, max_distance=1.0)
    row = tracking.pair_summary(res, cn=[12, 4, 9, 5], Q6=[0.5, 0.2, 0.5, 0.4],
                                surface=[0, 1, 0, 1], crystalline=[1, 0, 1, 1])
    assert list(row) == list(tracking.PAIR_SUMMARY_COLUMNS)
    assert (row["n_retained"], row["n_removed"], row["n_added"]) == (2, 2, 1)
    assert row["displacement_mean"] == pytest.approx(0.35)
    assert row["displacement_p95"] == pytest.approx(0.3 + 0.95 * 0.1)
    assert row["removed_cn_mean"] == 4.5 and row["all_cn_mean"] == 7.5
    assert row["removed_Q6_mean"] == pytest.approx(0.3) and row["all_Q6_mean"] == pytest.approx(0.4)
    assert row["removed_fraction_surface"] == 1.0 and row["all_fraction_surface"] == 0.5
    assert row["removed_fraction_disordered"] == 0.5 and row["all_fraction_disordered"] == 0.25
    # nothing removed: the removed_* values are undefined; no per-atom values: NaN columns
    row = tracking.pair_summary(tracking.match(prev, prev, max_distance=1.0), cn=[1, 2, 3, 4])
    assert math.isnan(row["removed_cn_mean"]) and row["all_cn_mean"] == 2.5
    assert math.isnan(row["all_Q6_mean"]) and row["displacement_mean"] == 0.0


# ----------------------------------------------------------------------------------------------
# the workflow stage and the figures


def run_series(tmp_path, sources, *, series="s"):
    """Run every per-frame stage, then track_pair for each frame; returns the paths."""
    res = tmp_path / "results"
    names = [f"f{k}" for k in range(len(sources))]
    for k, (name, src) in enumerate(zip(names, sources, strict=True)):
        stage.run_frame(src, res, series=series, frame=name, time=float(k), pdbs=False,
                           on_bad_frame="skip")
    paths = []
    for k, name in enumerate(names):
        work = res / "intermediate" / series / name
        inputs = {"frame": work / "frame.npz", "rdf": work / "rdf.npz"}
        if k:
            prev = res / "intermediate" / series / names[k - 1]
            inputs.update({f"prev_{s}": prev / f"{s}.npz"
                           for s in ("frame", "boo", "coordination", "surface")})
        out = res / series / name
        outputs = {"tracking": work / "tracking.npz", "fate": out / "fate.csv",
                   "pdb": out / "fate.pdb", "cif": out / "fate.cif", "new": out / "new.csv"}
        track_stage.track_pair(inputs, outputs, max_distance=MAX_D, element="Pt",
                            previous_frame=names[k - 1] if k else "",
                            log=res / "logs" / f"{name}.log")
        paths.append(outputs)
    return names, paths


def write_pdb(path, coords):
    from nanotraj.io import write_values

    write_values(path, coords, np.zeros(len(coords)), element="Pt")
    return path


def test_track_pair_files(tmp_path):
    prev, nxt, truth = synthetic_pair(8)
    sources = [write_pdb(tmp_path / "a.pdb", prev), write_pdb(tmp_path / "b.pdb", nxt)]
    names, paths = run_series(tmp_path, sources)
    # first frame: no pair, empty new column and summary values
    first = load_arrays(paths[0]["tracking"])
    assert str(first["status"]) == "ok" and not bool(first["has_pair"])
    assert tracking.atom_columns(first, 3)["new"].tolist() == [None] * 3
    row = tracking.summary_row(first)
    assert set(row) == set(tracking.SUMMARY_COLUMNS) and all(v is None for v in row.values())
    header, rows = read_rows(paths[0]["fate"])
    assert header == list(tracking.FATE_COLUMNS) and rows == []
    assert "NO PREVIOUS FRAME" in paths[0]["pdb"].read_text()
    assert read_rows(paths[0]["new"]) == (list(tracking.NEW_COLUMNS), [])
    # the pair
    tr = load_arrays(paths[1]["tracking"])
    assert bool(tr["has_pair"]) and str(tr["pair_status"]) == "ok"
    new = tracking.atom_columns(tr, len(nxt))["new"]
    np.testing.assert_array_equal(new, truth["new"].astype(int))
    row = tracking.summary_row(tr)
    assert row["previous_frame"] == "f0"
    assert (row["n_retained"], row["n_removed"], row["n_added"]) == (len(prev) - 25, 25, 8)
    assert row["all_cn_mean"] > row["removed_cn_mean"] or row["removed_cn_mean"] > 0
    header, rows = read_rows(paths[1]["fate"])
    assert header == list(tracking.FATE_COLUMNS) and len(rows) == len(prev)
    partner = np.array([int(r["partner"]) for r in rows])
    np.testing.assert_array_equal(partner, truth["partner"])
    assert {r["fate"] for r in rows} == {"retained", "removed"}
    assert [int(r["index"]) for r in rows] == list(range(len(prev)))
    removed_rows = [r for r in rows if r["fate"] == "removed"]
    assert all(r["displacement"] == "nan" and r["partner"] == "-1" for r in removed_rows)
    kept = truth["partner"] >= 0
    dxyz = np.array([[float(r[c]) for c in ("dx", "dy", "dz")] for r in rows])
    np.testing.assert_allclose(dxyz[kept], truth["displacement"][kept], atol=1.001e-3)  # PDB: 3 dp
    # new.csv: frame t's atoms, new flags and the inverse mapping
    header, rows = read_rows(paths[1]["new"])
    assert header == list(tracking.NEW_COLUMNS) and len(rows) == len(nxt)
    np.testing.assert_array_equal([int(r["new"]) for r in rows], truth["new"].astype(int))
    previous = np.array([int(r["previous"]) for r in rows])
    np.testing.assert_array_equal(previous[truth["partner"][kept]], np.flatnonzero(kept))
    assert (previous[truth["new"]] == -1).all()
    # the series table
    table = tmp_path / "tracking.csv"
    track_stage.aggregate_tracking([p["tracking"] for p in paths], table, series="s", frames=names,
                                times=[0.0, 1.0])
    header, rows = read_rows(table)
    assert header == list(tracking.SERIES_COLUMNS) and [r["frame"] for r in rows] == names
    assert rows[0]["previous_frame"] == "" and rows[0]["n_retained"] == ""
    assert rows[0]["pair_status"].startswith("no previous frame")
    assert rows[1]["pair_status"] == "ok" and int(rows[1]["n_removed"]) == 25
    # the PDB: frame t-1's atoms, removed = 1 in the B-factor column
    lines = [ln for ln in paths[1]["pdb"].read_text().splitlines() if ln.startswith("HETATM")]
    assert len(lines) == len(prev)
    b = np.array([float(ln[60:66]) for ln in lines])
    np.testing.assert_array_equal(b, (~kept).astype(float))
    np.testing.assert_allclose([float(lines[0][30:38])], [prev[0, 0]], atol=1e-3)


def _fate_atoms(path):
    """(coordinates, B-factors) of a fate.pdb / fate.cif, read by gemmi."""
    import gemmi

    st = gemmi.read_structure(str(path))
    atoms = [cra.atom for cra in st[0].all()]
    return (np.array([[a.pos.x, a.pos.y, a.pos.z] for a in atoms]),
            np.array([a.b_iso for a in atoms]))


@pytest.mark.parametrize("shift", [0.0, 20000.0])
def test_fate_structure_files_hold_every_atom_of_the_previous_frame(tmp_path, shift):
    """fate.cif always holds frame t-1 with removed = 1 in the B-factor column; fate.pdb too when
    the PDB columns can hold the coordinates, else only a REMARK naming the reason and the
    .cif (a frame 20,000 A from the origin used to crash the tracking job, losing the series)."""
    prev, nxt, truth = synthetic_pair(11)
    prev, nxt = prev + shift, nxt + shift
    sources = []
    for name, xyz in (("a.cif", prev), ("b.cif", nxt)):
        from nanotraj.io import write_values

        write_values(tmp_path / name, xyz, np.zeros(len(xyz)), element="Pt")
        sources.append(tmp_path / name)
    _, paths = run_series(tmp_path, sources)
    removed = (truth["partner"] < 0).astype(float)
    xyz, b = _fate_atoms(paths[1]["cif"])
    np.testing.assert_allclose(xyz, prev, atol=1e-3)
    np.testing.assert_array_equal(b, removed)
    pdb_text = paths[1]["pdb"].read_text()
    if shift:
        assert "HETATM" not in pdb_text and "ATOM" not in pdb_text
        assert "beyond the PDB columns" in pdb_text and "fate.cif" in pdb_text
    else:
        xyz, b = _fate_atoms(paths[1]["pdb"])
        np.testing.assert_allclose(xyz, prev, atol=1e-3)
        np.testing.assert_array_equal(b, removed)
    assert "NO PREVIOUS FRAME" in paths[0]["pdb"].read_text()
    assert "no previous frame" in paths[0]["cif"].read_text()


def test_a_frame_rejected_by_its_g_of_r_has_no_pair(tmp_path):
    """A frame that reads but whose g(r) has no minimum (a gas, on_bad_frame=skip) is rejected
    in tracking.csv as in summary.csv: its pair used to be computed all the same."""
    prev, nxt, _ = synthetic_pair(10)
    gas = np.random.default_rng(0).uniform(0, 25, (300, 3))
    sources = [write_pdb(tmp_path / "a.pdb", prev), write_pdb(tmp_path / "gas.pdb", gas),
               write_pdb(tmp_path / "c.pdb", nxt)]
    _, paths = run_series(tmp_path, sources)
    rejected = load_arrays(paths[1]["tracking"])
    assert str(rejected["status"]).startswith("rejected:") and "g(r)" in str(rejected["status"])
    assert not bool(rejected["has_pair"])
    after = load_arrays(paths[2]["tracking"])
    assert str(after["pair_status"]).startswith("previous frame rejected:")


def test_track_pair_rejected_frames(tmp_path):
    prev, nxt, _ = synthetic_pair(9)
    bad = tmp_path / "bad.pdb"
    bad.write_text("not a structure\n")
    sources = [write_pdb(tmp_path / "a.pdb", prev), bad, write_pdb(tmp_path / "c.pdb", nxt)]
    names, paths = run_series(tmp_path, sources)
    rejected = load_arrays(paths[1]["tracking"])  # frame t rejected: its status passes on
    assert str(rejected["status"]).startswith("rejected:") and not bool(rejected["has_pair"])
    assert "REJECTED" in paths[1]["pdb"].read_text()
    after = load_arrays(paths[2]["tracking"])  # previous frame rejected: no pair, frame ok
    assert str(after["status"]) == "ok" and not bool(after["has_pair"])
    assert str(after["pair_status"]).startswith("previous frame rejected:")
    row = tracking.summary_row(after)
    assert row["previous_frame"] == "f1" and row["n_retained"] is None
    assert read_rows(paths[2]["fate"])[1] == []
    # the series figures leave the pairs out and say so
    outs = {"removal_cn": tmp_path / "r.png", "displacements": tmp_path / "d.png"}
    info = figures.plot_tracking([p["fate"] for p in paths], [p["tracking"] for p in paths],
                                    outs, frames=names, times=[0, 1, 2], series="s",
                                    log=tmp_path / "plot.log")
    assert "no pair" in info["status"] and outs["removal_cn"].stat().st_size > 1000
    assert "previous frame rejected" in (tmp_path / "plot.log").read_text()


def test_figures(tmp_path):
    rng = np.random.default_rng(11)
    frames = [fcc_sphere(10.0)]
    for _ in range(3):  # remove outer atoms preferentially, jiggle the rest
        x = frames[-1]
        r = np.linalg.norm(x - x.mean(axis=0), axis=1)
        keep = rng.random(len(x)) > 0.3 * (r / r.max()) ** 4
        frames.append(x[keep] + rng.normal(0, 0.05, (keep.sum(), 3)))
    sources = [write_pdb(tmp_path / f"{k}.pdb", f) for k, f in enumerate(frames)]
    names, paths = run_series(tmp_path, sources)
    outs = {"removal_cn": tmp_path / "r.png", "displacements": tmp_path / "d.png"}
    args = ([p["fate"] for p in paths], [p["tracking"] for p in paths])
    info = figures.plot_tracking(*args, outs, frames=names, times=[0, 1, 2, 5],
                                    series="s", time_unit="min")
    pooled = info["removal_cn"]
    assert pooled["removed"].sum() == sum(len(frames[k]) - len(frames[k + 1]) for k in range(3))
    assert pooled["fraction"][12] < pooled["overall"]  # bulk atoms are removed less often
    from matplotlib.image import imread

    assert imread(outs["removal_cn"]).shape[:2] == (550, 1000)
    assert imread(outs["displacements"]).shape[:2] == (800, 1000)
    first = {k: v.read_bytes() for k, v in outs.items()}
    figures.plot_tracking(*args, outs, frames=names, times=[0, 1, 2, 5], series="s")
    assert {k: v.read_bytes() for k, v in outs.items()} != first  # time unit label differs
    figures.plot_tracking(*args, outs, frames=names, times=[0, 1, 2, 5], series="s",
                             time_unit="min")
    assert {k: v.read_bytes() for k, v in outs.items()} == first  # byte-identical rerun
    # many pairs: percentile bands instead of boxes
    pairs = [{"time": float(t), "displacement": rng.uniform(0, 1, 50), "n_retained": 50,
              "n_removed": 3, "n_added": 1} for t in range(trackplots.MAX_BOXES + 5)]
    info = trackplots.plot_displacements(pairs, tmp_path / "many.png", max_distance=MAX_D)
    assert info["percentiles"].shape == (len(pairs), 5)


# ----------------------------------------------------------------------------------------------
# the shared Pt series


@pytest.fixture(scope="module")
def pt_coords():
    if not all(p.is_file() for p in PT_FRAMES):
        pytest.skip(f"shared Pt series not available at {PT_SERIES}")
    from nanotraj.io import read_frame

    return [read_frame(p).coords for p in PT_FRAMES]


def test_pt_series_retained_atoms_are_stable_under_permutation(pt_coords):
    rng = np.random.default_rng(0)
    for prev, nxt in itertools.pairwise(pt_coords):
        ref = tracking.match(prev, nxt, max_distance=MAX_D)
        for _ in range(3):
            pp, pn = rng.permutation(len(prev)), rng.permutation(len(nxt))
            res = tracking.match(prev[pp], nxt[pn], max_distance=MAX_D)
            assert res.n_retained == ref.n_retained
            assert res.sum_squared == pytest.approx(ref.sum_squared, rel=1e-12)
            # the same atoms are removed, whatever the order
            np.testing.assert_array_equal(np.sort(pp[res.removed]), np.flatnonzero(ref.removed))


def test_pt_series_numbers(pt_coords):
    """The issue's numbers: fraction of frame t's atoms within 0.5 A of an atom of frame t-1
    (95 %, 87 %, 71 %) -- with a one-to-one matching at 0.5 A they are the same."""
    sizes = [len(c) for c in pt_coords]
    assert sizes == [314, 264, 233, 119]
    within = [tracking.match(p, n, max_distance=0.5).n_retained / len(n)
              for p, n in itertools.pairwise(pt_coords)]
    np.testing.assert_allclose(within, [0.95, 0.87, 0.71], atol=0.01)
    default = [tracking.match(p, n, max_distance=MAX_D) for p, n in itertools.pairwise(pt_coords)]
    assert [r.n_retained for r in default] == [258, 213, 100]
    assert [r.n_added for r in default] == [6, 20, 19]
    # docked frames: the rigid alignment finds (almost) nothing to correct
    for p, n in itertools.pairwise(pt_coords):
        res = tracking.match(p, n, max_distance=MAX_D, align=True)
        angle = math.degrees(math.acos(min(1.0, (np.trace(res.rotation) - 1) / 2)))
        assert res.converged and angle < 1.0 and np.linalg.norm(res.translation) < 0.5
    # the search would turn the heavily etched last pair by 60 degrees (twin-related, more
    # pairs): why it is not what align=True does (module docstring)
    searched = tracking.match(pt_coords[2], pt_coords[3], max_distance=MAX_D, align="search")
    assert searched.n_retained == 108 and abs(tracking.angle(searched.rotation) - 60.0) < 1.0
    with pytest.raises(ValueError, match="align must be"):
        tracking.match(pt_coords[2], pt_coords[3], max_distance=MAX_D, align="yes")


def test_pt_series_removal_is_selective(tmp_path, pt_coords):
    """Removed atoms are low-coordinated surface atoms (whole stage chain, file level)."""
    names, paths = run_series(tmp_path, PT_FRAMES, series="pt")
    rows = [tracking.summary_row(load_arrays(p["tracking"])) for p in paths[1:]]
    for row in rows:
        assert row["removed_cn_mean"] < row["all_cn_mean"] - 1.5
        # surface: the alpha shape (probe 4.01 A); 80-100 % of the removed atoms, ~half of all
        assert row["removed_fraction_surface"] > 0.75
        assert row["removed_fraction_surface"] > row["all_fraction_surface"] + 0.25
        assert row["displacement_p95"] < MAX_D


def test_track_pair_on_mapped_inputs_writes_the_same_files(tmp_path, monkeypatch):
    """Large stage inputs are maps of the files, read-only: the tracking stage (alignment
    included) never writes into them and its files are those made from inputs read into
    memory."""
    from nanotraj import tables

    rng = np.random.default_rng(5)
    x = fcc_sphere(12.0, noise=0.05, seed=1)
    y = x[5:] + rng.normal(0, 0.05, (len(x) - 5, 3)) + 0.3  # 5 removed, shifted
    files = {}
    for label, limit in (("read", 1 << 62), ("mapped", 0)):
        monkeypatch.setattr(tables, "_MAP_BYTES", limit)
        srcs = [write_pdb(tmp_path / f"{label}_{k}.pdb", c) for k, c in enumerate((x, y))]
        _, paths = run_series(tmp_path / label, srcs)
        files[label] = [{k: p.read_bytes() for k, p in out.items() if k != "tracking"}
                        for out in paths]
        if label == "mapped":
            frame = tables.load_arrays(tmp_path / label / "results" / "intermediate" / "s" / "f1"
                                       / "frame.npz")
            assert isinstance(frame["coords"].base, np.memmap)
    assert files["read"] == files["mapped"]
    assert b"removed" in files["read"][1]["fate"]


@pytest.mark.parametrize("align", [True, "search"])
def test_track_pair_warns_when_the_alignment_matches_few_atoms(tmp_path, capsys, align):
    """Two unrelated particles (different lattices): from the initial position no 3 atoms
    match (the pair is recorded as not tracked, the series goes on: the error used to stop
    the job); the search matches a minority of the atoms (the pair is written). Either way
    the log and stderr say so."""
    from nanotraj.io import write_values
    from nanotraj.lattices import bcc_sphere

    a_xyz, b_xyz = fcc_sphere(8.0), bcc_sphere(8.0, 3.2)
    write_values(tmp_path / "a.pdb", a_xyz, np.zeros(len(a_xyz)))
    write_values(tmp_path / "b.pdb", b_xyz, np.zeros(len(b_xyz)))
    res = tmp_path / "results"
    for k, name in enumerate(("a", "b")):
        stage.run_frame(tmp_path / f"{name}.pdb", res, series="s", frame=name, time=float(k),
                           pdbs=False, cutoff=3.5)
    work, prev = res / "intermediate" / "s" / "b", res / "intermediate" / "s" / "a"
    inputs = {"frame": work / "frame.npz"} | {
        f"prev_{s}": prev / f"{s}.npz" for s in ("frame", "boo", "coordination", "surface")}
    out = res / "s" / "b"
    summary = track_stage.track_pair(
        inputs, {"tracking": work / "tracking.npz", "fate": out / "fate.csv",
                 "pdb": out / "fate.pdb"}, max_distance=0.5, align=align, previous_frame="a",
        log=tmp_path / "pair.log")
    assert "warning: a -> " in (tmp_path / "pair.log").read_text()
    err = capsys.readouterr().err
    if align is True:
        assert summary == {} and "fewer than 3 atom pairs" in err
        tr = load_arrays(work / "tracking.npz")
        assert str(tr["pair_status"]).startswith("alignment failed:")
        assert str(tr["status"]) == "ok" and not bool(tr["has_pair"])
    else:
        assert summary["n_retained"] < 0.5 * len(b_xyz)
        assert "the rigid alignment matches only" in err


def test_track_pair_warns_about_a_misorientation_beyond_the_local_fit(tmp_path, capsys):
    """A frame turned by 40 degrees with align=True: the local fit matches well under 80 % of
    the atoms (it reported 72 % of a 369-atom pair as a normal pair, silently); the warning
    points to align: search, which recovers the pair."""
    from nanotraj.io import write_values

    a_xyz = fcc_sphere(10.0, noise=0.03, seed=2)
    b_xyz = a_xyz @ rotation([1.0, 2.0, 3.0], 40.0).T + [2.0, 0.0, -1.0]
    res = tmp_path / "results"
    for k, (name, xyz) in enumerate((("a", a_xyz), ("b", b_xyz))):
        write_values(tmp_path / f"{name}.pdb", xyz, np.zeros(len(xyz)))
        stage.run_frame(tmp_path / f"{name}.pdb", res, series="s", frame=name, time=float(k),
                           pdbs=False)
    work, prev = res / "intermediate" / "s" / "b", res / "intermediate" / "s" / "a"
    inputs = {"frame": work / "frame.npz"} | {
        f"prev_{s}": prev / f"{s}.npz" for s in ("frame", "boo", "coordination", "surface")}
    out = res / "s" / "b"
    outputs = {"tracking": work / "tracking.npz", "fate": out / "fate.csv",
               "pdb": out / "fate.pdb"}
    local = track_stage.track_pair(inputs, outputs, max_distance=MAX_D, align=True,
                                previous_frame="a")
    assert local["n_retained"] < 0.8 * len(a_xyz)
    assert "tracking.align: search" in capsys.readouterr().err
    searched = track_stage.track_pair(inputs, outputs, max_distance=MAX_D, align="search",
                                   previous_frame="a")
    assert searched["n_retained"] == len(a_xyz) and searched["n_added"] == 0
    assert "nanotraj warning" not in capsys.readouterr().err
