"""Project folders (nanotraj-init) and the record of the run that wrote results/."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from nanotraj import project
from nanotraj.sheet import SheetError, read_frames

from .conftest import REPO

DEMO = sorted((REPO / "resources" / "demo").glob("demo_t0*.pdb"))[:3]


def test_init_project_writes_a_configuration_the_workflow_reads(tmp_path, monkeypatch):
    data = tmp_path / "proj" / "data"
    data.mkdir(parents=True)
    for k, src in enumerate(DEMO):
        shutil.copy(src, data / f"stage{k + 1}.pdb")
    cfg, sheet = project.init_project(tmp_path / "proj", sorted(data.glob("*.pdb")),
                                      time_unit="min", element="Au", series="p1")
    config = yaml.safe_load(cfg.read_text())
    assert config["frames"] == "config/frames.tsv" and config["element"] == "Au"
    assert config["time_unit"] == "min" and config["cutoff"] == "auto"  # the rest as shipped
    monkeypatch.chdir(tmp_path / "proj")
    rows = read_frames("config/frames.tsv", results="results")
    assert [(r["series"], r["frame"], r["time"], r["path"]) for r in rows] == [
        ("p1", f"stage{k}", float(k), f"data/stage{k}.pdb") for k in (1, 2, 3)]
    with pytest.raises(SheetError, match="already has a configuration"):
        project.init_project(tmp_path / "proj", [data / "stage1.pdb"], time_unit="min")
    with pytest.raises(SheetError, match="time unit"):
        project.init_project(tmp_path / "proj", [data / "stage1.pdb"], time_unit="<b>",
                             force=True)


def test_the_record_says_when_results_are_of_another_run(tmp_path):
    record = tmp_path / "results" / "run.json"
    a = {"frames": "a.tsv", "cutoff": "auto"}
    assert project.compare(a, path=record) is None  # nothing recorded: nothing to say
    project.write_record(a, path=record, version="0.6.0")
    assert project.compare(dict(a), path=record) is None
    assert "sheet 'a.tsv', not 'b.tsv'" in project.compare({**a, "frames": "b.tsv"},
                                                           path=record)
    assert "another configuration" in project.compare({**a, "cutoff": 3.0}, path=record)
    assert project.config_digest({"x": 1, "y": 2}) == project.config_digest({"y": 2, "x": 1})


def test_nanotraj_init_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nanotraj.project", str(tmp_path / "p"),
                          str(DEMO[0]), "--time-unit", "s", "--time", "index"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p" / "config" / "frames.tsv").read_text().count("\n") == 2
    again = subprocess.run([sys.executable, "-m", "nanotraj.project", str(tmp_path / "p"),
                            str(DEMO[0]), "--time-unit", "s"], capture_output=True, text=True)
    assert again.returncode == 2 and "already has a configuration" in again.stderr


def test_a_job_failing_on_an_own_error_is_one_line():
    """Snakemake's report of a job that raised a FrameError (as its format_exception_to_string
    writes it) becomes the error's line and the rule; any other exception keeps its stack."""
    from nanotraj.console import one_line_error

    text = (
        "RuleException:\n"
        'FrameError in file "/x/workflow/rules/frame.smk", line 27:\n'
        "data/bad.pdb: line 3: x field is not a number\n"
        '  File "/x/workflow/rules/frame.smk", line 27, in __rule_parse_frame\n'
        '  File "/x/src/nanotraj/stages/frame.py", line 75, in parse_frame\n'
    )
    assert one_line_error(text) == (
        "Error: data/bad.pdb: line 3: x field is not a number  [rule parse_frame]"
    )
    analysis = text.replace("FrameError", "AnalysisError")  # subclasses are known too
    assert one_line_error(analysis).startswith("Error: data/bad.pdb")
    bug = text.replace("FrameError", "ZeroDivisionError")
    assert one_line_error(bug) is None
    assert one_line_error("At least one job did not complete successfully.") is None
