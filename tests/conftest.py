"""Shared fixtures (where the repository and the team's shared data are) and helpers of the
workflow tests."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SHARED = REPO.parent / "shared"
SERIES_DIR = SHARED / "data" / "single-pt-series"
REFERENCE_DIR = SHARED / "reference" / "pyboo"


@pytest.fixture
def shared_series():
    """The real Pt series in ../shared (skipped cleanly where ../shared is absent)."""
    if not SERIES_DIR.is_dir():
        pytest.skip(f"shared data not available at {SERIES_DIR}")
    return SERIES_DIR


@pytest.fixture
def reference_dir():
    """pyboo reference values in ../shared/reference (skipped where absent)."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"shared reference values not available at {REFERENCE_DIR}")
    return REFERENCE_DIR


def snakemake(workdir, *args, check=True, env=None, python_prefix=None):
    """Run snakemake on the project's Snakefile from ``workdir`` with 2 cores; return the
    completed process (``check``: raise with its output when it fails; ``python_prefix``: the
    command that starts snakemake instead of ``python -m snakemake``)."""
    cmd = [sys.executable, "-m", "snakemake"] if python_prefix is None else python_prefix
    cmd = [*cmd, "-s", str(SNAKEFILE), "--directory", str(workdir), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(workdir, *args, **kw) -> set[tuple[str, str]]:
    """(rule, frame or chunk) pairs that a dry run plans; '' for whole-series/run rules (from
    the job descriptions, which the default profile hides: ``--quiet host`` shows them)."""
    proc = snakemake(workdir, "-n", "--quiet", "host", *args, **kw)
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not m or m.group(1) == "all":
            continue
        w = re.search(r"wildcards:.*?(?:frame|chunk)=([^,\s]+)", block)
        jobs.add((m.group(1), w.group(1) if w else ""))
    return jobs


def read_csv(path):
    """(header, rows as dicts) of a CSV file."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)
