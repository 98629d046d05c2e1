"""Shared fixtures: where the repository and the team's shared data are."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
