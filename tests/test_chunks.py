"""Long series in chunks of frames (issue 22, part 5): nanotraj.chunking, the chunks' frames.npz
(nanotraj.tables.save_frame_arrays) and the workflow's rule run_chunk against the per-frame
rules: the same files byte for byte, and an edited frame reruns only its chunk."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pytest

from nanotraj.chunking import (
    AUTO_FRAME_FILES_MAX_FRAMES,
    AUTO_MAX_FRAMES,
    AUTO_MIN_CHUNK,
    chunk_name,
    chunk_size,
    frame_outputs,
    split,
)
from nanotraj.lattices import fcc_sphere
from nanotraj.stages.chunk import KEPT_STAGES, STATE
from nanotraj.tables import load_frame_arrays, save_frame_arrays

from .conftest import planned_jobs as planned
from .conftest import snakemake

# ----------------------------------------------------------------------------------------------
# the choice of the chunks


def test_auto_keeps_short_series_per_frame_and_cuts_long_ones():
    assert chunk_size(1, "auto") == 0
    assert chunk_size(AUTO_MAX_FRAMES, "auto") == 0
    assert chunk_size(AUTO_MAX_FRAMES + 1, "auto") == AUTO_MIN_CHUNK
    assert chunk_size(10_000, "auto") == 100  # 100 chunks
    assert len(split(range(10_000), chunk_size(10_000, "auto"))) == 100
    assert len(split(range(123_457), chunk_size(123_457, "auto"))) <= 100
    assert len(split(range(10**7), chunk_size(10**7, "auto"))) == 100


def test_auto_keeps_the_chunks_when_a_frame_is_appended():
    """Sizes from a ladder: n and n + 1 frames have the same chunks but at its steps."""
    steps = [n for n in range(AUTO_MAX_FRAMES + 1, 30_000)
             if chunk_size(n, "auto") != chunk_size(n + 1, "auto")]  # fmt: skip
    assert steps == [5000, 10_000, 20_000]


def test_an_integer_chunks_every_series_of_more_than_one_frame():
    assert chunk_size(7, 3) == 3
    assert chunk_size(1, 3) == 0  # a snapshot stays one frame
    assert chunk_size(5000, 0) == 0
    with pytest.raises(ValueError):
        chunk_size(7, -1)


def test_auto_writes_the_frames_figures_and_pdbs_but_for_long_chunked_series():
    auto = {"frame_figures": "auto", "per_value_pdb": "auto"}
    short, long = AUTO_FRAME_FILES_MAX_FRAMES, AUTO_FRAME_FILES_MAX_FRAMES + 1
    both = {"frame_figures": True, "per_value_pdb": "auto"}  # pdb: write_frame_pdbs' own auto
    assert frame_outputs(auto, short, chunked=True) == both
    assert frame_outputs(auto, 10 * long, chunked=False) == both
    assert frame_outputs(auto, long, chunked=True) == {"frame_figures": False,
                                                       "per_value_pdb": False}
    # true and false are the user's, whatever the length
    for value in (True, False):
        asked = {"frame_figures": value, "per_value_pdb": value}
        for n, chunked in ((2, False), (long, True)):
            assert frame_outputs(asked, n, chunked=chunked) == asked


def test_split_keeps_the_order_and_every_item():
    parts = split(list("abcdefg"), 3)
    assert parts == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert [chunk_name(k) for k in range(2)] == ["c0000", "c0001"]
    with pytest.raises(ValueError):
        split([1], 0)


# ----------------------------------------------------------------------------------------------
# many frames' arrays in one file


def test_frame_arrays_come_back_exactly(tmp_path):
    rng = np.random.default_rng(3)
    frames = [
        {"coords": rng.normal(size=(5, 3)), "status": np.array("ok"),
         "new": np.arange(5, dtype=np.int8), "names": np.array(["fcc", "hcp"]),
         "flag": np.array(True)},
        {"coords": np.zeros((0, 3)), "status": np.array("rejected: two atoms 0.1 A apart"),
         "new": np.zeros(0, dtype=np.int8)},  # fmt: skip
        {"coords": rng.normal(size=(2, 3)), "status": np.array(3), "extra": np.array(1.5)},
    ]  # fmt: skip
    save_frame_arrays(tmp_path / "f.npz", {"frame": frames, "other": [{"x": np.arange(3)}]})
    back = load_frame_arrays(tmp_path / "f.npz", "frame")
    assert len(back) == 3
    for a, b in zip(frames, back, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert b[k].dtype == a[k].dtype and b[k].shape == a[k].shape, k
            assert np.array_equal(a[k], b[k]), k
    assert np.array_equal(load_frame_arrays(tmp_path / "f.npz", "other")[0]["x"], np.arange(3))


# ----------------------------------------------------------------------------------------------
# the workflow: chunks against the per-frame rules


N_FRAMES = 7
BAD = 2  # the last frame of the first chunk of 3: rejected (on_bad_frame: skip)


def frame_coords(k: int) -> np.ndarray:
    """Frame k: an fcc Pt sphere losing its outermost atom every frame, with noise; frame
    :data:`BAD` holds a duplicated atom (rejected)."""
    x = fcc_sphere(8.2)
    x = x[np.argsort(-np.linalg.norm(x - x.mean(axis=0), axis=1), kind="stable")][k:]
    x = x + np.random.default_rng(k).normal(scale=0.04, size=x.shape)
    if k == BAD:
        x = np.vstack([x, x[:1] + 0.1])
    return x


def write_trajectory(path: Path, frames) -> None:
    with open(path, "w") as fh:
        for k, x in frames:
            fh.write(f"{len(x)}\nProperties=species:S:1:pos:R:3 time={10 * k}\n")
            fh.write("".join(f"Pt {a:.5f} {b:.5f} {c:.5f}\n" for a, b, c in x))


def write_series(work: Path) -> None:
    (work / "data").mkdir(parents=True)
    write_trajectory(work / "data" / "traj.extxyz",
                     [(k, frame_coords(k)) for k in range(N_FRAMES)])  # fmt: skip
    rows = ["series\tframe\ttime\tpath\tframe_index"]
    rows += [f"s\tf{k}\t{10 * k}\tdata/traj.extxyz\t{k}" for k in range(N_FRAMES)]
    (work / "frames.tsv").write_text("\n".join(rows) + "\n")


CONFIG = ("--config", "frames=frames.tsv", "on_bad_frame=skip")
CHUNKED = (*CONFIG, "chunk_size=3")
#: The rule of the chunks that draw their frames' figures (and hand them to the report).
FIGURES = "run_chunk_figures"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 7-frame trajectory analysed in chunks of 3 frames and by the per-frame rules
    (auto: the frames' figures and per-value PDB files in both: a series of at most
    AUTO_FRAME_FILES_MAX_FRAMES frames)."""
    chunked = tmp_path_factory.mktemp("chunked")
    per_frame = tmp_path_factory.mktemp("per_frame")
    for work in (chunked, per_frame):
        write_series(work)
    snakemake(chunked, *CHUNKED)
    snakemake(per_frame, *CONFIG, "chunk_size=0")
    return chunked, per_frame


