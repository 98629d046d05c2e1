"""One job per frame (config frame_jobs; nanotraj.chunking.frame_jobs, rule analyse_frame): the
choice per series, the same files byte for byte as the per-stage rules, and an edited frame
reruns only its own jobs, its two pairs and the series' aggregates."""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

import pytest

from nanotraj.chunking import (
    AUTO_STAGES_MAX_FRAMES,
    FRAME_STAGE_KEYS,
    frame_jobs,
    frame_stage_options,
)
from nanotraj.lattices import fcc_sphere

from .conftest import planned_jobs as planned
from .conftest import snakemake
from .test_chunks import BAD, N_FRAMES, SERIES_AGGREGATES, frame_coords, write_trajectory

# ----------------------------------------------------------------------------------------------
# the choice


def test_auto_keeps_short_series_per_stage_and_fuses_longer_ones():
    assert frame_jobs(1) == frame_jobs(AUTO_STAGES_MAX_FRAMES) == "stages"
    assert frame_jobs(AUTO_STAGES_MAX_FRAMES + 1) == frame_jobs(200) == "one"
    assert frame_jobs(500, "stages") == "stages" and frame_jobs(2, "one") == "one"
    with pytest.raises(ValueError, match="frame_jobs"):
        frame_jobs(10, "some")


def test_fused_options_are_the_stages_options_only():
    config = {
        "on_bad_frame": "skip", "min_distance": 0.5, "max_frame_bytes": 10**9, "cutoff": "auto",
        "rdf": {"dr": 0.02, "r_max": 15.0, "max_centres": 20000},
        "boo": {"crystal_bond_threshold": 0.8}, "surface": {"probe_radius": "auto"},
        "structure": {"ptm_rmsd_cutoff": 0.13},
        "lattice": {"reference": "frame", "profile_bin": "auto"},
        "domains": {"link_fraction": 0.2, "size_change": 0.1},
        "tracking": {"max_distance": "auto", "align": False},
        "outputs": {"per_value_pdb": "auto", "frame_figures": "auto", "table_format": "csv"},
        "time_unit": "s", "figures": {"order_limits": None}, "element": "Pt",
    }  # fmt: skip
    o = frame_stage_options(config, domain_options={"min_atoms": 10}, index_cache="c")
    assert set(o) == set(FRAME_STAGE_KEYS)
    # per_value_pdb as write_frame_pdbs takes it; nothing of the pairs, links or figures
    assert o["per_value_pdb"] == "auto" and o["domains"] == {"min_atoms": 10}
    assert not {"max_distance", "link_fraction", "order_limits", "frame_figures"} & set(o)


# ----------------------------------------------------------------------------------------------
# the workflow: one job per frame against one job per stage and frame

#: Frames 0-3 of one trajectory (frame_index; frame BAD is rejected), 4-6 a file each.
IN_TRAJECTORY = 4


def write_series(work: Path) -> None:
    (work / "data").mkdir(parents=True)
    frames = [(k, frame_coords(k)) for k in range(N_FRAMES)]
    write_trajectory(work / "data" / "traj.extxyz", frames[:IN_TRAJECTORY])
    rows = ["series\tframe\ttime\tpath\tframe_index"]
    rows += [f"s\tf{k}\t{10 * k}\tdata/traj.extxyz\t{k}" for k in range(IN_TRAJECTORY)]
    for k, x in frames[IN_TRAJECTORY:]:
        write_trajectory(work / "data" / f"f{k}.extxyz", [(k, x)])
        rows.append(f"s\tf{k}\t{10 * k}\tdata/f{k}.extxyz\t")
    (work / "frames.tsv").write_text("\n".join(rows) + "\n")


