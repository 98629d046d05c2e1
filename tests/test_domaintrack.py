"""Domains through time (nanotraj.domaintrack and the file-level stages of nanotraj.stages.domains):
links, events and tracks; synthetic series with known answers run through the same stages as the
workflow -- two crystallites growing into each other (merge), the same backwards (split), a
nucleus growing in an amorphous matrix (appear, then grow) and dissolving (shrink, vanish), a
particle etched atom by atom (known survival curve, lifetimes, stable core, RMSD matrix)."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from nanotraj import domaintrack as dt
from nanotraj import lattices as lat
from nanotraj import layout
from nanotraj.io import write_values
from nanotraj.stages import domains as stage
from nanotraj.stages.frame import run_frame
from nanotraj.stages.tracking import track_pair
from nanotraj.tables import read_rows

# ----------------------------------------------------------------------------------------------
# links and events


def test_shared_atoms_counts_matched_atoms_per_pair_of_domains():
    prev_domain = np.array([0, 0, 0, 1, 1, -1])
    next_domain = np.array([0, 0, 1, 1, -1, 0])
    previous = np.array([0, 1, 3, 4, 2, -1])  # atom 5 is new
    a, b, c = dt.shared_atoms(prev_domain, next_domain, previous)
    assert list(zip(a.tolist(), b.tolist(), c.tolist(), strict=True)) == [(0, 0, 2), (1, 1, 2)]
    with pytest.raises(ValueError):
        dt.shared_atoms(prev_domain, next_domain, previous[:-1])


def events(res):
    return [(e["event"], e["before"], e["after"]) for e in res["events"]]


def test_one_to_one_links_continue_grow_or_shrink():
    a, b, c = np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([100, 100, 50])
    res = dt.classify([100, 100, 100], [105, 120, 50], a, b, c)
    assert res["event"].tolist() == ["continue", "grow", "shrink"]
    assert res["parent"].tolist() == [0, 1, 2]
    assert events(res) == [("continue", [0], [0]), ("grow", [1], [1]), ("shrink", [2], [2])]
    res = dt.classify([100], [105], [0], [0], [100], size_change=0.02)
    assert res["event"].tolist() == ["grow"]


def test_merge_split_appear_vanish():
    # frame t-1: A0 (100), A1 (60), A2 (30), A3 (40); frame t: B0 (150) = A0 + A1, B1 (50) and
    # B2 (45) from A3 split... no: A3 -> B1 only; A2 splits into B2 and B3; B4 new; A? vanish
    prev_sizes = [100, 60, 30, 40, 20]
    next_sizes = [150, 35, 14, 13, 20]
    a = np.array([0, 1, 2, 2, 3, 4])
    b = np.array([0, 0, 2, 3, 1, 0])
    c = np.array([95, 55, 14, 13, 30, 1])  # A4 shares 1 atom with B0: below the link fraction
    res = dt.classify(prev_sizes, next_sizes, a, b, c)
    assert res["linked"].tolist() == [True, True, True, True, True, False]
    assert res["event"].tolist() == ["merge", "shrink", "split", "split", "appear"]
    assert res["parent"].tolist() == [0, 3, 2, -1, -1]  # B2 (14 shared) continues A2's track
    assert events(res) == [("appear", [], [4]), ("merge", [0, 1], [0]),
                           ("split", [2], [2, 3]), ("shrink", [3], [1]), ("vanish", [4], [])]
    ev = res["events"]
    assert ev[1]["n_before"] == 160 and ev[1]["n_after"] == 150
    assert ev[4]["n_before"] == 20 and ev[4]["n_after"] == 0


def test_link_fraction_is_relative_to_the_smaller_domain():
    # a 13-atom nucleus entirely absorbed into a 500-atom crystal is linked (13 of 13)
    assert dt.link([13, 480], [500], [0, 1], [0, 0], [13, 470]).tolist() == [True, True]
    # 5 atoms of a 100-atom grain moving into a 90-atom neighbour are not
    assert dt.link([100], [90], [0], [0], [5]).tolist() == [False]
    assert dt.link([100], [90], [0], [0], [5], link_fraction=0.05).tolist() == [True]
    with pytest.raises(ValueError):
        dt.link([1], [1], [0], [0], [1], link_fraction=0)


def test_tracks_follow_parents():
    tracks = dt.assign_tracks([None, np.array([1, 0, -1]), None, np.array([-1])], [2, 3, 1, 1])
    assert [t.tolist() for t in tracks] == [[0, 1], [1, 0, 2], [3], [4]]


# ----------------------------------------------------------------------------------------------
# synthetic series through the stages


def run_series(tmp_path, frames, *, method="orientation", noise=0.0):
    """Every per-frame stage (run_frame), track_pair, link_domains and the two aggregates, as the
    workflow runs them; returns the series' tables as lists of rows."""
    results = tmp_path / "results"
    names = [f"f{k}" for k in range(len(frames))]
    times = [10.0 * k for k in range(len(frames))]
    for k, (name, x) in enumerate(zip(names, frames, strict=True)):
        if noise:
            x = x + np.random.default_rng(100 + k).normal(0.0, noise, x.shape)
        src = tmp_path / f"{name}.pdb"
        write_values(src, x, np.zeros(len(x)))
        run_frame(src, results, series="s", frame=name, time=times[k], pdbs=False,
                  domain_options={"method": method})

    def w(stage_name, frame):
        return layout.intermediate(stage_name, series="s", frame=frame, root=str(results))

    for k, name in enumerate(names):
        inputs = {"frame": w("frame", name), "rdf": w("rdf", name)}
        link_inputs = {"domains": w("domains", name), "tracking": w("tracking", name)}
        if k:
            prev = names[k - 1]
            inputs.update({f"prev_{s}": w(s, prev)
                           for s in ("frame", "boo", "coordination", "surface")})
            link_inputs["prev_domains"] = w("domains", prev)
        out = {n: layout.frame_file(f"{n}.csv", series="s", frame=name, root=str(results))
               for n in ("fate", "new")}
        out["pdb"] = layout.frame_file("fate.pdb", series="s", frame=name, root=str(results))
        out["tracking"] = w("tracking", name)
        track_pair(inputs, out, previous_frame=names[k - 1] if k else "")
        stage.link_domains(link_inputs, w("domainlinks", name),
                           previous_frame=names[k - 1] if k else "")
    series = {n: layout.series_file(n, series="s", root=str(results)) for n in (
        "domains.csv", "domain_events.csv", "atom_ids.csv", "lifetimes.csv", "survival.csv",
        "rmsd_matrix.csv")}
    stage.aggregate_domains([w("domains", n) for n in names], [w("domainlinks", n) for n in names],
                            {"domains": series["domains.csv"],
                             "events": series["domain_events.csv"]},
                            series="s", frames=names, times=times)
    stage.aggregate_atom_ids([w("tracking", n) for n in names], [w("frame", n) for n in names],
                             {"atom_ids": series["atom_ids.csv"],
                              "lifetimes": series["lifetimes.csv"],
                              "survival": series["survival.csv"],
                              "rmsd": series["rmsd_matrix.csv"]},
                             series="s", frames=names, times=times)
    return {k.removesuffix(".csv"): read_rows(v)[1] for k, v in series.items()}


