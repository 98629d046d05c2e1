"""The Snakemake workflow, run for real (snakemake in a subprocess, from another directory)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nanotraj
from nanotraj.contract import ATOM_COLUMNS, BOND_COLUMNS, PDB_QUANTITIES, SUMMARY_COLUMNS
from nanotraj.io import read_frame, write_values

from .conftest import REPO, planned_jobs, read_csv, snakemake

pytestmark = pytest.mark.workflow

def write_sheet(path, rows):
    lines = ["series\tframe\ttime\tpath"] + ["\t".join(map(str, r)) for r in rows]
    Path(path).write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# the shipped demo, run from another working directory


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    snakemake(work)
    return work


def _demo_frames():
    with open(REPO / "config" / "frames.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_demo_outputs_follow_the_contract(demo_run):
    import gemmi

    frames = _demo_frames()
    assert len(frames) >= 6
    for row in frames:
        out = demo_run / "results" / row["series"] / row["frame"]
        header, atoms = read_csv(out / "atoms.csv")
        assert header[: len(ATOM_COLUMNS)] == list(ATOM_COLUMNS)
        st = gemmi.read_structure(str(REPO / row["path"]))
        n = sum(1 for _ in st[0].all())
        assert len(atoms) == n
        x = np.array([[float(a["x"]), float(a["y"]), float(a["z"])] for a in atoms])
        ref = np.array([cra.atom.pos.tolist() for cra in st[0].all()])
        assert np.allclose(x, ref, atol=1e-9), "atoms.csv keeps the input order and coordinates"
        cn = np.array([int(a["cn"]) for a in atoms])
        bheader, bonds = read_csv(out / "bonds.csv")
        assert bheader == list(BOND_COLUMNS)
        assert 2 * len(bonds) == cn.sum()
        ij = np.array([[int(b["i"]), int(b["j"])] for b in bonds])
        assert (ij[:, 0] < ij[:, 1]).all() and ij.max() < n
        rheader, rdf = read_csv(out / "rdf.csv")
        assert rheader == ["r", "g"] and len(rdf) == round(15.0 / 0.02)
        sheader, summary = read_csv(out / "summary.csv")
        assert sheader[: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
        assert summary[0]["status"] == "ok" and int(summary[0]["n_atoms"]) == n
        assert 3.0 < float(summary[0]["cutoff"]) < 3.7  # Pt: between 1st and 2nd neighbour shell
        q6 = np.array([float(a["Q6"]) for a in atoms])
        pdb = gemmi.read_structure(str(out / "pdb" / "Q6.pdb"))
        b = np.array([cra.atom.b_iso for cra in pdb[0].all()])
        assert np.allclose(b, np.round(q6, 3), atol=1e-6)
        for q in PDB_QUANTITIES:
            assert sum(1 for _ in gemmi.read_structure(str(out / "pdb" / f"{q}.pdb"))[0].all()) == n


def test_demo_series_summary_is_ordered_by_time(demo_run):
    frames = _demo_frames()
    series = frames[0]["series"]
    header, rows = read_csv(demo_run / "results" / series / "summary.csv")
    assert header[: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times) and len(rows) == len(frames)
    n_atoms = [int(r["n_atoms"]) for r in rows]
    assert n_atoms[0] > n_atoms[-1], "the demo particle is etched: it loses atoms over time"
    _, all_rows = read_csv(demo_run / "results" / "summary.csv")
    assert [r["frame"] for r in all_rows] == [r["frame"] for r in rows]


def test_second_run_has_nothing_to_do(demo_run):
    assert planned_jobs(demo_run) == set()


# ----------------------------------------------------------------------------------------------
# real frames at the published fixed cutoff


def test_shared_stage1_equals_pyboo_reference(tmp_path, shared_series, reference_dir):
    stages = [f"stage{k}_docked_ATMS.pdb" for k in (1, 2, 3, 4)]
    write_sheet(
        tmp_path / "frames.tsv",
        [("pt", f"stage{k}", 10 * k, shared_series / s) for k, s in enumerate(stages, start=1)],
    )
    snakemake(tmp_path, "--config", "frames=frames.tsv", "cutoff=3.41")
    out = tmp_path / "results" / "pt"
    _, atoms = read_csv(out / "stage1" / "atoms.csv")
    _, ref = read_csv(reference_dir / "stage1_docked_ATMS.atoms.csv")
    assert len(atoms) == len(ref) == 314
    pairs = {"cn": "Nngb", "cn_lattice": "CN_numnn", "crystalline": "xtal",
             "d_center": "d_center", "nn_distance": "dist_to_NNs"}  # fmt: skip
    pairs.update({k: k for k in ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6")})
    for ours, theirs in pairs.items():
        a = np.array([float(r[ours]) for r in atoms])
        b = np.array([float(r[theirs]) for r in ref])
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8, err_msg=ours)
    _, summary = read_csv(out / "summary.csv")
    s1 = summary[0]
    assert s1["frame"] == "stage1" and int(s1["n_atoms"]) == 314
    assert f"{float(s1['diameter']):.3f}" == "19.688"
    assert int(s1["n_disordered"]) == 2 and int(s1["n_bonds"]) == 1500
    assert [int(r["n_atoms"]) for r in summary] == [314, 264, 233, 119]


# ----------------------------------------------------------------------------------------------
# reruns: only what changed


@pytest.fixture
def small_series(tmp_path):
    """Three demo frames copied into a fresh working directory, analysed once."""
    frames = _demo_frames()[:4]
    (tmp_path / "data").mkdir()
    rows = []
    for r in frames[:3]:
        dst = tmp_path / "data" / Path(r["path"]).name
        shutil.copy(REPO / r["path"], dst)
        rows.append((r["series"], r["frame"], r["time"], f"data/{dst.name}"))
    write_sheet(tmp_path / "frames.tsv", rows)
    snakemake(tmp_path, "--config", "frames=frames.tsv")
    return tmp_path, rows, frames[3]


FRAME_RULES = {
    "parse_frame", "compute_rdf", "find_bonds", "compute_boo", "compute_coordination",
    "compute_neighbour_distance", "compute_structure", "compute_surface", "compute_ptm",
    "compute_lattice", "write_frame_table", "write_frame_pdbs", "plot_frame", "track_pair",
    "find_domains", "link_domains",
}  # fmt: skip
AGGREGATES = {
    ("aggregate_series", ""), ("aggregate_all", ""), ("plot_series", ""), ("build_viewer", ""),
    ("aggregate_tracking", ""), ("plot_tracking", ""), ("list_rejected", ""),
    ("write_trajectory", ""),
    ("aggregate_domains", ""), ("aggregate_atom_ids", ""), ("plot_domains", ""),
}  # fmt: skip


def test_editing_one_frame_reruns_only_that_frame(small_series):
    work, rows, _ = small_series
    path = work / rows[1][3]
    frame = read_frame(path)  # a re-reconstructed frame: one atom moved by 0.1 A
    coords = frame.coords.copy()
    coords[0, 0] += 0.1
    write_values(path, coords, frame.b_factors)
    st = path.stat()
    os.utime(path, (st.st_atime + 2, st.st_mtime + 2))
    jobs = planned_jobs(work, "--config", "frames=frames.tsv")
    # that frame's jobs (its find_domains among them), the pairs and domain links (t-1, t) and
    # (t, t+1), and the series aggregates (domain tracks, atom ids): nothing of frames t-1, t+1
    next_pair = {("track_pair", rows[2][1]), ("link_domains", rows[2][1])}
    assert jobs == {(r, rows[1][1]) for r in FRAME_RULES} | next_pair | AGGREGATES


def test_new_link_threshold_reruns_only_the_links_and_the_aggregates(small_series):
    """domains.link_fraction is a parameter of the links only: the frames' domains stay."""
    work, rows, _ = small_series
    jobs = planned_jobs(work, "--config", "frames=frames.tsv", "domains={link_fraction: 0.5}")
    domain_aggregates = {("aggregate_domains", ""), ("plot_domains", ""), ("build_viewer", "")}
    assert jobs == {("link_domains", r[1]) for r in rows} | domain_aggregates