CONFIG = ("--config", "frames=frames.tsv", "on_bad_frame=skip")
ONE = (*CONFIG, "frame_jobs=one")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 7 frames analysed with one job per frame and one job per stage and frame."""
    one = tmp_path_factory.mktemp("one")
    stages = tmp_path_factory.mktemp("stages")
    for work in (one, stages):
        write_series(work)
    snakemake(one, *ONE)
    snakemake(stages, *CONFIG, "frame_jobs=stages")
    return one, stages


def _files(results: Path) -> set[Path]:
    # _index: the frame index cache, named by the trajectory's absolute path
    skip = {"logs", "benchmarks", ".snakemake", "_index"}
    return {p.relative_to(results) for p in results.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(results).parts)
            and p.name != "run.json"}  # fmt: skip


@pytest.mark.workflow
def test_one_job_per_frame_writes_the_per_stage_files_byte_for_byte(runs):
    one, stages = runs
    a, b = _files(one / "results"), _files(stages / "results")
    assert a == b
    names = {p.name for p in a}
    for name in ("atoms.csv", "bonds.csv", "rdf.csv", "summary.csv", "atoms.extxyz",
                 "domains.csv", "boundaries.csv", "fate.csv", "new.csv", "Q6.pdb", "gcn.cif",
                 "rdf.png", "order.png", "frame.npz", "lattice.npz", "tracking.npz",
                 "tracking.csv", "atom_ids.csv", "viewer.html", "trajectory.extxyz"):  # fmt: skip
        assert name in names, name
    different = [str(p) for p in sorted(a) if not filecmp.cmp(one / "results" / p,
                                                              stages / "results" / p,
                                                              shallow=False)]  # fmt: skip
    assert different == []
    summary = (one / "results" / "s" / "summary.csv").read_text().splitlines()
    assert sum("rejected" in line for line in summary[1:]) == 1  # frame BAD
    # one log per frame holding every stage's log
    logs = one / "results" / "logs" / "s" / f"f{BAD}"
    assert "parse_frame:" in (logs / "analyse_frame.log").read_text()
    assert "find_domains:" in (one / "results" / "logs" / "s" / "f0" / "analyse_frame.log"
                               ).read_text()
    assert not (logs / "parse_frame.log").exists()


@pytest.mark.workflow
def test_one_job_per_frame_plans_analyse_frame_and_nothing_when_done(runs):
    one, _ = runs
    assert planned(one, *ONE) == set()
    # (switching frame_jobs reruns every frame's stages once: Snakemake records which rule's
    # code and params made each file, and the other mode's rules differ)


def _edit(path: Path) -> None:
    """Move one atom of a one-frame extended XYZ file by 0.1 A."""
    lines = path.read_text().splitlines()
    el, x, y, z = lines[2].split()
    lines[2] = f"{el} {float(x) + 0.1:.5f} {y} {z}"
    path.write_text("".join(line + "\n" for line in lines))
    st = path.stat()
    os.utime(path, (st.st_atime + 2, st.st_mtime + 2))


@pytest.fixture
def copy_of_one(runs, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(runs[0], work, symlinks=True)
    return work


@pytest.mark.workflow
def test_an_edited_frame_reruns_its_job_its_pairs_and_the_aggregates(copy_of_one):
    work = copy_of_one
    _edit(work / "data" / "f5.extxyz")
    mine = {("analyse_frame", "f5"), ("plot_frame", "f5"), ("track_pair", "f5"),
            ("link_domains", "f5")}  # fmt: skip
    next_pair = {("track_pair", "f6"), ("link_domains", "f6")}
    assert planned(work, *ONE) == mine | next_pair | SERIES_AGGREGATES


@pytest.mark.workflow
def test_a_stage_option_reruns_every_frame_and_a_later_option_none(copy_of_one):
    work = copy_of_one
    jobs = planned(work, *ONE, "rdf={dr: 0.03}")
    assert {f for r, f in jobs if r == "analyse_frame"} == {f"f{k}" for k in range(N_FRAMES)}
    # an option of the pairs only (tracking) or of the figures only: no frame's stages rerun
    for option in ("tracking={max_distance: 1.0}", "time_unit=min"):
        rules = {r for r, _ in planned(work, *ONE, option)}
        assert rules and "analyse_frame" not in rules, option


@pytest.mark.workflow
def test_auto_plans_one_job_per_frame_for_a_long_series_only(tmp_path):
    """In one run: a series of more than AUTO_STAGES_MAX_FRAMES frames gets analyse_frame,
    a short one the per-stage rules (each file has one producer)."""
    n = AUTO_STAGES_MAX_FRAMES + 1
    (tmp_path / "data").mkdir()
    x = fcc_sphere(6.0)
    write_trajectory(tmp_path / "data" / "traj.extxyz", [(k, x) for k in range(n)])
    rows = ["series\tframe\ttime\tpath\tframe_index"]
    rows += [f"long\tf{k:03d}\t{k}\tdata/traj.extxyz\t{k}" for k in range(n)]
    rows += [f"short\tg{k}\t{k}\tdata/traj.extxyz\t{k}" for k in range(2)]
    (tmp_path / "frames.tsv").write_text("\n".join(rows) + "\n")
    # chunk_size: 0 (auto chunks a series of more than AUTO_MAX_FRAMES = 50 frames)
    jobs = planned(tmp_path, "--config", "frames=frames.tsv", "chunk_size=0")
    by_rule: dict[str, set] = {}
    for r, f in jobs:
        by_rule.setdefault(r, set()).add(f)
    assert by_rule["analyse_frame"] == {f"f{k:03d}" for k in range(n)}
    for rule in ("parse_frame", "compute_ptm", "find_domains", "write_frame_table"):
        assert by_rule[rule] == {"g0", "g1"}, rule
    assert len(by_rule["plot_frame"]) == len(by_rule["track_pair"]) == n + 2


@pytest.mark.workflow
def test_an_unknown_frame_jobs_value_is_a_one_line_startup_error(tmp_path):
    write_series(tmp_path)
    proc = snakemake(tmp_path, "-n", *CONFIG, "frame_jobs=fused", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "frame_jobs" in out and "Traceback" not in out
    assert not (tmp_path / "results").exists()
