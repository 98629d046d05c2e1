r"""Atom identities over a whole series: persistent ids, survival, lifetimes, the stable core and
the frame-by-frame RMSD matrix.

Reconstructed frames carry no atom identifiers; :mod:`nanotraj.tracking` matches the atoms of
each pair of consecutive frames.  Chaining those matches gives every atom a persistent
``atom_id`` (:func:`chain`): the atoms of the first frame are 0 .. N_0 - 1 in their file's order;
an atom of frame t matched to an atom of frame t-1 keeps its id, an atom without partner (new in
frame t) gets the next unused id, in the file's order.  An id is never reused, so an atom that
leaves and an atom that later appears at the same site are two ids.  A frame without pair (the
first one, a rejected frame or one after it, a failed alignment) starts every chain anew: nothing
is known about which of its atoms were there before.

The ids depend on every earlier frame, so the workflow writes them per series
(``atom_ids.csv``, one row per atom and frame) and not into the frames' own ``atoms.csv``: editing
frame t reruns only its jobs, its two pairs and the series' tables, not every later frame.

Quantities
----------
* **Survival** (:func:`survival`): the fraction of the reference frame's atoms (the first frame
  with atoms) whose id is present in frame t, ``S(t) = |ids(t) & ids(t_0)| / |ids(t_0)|``; 1 at
  ``t_0``, never increasing.  Undefined (NaN) before ``t_0`` and from the first frame without
  pair on (the chain is broken, not the atoms gone).
* **Lifetimes** (:func:`lifetimes`): per id the first and last frame it is seen in, the number
  of frames, ``lifetime = t_last - t_first`` (in the sheet's time unit; 0 for an atom seen in one
  frame) and whether it is seen in the first and last frame of the series (the lifetime is then
  a lower bound: censored).
* **Stable core**: the ids present in every frame of the series (``core``); a frame without atoms
  or without pair leaves no core.
* **RMSD matrix** (:func:`rmsd_matrix`): for every pair of frames (a, b), over the ``n`` atom ids
  present in both, ``rmsd_raw = sqrt(mean |x_b - x_a|^2)`` (positions as given: docked frames)
  and ``rmsd`` after the optimal rigid superposition of b onto a (Kabsch, W. Kabsch, Acta Cryst.
  A 32, 922 (1976); A 34, 827 (1978): rotation and translation, no scaling), Angstrom.  NaN
  with no shared atom (``rmsd``: fewer than 3).  Computed for all pairs at once from sums over the
  ids (matrix products, blocks of ids): O(F^2 I) operations for F frames and I ids, about 14
  products of (F x I) by (I x F) matrices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["chain", "survival", "lifetimes", "rmsd_matrix", "rmsd_frames", "RMSD_MAX_FRAMES"]

#: The RMSD matrix of a series of more frames than this is computed between this many frames
#: evenly spread over the series (:func:`rmsd_frames`): F frames cost F^2 pairs (10,000 frames:
#: 10^8 rows of rmsd_matrix.csv and 7 GB of sums).
RMSD_MAX_FRAMES = 500

_BLOCK_VALUES = 8_000_000  # values (8 bytes) of the position block of the RMSD sums (64 MB)


def chain(previous: Sequence[np.ndarray | None], n_atoms: Sequence[int]) -> list[np.ndarray]:
    """Persistent atom ids of a series (module docstring).

    Parameters
    ----------
    previous : per frame in time order, (N_t,) int: the index in frame t-1 of each atom of frame
        t, -1 for a new atom (``new.csv``'s ``previous``); None for a frame without pair (every
        atom gets a new id).
    n_atoms : atoms per frame (0 for a rejected frame).

    Returns
    -------
    list of (N_t,) int64 arrays: the id of every atom of every frame.
    """
    if len(previous) != len(n_atoms):
        raise ValueError("previous and n_atoms must have one entry per frame")
    out, last, next_id = [], np.zeros(0, dtype=np.int64), 0
    for prev, n in zip(previous, n_atoms, strict=True):
        n = int(n)
        ids = np.full(n, -1, dtype=np.int64)
        if prev is not None:
            prev = np.asarray(prev, dtype=np.int64)
            if len(prev) != n:
                raise ValueError(f"a matching of {len(prev)} atoms for a frame of {n}")
            if len(prev) and prev.max(initial=-1) >= len(last):
                raise ValueError(f"a partner index {int(prev.max())} beyond the previous "
                                 f"frame's {len(last)} atoms")
            ok = prev >= 0
            ids[ok] = last[prev[ok]]
            if len(np.unique(ids[ok])) != int(ok.sum()):
                raise ValueError("two atoms of a frame have the same partner")
        new = ids < 0
        ids[new] = next_id + np.arange(int(new.sum()))
        next_id += int(new.sum())
        out.append(ids)
        last = ids
    return out


def survival(ids: Sequence[np.ndarray], has_pair: Sequence[bool]) -> dict[str, np.ndarray]:
    """Survival of the reference frame's atoms (module docstring).

    ``ids``: :func:`chain`'s result; ``has_pair``: per frame, whether it was matched to its
    predecessor (the first frame: False).  Returns (F,) arrays ``n_atoms``, ``n_survivors``
    (atoms of the reference frame present, -1 where unknown), ``survival`` (fraction, NaN where
    unknown), ``n_new`` (atoms not from the reference frame, -1 where unknown), ``tracked``
    (bool: frame t is linked to the reference frame by unbroken pairs), ``n_core`` (ids present
    in every frame, the same value in every row) and ``reference`` (index of the reference
    frame, -1 for none).
    """
    f = len(ids)
    if len(has_pair) != f:
        raise ValueError("ids and has_pair must have one entry per frame")
    n_atoms = np.array([len(i) for i in ids], dtype=np.int64)
    ref = int(np.flatnonzero(n_atoms > 0)[0]) if (n_atoms > 0).any() else -1
    n_surv = np.full(f, -1, dtype=np.int64)
    frac = np.full(f, np.nan)
    n_new = np.full(f, -1, dtype=np.int64)
    tracked = np.zeros(f, dtype=bool)
    if ref >= 0:
        ref_ids = ids[ref]
        ok = True
        for k in range(ref, f):
            if k > ref:
                ok = ok and bool(has_pair[k])
            if not ok:
                break
            tracked[k] = True
            n_surv[k] = int(np.isin(ids[k], ref_ids, assume_unique=True).sum())
            frac[k] = n_surv[k] / len(ref_ids)
            n_new[k] = int(n_atoms[k] - n_surv[k])
    core = _core(ids)
    return {"n_atoms": n_atoms, "n_survivors": n_surv, "survival": frac, "n_new": n_new,
            "tracked": tracked, "n_core": np.full(f, len(core), dtype=np.int64),
            "reference": np.array(ref)}


def _core(ids) -> np.ndarray:
    """Ids present in every frame (none when a frame has no atoms)."""
    if not len(ids) or any(len(i) == 0 for i in ids):
        return np.zeros(0, dtype=np.int64)
    core = ids[0]
    for i in ids[1:]:
        core = np.intersect1d(core, i, assume_unique=True)
    return core


def lifetimes(ids: Sequence[np.ndarray], times: Sequence[float]) -> dict[str, np.ndarray]:
    """Per atom id (0 .. max): ``atom_id``, ``first``/``last`` (frame indices), ``first_time``,
    ``last_time``, ``n_frames``, ``lifetime`` (``last_time - first_time``, time unit),
    ``in_first_frame``, ``in_last_frame`` (seen in the series' first / last frame: the lifetime
    is censored) and ``core`` (seen in every frame).  Ids of :func:`chain` occupy a contiguous
    range of frames, so ``n_frames = last - first + 1``."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) != len(ids):
        raise ValueError("ids and times must have one entry per frame")
    n_ids = int(max((int(i.max()) + 1 for i in ids if len(i)), default=0))
    first = np.full(n_ids, len(ids), dtype=np.int64)
    last = np.full(n_ids, -1, dtype=np.int64)
    count = np.zeros(n_ids, dtype=np.int64)
    for k, i in enumerate(ids):
        first[i] = np.minimum(first[i], k)
        last[i] = np.maximum(last[i], k)
        count[i] += 1
    core = np.zeros(n_ids, dtype=bool)
    core[_core(ids)] = True
    return {"atom_id": np.arange(n_ids, dtype=np.int64), "first": first, "last": last,
            "first_time": t[first] if n_ids else np.zeros(0), "last_time": t[last] if n_ids
            else np.zeros(0), "n_frames": count,
            "lifetime": (t[last] - t[first]) if n_ids else np.zeros(0),
            "in_first_frame": first == 0, "in_last_frame": last == len(ids) - 1, "core": core}