def test_new_row_runs_only_the_new_frame(small_series):
    work, rows, extra = small_series
    shutil.copy(REPO / extra["path"], work / "data" / Path(extra["path"]).name)
    new = (extra["series"], extra["frame"], extra["time"], f"data/{Path(extra['path']).name}")
    write_sheet(work / "frames.tsv", [*rows, new])
    jobs = planned_jobs(work, "--config", "frames=frames.tsv")
    assert jobs == {(r, extra["frame"]) for r in FRAME_RULES} | AGGREGATES


def test_new_cutoff_reruns_every_frame(small_series):
    work, rows, _ = small_series
    jobs = planned_jobs(work, "--config", "frames=frames.tsv", "cutoff=3.3")
    # every track_pair too: each reads its own frame's rdf.npz (a frame rejected by its g(r)
    # has no pair)
    # not the surface and PTM, which read only the atoms
    independent = {"parse_frame", "compute_surface", "compute_ptm"}
    expected = {(r, row[1]) for r in FRAME_RULES - independent for row in rows}
    assert jobs == expected | AGGREGATES


def test_new_lattice_reference_reruns_the_lattice_and_the_tables(small_series):
    work, rows, _ = small_series
    jobs = planned_jobs(work, "--config", "frames=frames.tsv", "lattice={reference: element}")
    downstream = {"compute_lattice", "write_frame_table", "write_frame_pdbs", "plot_frame"}
    # tracking and domains read no lattice value
    untouched = {("aggregate_tracking", ""), ("plot_tracking", ""), ("aggregate_domains", ""),
                 ("aggregate_atom_ids", ""), ("plot_domains", "")}  # fmt: skip
    assert jobs == {(r, row[1]) for r in downstream for row in rows} | (AGGREGATES - untouched)