def _files(results: Path) -> set[Path]:
    skip = {"logs", "benchmarks", "intermediate"}
    return {p.relative_to(results) for p in results.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(results).parts)
            and p.name != "run.json"}  # fmt: skip


@pytest.mark.workflow
def test_chunks_write_the_per_frame_rules_files_byte_for_byte(runs):
    chunked, per_frame = runs
    a, b = _files(chunked / "results"), _files(per_frame / "results")
    assert a == b
    names = {p.name for p in a}
    assert sum(p.parent.name == "pdb" for p in a) == N_FRAMES * 20
    for name in ("rdf.png", "order.png", "atoms.csv", "atoms.extxyz", "bonds.csv", "rdf.csv",
                 "summary.csv", "domains.csv", "boundaries.csv", "fate.csv", "new.csv",
                 "tracking.csv", "atom_ids.csv", "domain_events.csv", "survival.csv",
                 "rmsd_matrix.csv", "trajectory.extxyz", "strain_profile.csv",
                 "facets.csv"):  # fmt: skip
        assert name in names, name
    different = [str(p) for p in sorted(a) if not filecmp.cmp(chunked / "results" / p,
                                                              per_frame / "results" / p,
                                                              shallow=False)]  # fmt: skip
    assert different == []


@pytest.mark.workflow
def test_the_rejected_frame_and_its_pairs_are_recorded_as_in_the_per_frame_rules(runs):
    chunked, _ = runs
    text = (chunked / "results" / "s" / "tracking.csv").read_text()
    assert "previous frame rejected" in text  # the pair (f2, f3) across the chunks' border
    summary = (chunked / "results" / "s" / "summary.csv").read_text().splitlines()
    assert sum("rejected" in line for line in summary[1:]) == 1
    # no per-stage .npz files of the frames but one frames.npz per chunk and, per frame, the
    # arrays a rerun of its chunk reads (nanotraj.stages.chunk, Reruns) and the viewer's parse
    # of its table (nanotraj.viewer.ParseCache)
    inter = chunked / "results" / "intermediate" / "s"
    kept = inter / "chunks" / "_frames"
    viewer = inter / "viewer"
    assert sorted(p.name for p in inter.rglob("*.npz")
                  if kept not in p.parents and viewer not in p.parents) == ["frames.npz"] * 3
    assert len(list(viewer.glob("*.npz"))) == N_FRAMES
    assert sorted(p.name for p in kept.iterdir()) == [f"f{k}" for k in range(N_FRAMES)]
    for folder in kept.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{s}.npz" for s in KEPT_STAGES] + [STATE])


