"""Shared fixtures (where the repository and the team's shared data are) and helpers of the
workflow tests."""

import csv
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


def snakemake(workdir, *args, check=True):
    """Run snakemake on the project's Snakefile from ``workdir`` with 2 cores; return the
    completed process (``check``: raise with its output when it fails)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_csv(path):
    """(header, rows as dicts) of a CSV file."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)
