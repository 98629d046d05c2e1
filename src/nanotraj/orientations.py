r"""Lattice orientations from PTM: rotation matrices, misorientations, grains.

Polyhedral template matching (:mod:`nanotraj.ptm`) gives every matched atom a unit quaternion
``q = (x, y, z, w)`` (OVITO's order) of the rotation ``R(q)`` that maps the structure's ideal
template, written in the crystal frame (cube axes along x, y, z for fcc, bcc and sc; the c axis
along z for hcp), onto the atom's neighbour vectors: ``r_j - r_i ~ R(q) t_k``.  A direction
``n`` of the sample is ``R(q)^T n`` in that crystal frame.

Two orientations ``q1``, ``q2`` of the same structure are the same lattice orientation when
``q1^-1 q2`` is one of the structure's symmetry rotations ``g`` (24 for cubic lattices, 12 for
hcp; the groups of :func:`nanotraj.ptm.tables`).  Their **misorientation** is the smallest
rotation angle ``theta = 2 arccos max_g |w(q1^-1 q2 g)|`` over the group (A. Morawiec,
*Orientations and Rotations*, Springer (2004), ch. 10).

A **grain** here is a set of atoms of one structure whose orientations lie within
:data:`GRAIN_ANGLE` of the grain's mean orientation, found greedily (:func:`grains`): the
orientation shared by most atoms first (the frame's *dominant* orientation), then the next
among the remaining atoms, and so on.  Grains are not required to be connected in space: a
particle's twin-related segments (decahedra, icosahedra, twinned cuboctahedra) are separate
grains, two distant pieces with the same orientation one.

Only numpy is imported (scipy's k-d tree inside :func:`nearest_grain`).  Lengths in Angstrom,
angles in degrees.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GRAIN_ANGLE", "GRAIN_MIN_ATOMS", "rotation_matrices", "symmetry_quaternions",
           "misorientation", "grains", "nearest_grain"]

#: Largest misorientation (degrees) of an atom from its grain's orientation.  PTM's orientation
#: of an fcc atom of a Pt sphere scatters by 0.63 deg (rms; largest 1.6) at 0.05 A of noise per
#: coordinate, 1.25 (3.1) at 0.1 A, 2.5 (6.4) at 0.2 A, 3.1 (7.2) at 0.25 A; the grain's mean
#: orientation is within 0.02 - 0.2 deg of the truth (``tests/test_orientations.py``).  Twins
#: are 60 deg apart; low-angle grain boundaries of less than ~10 deg are merged.
GRAIN_ANGLE = 10.0
#: Smallest grain (atoms); smaller sets of atoms with one orientation stay without a grain.
GRAIN_MIN_ATOMS = 4
_CANDIDATES = 48  # trial orientations per grain
_SAMPLE = 20_000  # atoms that vote for a trial orientation (evenly spaced over the remaining)


def rotation_matrices(q) -> np.ndarray:
    """Rotation matrices of unit quaternions in OVITO's order ``(x, y, z, w)``.

    ``R = (w^2 - v.v) I + 2 v v^T + 2 w [v]_x`` (active rotation, ``v -> R v``).

    Parameters
    ----------
    q : (N, 4) array_like, rows ``(x, y, z, w)`` (normalised here); NaN rows give NaN matrices.

    Returns
    -------
    (N, 3, 3) float64.
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    R = np.empty((len(q), 3, 3))
    R[:, 0, 0] = w * w + x * x - y * y - z * z
    R[:, 0, 1] = 2 * (x * y - w * z)
    R[:, 0, 2] = 2 * (x * z + w * y)
    R[:, 1, 0] = 2 * (x * y + w * z)
    R[:, 1, 1] = w * w - x * x + y * y - z * z
    R[:, 1, 2] = 2 * (y * z - w * x)
    R[:, 2, 0] = 2 * (x * z - w * y)
    R[:, 2, 1] = 2 * (y * z + w * x)
    R[:, 2, 2] = w * w - x * x - y * y + z * z
    return R


