"""nanotraj.geometry: hull diameter (seed values), centre distances, invariances, degenerate."""

from pathlib import Path

import numpy as np
import pytest

from nanotraj.errors import AnalysisError
from nanotraj.geometry import distance_to_centre, hull_diameter
from nanotraj.io import read_frame
from nanotraj.lattices import fcc_sphere

SERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "single-pt-series"


def load(name):
    p = SERIES / name
    if not p.exists():
        pytest.skip(f"shared data not available at {p}")
    return read_frame(p).coords


@pytest.mark.parametrize("name, expected", [("stage1_docked_ATMS.pdb", 19.688),
                                            ("COM_trunc-octa-3_2.7nm.pdb", 23.114)])
def test_seed_diameters(name, expected):
    assert round(hull_diameter(load(name)), 3) == expected


def test_cube_and_sphere():
    cube = np.array([[x, y, z] for x in (0, 2) for y in (0, 2) for z in (0, 2)], float)
    assert hull_diameter(cube) == pytest.approx((6 * 8 / np.pi) ** (1 / 3), rel=1e-12)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20000, 3))
    sphere = 5 * v / np.linalg.norm(v, axis=1)[:, None]
    assert hull_diameter(sphere) == pytest.approx(10.0, rel=2e-3)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("seed", range(3))
def test_invariances(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0, 6, (200, 3))
    rot, shift, perm = random_rotation(rng), rng.uniform(-50, 50, 3), rng.permutation(200)
    moved = xyz @ rot.T + shift
    assert hull_diameter(moved) == pytest.approx(hull_diameter(xyz), rel=1e-10)
    assert hull_diameter(xyz[perm]) == pytest.approx(hull_diameter(xyz), rel=1e-12)
    d = distance_to_centre(xyz)
    np.testing.assert_allclose(distance_to_centre(moved), d, atol=1e-10)
    np.testing.assert_allclose(distance_to_centre(xyz[perm]), d[perm], atol=1e-12)


def test_distance_to_centre_simple():
    xyz = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 3.0, 0], [0, -3.0, 0]])
    np.testing.assert_allclose(distance_to_centre(xyz), [1, 1, 3, 3])


@pytest.mark.parametrize(
    "xyz",
    [
        np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [2, 3, 0.0]]),  # coplanar
        np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3.0]]),  # collinear
        np.zeros((6, 3)),  # coincident
        np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]]),  # too few
    ],
)
def test_degenerate_raises(xyz):
    with pytest.raises(AnalysisError) as info:
        hull_diameter(xyz)
    assert str(info.value).startswith("convex hull: ") and "\n" not in str(info.value)


def test_check_3d_refuses_lines_and_single_layers_but_not_bilayers():
    from nanotraj.errors import AnalysisError
    from nanotraj.geometry import check_3d, principal_extents

    rng = np.random.default_rng(0)
    line = np.c_[np.arange(30) * 2.77, np.zeros(30), np.zeros(30)] + rng.normal(0, 1e-3, (30, 3))
    with pytest.raises(AnalysisError, match="the atoms lie on a line"):
        check_3d(line)
    g = np.arange(8) * 2.77
    sheet = np.array([(a, b, 0.0) for a in g for b in g]) + rng.normal(0, 0.01, (64, 3))
    with pytest.raises(AnalysisError, match="the atoms lie in one plane"):
        check_3d(sheet)
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    with pytest.raises(AnalysisError, match="one plane"):
        check_3d(sheet @ rot.T + 5.0)  # any orientation and position
    bilayer = np.vstack([sheet, sheet + (1.385, 0.8, 2.26)])  # an fcc (111) bilayer
    check_3d(bilayer @ rot.T)
    check_3d(fcc_sphere(8.0))
    ext = principal_extents(sheet)
    assert ext[0] > ext[2] and ext[2] < 0.1