def event_list(rows):
    return [(float(r["time"]), r["event"], r["tracks_before"], r["tracks_after"]) for r in rows]


def per_frame(rows):
    out = {}
    for r in rows:
        out.setdefault(float(r["time"]), []).append(r)
    return out


@cache
def glass():
    return lat.amorphous_sphere(18.0)


CENTRES = [[-10.0, 0.0, 0.0], [10.0, 0.0, 0.0]]


@cache
def growing_pair():
    """Two crystallites of one lattice in a glass, 20 A apart, radii 7, 8.5, 11 A: separate,
    then grown into each other."""
    return [lat.crystals_in_glass(glass(), CENTRES, [r, r]) for r in (7.0, 8.5, 11.0)]


@pytest.mark.parametrize("method", ["orientation", "order"])
def test_two_crystallites_growing_into_each_other_merge(tmp_path, method):
    tables = run_series(tmp_path, growing_pair(), method=method)
    doms = per_frame(tables["domains"])

    def crystallites(rows):  # the domains at the crystallites (order: the glass may add some)
        return [r for r in rows if min(math.dist((float(r["centroid_x"]), float(r["centroid_y"]),
                                                  float(r["centroid_z"])), c) for c in
                                       [*CENTRES, [0, 0, 0]]) < 3.0]

    assert len(crystallites(doms[0.0])) == 2 and len(crystallites(doms[10.0])) == 2
    assert len(crystallites(doms[20.0])) == 1
    merged = crystallites(doms[20.0])[0]
    tracks = sorted(int(r["track"]) for r in crystallites(doms[0.0]))
    grow = [e for e in tables["domain_events"] if float(e["time"]) == 10.0
            and int(e["track"]) in tracks]
    assert sorted(e["event"] for e in grow) == ["grow", "grow"]
    merge = [e for e in tables["domain_events"] if e["event"] == "merge"]
    assert len(merge) == 1 and float(merge[0]["time"]) == 20.0
    before = sorted(int(t) for t in merge[0]["tracks_before"].split(";"))
    # order: a cluster of crystal-like glass atoms next to the crystallites may merge too
    assert before == tracks if method == "orientation" else set(tracks) <= set(before)
    assert merge[0]["tracks_after"] == merged["track"] and int(merged["track"]) in tracks
    assert merged["event"] == "merge"
    assert int(merge[0]["n_atoms"]) == int(merged["n_atoms"])
    if method == "orientation":
        assert event_list(tables["domain_events"]) == [
            (10.0, "grow", "0", "0"), (10.0, "grow", "1", "1"), (20.0, "merge", "0;1", "0")]


