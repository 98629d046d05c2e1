"""Bond network: all atom pairs closer than a cutoff.  Lengths in Angstrom."""

from __future__ import annotations

import numpy as np

__all__ = ["find_bonds", "bond_counts", "bond_sums", "bond_counts_where"]

_BLOCK = 1 << 16  # bonds per block of the length computation
_SUM_CHUNK = 1 << 18  # bonds per chunk of the per-atom sums


def _pair_keys(x, cutoff, workers):
    """All pairs (i, j), i < j, |x_i - x_j| <= cutoff, each packed as ``i * N + j``: (P,) int64,
    in no particular order.  ``N**2`` must fit in int64 (N < 3,037,000,499).

    With ``workers`` > 1 (and at least 50,000 atoms) the atoms are cut into ``workers`` slabs of
    equal counts along the longest axis; the pairs inside each slab and the pairs across each
    cut (atoms within ``cutoff`` of the plane, on both sides) are searched by ``query_pairs`` in
    threads (scipy's kd-tree releases the GIL).  Every pair is found once, by the same distance
    test, so the set equals the serial one.  Slabs thinner than ``cutoff`` fall back to serial.
    Each search packs its pairs at once: one int64 per pair is kept instead of two.
    """
    from scipy.spatial import cKDTree

    n = len(x)
    slab = None

    def query(task):
        idx, across = task
        sub = x if idx is None else x[idx]
        # An unbalanced tree builds ~3x faster (1e6 atoms: 0.3 s instead of 0.8 s); the pairs
        # found do not depend on the tree's shape.
        p = cKDTree(sub, balanced_tree=False, compact_nodes=False).query_pairs(
            float(cutoff), output_type="ndarray")
        if across:  # keep the pairs across the cut: inside a slab, found there
            p = p[slab[idx[p[:, 0]]] != slab[idx[p[:, 1]]]]
        if not (p[:, 0] < p[:, 1]).all():  # query_pairs gives i < j; keep it certain
            p = np.sort(p, axis=1)
        # key = i * N + j (global labels: idx is increasing, i < j is kept), in blocks that
        # stay in cache: one fresh int64 per pair (fresh memory is slow), no (P, 2) temporary
        key = np.empty(len(p), np.int64)
        for b0 in range(0, len(p), _BLOCK):
            i, j = p[b0 : b0 + _BLOCK, 0], p[b0 : b0 + _BLOCK, 1]
            if idx is not None:
                i, j = idx[i], idx[j]
            k = np.multiply(i, n, out=key[b0 : b0 + _BLOCK], dtype=np.int64)
            k += j
        return key

    if workers <= 1 or n < 50_000:
        return query((None, False))
    axis = int(np.argmax(np.ptp(x, axis=0)))
    t = x[:, axis]
    cuts = np.quantile(t, np.arange(1, workers) / workers)
    if workers > 2 and np.diff(cuts).min() <= cutoff:
        return query((None, False))  # a pair could span a whole slab
    slab = np.searchsorted(cuts, t, side="right")
    tasks = [(np.flatnonzero(slab == k), False) for k in range(workers)]
    reach = cutoff * (1 + 1e-9)  # a little wider than needed: round-off cannot lose a pair
    for k, c in enumerate(cuts):  # across cut k: one end in slab k, the other in slab k + 1
        tasks.append((np.flatnonzero(((slab == k) & (t >= c - reach))
                                     | ((slab == k + 1) & (t <= c + reach))), True))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as ex:
        found = list(ex.map(query, tasks))
    return np.concatenate(found)