def symmetry_quaternions(structure: str) -> np.ndarray:
    """The proper rotations of a lattice as quaternions ``(w, x, y, z)``, identity first:
    24 for ``"fcc"``, ``"bcc"``, ``"sc"`` (cubic), 12 for ``"hcp"`` (D6, c along z), from the
    tables of :func:`nanotraj.ptm.tables`."""
    from nanotraj.ptm import STRUCTURE_CODES, tables

    if structure not in ("fcc", "hcp", "bcc", "sc"):
        raise ValueError(f"no lattice symmetry for {structure!r}")
    tab = tables()
    s = STRUCTURE_CODES[structure]
    g0, n = int(tab["gen_start"][s]), int(tab["gen_count"][s])
    return np.array(tab["gens"][g0 : g0 + n])


def _wxyz(q):
    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([q[:, 3], q[:, 0], q[:, 1], q[:, 2]])


def _conj_mul(a, b):
    """``a^-1 b`` for unit quaternions (w, x, y, z): a (4,), b (N, 4)."""
    aw, av = a[0], -a[1:]
    bw, bv = b[:, 0], b[:, 1:]
    w = aw * bw - bv @ av
    v = aw * bv + bw[:, None] * av[None, :] + np.cross(np.broadcast_to(av, bv.shape), bv)
    return np.column_stack([w, v])


def _best_cos(p, sym):
    """``max_g |w(p g)|`` and the maximising ``g`` for quaternions ``p`` (N, 4) (w, x, y, z)."""
    # w(p g) = p_w g_w - p_v . g_v: a product with fixed 4-vectors
    wg = p @ np.column_stack([sym[:, 0], -sym[:, 1], -sym[:, 2], -sym[:, 3]]).T
    a = np.abs(wg)
    k = np.argmax(a, axis=1)
    return a[np.arange(len(p)), k], k


def misorientation(q_ref, q, structure: str) -> np.ndarray:
    """Misorientation angle (degrees) of each orientation ``q`` (N, 4) from ``q_ref`` (4,), both
    ``(x, y, z, w)``: ``2 arccos max_g |w(q_ref^-1 q g)|`` over the lattice's symmetry rotations
    ``g``.  NaN rows give NaN.  The disorientation angle has one owner,
    :func:`nanotraj.domains.misorientation` (accurate at small angles); this is its
    one-against-many form."""
    from nanotraj.domains import misorientation as _misorientation

    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    return np.atleast_1d(_misorientation(np.asarray(q_ref, dtype=np.float64).reshape(4), q,
                                         structure))


def _within(ref, Q, idx, sym, cmax, chunk=1 << 16):
    """The atoms ``idx`` whose orientation (rows of ``Q``, (w, x, y, z)) is within the angle
    of ``cmax = cos(angle / 2)`` of ``ref`` (in blocks: (n, 24) temporaries)."""
    keep = [idx[a : a + chunk][_best_cos(_conj_mul(ref, Q[idx[a : a + chunk]]), sym)[0] > cmax]
            for a in range(0, len(idx), chunk)]
    return np.concatenate(keep) if keep else idx[:0]


def _mean_orientation(ref, members, sym, chunk=1 << 16):
    """Mean of the orientations ``members`` (M, 4) (w, x, y, z) near ``ref`` (4,): each is
    replaced by its symmetry-equivalent ``m g`` closest to ``ref`` with ``w(ref^-1 m g) > 0``,
    the sum normalised (the chordal L2 mean; Moakher, SIAM J. Matrix Anal. Appl. 24, 1 (2002)).
    The copies are made in blocks of ``chunk`` rows ((n, 24) temporaries), then summed at once
    (the same sum, bit for bit, as without blocks)."""
    eq = np.empty((len(members), 4))
    for a in range(0, len(members), chunk):
        m = members[a : a + chunk]
        _, k = _best_cos(_conj_mul(ref, m), sym)
        g = sym[k]
        # m g as (w, x, y, z)
        mw, mv = m[:, 0], m[:, 1:]
        gw, gv = g[:, 0], g[:, 1:]
        blk = eq[a : a + chunk]
        blk[:, 0] = mw * gw - np.einsum("ij,ij->i", mv, gv)
        blk[:, 1:] = mw[:, None] * gv + gw[:, None] * mv + np.cross(mv, gv)
        sign = np.sign(blk @ ref)
        sign[sign == 0] = 1.0
        blk *= sign[:, None]
    mean = eq.sum(axis=0)
    return mean / np.linalg.norm(mean)