def test_the_same_backwards_is_a_split(tmp_path):
    tables = run_series(tmp_path, growing_pair()[::-1])
    assert event_list(tables["domain_events"]) == [
        (10.0, "split", "0", "0;1"), (20.0, "shrink", "0", "0"), (20.0, "shrink", "1", "1")]
    assert [r["event"] for r in tables["domains"]] == ["", "split", "split", "shrink", "shrink"]


@cache
def nucleation():
    """A glass, then a nucleus of radius 7, 9 and 11 A at its centre."""
    g = glass()
    return [g] + [lat.crystals_in_glass(g, [[0, 0, 0]], [r]) for r in (7.0, 9.0, 11.0)]


def test_a_nucleus_appears_in_a_glass_and_grows(tmp_path):
    tables = run_series(tmp_path, nucleation())
    assert event_list(tables["domain_events"]) == [
        (10.0, "appear", "", "0"), (20.0, "grow", "0", "0"), (30.0, "grow", "0", "0")]
    sizes = [int(r["n_atoms"]) for r in tables["domains"]]
    assert sizes == sorted(sizes) and [r["track"] for r in tables["domains"]] == ["0"] * 3
    assert [r["event"] for r in tables["domains"]] == ["appear", "grow", "grow"]
    assert all(float(r["d_center"]) < 1.5 for r in tables["domains"])


def test_a_dissolving_nucleus_shrinks_and_vanishes(tmp_path):
    tables = run_series(tmp_path, nucleation()[::-1])
    assert event_list(tables["domain_events"]) == [
        (10.0, "shrink", "0", "0"), (20.0, "shrink", "0", "0"), (30.0, "vanish", "0", "")]
    vanish = tables["domain_events"][-1]
    assert int(vanish["n_atoms"]) == 0 and int(vanish["n_atoms_before"]) > 13


# ----------------------------------------------------------------------------------------------
# atom identities


N_ETCH = 25  # atoms removed per frame
ADATOMS = np.array([[21.0, 0.0, 0.0], [-21.0, 0.0, 0.0], [0.0, 21.0, 0.0]])


@cache
def etching():
    """An fcc sphere (radius 15 A) losing its 25 outermost atoms per frame (4 frames), the
    remaining atoms in their order; three adatoms deposited far outside in frame 2."""
    x = lat.fcc_sphere(15.0)
    order = np.argsort(-np.linalg.norm(x, axis=1), kind="stable")
    frames, kept = [], np.arange(len(x))
    for k in range(4):
        gone = set(order[: N_ETCH * k].tolist())
        kept = np.array([i for i in range(len(x)) if i not in gone])
        frames.append((x[kept], kept))
    out = [f[0] for f in frames]
    out[2] = np.vstack([out[2], ADATOMS])
    out[3] = np.vstack([out[3], ADATOMS])
    return out, [f[1] for f in frames], len(x)


