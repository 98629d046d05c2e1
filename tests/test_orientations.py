"""Tests of nanotraj.orientations: rotation matrices, symmetry groups, misorientations, grains.

Known answers: PTM's orientations of a noisy fcc sphere in a known orientation form one grain
whose mean orientation is the truth to a fraction of a degree (up to 0.25 A of noise); the five
segments of an Ino decahedron are five grains 72 deg apart about its five-fold axis (36 and
61 deg with the cubic symmetry); the
misorientation of a rotation about <100> by 90 deg is 0 (cubic symmetry), by 30 deg 30 deg.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanotraj import lattices as lat
from nanotraj import orientations as ori
from nanotraj.ptm import ptm


def _quat(axis, deg):
    """(x, y, z, w) of a rotation by ``deg`` about ``axis``."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    h = math.radians(deg) / 2.0
    return np.r_[axis * math.sin(h), math.cos(h)]


def _random_quat(seed):
    q = np.random.default_rng(seed).normal(size=4)
    return q / np.linalg.norm(q)


def test_rotation_matrices_are_rotations():
    q = np.array([_random_quat(s) for s in range(20)])
    R = ori.rotation_matrices(q)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    Rz = ori.rotation_matrices(_quat([0, 0, 1], 90.0))[0]
    np.testing.assert_allclose(Rz @ [1.0, 0, 0], [0, 1.0, 0], atol=1e-12)
    assert np.isnan(ori.rotation_matrices(np.full((1, 4), np.nan))).all()


@pytest.mark.parametrize("name, n", [("fcc", 24), ("bcc", 24), ("sc", 24), ("hcp", 12)])
def test_symmetry_groups(name, n):
    g = ori.symmetry_quaternions(name)
    assert g.shape == (n, 4)
    np.testing.assert_allclose(g[0], [1, 0, 0, 0], atol=1e-12)


def test_misorientation_with_cubic_symmetry():
    ref = _random_quat(1)
    cases = [(_quat([0, 0, 1], 90.0), 0.0), (_quat([0, 0, 1], 30.0), 30.0),
             (_quat([1, 1, 1], 120.0), 0.0), (_quat([1, 1, 1], 60.0), 60.0),
             (_quat([1, 0, 0], 5.0), 5.0)]
    for dq, expected in cases:
        # q = ref * dq (a rotation in the crystal frame)
        w1, v1 = ref[3], ref[:3]
        w2, v2 = dq[3], dq[:3]
        q = np.r_[w1 * v2 + w2 * v1 + np.cross(v1, v2), w1 * w2 - v1 @ v2]
        got = ori.misorientation(ref, q[None], "fcc")[0]
        assert got == pytest.approx(expected, abs=1e-6)
    assert ori.misorientation(ref, -ref[None], "fcc")[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("noise", [0.05, 0.1, 0.2, 0.25])
def test_noisy_single_crystal_is_one_grain(noise):
    q0 = _random_quat(4)
    R0 = ori.rotation_matrices(q0)[0]
    x = lat.fcc_sphere(20.0) @ R0.T
    x = x + np.random.default_rng(1).normal(0.0, noise, x.shape)
    r = ptm(x, rmsd_cutoff=0.13)
    fcc = r["structure"] == 1
    labels, q = ori.grains(r["orientation"], fcc, "fcc")
    assert len(q) == 1
    np.testing.assert_array_equal(labels[fcc], 0)
    assert (labels[~fcc] == -1).all()
    assert ori.misorientation(q0, q, "fcc")[0] < 0.25
    spread = ori.misorientation(q0, r["orientation"][fcc], "fcc")
    assert spread.max() < ori.GRAIN_ANGLE


def test_mean_orientation_in_blocks_is_the_same_sum():
    """The symmetry copies of a grain's orientations are made block by block (memory of a 1e6-atom
    grain) and summed at once: any block size gives the same mean, bit for bit."""
    sym = ori.symmetry_quaternions("fcc")
    rng = np.random.default_rng(5)
    ref = ori._wxyz(_quat((1, 2, 3), 40.0))[0]
    scatter = np.array([_quat(rng.normal(size=3), abs(rng.normal(0, 2.0))) for _ in range(501)])
    # each member a random symmetry copy of ref turned by a small rotation, either sign
    members = []
    for k, d in enumerate(ori._wxyz(scatter)):
        g = sym[rng.integers(len(sym))]
        m = _qmul(_qmul(ref, d), g)
        members.append(m if k % 2 else -m)
    members = np.array(members)
    whole = ori._mean_orientation(ref, members, sym, chunk=len(members))
    for chunk in (1, 7, 64, 500):
        assert np.array_equal(ori._mean_orientation(ref, members, sym, chunk=chunk), whole)
    assert ori.misorientation(np.r_[whole[1:], whole[0]], np.r_[ref[1:], ref[0]][None],
                              "fcc")[0] < 0.5


def _qmul(a, b):
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


def test_decahedron_has_five_grains():
    x = lat.decahedron(10)
    r = ptm(x + np.random.default_rng(0).normal(0, 0.03, x.shape), rmsd_cutoff=0.13)
    fcc = r["structure"] == 1
    labels, q = ori.grains(r["orientation"], fcc, "fcc")
    assert len(q) == 5
    sizes = np.bincount(labels[labels >= 0])
    assert sizes.min() > 0.8 * sizes.max()
    # segments are turned by 72 deg about the five-fold <110> axis: neighbours by 72 deg (a
    # twin, 70.5 deg about <110> = 60 deg about <111>, plus the 1.5 deg of the closing gap),
    # the others by 144 deg = 36 deg (180 deg about <110> is a cubic symmetry)
    angles = np.sort([ori.misorientation(q[i], q[j][None], "fcc")[0] for i in range(5)
                      for j in range(i + 1, 5)])
    np.testing.assert_allclose(angles[:5], 36.0, atol=1.0)
    np.testing.assert_allclose(angles[5:], 61.0, atol=1.5)


def test_grains_edge_cases():
    labels, q = ori.grains(np.full((5, 4), np.nan), np.ones(5, bool), "fcc")
    assert (labels == -1).all() and q.shape == (0, 4)
    labels, q = ori.grains(np.zeros((0, 4)), np.zeros(0, bool), "fcc")
    assert labels.shape == (0,) and q.shape == (0, 4)
    with pytest.raises(ValueError):
        ori.symmetry_quaternions("ico")


def test_nearest_grain():
    x = np.array([[0.0, 0, 0], [1.0, 0, 0], [10.0, 0, 0], [11.0, 0, 0], [5.2, 0, 0]])
    labels = np.array([0, -1, 1, -1, -1])
    which = np.array([False, True, False, True, True])
    np.testing.assert_array_equal(ori.nearest_grain(x, labels, which), [0, 0, 1, 1, 1])
    single = ori.nearest_grain(x, np.array([0, -1, -1, -1, -1]), which)
    np.testing.assert_array_equal(single, [0, 0, -1, 0, 0])
    none = ori.nearest_grain(x, np.full(5, -1), which)
    assert (none == -1).all()