def test_cluster_profile_groups_every_single_frame_rule():
    """profiles/slurm puts the chain of one frame in one job group: a per-frame rule left out
    makes Snakemake refuse the whole DAG ("depends on rule(s) ... from outside the group")."""
    import yaml

    groups = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())["groups"]
    pairs = {"track_pair", "link_domains"}  # two frames each: outside the per-frame groups
    # analyse_frame: every per-frame stage of a frame in one job (frame_jobs: one)
    assert set(groups) == (FRAME_RULES | {"analyse_frame"}) - pairs
    assert set(groups.values()) == {"frame"}


def test_new_library_version_reruns_everything(small_series):
    work, rows, _ = small_series
    prefix = [sys.executable, "-c",
              "import sys, nanotraj; nanotraj.__version__ = '999.0'; "
              "from snakemake.cli import main; sys.argv[0] = 'snakemake'; main()"]  # fmt: skip
    jobs = planned_jobs(work, "--config", "frames=frames.tsv", python_prefix=prefix)
    assert jobs == {(r, row[1]) for r in FRAME_RULES for row in rows} | AGGREGATES


# ----------------------------------------------------------------------------------------------
# start-up errors: one clear message, nothing run


def _startup_error(tmp_path, sheet_text, *config):
    (tmp_path / "frames.tsv").write_text(textwrap.dedent(sheet_text))
    proc = snakemake(tmp_path, "-n", "--config", "frames=frames.tsv", *config, check=False)
    assert proc.returncode != 0
    assert not (tmp_path / "results").exists()
    return proc.stdout + proc.stderr


@pytest.fixture
def one_frame(tmp_path):
    src = REPO / _demo_frames()[0]["path"]
    shutil.copy(src, tmp_path / "a.pdb")
    shutil.copy(src, tmp_path / "b.pdb")
    return tmp_path


def test_missing_files_are_listed(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n"
                         "s\tb\t1\tnope1.pdb\ns\tc\t2\tnope2.pdb\n")
    assert "2 frame file(s) do not exist" in msg and "nope1.pdb" in msg and "nope2.pdb" in msg