def find_bonds(coords, cutoff: float, *, workers: int = 1):
    """All pairs of atoms within ``cutoff`` of each other.

    A bond (i, j) exists when ``|x_i - x_j| <= cutoff`` (scipy's ``query_pairs`` convention; the
    seed builds its bond network the same way with ``cKDTree.query_pairs(R_max)``).

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Positions in Angstrom.
    cutoff : float
        Bond cutoff in Angstrom (e.g. the first minimum of g(r)), > 0.
    workers : int
        Threads of the pair search (slabs of the particle, see :func:`_pair_keys`); the result does
        not depend on it.  Default 1.

    Returns
    -------
    bonds : ndarray, shape (B, 2), int64
        0-based atom indices with ``i < j``, rows sorted lexicographically (by i, then j).
        ``(0, 2)`` when there is no bond (an isolated atom simply appears in no row).
    distances : ndarray, shape (B,), float64
        Bond lengths in Angstrom, ``|x_i - x_j|``.

    References
    ----------
    scipy.spatial.cKDTree.query_pairs; S. Kang et al. (seed notebook); pyboo (M. Leocmach,
    doi:10.5281/zenodo.1066568) bond arrays.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    if len(x) < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64)
    if len(x) >= 3_037_000_499:  # pragma: no cover - N^2 overflows the packed int64 keys
        from scipy.spatial import cKDTree

        pairs = cKDTree(x).query_pairs(float(cutoff), output_type="ndarray")
        pairs = np.sort(pairs.reshape(-1, 2), axis=1).astype(np.int64)
        bonds = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        distances = np.empty(len(bonds))
        _lengths(x, bonds, distances, 0, len(bonds))
        return bonds, distances
    key = _pair_keys(x, cutoff, int(workers))  # i * N + j: sorted = by i, then j
    key.sort()
    return _unpack(key, x, int(workers))


def _lengths(x, bonds, out, b0, b1):
    """|x_i - x_j| of bonds b0 .. b1 - 1 into out[b0:b1], in blocks that stay in cache (1e6
    atoms: 0.3 s instead of 0.45-1.3 s with whole-array temporaries, most of that first-touch
    page faults); einsum, not np.linalg.norm."""
    for s in range(b0, b1, _BLOCK):
        e = min(b1, s + _BLOCK)
        diff = x[bonds[s:e, 0]]
        diff -= x[bonds[s:e, 1]]
        np.sqrt(np.einsum("ij,ij->i", diff, diff), out=out[s:e])


def _unpack(key, x, workers):
    """Sorted packed keys ``i * N + j`` -> (bonds (B, 2) int64, lengths (B,) float64), in blocks
    shared by ``workers`` threads (numpy releases the GIL; the blocks are disjoint)."""
    n = len(x)
    bonds = np.empty((len(key), 2), np.int64)
    distances = np.empty(len(key))

    def block(b0):
        b1 = min(len(key), b0 + 16 * _BLOCK)
        i = np.floor_divide(key[b0:b1], n, out=bonds[b0:b1, 0])
        np.multiply(i, n, out=bonds[b0:b1, 1])
        np.subtract(key[b0:b1], bonds[b0:b1, 1], out=bonds[b0:b1, 1])
        _lengths(x, bonds, distances, b0, b1)

    starts = range(0, len(key), 16 * _BLOCK)
    if workers <= 1 or len(starts) <= 1:
        for b0 in starts:
            block(b0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(block, starts))
    return bonds, distances


def bond_counts(n_atoms: int, bonds) -> np.ndarray:
    """Number of bonds of each atom (the coordination number within the cutoff).

    ``cn[i] = #{b : bonds[b, 0] == i or bonds[b, 1] == i}``; ``sum(cn) == 2 B``.

    Parameters
    ----------
    n_atoms : int
        N, the number of atoms (atoms without bonds get 0).
    bonds : array_like, shape (B, 2), int
        As returned by :func:`find_bonds`.

    Returns
    -------
    cn : ndarray, shape (N,), int64
    """
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(b) and (b.min() < 0 or b.max() >= n_atoms):
        raise ValueError(f"bond indices out of range for {n_atoms} atoms")
    return np.bincount(b.ravel(), minlength=n_atoms).astype(np.int64)


def _chunks(bonds):
    """(b0, b1, rows - lo, lo, hi) per chunk of bonds; rows = (i0, j0, i1, j1, ...)."""
    for b0 in range(0, len(bonds), _SUM_CHUNK):
        chunk = np.ascontiguousarray(bonds[b0 : b0 + _SUM_CHUNK])
        rows = chunk.ravel()
        lo = int(rows.min())
        yield b0, b0 + len(chunk), rows - lo, lo, int(rows.max()) + 1


def bond_sums(n_atoms: int, bonds, *values) -> list[np.ndarray]:
    """Per-atom sums of per-bond values over each atom's bonds.

    ``out[k][a] = sum_{b : a in bonds[b]} values[k][b]`` (both ends of a bond receive its value).
    Computed chunk by chunk over the window of atoms each chunk touches (``np.bincount``): no
    temporary of the size of ``bonds`` -- at 10^6 atoms (6e6 bonds) freshly touched memory is a
    large part of the run time.

    Parameters
    ----------
    n_atoms : int
        N.
    bonds : (B, 2) int array, indices in [0, N).
    *values : (B,) float arrays.

    Returns
    -------
    list of (N,) float64 arrays, one per ``values``; 0 for an atom without bonds.
    """
    vals = [np.asarray(v, dtype=np.float64).reshape(-1) for v in values]
    out = [np.zeros(n_atoms) for _ in vals]
    for b0, b1, rows, lo, hi in _chunks(bonds):
        for v, total in zip(vals, out, strict=True):
            total[lo:hi] += np.bincount(rows, weights=np.repeat(v[b0:b1], 2), minlength=hi - lo)
    return out


def bond_counts_where(n_atoms: int, bonds, mask) -> np.ndarray:
    """Per-atom number of bonds with ``mask`` true: ``c[a] = #{b : mask[b], a in bonds[b]}``.

    Chunked like :func:`bond_sums`.  Returns (N,) int64.
    """
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    out = np.zeros(n_atoms, np.int64)
    for b0 in range(0, len(bonds), _SUM_CHUNK):
        ends = np.compress(mask[b0 : b0 + _SUM_CHUNK], bonds[b0 : b0 + _SUM_CHUNK], axis=0)
        if len(ends):
            ends = ends.ravel()
            lo = int(ends.min())
            counts = np.bincount(ends - lo)
            out[lo : lo + len(counts)] += counts
    return out