def rmsd_frames(n_frames: int, max_frames: int = RMSD_MAX_FRAMES) -> np.ndarray:
    """The frames (0-based indices, increasing) of a series of ``n_frames`` frames that its RMSD
    matrix compares: every frame up to ``max_frames`` frames; above, ``max_frames`` frames evenly
    spread in index, ``round(k (n_frames - 1) / (max_frames - 1))`` for k = 0 .. max_frames - 1
    (the first and the last frame included)."""
    if n_frames <= max_frames:
        return np.arange(n_frames, dtype=np.int64)
    return np.unique(np.rint(np.linspace(0, n_frames - 1, max_frames)).astype(np.int64))


def rmsd_matrix(ids: Sequence[np.ndarray], coords: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Frame-by-frame RMSD on the shared atoms (module docstring).

    Parameters
    ----------
    ids : per frame, (N_t,) atom ids (:func:`chain`); coords : per frame, (N_t, 3) positions (A).

    Returns
    -------
    dict of (F, F) arrays: ``n_shared`` (int64), ``rmsd`` (superposed, A; NaN below 3 shared
    atoms), ``rmsd_raw`` (as given, A; NaN without shared atoms).  Symmetric; 0 on the diagonal
    of frames with atoms.

    For frames a, b with shared ids S (n = |S|), with sums over S: ``c_a = sum x_a / n``,
    ``E_a = sum |x_a - c_a|^2``, ``H = sum (x_a - c_a)(x_b - c_b)^T``; with ``s_1 >= s_2 >= s_3``
    the singular values of H and ``d = sign det H``:
    ``rmsd^2 = (E_a + E_b - 2 (s_1 + s_2 + d s_3)) / n`` (Kabsch); ``rmsd_raw^2 = sum |x_b -
    x_a|^2 / n``.  Coordinates are centred on their overall mean first (cancellation).
    """
    f = len(ids)
    if len(coords) != f:
        raise ValueError("ids and coords must have one entry per frame")
    n_ids = int(max((int(i.max()) + 1 for i in ids if len(i)), default=0))
    allx = [np.asarray(x, dtype=np.float64).reshape(-1, 3) for x in coords]
    for i, x in zip(ids, allx, strict=True):
        if len(i) != len(x):
            raise ValueError(f"{len(i)} ids for {len(x)} positions")
    mean = np.concatenate(allx).mean(axis=0) if n_ids else np.zeros(3)
    n = np.zeros((f, f))
    s = np.zeros((f, f, 3))        # sum over shared of x_a (row frame a)
    q = np.zeros((f, f))           # sum over shared of |x_a|^2
    h = np.zeros((f, f, 3, 3))     # sum over shared of x_a x_b^T
    block = max(256, _BLOCK_VALUES // max(1, 4 * f))
    for lo in range(0, n_ids, block):
        hi = min(n_ids, lo + block)
        m = np.zeros((f, hi - lo))
        x = np.zeros((3, f, hi - lo))
        for k, (i, xk) in enumerate(zip(ids, allx, strict=True)):
            sel = (i >= lo) & (i < hi)
            m[k, i[sel] - lo] = 1.0
            x[:, k, i[sel] - lo] = (xk[sel] - mean).T
        n += m @ m.T
        for c in range(3):
            s[:, :, c] += x[c] @ m.T
            for d in range(3):
                h[:, :, c, d] += x[c] @ x[d].T
        q += (x * x).sum(axis=0) @ m.T
    n_shared = np.rint(n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw2 = (q + q.T - 2.0 * np.trace(h, axis1=2, axis2=3)) / n
        ca = s / n[:, :, None]
        cb = np.transpose(s, (1, 0, 2)) / n[:, :, None]
        ea = q - n * np.einsum("abk,abk->ab", ca, ca)
        eb = q.T - n * np.einsum("abk,abk->ab", cb, cb)
        hc = h - n[:, :, None, None] * ca[:, :, :, None] * cb[:, :, None, :]
        hc = np.where(np.isfinite(hc), hc, 0.0)
        sv = np.linalg.svd(hc, compute_uv=False)
        sign = np.sign(np.linalg.det(hc))
        sign[sign == 0] = 1.0
        fit2 = (ea + eb - 2.0 * (sv[..., 0] + sv[..., 1] + sign * sv[..., 2])) / n
    rmsd_raw = np.sqrt(np.maximum(raw2, 0.0))
    rmsd = np.sqrt(np.maximum(fit2, 0.0))
    rmsd_raw[n_shared == 0] = np.nan
    rmsd[n_shared < 3] = np.nan
    for k in range(f):
        if n_shared[k, k] > 0:
            rmsd_raw[k, k] = 0.0
        if n_shared[k, k] >= 3:
            rmsd[k, k] = 0.0
    rmsd = 0.5 * (rmsd + rmsd.T)  # equal up to rounding
    rmsd_raw = 0.5 * (rmsd_raw + rmsd_raw.T)
    return {"n_shared": n_shared, "rmsd": rmsd, "rmsd_raw": rmsd_raw}