def test_an_etched_particle_has_the_known_survival_curve(tmp_path):
    frames, kept, n0 = etching()
    tables = run_series(tmp_path, frames, noise=0.03)
    surv = tables["survival"]
    expected = [(n0 - N_ETCH * k) / n0 for k in range(4)]
    np.testing.assert_allclose([float(r["survival"]) for r in surv], expected, atol=1e-12)
    assert [int(r["n_new"]) for r in surv] == [0, 0, 3, 3]
    assert all(int(r["n_core"]) == n0 - 3 * N_ETCH for r in surv)
    # atom ids: the first frame's atoms keep their index; the adatoms get n0, n0 + 1, n0 + 2
    ids = {}
    for r in tables["atom_ids"]:
        ids.setdefault(r["frame"], []).append(int(r["atom_id"]))
    for k in range(4):
        assert ids[f"f{k}"][: len(kept[k])] == kept[k].tolist()
    assert ids["f2"][-3:] == ids["f3"][-3:] == [n0, n0 + 1, n0 + 2]
    life = {int(r["atom_id"]): r for r in tables["lifetimes"]}
    order = np.argsort(-np.linalg.norm(lat.fcc_sphere(15.0), axis=1), kind="stable")
    for k in range(3):  # removed by frame k + 1: last seen in frame k
        for i in order[N_ETCH * k: N_ETCH * (k + 1)][:5]:
            r = life[int(i)]
            assert r["last_frame"] == f"f{k}" and int(r["n_frames"]) == k + 1
            assert float(r["lifetime"]) == 10.0 * k and r["core"] == "0"
    assert life[n0]["first_frame"] == "f2" and life[n0]["in_first_frame"] == "0"
    assert sum(r["core"] == "1" for r in life.values()) == n0 - 3 * N_ETCH


def test_rmsd_matrix_of_the_etched_series(tmp_path):
    """Independent noise of 0.03 A per frame: frames differ by sqrt(6) x 0.03 = 0.073 A (raw,
    over the shared atoms); the superposition removes almost nothing of it."""
    frames, _, n0 = etching()
    tables = run_series(tmp_path, frames, noise=0.03)
    rows = {(r["frame_a"], r["frame_b"]): r for r in tables["rmsd_matrix"]}
    assert len(rows) == 16
    for (a, b), r in rows.items():
        if a == b:
            assert float(r["rmsd"]) == 0.0
            continue
        ka, kb = int(a[1:]), int(b[1:])
        assert int(r["n_shared"]) == n0 - N_ETCH * max(ka, kb) + (3 if min(ka, kb) >= 2 else 0)
        assert float(r["rmsd_raw"]) == pytest.approx(math.sqrt(6) * 0.03, rel=0.12)
        assert float(r["rmsd"]) <= float(r["rmsd_raw"]) + 1e-12
        assert rows[(b, a)]["rmsd"] == r["rmsd"]


# ----------------------------------------------------------------------------------------------
# the stages on frames without pairs


def test_links_of_rejected_frames_and_old_tracking_files(tmp_path):
    from nanotraj.stages.jobs import save
    from nanotraj.tables import load_arrays

    dom = tmp_path / "d.npz"
    save(dom, domain=np.array([0, 0, -1]), d_n_atoms=np.array([2]))
    rej = tmp_path / "rejected.npz"
    save(rej, "rejected: empty file")
    tr_old = tmp_path / "t_old.npz"
    save(tr_old, has_pair=np.array(True), new=np.zeros(3, dtype=np.int8))
    out = tmp_path / "links.npz"
    # the frame itself rejected: its status is passed on
    stage.link_domains({"domains": rej, "tracking": tr_old, "prev_domains": dom}, out)
    assert str(load_arrays(out)["status"]) == "rejected: empty file"
    # its predecessor rejected: no pair
    tr_none = tmp_path / "t_none.npz"
    save(tr_none, has_pair=np.array(False), pair_status=np.array("previous frame rejected: x"))
    stage.link_domains({"domains": dom, "tracking": tr_none, "prev_domains": rej}, out)
    links = load_arrays(out)
    assert not bool(links["has_pair"]) and str(links["status"]) == "ok"
    assert links["parent"].tolist() == [-1]
    # a tracking.npz of an older release (no 'previous'): no pair, with a warning
    stage.link_domains({"domains": dom, "tracking": tr_old, "prev_domains": dom}, out)
    assert str(load_arrays(out)["pair_status"]) == stage.OLD_TRACKING
    # the first frame
    stage.link_domains({"domains": dom, "tracking": tr_none}, out)
    assert str(load_arrays(out)["pair_status"]) == stage.NO_PAIR


def test_find_domains_passes_a_rejection_on(tmp_path):
    from nanotraj.stages.jobs import save
    from nanotraj.tables import load_arrays

    rej = tmp_path / "rejected.npz"
    save(rej, "rejected: no first minimum")
    out = tmp_path / "domains.npz"
    stage.find_domains(rej, rej, rej, rej, out, tmp_path / "domains.csv",
                       tmp_path / "boundaries.csv")
    assert str(load_arrays(out)["status"]) == "rejected: no first minimum"
    assert read_rows(tmp_path / "domains.csv") == (list(stage.DOMAIN_COLUMNS), [])
    assert read_rows(tmp_path / "boundaries.csv") == (list(stage.BOUNDARY_COLUMNS), [])