def _report_folders(work: Path) -> dict[str, list[str]]:
    """Per chunk, the frames whose two figures its report folders hold; each file checked
    against the frame's own figure, byte for byte."""
    chunks = work / "results" / "intermediate" / "s" / "chunks"
    out = {}
    for chunk in sorted(p for p in chunks.iterdir() if p.name != "_frames"):
        frames = {}
        for kind in ("rdf", "order"):
            pngs = sorted((chunk / f"{kind}_figures").glob(f"*/{kind}.png"))
            frames[kind] = [p.parent.name for p in pngs]
            for png in pngs:
                own = work / "results" / "s" / png.parent.name / png.name
                assert filecmp.cmp(png, own, shallow=False), png
        assert frames["rdf"] == frames["order"], chunk
        out[chunk.name] = frames["rdf"]
    return out


CHUNK_FRAMES = {"c0000": ["f0", "f1", "f2"], "c0001": ["f3", "f4", "f5"], "c0002": ["f6"]}


@pytest.mark.workflow
def test_the_report_has_every_frames_figures(runs, tmp_path):
    """A chunk's frames' figures are not rule outputs: the chunk links them into two folders
    of its own, outputs marked for the report; the report lists both figures of every frame
    (the rejected one's too), labelled with the frame and time, as the per-frame rules' are."""
    chunked, _ = runs
    assert _report_folders(chunked) == CHUNK_FRAMES
    report = tmp_path / "report.html"
    snakemake(chunked, *CHUNKED, "--report", str(report))
    html = report.read_text(encoding="utf-8", errors="replace")
    for chunk, frames in CHUNK_FRAMES.items():
        for frame in frames:
            for kind in ("rdf", "order"):
                path = f"results/intermediate/s/chunks/{chunk}/{kind}_figures/{frame}/{kind}.png"
                assert f'"{path}": {{"name": "{kind}.png"' in html, path
            time = 10 * int(frame[1:])
            assert f'"labels": {{"frame": "{frame}", "time": "{time} s", "figure": "g(r)"' \
                in html, frame
    assert "System Message" not in html  # every caption rendered (params.element)


@pytest.mark.workflow
def test_a_second_run_has_nothing_to_do(runs):
    chunked, _ = runs
    assert planned(chunked, *CHUNKED) == set()