def test_duplicate_frames_are_an_error(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\ns\ta\t1\tb.pdb\n")
    assert "duplicate frame(s)" in msg and "s/a" in msg


def test_non_numeric_time_is_an_error(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\tten\ta.pdb\n")
    assert "time 'ten' is not a number" in msg


def test_empty_sheet_is_an_error(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\n")
    assert "has no frames" in msg


def test_unknown_element_is_an_error(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n", "element=Xx")
    assert "Xx" in msg


@pytest.mark.parametrize("cutoff", ["-1", "abc", "0"])
def test_bad_cutoff_is_an_error(one_frame, cutoff):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n",
                         f"cutoff={cutoff}")
    assert "cutoff" in msg


def test_equal_times_in_a_series_are_an_error(one_frame):
    msg = _startup_error(one_frame, "series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\ns\tb\t0\tb.pdb\n")
    assert "same time" in msg


def test_unsorted_sheet_is_analysed_in_time_order(one_frame):
    sheet = "series\tframe\ttime\tpath\ns\tb\t5\tb.pdb\ns\ta\t1\ta.pdb\n"
    (one_frame / "frames.tsv").write_text(sheet)
    snakemake(one_frame, "results/s/summary.csv", "--config", "frames=frames.tsv")
    _, rows = read_csv(one_frame / "results" / "s" / "summary.csv")
    assert [r["frame"] for r in rows] == ["a", "b"]
    assert not math.isnan(float(rows[0]["Q6_mean"]))


def test_domain_outputs_in_demo_run(demo_run):
    """The contract of issue 21 on the demo: atoms.csv's domain and boundary, the frames'
    domains.csv and boundaries.csv, the summary columns, the series' tables and figures."""
    from nanotraj.contract import (
        ATOM_ID_COLUMNS,
        BOUNDARY_COLUMNS,
        DOMAIN_ATOM_COLUMNS,
        DOMAIN_COLUMNS,
        DOMAIN_EVENT_COLUMNS,
        DOMAIN_SUMMARY_COLUMNS,
        RMSD_COLUMNS,
        SERIES_DOMAIN_COLUMNS,
        SURVIVAL_COLUMNS,
    )

    frames = _demo_frames()
    series = frames[0]["series"]
    out = demo_run / "results" / series
    n_atoms = {}
    for row in frames:
        header, atoms = read_csv(out / row["frame"] / "atoms.csv")
        assert set(DOMAIN_ATOM_COLUMNS) <= set(header) and header[-1] == "element"
        dheader, doms = read_csv(out / row["frame"] / "domains.csv")
        assert dheader == list(DOMAIN_COLUMNS)
        assert read_csv(out / row["frame"] / "boundaries.csv")[0] == list(BOUNDARY_COLUMNS)
        dom = np.array([int(a["domain"]) for a in atoms])
        assert sorted(set(dom.tolist()) - {-1}) == list(range(len(doms)))
        assert [int(d["n_atoms"]) for d in doms] == [int((dom == k).sum())
                                                    for k in range(len(doms))]
        n_atoms[row["frame"]] = len(atoms)
    sheader, summary = read_csv(out / "summary.csv")
    assert set(DOMAIN_SUMMARY_COLUMNS) <= set(sheader)
    assert all(int(r["n_domains"]) >= 1 for r in summary)  # the demo particle is crystalline
    assert read_csv(out / "domains.csv")[0] == list(SERIES_DOMAIN_COLUMNS)
    assert read_csv(out / "domain_events.csv")[0] == list(DOMAIN_EVENT_COLUMNS)
    iheader, ids = read_csv(out / "atom_ids.csv")
    assert iheader == list(ATOM_ID_COLUMNS)
    assert len(ids) == sum(n_atoms.values())
    _, surv = read_csv(out / "survival.csv")
    assert read_csv(out / "survival.csv")[0] == list(SURVIVAL_COLUMNS)
    s = [float(r["survival"]) for r in surv]
    assert s[0] == 1.0 and s == sorted(s, reverse=True)  # etched: the first atoms leave
    assert read_csv(out / "rmsd_matrix.csv")[0] == list(RMSD_COLUMNS)
    for png in ("domains_series.png", "survival.png", "rmsd_matrix.png"):
        assert (out / png).stat().st_size > 10_000
    assert "atom_id" in (out / "viewer.html").read_text(encoding="utf-8")


def test_structure_columns_in_demo_outputs(demo_run):
    from nanotraj.contract import STRUCTURE_COLUMNS
    from nanotraj.structure import BOO_CLASSES
    from nanotraj.structure import SUMMARY_COLUMNS as STRUCTURE_SUMMARY

    row = _demo_frames()[0]
    out = demo_run / "results" / row["series"] / row["frame"]
    header, atoms = read_csv(out / "atoms.csv")
    n = len(STRUCTURE_COLUMNS)
    assert header[len(ATOM_COLUMNS) : len(ATOM_COLUMNS) + n] == list(STRUCTURE_COLUMNS)
    assert {a["structure_boo"] for a in atoms} <= set(BOO_CLASSES)
    assert {a["structure_cna"] for a in atoms} <= {"0", "1", "2", "3", "4"}
    assert {a["structure_acna"] for a in atoms} <= {"0", "1", "2", "3", "4"}
    # the first demo frame is a perfect truncated octahedron with 0.04 A noise: mostly fcc
    assert sum(a["structure_cna"] == "1" for a in atoms) > 0.4 * len(atoms)
    sheader, summary = read_csv(out / "summary.csv")
    for col in (*STRUCTURE_SUMMARY, "n_close_contacts", "sigma_estimate", "surface_area",
                "volume", "diameter_sv"):
        assert col in sheader
    for suffix in ("", "_acna"):
        fractions = [float(summary[0][f"fraction_{k}{suffix}"])
                     for k in ("fcc", "hcp", "bcc", "ico", "other")]
        assert abs(sum(fractions) - 1) < 1e-9
    s = summary[0]  # the alpha shape: 6V/A below the hull's sphere, 0.03-0.06 A of noise
    assert 0 < float(s["diameter_sv"]) < float(s["diameter"])
    assert 0.0 < float(s["sigma_estimate"]) < 0.08


def test_lattice_outputs_of_the_demo(demo_run):
    """The first demo frame is a perfect 586-atom truncated octahedron with 0.04 A of noise:
    its lattice constant, sites and facets are known (tests/test_sites.py, test_facets.py)."""
    import gemmi

    from nanotraj.contract import (
        FACET_COLUMNS,
        LATTICE_COLUMNS,
        LATTICE_SUMMARY_COLUMNS,
        SITE_CLASSES,
        STRAIN_PROFILE_COLUMNS,
        STRUCTURE_COLUMNS,
    )

    row = _demo_frames()[0]
    out = demo_run / "results" / row["series"] / row["frame"]
    header, atoms = read_csv(out / "atoms.csv")
    start = len(ATOM_COLUMNS) + len(STRUCTURE_COLUMNS)
    assert header[start : start + len(LATTICE_COLUMNS)] == list(LATTICE_COLUMNS)
    site = [a["site"] for a in atoms]
    assert {s: site.count(s) for s in SITE_CLASSES} == {
        "bulk": 314, "vertex": 24, "edge": 72, "terrace111": 152, "terrace100": 24, "other": 0}
    vol = np.array([float(a["strain_volumetric"]) for a in atoms])
    fcc = np.array([a["structure_ptm"] in ("1", "2") for a in atoms])
    assert np.isfinite(vol[fcc]).all() and np.isnan(vol[~fcc]).all()
    sheader, summary = read_csv(out / "summary.csv")
    assert set(LATTICE_SUMMARY_COLUMNS) <= set(sheader)
    s = summary[0]
    assert abs(float(s["lattice_constant"]) / 3.912 - 1) < 0.003
    assert int(s["n_facets"]) == 14
    f111 = 12 * math.sqrt(3) / (12 * math.sqrt(3) + 6)
    assert abs(float(s["facet_fraction_111"]) - f111) < 0.005
    pheader, profile = read_csv(out / "strain_profile.csv")
    assert pheader == list(STRAIN_PROFILE_COLUMNS) and len(profile) >= 4
    fheader, planes = read_csv(out / "facets.csv")
    assert fheader == list(FACET_COLUMNS) and len(planes) == 14
    for q in ("strain_volumetric", "gcn"):
        pdb = gemmi.read_structure(str(out / "pdb" / f"{q}.pdb"))
        b = np.array([cra.atom.b_iso for cra in pdb[0].all()])
        v = np.array([float(a[q]) for a in atoms])
        assert np.allclose(b, np.round(np.nan_to_num(v), 3), atol=1e-6), q
    series = demo_run / "results" / row["series"]
    assert (series / "strain_series.png").stat().st_size > 10_000
    assert (series / "facets_series.png").stat().st_size > 10_000


def test_report_embeds_every_figure_and_table(demo_run):
    snakemake(demo_run, "--report", "report.html")
    html = (demo_run / "report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for name in ("timeseries.png", "rdf_series.png", "cn_series.png", "rdf.png", "order.png",
                 "summary.html", "tracking.html", "strain_series.png",
                 "facets_series.png", "domains_series.png", "survival.png",
                 "rmsd_matrix.png"):  # fmt: skip
        assert name in html, name


def test_element_column_overrides_the_config_element(tmp_path):
    """A sheet row's element sets cn_lattice's nearest-neighbour distance and the PDB element."""
    import gemmi

    from nanotraj.coordination import cn_lattice
    from nanotraj.elements import nn_distance

    coords = read_frame(REPO / _demo_frames()[0]["path"]).coords
    write_values(tmp_path / "f.pdb", coords, np.zeros(len(coords)))
    # the same file as lead (d_nn 3.50 A: 1.2 d_nn reaches the Pt particle's second shell)
    (tmp_path / "frames.tsv").write_text(
        "series\tframe\ttime\tpath\telement\ns\tpb\t0\tf.pdb\tPb\ns\tpt\t1\tf.pdb\t\n"
    )
    snakemake(tmp_path, "results/s/pb/atoms.csv", "results/s/pb/pdb/cn.pdb",
              "results/s/pt/atoms.csv", "--config", "frames=frames.tsv")  # fmt: skip
    got = {}
    for frame, element in (("pb", "Pb"), ("pt", "Pt")):
        _, atoms = read_csv(tmp_path / "results" / "s" / frame / "atoms.csv")
        got[frame] = np.array([int(a["cn_lattice"]) for a in atoms])
        np.testing.assert_array_equal(got[frame], cn_lattice(coords, nn_distance(element)))
    assert got["pb"].sum() > got["pt"].sum()
    st = gemmi.read_structure(str(tmp_path / "results" / "s" / "pb" / "pdb" / "cn.pdb"))
    assert {cra.atom.element.name for cra in st[0].all()} == {"Pb"}


def test_large_frames_get_threads_small_frames_one(tmp_path):
    """The g(r), bond, BOO and local-structure jobs of a frame file above 2 MB (~25,000 atoms)
    take large_frame_threads threads (capped by --cores); a small frame's take one."""
    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere

    big = fcc_sphere(48.0, 3.912, noise=0.05, seed=0)  # ~30,000 atoms
    write_values(tmp_path / "big.pdb", big, np.zeros(len(big)), element="Pt")
    assert (tmp_path / "big.pdb").stat().st_size > 2_000_000
    small = _demo_frames()[0]
    shutil.copy(REPO / small["path"], tmp_path / "small.pdb")
    write_sheet(tmp_path / "frames.tsv",
                [("s", "big", 1, "big.pdb"), ("s", "small", 0, "small.pdb")])

    def threads(*args):
        out = snakemake(tmp_path, "-n", "--quiet", "host", "--config", "frames=frames.tsv",
                        *args).stdout
        found = {}
        for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
            m = re.match(r"(?:local)?rule (\w+):", block.strip())
            w = re.search(r"wildcards:.*?frame=([^,\s]+)", block)
            if m and w:
                t = re.search(r"threads: (\d+)", block)
                found[(m.group(1), w.group(1))] = int(t.group(1)) if t else 1
        return found

    found = threads()
    for rule in ("compute_rdf", "find_bonds", "compute_boo", "compute_structure"):
        assert found[(rule, "big")] == 2, rule
        assert found[(rule, "small")] == 1, rule
    assert found[("compute_coordination", "big")] == 1
    found = threads("large_frame_threads=1")
    assert found[("compute_boo", "big")] == 1


def test_report_of_another_configuration_is_refused(small_series):
    """results/ were made with --config frames=frames.tsv: a report without it would describe
    the shipped demo's configuration, not the files; it is refused with one message. With the
    run's configuration it is built."""
    work, _, _ = small_series
    record = json.loads((work / "results" / "run.json").read_text())
    assert record["frames"] == "frames.tsv" and record["version"] == nanotraj.__version__
    proc = snakemake(work, "--report", "report.html", check=False)
    assert proc.returncode != 0
    assert ("written by a run of the sheet 'frames.tsv', not 'config/frames.tsv': this report "
            "would describe another run's results") in proc.stderr
    assert not (work / "report.html").exists()
    snakemake(work, "--report", "report.html", "--config", "frames=frames.tsv")
    assert (work / "report.html").stat().st_size > 100_000
