"""Atom identities over a series (nanotraj.identities): chaining, survival, lifetimes, the stable
core and the RMSD matrix against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanotraj import identities as ids_
from nanotraj.tracking import kabsch


def test_chain_keeps_ids_and_numbers_new_atoms_in_file_order():
    # frame 0: 4 atoms; frame 1: atom 2 removed, two new (rows 0 and 3), order shuffled
    previous = [None, np.array([-1, 3, 0, -1, 1])]
    ids = ids_.chain(previous, [4, 5])
    assert ids[0].tolist() == [0, 1, 2, 3]
    assert ids[1].tolist() == [4, 3, 0, 5, 1]
    # a frame without pair restarts every chain: new ids, never reused
    ids = ids_.chain([None, np.array([0, 1]), None], [2, 2, 2])
    assert [i.tolist() for i in ids] == [[0, 1], [0, 1], [2, 3]]


def test_chain_refuses_inconsistent_matchings():
    with pytest.raises(ValueError, match="same partner"):
        ids_.chain([None, np.array([0, 0])], [2, 2])
    with pytest.raises(ValueError, match="beyond"):
        ids_.chain([None, np.array([5])], [2, 1])
    with pytest.raises(ValueError, match="matching of"):
        ids_.chain([None, np.array([0])], [2, 2])


def test_survival_lifetimes_and_core_of_a_known_history():
    # 5 atoms; frame 1 loses id 4; frame 2 loses id 0 and gains one; frame 3 keeps all
    previous = [None, np.array([0, 1, 2, 3]), np.array([1, 2, 3, -1]), np.array([0, 1, 2, 3])]
    ids = ids_.chain(previous, [5, 4, 4, 4])
    s = ids_.survival(ids, [False, True, True, True])
    assert s["n_survivors"].tolist() == [5, 4, 3, 3]
    np.testing.assert_allclose(s["survival"], [1.0, 0.8, 0.6, 0.6])
    assert s["n_new"].tolist() == [0, 0, 1, 1] and s["tracked"].all()
    assert s["n_core"].tolist() == [3] * 4  # ids 1, 2, 3
    life = ids_.lifetimes(ids, [0.0, 2.0, 5.0, 9.0])
    assert life["atom_id"].tolist() == [0, 1, 2, 3, 4, 5]
    assert life["first"].tolist() == [0, 0, 0, 0, 0, 2]
    assert life["last"].tolist() == [1, 3, 3, 3, 0, 3]
    assert life["n_frames"].tolist() == [2, 4, 4, 4, 1, 2]
    np.testing.assert_allclose(life["lifetime"], [2.0, 9.0, 9.0, 9.0, 0.0, 4.0])
    assert life["core"].tolist() == [False, True, True, True, False, False]
    assert life["in_first_frame"].tolist() == [True] * 5 + [False]
    assert life["in_last_frame"].tolist() == [False, True, True, True, False, True]


def test_survival_is_unknown_after_a_broken_chain_and_before_the_first_atoms():
    ids = ids_.chain([None, None, np.array([0, 1]), None], [0, 2, 2, 2])
    s = ids_.survival(ids, [False, False, True, False])
    assert int(s["reference"]) == 1
    assert np.isnan(s["survival"][0]) and np.isnan(s["survival"][3])
    assert s["survival"][1:3].tolist() == [1.0, 1.0]
    assert s["tracked"].tolist() == [False, True, True, False]
    assert s["n_core"][0] == 0  # a frame without atoms: no core


def brute_force_rmsd(ids, coords, a, b):
    shared, ia, ib = np.intersect1d(ids[a], ids[b], return_indices=True)
    if not len(shared):
        return 0, math.nan, math.nan
    xa, xb = coords[a][ia], coords[b][ib]
    raw = math.sqrt(np.mean(np.sum((xb - xa) ** 2, axis=1)))
    if len(shared) < 3:
        return len(shared), math.nan, raw
    rot, t = kabsch(xa, xb)
    fit = math.sqrt(np.mean(np.sum((xb @ rot.T + t - xa) ** 2, axis=1)))
    return len(shared), fit, raw


def test_rmsd_matrix_equals_brute_force():
    """Random histories: atoms removed, added and reordered, each frame noisy, one frame turned
    and shifted as a whole (its superposed RMSD stays small, its raw one does not)."""
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-15, 15, size=(300, 3))
    coords, previous = [x0], [None]
    for k in range(1, 6):
        prev = coords[-1]
        keep = np.flatnonzero(rng.random(len(prev)) > 0.1)
        perm = rng.permutation(len(keep) + 7)
        new_x = np.vstack([prev[keep] + rng.normal(0, 0.05, (len(keep), 3)),
                           rng.uniform(-15, 15, (7, 3))])[perm]
        p = np.concatenate([keep, np.full(7, -1)])[perm]
        if k == 3:
            c, s = math.cos(0.4), math.sin(0.4)
            new_x = new_x @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + [3.0, -1.0, 2.0]
        coords.append(new_x)
        previous.append(p)
    coords.append(np.zeros((0, 3)))  # a rejected frame
    previous.append(None)
    ids = ids_.chain(previous, [len(x) for x in coords])
    m = ids_.rmsd_matrix(ids, coords)
    f = len(coords)
    for a in range(f):
        for b in range(f):
            n, fit, raw = brute_force_rmsd(ids, coords, a, b)
            assert m["n_shared"][a, b] == n
            np.testing.assert_allclose(m["rmsd"][a, b], fit, atol=1e-9, equal_nan=True)
            np.testing.assert_allclose(m["rmsd_raw"][a, b], raw, atol=1e-9, equal_nan=True)
    assert m["rmsd"][2, 3] < 0.1 < 1.0 < m["rmsd_raw"][2, 3]
    assert (np.diag(m["rmsd"])[:-1] == 0).all() and np.isnan(m["rmsd"][-1, -1])
    np.testing.assert_array_equal(m["rmsd"], m["rmsd"].T)


def test_rmsd_of_independent_noise():
    """Two noisy copies of one frame (sigma per coordinate): raw RMSD ~ sqrt(6) sigma."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-20, 20, size=(5000, 3))
    sigma = 0.08
    coords = [x + rng.normal(0, sigma, x.shape), x + rng.normal(0, sigma, x.shape)]
    ids = ids_.chain([None, np.arange(len(x))], [len(x), len(x)])
    m = ids_.rmsd_matrix(ids, coords)
    assert m["rmsd_raw"][0, 1] == pytest.approx(math.sqrt(6) * sigma, rel=0.03)
    assert m["rmsd"][0, 1] <= m["rmsd_raw"][0, 1]