SERIES_AGGREGATES = {
    ("aggregate_series", ""), ("aggregate_all", ""), ("plot_series", ""), ("build_viewer", ""),
    ("aggregate_tracking", ""), ("plot_tracking", ""), ("list_rejected", ""),
    ("write_trajectory", ""), ("aggregate_domains", ""), ("aggregate_atom_ids", ""),
    ("plot_domains", ""),
}  # fmt: skip


def _edit_frame(path: Path, k: int) -> None:
    """Move one atom of frame k of the trajectory by 0.1 A (the other frames' bytes stay)."""
    frames, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        n = int(lines[i])
        frames.append(lines[i:i + n + 2])
        i += n + 2
    el, x, y, z = frames[k][2].split()
    frames[k][2] = f"{el} {float(x) + 0.1:.5f} {y} {z}"
    path.write_text("".join(line + "\n" for fr in frames for line in fr))


@pytest.fixture
def copy_of_chunked(runs, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(runs[0], work, symlinks=True)
    return work


@pytest.mark.workflow
def test_an_edited_frame_reruns_only_its_chunk_and_the_aggregates(copy_of_chunked):
    work = copy_of_chunked
    _edit_frame(work / "data" / "traj.extxyz", 4)  # chunk c0001: frames 3, 4, 5
    assert planned(work, *CHUNKED) == {(FIGURES, "c0001")} | SERIES_AGGREGATES


def _same_results(a: Path, b: Path) -> None:
    fa, fb = _files(a / "results"), _files(b / "results")
    assert fa == fb
    different = [str(p) for p in sorted(fa) if not filecmp.cmp(a / "results" / p,
                                                               b / "results" / p,
                                                               shallow=False)]  # fmt: skip
    assert different == []


@pytest.mark.workflow
def test_a_rerun_chunk_analyses_only_what_changed(copy_of_chunked, tmp_path):
    """One edited frame of a chunk: its chunk reruns, analyses that frame, pairs the next one
    again and keeps the first; the results are those of a fresh run of the edited series, byte
    for byte. A frame's file rewritten by hand, or its state removed, is analysed again."""
    work = copy_of_chunked
    _edit_frame(work / "data" / "traj.extxyz", 4)  # chunk c0001: frames f3, f4, f5
    snakemake(work, *CHUNKED)
    log = work / "results" / "logs" / "s" / "chunks" / "c0001" / "run_chunk.log"
    text = log.read_text()
    assert "[f3] unchanged since the last run" in text
    assert "[f5] unchanged, the frame before it changed" in text
    assert "1 analysed, 1 paired again, 1 unchanged since the last run" in text
    fresh = tmp_path / "fresh"
    write_series(fresh)
    _edit_frame(fresh / "data" / "traj.extxyz", 4)
    snakemake(fresh, *CHUNKED)
    _same_results(work, fresh)
    # a frame's file rewritten since (f3), a frame's state gone (f5): both analysed again
    atoms = work / "results" / "s" / "f3" / "atoms.csv"
    atoms.write_text(atoms.read_text() + "\n")
    (work / "results" / "intermediate" / "s" / "chunks" / "_frames" / "f5" / STATE).unlink()
    snakemake(work, *CHUNKED, "--forcerun", FIGURES)
    text = log.read_text()
    assert "2 analysed, 0 paired again, 1 unchanged since the last run" in text  # f4 kept
    _same_results(work, fresh)
    # the report's folders hold the kept frames' figures too (Snakemake removed them first)
    assert _report_folders(work) == CHUNK_FRAMES


@pytest.mark.workflow
def test_a_rerun_chunk_reads_the_previous_chunks_last_frame_as_kept(copy_of_chunked, tmp_path):
    """The first frame of a chunk edited: its pair needs the previous chunk's last frame, which
    the chunk reads from that frame's kept arrays instead of analysing it again; the results
    are a fresh run's, byte for byte. Without the kept state it is analysed again."""
    work = copy_of_chunked
    _edit_frame(work / "data" / "traj.extxyz", 3)  # the first frame of chunk c0001
    snakemake(work, *CHUNKED)
    log = work / "results" / "logs" / "s" / "chunks" / "c0001" / "run_chunk.log"
    kept = "[f2] (previous chunk's last frame, for the pair) unchanged since the last run"
    assert kept in log.read_text()
    assert "f2 (previous chunk's last frame" not in log.read_text()  # no stage log of f2
    fresh = tmp_path / "fresh"
    write_series(fresh)
    _edit_frame(fresh / "data" / "traj.extxyz", 3)
    snakemake(fresh, *CHUNKED)
    _same_results(work, fresh)
    # f2's state gone: chunk c0001 alone (c0000 would keep f2 again first) analyses it again
    (work / "results" / "intermediate" / "s" / "chunks" / "_frames" / "f2" / STATE).unlink()
    (work / "results" / "intermediate" / "s" / "chunks" / "_frames" / "f3" / STATE).unlink()
    snakemake(work, *CHUNKED, "--force", "results/intermediate/s/chunks/c0001/frames.npz")
    text = log.read_text()
    assert kept not in text and "f2 (previous chunk's last frame" in text
    _same_results(work, fresh)


@pytest.mark.workflow
def test_an_edited_last_frame_of_a_chunk_reruns_the_next_chunk_too(copy_of_chunked):
    """The next chunk's first pair reads that frame (the chunk analyses it again)."""
    work = copy_of_chunked
    _edit_frame(work / "data" / "traj.extxyz", 5)
    assert planned(work, *CHUNKED) == {(FIGURES, "c0001"), (FIGURES, "c0002")} | \
        SERIES_AGGREGATES


@pytest.mark.workflow
def test_an_edited_sheet_row_reruns_only_its_chunk_and_the_aggregates(copy_of_chunked):
    work = copy_of_chunked
    sheet = work / "frames.tsv"
    sheet.write_text(sheet.read_text().replace("s\tf1\t10\t", "s\tf1\t11\t"))
    assert planned(work, *CHUNKED) == {(FIGURES, "c0000")} | SERIES_AGGREGATES


@pytest.mark.workflow
def test_an_appended_frame_runs_only_the_last_chunk_and_the_aggregates(copy_of_chunked):
    work = copy_of_chunked
    with open(work / "data" / "traj.extxyz", "a") as fh:  # the earlier frames' bytes stay
        x = frame_coords(N_FRAMES)
        fh.write(f"{len(x)}\nProperties=species:S:1:pos:R:3 time={10 * N_FRAMES}\n")
        fh.write("".join(f"Pt {a:.5f} {b:.5f} {c:.5f}\n" for a, b, c in x))
    with open(work / "frames.tsv", "a") as fh:
        fh.write(f"s\tf{N_FRAMES}\t{10 * N_FRAMES}\tdata/traj.extxyz\t{N_FRAMES}\n")
    assert planned(work, *CHUNKED) == {(FIGURES, "c0002")} | SERIES_AGGREGATES


@pytest.mark.workflow
def test_auto_plans_per_frame_jobs_for_a_short_series(tmp_path):
    """chunk_size: auto (the default) keeps every per-frame rule for 7 frames."""
    work = tmp_path / "short"
    write_series(work)
    rules = {r for r, _ in planned(work, *CONFIG)}
    assert {"parse_frame", "compute_ptm", "track_pair", "plot_frame"} <= rules
    assert not {"run_chunk", FIGURES} & rules
    # outputs.frame_figures: false plans no figure of a frame
    rules = {r for r, _ in planned(work, *CONFIG, "outputs={frame_figures: false}")}
    assert "plot_frame" not in rules and "compute_ptm" in rules


@pytest.mark.workflow
def test_auto_chunks_a_long_series(tmp_path):
    n = AUTO_MAX_FRAMES + 1
    (tmp_path / "data").mkdir()
    x = fcc_sphere(6.0)
    write_trajectory(tmp_path / "data" / "traj.extxyz", [(k, x) for k in range(n)])
    rows = ["series\tframe\ttime\tpath\tframe_index"]
    rows += [f"s\tf{k:03d}\t{k}\tdata/traj.extxyz\t{k}" for k in range(n)]
    (tmp_path / "frames.tsv").write_text("\n".join(rows) + "\n")
    jobs = planned(tmp_path, "--config", "frames=frames.tsv")
    chunks = {c for r, c in jobs if r == FIGURES}
    assert len(chunks) == -(-n // AUTO_MIN_CHUNK)
    assert {r for r, _ in jobs} == {FIGURES} | {r for r, _ in SERIES_AGGREGATES}
    # without the frames' figures: rule run_chunk, the same chunks
    jobs = planned(tmp_path, "--config", "frames=frames.tsv", "outputs={frame_figures: false}")
    assert {c for r, c in jobs if r == "run_chunk"} == chunks
    assert FIGURES not in {r for r, _ in jobs}


# ----------------------------------------------------------------------------------------------
# series aggregates of long series


def test_rmsd_matrix_and_viewer_frames_of_a_long_series_are_evenly_spread():
    from nanotraj.identities import RMSD_MAX_FRAMES, rmsd_frames
    from nanotraj.viewer import MAX_FRAMES, shown_frames

    assert rmsd_frames(7).tolist() == list(range(7))
    assert shown_frames(MAX_FRAMES) == list(range(MAX_FRAMES))
    for n in (RMSD_MAX_FRAMES + 1, 2000, 10_000):
        for got, limit in ((rmsd_frames(n).tolist(), RMSD_MAX_FRAMES),
                           (shown_frames(n), MAX_FRAMES)):  # fmt: skip
            assert len(got) == limit and got[0] == 0 and got[-1] == n - 1
            steps = np.diff(got)
            assert steps.min() >= 1 and steps.max() - steps.min() <= 1  # evenly spread


# ----------------------------------------------------------------------------------------------
# run_chunk without Snakemake: what a rerun keeps


def _chunk_rows(folder: Path, bad: int | None = None) -> list[dict]:
    from nanotraj.io import write_values

    rows = []
    for k in range(4):
        x = frame_coords(k if k != BAD else 0)  # no duplicated atom unless asked for
        if k == bad:
            x = np.vstack([x, x[:1] + 0.1])
        path = folder / f"g{k}.pdb"
        write_values(path, x, np.zeros(len(x)), element="Pt")
        rows.append({"frame": f"g{k}", "time": 10.0 * k, "path": str(path)})
    return rows


def test_run_chunk_keeps_the_frames_before_a_failed_one(tmp_path):
    """on_bad_frame: fail stops the chunk at the bad frame; once the file is fixed, the rerun
    keeps the frames before it (their states were written) and analyses the rest, and every
    file equals a fresh run's, byte for byte."""
    from nanotraj.errors import FrameError
    from nanotraj.stages.chunk import run_chunk

    data = tmp_path / "data"
    data.mkdir()
    results, fresh = tmp_path / "results", tmp_path / "fresh"
    log = tmp_path / "chunk.log"
    opts = {"on_bad_frame": "fail"}
    with pytest.raises(FrameError, match="g2"):
        run_chunk(_chunk_rows(data, bad=2), tmp_path / "b.npz", series="s", options=opts,
                  results=results, log=log)
    states = sorted(p.parent.name for p in results.rglob(STATE))
    assert states == ["g0", "g1"]
    rows = _chunk_rows(data)  # g2 fixed
    assert run_chunk(rows, tmp_path / "b.npz", series="s", options=opts, results=results,
                     log=log) == 4
    assert "2 analysed, 0 paired again, 2 unchanged since the last run" in log.read_text()
    run_chunk(rows, tmp_path / "c.npz", series="s", options=opts, results=fresh,
              log=tmp_path / "fresh.log")
    mine = {p.relative_to(results) for p in (results / "s").rglob("*") if p.is_file()}
    theirs = {p.relative_to(fresh) for p in (fresh / "s").rglob("*") if p.is_file()}
    assert mine == theirs and len(mine) > 4 * 10
    assert [str(p) for p in sorted(mine)
            if not filecmp.cmp(results / p, fresh / p, shallow=False)] == []
    assert filecmp.cmp(tmp_path / "b.npz", tmp_path / "c.npz", shallow=False)
    # nothing changed: every frame kept, the same bundle
    run_chunk(rows, tmp_path / "d.npz", series="s", options=opts, results=results, log=log)
    assert "0 analysed, 0 paired again, 4 unchanged since the last run" in log.read_text()
    assert filecmp.cmp(tmp_path / "d.npz", tmp_path / "c.npz", shallow=False)
    # another option: every frame analysed again
    run_chunk(rows, tmp_path / "e.npz", series="s", options={**opts, "threshold": 0.7},
              results=results, log=log)
    assert "4 analysed, 0 paired again, 0 unchanged since the last run" in log.read_text()


def test_figures_drawn_aside_equal_the_chunks_own(tmp_path):
    """The frames' figures drawn by a second process (FigureProcess) are byte for byte those
    the chunk draws itself, with every other file, the bundle and each frame's plot_frame log;
    the states recorded after them keep every frame on a rerun."""
    from nanotraj.stages.chunk import run_chunk

    data = tmp_path / "data"
    data.mkdir()
    rows = _chunk_rows(data)
    opts = {"frame_figures": True}
    out = {}
    for aside in (False, True):
        results = tmp_path / f"results_{aside}"
        log = tmp_path / f"chunk_{aside}.log"
        figures = {k: str(tmp_path / f"report_{aside}" / k) for k in ("rdf", "order")}
        run_chunk(rows, tmp_path / f"b_{aside}.npz", series="s", options=opts, results=results,
                  figures=figures, figure_process=aside, log=log)
        files = {p.relative_to(results): p for p in (results / "s").rglob("*") if p.is_file()}
        out[aside] = (files, log.read_text())
    (inline, inline_log), (aside, aside_log) = out[False], out[True]
    assert set(inline) == set(aside)
    pngs = sorted(p for p in inline if p.suffix == ".png")
    assert len(pngs) == 2 * len(rows)
    assert [str(p) for p in sorted(inline)
            if not filecmp.cmp(inline[p], aside[p], shallow=False)] == []
    assert filecmp.cmp(tmp_path / "b_False.npz", tmp_path / "b_True.npz", shallow=False)
    for log in (inline_log, aside_log):
        for row in rows:
            assert f"[{row['frame']}] plot_frame: " in log
    for kind in ("rdf", "order"):  # the report's copies
        for row in rows:
            assert filecmp.cmp(tmp_path / "report_True" / kind / row["frame"] / f"{kind}.png",
                               tmp_path / "results_True" / "s" / row["frame"] / f"{kind}.png",
                               shallow=False)
    log = tmp_path / "again.log"
    run_chunk(rows, tmp_path / "again.npz", series="s", options=opts,
              results=tmp_path / "results_True", figure_process=True, log=log)
    assert "0 analysed, 0 paired again, 4 unchanged since the last run" in log.read_text()


def test_a_bad_frame_with_figures_aside_keeps_the_frames_drawn_before_it(tmp_path):
    """on_bad_frame: fail with the figures in a second process: the frames before the bad one
    get their figures and their states (drawn before the chunk stops), the bad one neither."""
    from nanotraj.errors import FrameError
    from nanotraj.stages.chunk import run_chunk

    data = tmp_path / "data"
    data.mkdir()
    results = tmp_path / "results"
    with pytest.raises(FrameError, match="g2"):
        run_chunk(_chunk_rows(data, bad=2), tmp_path / "b.npz", series="s",
                  options={"on_bad_frame": "fail", "frame_figures": True}, results=results,
                  figure_process=True, log=tmp_path / "chunk.log")
    assert sorted(p.parent.name for p in results.rglob(STATE)) == ["g0", "g1"]
    assert sorted(p.parent.name for p in (results / "s").rglob("order.png")) == ["g0", "g1"]


def test_the_figure_process_reports_a_failed_figure_and_its_own_end(tmp_path):
    """A figure that fails in the second process raises in the chunk with the frame and the
    worker's one-line reason; so does a worker that died."""
    from nanotraj.stages.chunk import FigureProcess

    missing = str(tmp_path / "nowhere" / "summary.csv")
    job = {"inputs": {"rdf": missing, "cutoff": missing, "structure": missing,
                      "atoms": missing, "summary": missing},
           "outputs": {"rdf": str(tmp_path / "rdf.png"), "order": str(tmp_path / "order.png")},
           "element": "Pt", "time_unit": "s", "order_limits": None, "log": None}
    done = []
    helper = FigureProcess()
    try:
        helper.submit("f7", job, lambda: done.append(1))
        with pytest.raises(RuntimeError, match=r"frame f7: plot_frame failed .*nowhere"):
            helper.collect(block=True)
    finally:
        helper.close(kill=True)
    assert done == [] and not (tmp_path / "rdf.png").exists()
    helper = FigureProcess()
    try:
        helper._proc.kill()
        helper._proc.wait()
        with pytest.raises(RuntimeError, match="frame f8: the figure process ended"):
            helper.submit("f8", job, lambda: done.append(2))
            helper.collect(block=True)
    finally:
        helper.close(kill=True)
    assert done == []


def test_only_a_chunk_with_few_frames_to_analyse_draws_aside(tmp_path, monkeypatch):
    """By default a second process draws the figures of a chunk that analyses at most
    FIGURE_PROCESS_MAX_FRAMES frames (a rerun) on two CPUs or more; a first run draws them
    itself; NANOTRAJ_FIGURE_PROCESS decides otherwise. The files are the same either way."""
    from nanotraj.stages import chunk

    monkeypatch.delenv(chunk.FIGURE_PROCESS_ENV, raising=False)
    monkeypatch.setattr(chunk, "usable_cpus", lambda: 2)
    monkeypatch.setattr(chunk, "FIGURE_PROCESS_MAX_FRAMES", 2)
    data = tmp_path / "data"
    data.mkdir()
    rows = _chunk_rows(data)
    opts = {"frame_figures": True}
    aside = "the frames' figures are drawn in a second process"

    def move(k):  # one atom of frame k by 0.1 A
        from nanotraj.io import write_values

        x = frame_coords(k if k != BAD else 0)  # as _chunk_rows
        x[0, 0] += 0.1
        write_values(rows[k]["path"], x, np.zeros(len(x)), element="Pt")

    def run(name, rows, **kw):
        log = tmp_path / f"{name}.log"
        chunk.run_chunk(rows, tmp_path / f"{name}.npz", series="s", options=opts,
                        results=tmp_path / "results", log=log, **kw)
        return log.read_text()

    assert aside not in run("first", rows)  # 4 frames to analyse
    move(1)
    text = run("edited", rows)
    assert aside in text and "1 analysed, 1 paired again, 2 unchanged" in text
    assert "[g1] plot_frame: " in text
    monkeypatch.setenv(chunk.FIGURE_PROCESS_ENV, "0")
    move(2)
    assert aside not in run("inline", rows)
    monkeypatch.setattr(chunk, "usable_cpus", lambda: 1)
    monkeypatch.setenv(chunk.FIGURE_PROCESS_ENV, "1")
    move(3)
    assert aside in run("forced", rows)
    monkeypatch.delenv(chunk.FIGURE_PROCESS_ENV)
    move(0)
    assert aside not in run("one_cpu", rows)
    fresh = tmp_path / "fresh"
    chunk.run_chunk(rows, tmp_path / "fresh.npz", series="s", options=opts, results=fresh,
                    figure_process=False, log=tmp_path / "fresh.log")
    mine = sorted(p.relative_to(tmp_path / "results") for p in (tmp_path / "results" / "s")
                  .rglob("*") if p.is_file())
    assert mine == sorted(p.relative_to(fresh) for p in (fresh / "s").rglob("*") if p.is_file())
    assert [str(p) for p in mine
            if not filecmp.cmp(tmp_path / "results" / p, fresh / p, shallow=False)] == []