def grains(q, mask, structure: str, *, max_angle: float = GRAIN_ANGLE,
           min_atoms: int = GRAIN_MIN_ATOMS, max_grains: int = 64):
    """Group atoms of one lattice into grains of one orientation (greedy, largest first).

    Among the atoms of ``mask`` not yet in a grain, :data:`_CANDIDATES` trial orientations
    (atoms evenly spaced in index order) are each counted against up to :data:`_SAMPLE` atoms
    (evenly spaced): the trial with most atoms within ``max_angle`` wins (the first on a tie);
    the grain's orientation is the mean of those atoms (:func:`_mean_orientation`), and the
    grain is every remaining atom within ``max_angle`` of that mean (mean recomputed once over
    them).  Repeated while a grain of at least ``min_atoms`` atoms is found and fewer than
    ``max_grains`` exist.  Deterministic; invariant under a permutation of the atoms up to the
    choice among equally large grains.

    Parameters
    ----------
    q : (N, 4) array_like, PTM orientations ``(x, y, z, w)`` (NaN where unmatched).
    mask : (N,) bool, atoms of ``structure`` to group (PTM's code of that structure).
    structure : ``"fcc"``, ``"hcp"``, ``"bcc"`` or ``"sc"`` (its symmetry group).
    max_angle : float, degrees.  min_atoms, max_grains : int.

    Returns
    -------
    labels : (N,) int64, grain index (0 = the dominant orientation, the largest grain) or -1.
    orientations : (G, 4) float64, the grains' mean orientations ``(x, y, z, w)``; (0, 4) when
        no atom is in ``mask`` or no grain reaches ``min_atoms``.
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    mask = np.asarray(mask, dtype=bool).reshape(-1) & np.all(np.isfinite(q), axis=1)
    n = len(q)
    labels = np.full(n, -1, np.int64)
    sym = symmetry_quaternions(structure)
    cmax = math.cos(math.radians(max_angle) / 2.0)
    Q = _wxyz(q)
    Q[mask] /= np.linalg.norm(Q[mask], axis=1, keepdims=True)
    means = []
    remaining = np.flatnonzero(mask)
    while len(remaining) >= min_atoms and len(means) < max_grains:
        cand = remaining[np.unique(np.linspace(0, len(remaining) - 1, _CANDIDATES).astype(int))]
        voters = remaining[np.unique(np.linspace(0, len(remaining) - 1, _SAMPLE).astype(int))]
        counts = [int((_best_cos(_conj_mul(Q[c], Q[voters]), sym)[0] > cmax).sum())
                  for c in cand]
        best = Q[cand[int(np.argmax(counts))]]
        near = _within(best, Q, remaining, sym, cmax)
        mean = _mean_orientation(best, Q[near], sym)
        near = _within(mean, Q, remaining, sym, cmax)
        if len(near) < min_atoms:
            break
        mean = _mean_orientation(mean, Q[near], sym)
        labels[near] = len(means)
        means.append(mean)
        remaining = np.setdiff1d(remaining, near, assume_unique=True)
    if not means:
        return labels, np.zeros((0, 4))
    m = np.array(means)
    return labels, np.column_stack([m[:, 1], m[:, 2], m[:, 3], m[:, 0]])


def nearest_grain(coords, labels, which) -> np.ndarray:
    """The grain of the nearest atom that has one, for the atoms ``which``.

    Parameters
    ----------
    coords : (N, 3) Angstrom; labels : (N,) int, grain or -1 (:func:`grains`);
    which : (N,) bool, the atoms that need a grain (surface atoms, which PTM never matches).

    Returns
    -------
    (N,) int64: ``labels`` where ``labels >= 0``; for the atoms of ``which`` without a grain the
    grain of the nearest atom with one (ties: the lower index); -1 elsewhere and when no atom
    has a grain.  A single grain is given to every atom of ``which`` without a search.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    which = np.asarray(which, dtype=bool).reshape(-1)
    out = labels.copy()
    have = labels >= 0
    need = which & ~have
    if not have.any() or not need.any():
        return out
    if labels[have].max() == 0:
        out[need] = 0
        return out
    from scipy.spatial import cKDTree

    src = np.flatnonzero(have)
    _, k = cKDTree(np.asarray(coords, dtype=np.float64)[src]).query(
        np.asarray(coords, dtype=np.float64)[need])
    out[need] = labels[src[np.asarray(k)]]
    return out
