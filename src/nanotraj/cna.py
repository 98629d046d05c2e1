r"""Conventional (fixed-cutoff) common neighbour analysis on the frame's bond network.

Honeycutt & Andersen, J. Phys. Chem. 91, 4950 (1987); Faken & Jonsson, Comput. Mater. Sci. 2,
279 (1994).  Integer codes :data:`OTHER` = 0, :data:`FCC` = 1, :data:`HCP` = 2, :data:`BCC` = 3,
:data:`ICO` = 4, the numbering of OVITO's ``CommonNeighborAnalysisModifier.Type``.  Agrees atom for
atom with OVITO 3.17.2 in ``FixedCutoff`` mode (``benchmarks/ovito_cna_counts.py``).  The
workflow's contract is one cutoff per frame, the same bonds for every descriptor; the adaptive
CNA (a cutoff per atom) is :mod:`nanotraj.acna`.

* :func:`cna_signatures` -- the ``(j, k, l)`` signature of every bond;
* :func:`cna` -- signatures and per-atom codes; :func:`cna_structure` -- the codes only.

Two implementations (:mod:`nanotraj.engine`): vectorised numpy (the reference) and, for large
frames, the compiled kernels of :mod:`nanotraj._kernels`, with the same results (tested).
Only numpy is imported at module level.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from nanotraj._parallel import run_each
from nanotraj.engine import kernels_for

__all__ = ["OTHER", "FCC", "HCP", "BCC", "ICO", "CNA_NAMES", "cna_signatures", "cna",
           "cna_structure"]


#: CNA structure codes (OVITO's ``CommonNeighborAnalysisModifier.Type`` numbering).
OTHER, FCC, HCP, BCC, ICO = 0, 1, 2, 3, 4
#: Name of each CNA code, indexed by the code.
CNA_NAMES = ("other", "fcc", "hcp", "bcc", "ico")


_CHUNK = 1 << 21  # candidate entries per chunk (bounds the temporary memory of cna)


_CHUNK_BITS = 21


_PACK_LIMIT = 1 << 62


SUM_CHUNK = 1 << 18  # bonds per chunk of the per-atom sums (surface vectors, CNA classes)


def _lookup(keys, q, n_atoms):
    """Positions of the queries ``q`` in the sorted unique ``keys`` and whether they are there.

    Binary search with random queries is dominated by cache misses (~10x slower than with
    sorted ones), so the queries are sorted first: packed with their index into one int64 and
    sorted with ``np.sort`` when that fits, else with ``argsort``.
    """
    n_keys = len(keys)
    if len(q) == 0 or n_keys == 0:
        return np.zeros(len(q), np.int64), np.zeros(len(q), bool)
    bits = max(1, (len(q) - 1).bit_length())
    if n_atoms * n_atoms < (_PACK_LIMIT >> bits):
        packed = np.sort((q << bits) | np.arange(len(q)))
        idx = packed & ((1 << bits) - 1)
        qs = packed >> bits
    else:
        idx = np.argsort(q)
        qs = q[idx]
    pos_s = np.searchsorted(keys, qs)
    pos_s[pos_s == n_keys] = 0
    pos = np.empty(len(q), np.int64)
    hit = np.empty(len(q), bool)
    pos[idx] = pos_s
    hit[idx] = keys[pos_s] == qs
    return pos, hit


def _sorted_unique(bonds, n_atoms):
    """True when ``bonds`` (B, 2) int64 already is what :func:`normalise_bonds` makes: i < j,
    rows strictly increasing in (i, j), indices in [0, N) (as ``find_bonds`` gives them).
    Checked in chunks: no temporary of the size of the bonds."""
    prev = None
    step = 1 << 18
    for b0 in range(0, len(bonds), step):
        c = bonds[b0 : b0 + step]
        i, j = c[:, 0], c[:, 1]
        if prev is not None:
            i = np.concatenate([[prev[0]], i])
            j = np.concatenate([[prev[1]], j])
        if (i[0] < 0 or j.max() >= n_atoms or not (i < j).all()
                or not ((i[1:] > i[:-1]) | ((i[1:] == i[:-1]) & (j[1:] > j[:-1]))).all()):
            return False
        prev = (i[-1], j[-1])
    return True


def normalise_bonds(n_atoms, bonds):
    """``(b, order, keys)``: the bonds as (B, 2) int64 with i < j sorted by (i, j), the
    permutation that sorts the caller's bonds so (None: already so, nothing is copied) and
    the sorted keys ``i * N + j`` (None on that fast path: :func:`_bond_keys` makes them)."""
    n_atoms = int(n_atoms)
    if n_atoms < 0:
        raise ValueError(f"n_atoms must be >= 0, got {n_atoms}")
    bonds = np.asarray(bonds)
    if bonds.size == 0:
        return np.zeros((0, 2), np.int64), None, np.zeros(0, np.int64)
    if bonds.ndim != 2 or bonds.shape[1] != 2:
        raise ValueError(f"bonds must have shape (B, 2), got {bonds.shape}")
    if not np.issubdtype(bonds.dtype, np.integer):
        raise ValueError(f"bonds must be integers, got dtype {bonds.dtype}")
    if bonds.dtype == np.int64 and _sorted_unique(bonds, n_atoms):
        return np.ascontiguousarray(bonds), None, None
    b = bonds.astype(np.int64)
    lo, hi = np.minimum(b[:, 0], b[:, 1]), np.maximum(b[:, 0], b[:, 1])
    if lo.min() < 0 or hi.max() >= n_atoms:
        raise ValueError(f"bond indices must be in [0, {n_atoms}), got [{lo.min()}, {hi.max()}]")
    if np.any(lo == hi):
        raise ValueError("bonds must not join an atom to itself")
    keys = lo * n_atoms + hi
    if np.all(keys[1:] > keys[:-1]):
        order = None
    else:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if np.any(keys[1:] == keys[:-1]):
            raise ValueError("bonds must list every pair once")
    if order is None:
        return np.stack([lo, hi], axis=1), None, keys
    return np.stack([lo[order], hi[order]], axis=1), order, keys


def _bond_keys(n_atoms, ea, eb):
    """Sorted keys ``ea * N + eb`` of normalised bonds."""
    keys = ea * np.int64(n_atoms)
    keys += eb
    return keys


def _triangles(n_atoms, ea, eb, keys):
    """All triangles of the graph, as triples of edge indices (ab, bk, ak) with a < b < k."""
    n_edges = len(ea)
    outdeg = np.bincount(ea, minlength=n_atoms)
    rowptr = np.zeros(n_atoms + 1, np.int64)
    np.cumsum(outdeg, out=rowptr[1:])
    cand = outdeg[eb]  # candidates k > b for every edge (a, b)
    cum = np.cumsum(cand)
    parts = []
    start_edge = 0
    while start_edge < n_edges:
        # edges [start_edge, stop_edge) give at most ~_CHUNK candidates
        base = cum[start_edge - 1] if start_edge else 0
        stop_edge = int(np.searchsorted(cum, base + _CHUNK, side="right"))
        stop_edge = max(stop_edge, start_edge + 1)
        e = np.arange(start_edge, stop_edge)
        c = cand[e]
        e_rep = np.repeat(e, c)
        first = np.cumsum(c) - c
        p = rowptr[eb[e_rep]] + (np.arange(len(e_rep)) - np.repeat(first, c))  # edge (b, k)
        q = ea[e_rep] * n_atoms + eb[p]  # key of the edge (a, k)
        pos, hit = _lookup(keys, q, n_atoms)
        idx_type = np.int32 if n_edges < 2**31 else np.int64
        parts.append(np.stack([e_rep[hit], p[hit], pos[hit]], axis=1).astype(idx_type))
        start_edge = stop_edge
    if not parts:
        return np.zeros((0, 3), np.int64)
    return np.concatenate(parts)


def _largest_cluster(adj):
    """Bonds in the largest connected cluster of each small graph.

    adj: (n, m, m) bool symmetric adjacency matrices (no self loops).  Returns (n,) int64: the
    number of edges in the connected component with most edges (0 for graphs without edges).
    Components by label propagation (every vertex takes the smallest label among itself and
    its neighbours until nothing changes; at most m - 1 sweeps).
    """
    n, m, _ = adj.shape
    if n == 0 or m < 2:
        return np.zeros(n, np.int64)
    label = np.broadcast_to(np.arange(m, dtype=np.int16), (n, m)).copy()
    for _ in range(m - 1):
        new = np.where(adj, label[:, None, :], m).min(axis=2)
        np.minimum(new, label, out=new)
        if np.array_equal(new, label):
            break
        label = new.astype(np.int16)
    iu, ju = np.triu_indices(m, 1)
    present = adj[:, iu, ju]
    comp = label[:, iu].astype(np.int64)  # component of every potential edge
    flat = (np.arange(n)[:, None] * m + comp)[present]
    counts = np.bincount(flat, minlength=n * m).reshape(n, m)
    return counts.max(axis=1).astype(np.int64)


_MASK_BITS = 64  # largest coordination number of the bit-mask path of cna_signatures


@cache
def _chain_table(m):
    """(n_bonds, longest_chain) of every graph on m vertices, indexed by its edge bits.

    Bit p of the code is the p-th pair of ``np.triu_indices(m, 1)``.
    """
    n_pairs = m * (m - 1) // 2
    codes = np.arange(1 << n_pairs, dtype=np.int64)
    present = ((codes[:, None] >> np.arange(n_pairs)) & 1).astype(bool)
    return _count_graphs(present, m)


def _count_graphs(present, m):
    """(n_bonds, longest_chain) of graphs on m vertices given as rows of edge flags over the
    pairs of ``np.triu_indices(m, 1)``: the number of edges and of edges in the largest
    connected cluster."""
    iu, ju = np.triu_indices(m, 1)
    adj = np.zeros((len(present), m, m), bool)
    adj[:, iu, ju] = present
    adj[:, ju, iu] = present
    return present.sum(axis=1).astype(np.int64), _largest_cluster(adj)


def _bonds_and_chains(present, m):
    """:func:`_count_graphs`, read from the table of all graphs (:func:`_chain_table`) for
    m <= 6 common neighbours, computed for larger m."""
    if m > 6:
        return _count_graphs(present, m)
    code = present.astype(np.int64) @ (np.int64(1) << np.arange(present.shape[1]))
    n_bonds, chain = _chain_table(m)
    return n_bonds[code], chain[code]


def _groups_of_common(m_per_edge):
    """``(m, edges, iu, ju)`` for every number m >= 2 of common neighbours that occurs: the
    edges with m of them and the pairs ``np.triu_indices(m, 1)`` among those neighbours."""
    for m in np.unique(m_per_edge):
        m = int(m)
        if m >= 2:
            yield (m, np.flatnonzero(m_per_edge == m), *np.triu_indices(m, 1))


def _in_positions(n_atoms, ea, eb, workers=1):
    """Position of every bond (a, b) in b's list of in-neighbours (the a's with a < b, in bond
    order): its rank among the bonds sorted stably by b, less the first rank of b's group.

    With ``workers`` > 1 the bonds are cut into that many contiguous parts, each ranked in its
    own thread (a stable sort of the part); a part's ranks are shifted by the number of bonds
    to the same b in the earlier parts.  The result is the same, entry for entry."""
    n = len(eb)
    parts = workers if workers > 1 and n >= SUM_CHUNK * 8 else 1
    bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    counts = [None] * parts
    pos = np.empty(n, np.int64)

    def count(c):
        counts[c] = np.bincount(eb[bounds[c] : bounds[c + 1]], minlength=n_atoms)

    def rank(c):
        b0, b1 = bounds[c], bounds[c + 1]
        e = eb[b0:b1]
        shift = np.zeros(n_atoms, np.int64)  # first rank of each b's group in this part ...
        np.cumsum(counts[c][:-1], out=shift[1:])
        shift = -shift
        for earlier in counts[:c]:  # ... less the bonds to b in the earlier parts
            shift += earlier
        order_in = np.argsort(e, kind="stable")
        part = pos[b0:b1]
        part[order_in] = np.arange(b1 - b0, dtype=np.int64)
        del order_in
        part += shift[e]

    run_each(count, range(parts), workers)
    run_each(rank, range(parts), workers)
    return pos


def _lowest_bits(c, m):
    """(n, m) positions of the m set bits of each uint64 of ``c`` (n,), ascending: the lowest
    set bit ``c & -c`` has ``popcount(low - 1)`` trailing zeros; it is then cleared."""
    c = c.copy()
    q = np.empty((len(c), m), np.int64)
    one = np.uint64(1)
    for k in range(m):
        low = c & (~c + one)
        q[:, k] = np.bitwise_count(low - one)
        c ^= low
    return q


def signatures_masks(n_atoms, ea, eb, workers=1):
    """CNA signatures of the sorted unique bonds (ea < eb) from per-atom neighbour bit masks.

    Every atom's neighbours are put in a padded row (out-neighbours, then in-neighbours); for
    every bond (a, b) the common neighbours are found by comparing the two rows (a bit mask
    over the positions of a's row), and the bonds among them are read from the masks of a's
    other bonds.  Returns None when an atom has more than ``_MASK_BITS`` bonds, else the (B, 3)
    int16 signatures and the (B,) int8 classes (:func:`classes`).  Both passes run over chunks
    of bonds in ``workers`` threads: the mask pass writes disjoint entries (one per bond end),
    the signature pass disjoint rows.  The neighbour table is stored transposed, so that the
    comparisons of the mask pass run along contiguous runs of bonds (numpy's inner loops are
    then long and vectorised, not 16 entries long).
    """
    n_edges = len(ea)
    outdeg = np.bincount(ea, minlength=n_atoms)
    deg = outdeg + np.bincount(eb, minlength=n_atoms)
    width = int(deg.max())
    if width > _MASK_BITS:
        return None
    idx_type = np.int32 if n_atoms < 2**31 - 2 else np.int64
    first_out = np.zeros(n_atoms, np.int64)
    np.cumsum(outdeg[:-1], out=first_out[1:])
    pos_a = np.arange(n_edges, dtype=np.int64)  # position of b in a's row
    pos_a -= first_out[ea]
    del first_out
    pos_b = _in_positions(n_atoms, ea, eb, workers)  # position of a in b's row
    pos_b += outdeg[eb]
    wpad = 8 * ((width + 7) // 8)  # rows padded to whole bytes
    # neighbour table, transposed: column x holds atom x's row (positions along axis 0), so
    # that the comparisons below run along long contiguous runs of bonds; pads -1
    table = np.full((wpad, n_atoms), -1, idx_type)

    def fill(k):  # the two scatters write disjoint entries: one thread each
        if k == 0:
            table[pos_a, ea] = eb
        else:
            table[pos_b, eb] = ea

    run_each(fill, range(2), workers)
    masks = np.zeros((n_atoms, width), np.uint64)  # masks[a, p]: common nbrs of a, row[a][p]
    step = max(1, _CHUNK // (width * wpad))

    def chunk_masks(s):
        a = ea[s : s + step]
        b = eb[s : s + step]
        n = len(a)
        row_a = np.take(table[:width], a, axis=1)  # (width, n)
        row_b = np.take(table, b, axis=1)  # (wpad, n)
        row_b[row_b < 0] = -2  # pads never match
        eq = row_a[:, None, :] == row_b[None, :, :]  # (width, wpad, n): x in both rows
        hit_a = np.logical_or.reduce(eq, axis=1)  # position p of a's row is common
        hit_b = np.logical_or.reduce(eq, axis=0)  # position q of b's row is common
        del eq
        for hit, atom, pos in ((hit_a, a, pos_a), (hit_b, b, pos_b)):
            packed = np.zeros((n, 8), np.uint8)
            packed[:, : (len(hit) + 7) // 8] = np.packbits(hit, axis=0, bitorder="little").T
            masks[atom, pos[s : s + step]] = packed.view("<u8").ravel()

    run_each(chunk_masks, range(0, n_edges, step), workers)
    table = pos_b = None  # free them before the signature pass
    sig = np.zeros((n_edges, 3), np.int16)  # m <= 64: at most 2016 bonds
    cls = np.empty(n_edges, np.int8)
    step = max(1, _CHUNK // 64)

    def chunk_signatures(s):
        a = ea[s : s + step]
        common = masks[a, pos_a[s : s + step]]  # bit mask over a's row of the common nbrs
        m_per_edge = np.bitwise_count(common)
        sig[s : s + len(a), 0] = m_per_edge
        for m, sel, iu, ju in _groups_of_common(m_per_edge):
            q = _lowest_bits(common[sel], m)  # positions in a's row, ascending
            mq = masks[a[sel][:, None], q]  # (n, m) masks of the common neighbours
            present = ((mq[:, iu] >> q[:, ju].astype(np.uint64)) & np.uint64(1)).astype(bool)
            sig[s + sel, 1], sig[s + sel, 2] = _bonds_and_chains(present, m)
        cls[s : s + len(a)] = classes(sig[s : s + len(a)])

    run_each(chunk_signatures, range(0, n_edges, step), workers)
    return sig, cls


def cna_signatures(n_atoms, bonds, workers=1, *, engine="auto"):
    r"""Common-neighbour signatures ``(j, k, l)`` of every bond.

    For a bond ``(i, j)`` of the graph defined by ``bonds``: ``j`` (here ``n_common``) is the
    number of atoms bonded to both ``i`` and ``j``; ``k`` (``n_bonds``) is the number of bonds
    among those common neighbours; ``l`` (``longest_chain``) is the number of bonds in the
    largest connected cluster formed by those ``k`` bonds (Honeycutt & Andersen, J. Phys. Chem.
    91, 4950 (1987); Faken & Jonsson, Comput. Mater. Sci. 2, 279 (1994)).  "Largest connected
    cluster" is what OVITO's ``calcMaxChainLength`` counts, and is the usual reading of
    "longest chain": for every signature used to classify (421, 422, 444, 555, 666) it equals
    the number of bonds of the longest path.

    Parameters
    ----------
    n_atoms : int
        Number of atoms ``N``.
    bonds : (B, 2) integer array
        Each bonded pair once, in any order (``i != j``); usually
        :func:`nanotraj.bonds.find_bonds` at the frame's cutoff.
    workers : int
        Threads of the common-neighbour pass (the result does not depend on it).  Default 1.

    Returns
    -------
    (B, 3) int64 array
        ``n_common, n_bonds, longest_chain`` for each row of ``bonds``, in the input order.

    Notes
    -----
    Vectorised with numpy.  When no atom has more than 64 bonds: every atom's neighbours go in
    a padded row, the common neighbours of each bond are found by comparing the rows of its
    two atoms (kept as bit masks over the row positions), the bonds among them are read from
    those masks and ``longest_chain`` from a table of all small graphs (up to 6 common
    neighbours; larger sets by label propagation).  Otherwise triangles are enumerated once
    over the ``a < b < k`` orientation of the graph with binary searches of the sorted bond
    keys.  Temporary memory is bounded by processing in chunks.  Frames of at least
    ``nanotraj.engine.LARGE_BONDS`` bonds (and at most 64 bonds per atom) use the compiled
    kernel :func:`nanotraj._kernels.cna_range` instead (a merge of the two sorted neighbour
    lists, binary searches for the bonds among the common neighbours, a flood fill on bit
    masks for the chain): the same signatures.
    """
    b, sig, _, order, _ = _signatures_sorted(n_atoms, bonds, workers, engine)
    if order is None:
        return sig.astype(np.int64)
    out = np.empty((len(sig), 3), np.int64)
    out[order] = sig
    return out


def _signatures_sorted(n_atoms, bonds, workers=1, engine="auto"):
    """``(b, sig, cls, order, codes)``: the normalised bonds (:func:`normalise_bonds`), the
    signatures of :func:`cna_signatures` in their order as a small integer type (int16 on the
    bit-mask path and the compiled one, int32 otherwise), their classes (:func:`classes`), the
    permutation from the caller's bonds (None: the same) and the per-atom codes of :func:`cna`
    where the compiled kernels (frames of at least ``nanotraj.engine.LARGE_BONDS`` bonds,
    :func:`nanotraj._kernels.cna`) gave them, else None."""
    b, order, keys = normalise_bonds(n_atoms, bonds)
    n_atoms = int(n_atoms)
    n_edges = len(b)
    if n_edges == 0:
        return b, np.zeros((0, 3), np.int16), np.zeros(0, np.int8), order, None
    ea, eb = b[:, 0], b[:, 1]
    kernels = kernels_for(engine, n_edges)
    if kernels is not None and (done := kernels.cna(n_atoms, b, workers)) is not None:
        return b, *done[:2], order, done[2]
    masked = signatures_masks(n_atoms, ea, eb, workers)
    if masked is not None:
        return b, *masked, order, None
    if keys is None:
        keys = _bond_keys(n_atoms, ea, eb)
    tri = _triangles(n_atoms, ea, eb, keys)
    # third vertex of every (edge, triangle) incidence: edge ab -> k, bk -> a, ak -> b;
    # grouped by edge (sorted by edge, then vertex), written in place to bound memory
    n_tri = len(tri)
    third = ((0, eb, 1), (1, ea, 0), (2, eb, 0))  # (edge column, vertex array, its column)
    if n_edges * n_atoms < _PACK_LIMIT:  # one int64 sort of (edge, vertex) keys
        packed = np.empty(3 * n_tri, np.int64)
        for k, (col, verts, vcol) in enumerate(third):
            part = packed[k * n_tri : (k + 1) * n_tri]
            part[:] = tri[:, col]
            part *= n_atoms
            part += verts[tri[:, vcol]]
        del tri
        packed.sort()
        inc_vert = packed % n_atoms
        packed //= n_atoms
        inc_edge = packed
    else:
        inc_edge = tri.T.ravel().astype(np.int64)
        inc_vert = np.concatenate([v[tri[:, c]] for _, v, c in third])
        del tri
        srt = np.lexsort((inc_vert, inc_edge))
        inc_edge, inc_vert = inc_edge[srt], inc_vert[srt]
        packed = None
    m_per_edge = np.bincount(inc_edge, minlength=n_edges)
    del inc_edge, packed
    if n_atoms < 2**31:
        inc_vert = inc_vert.astype(np.int32)
    first = np.zeros(n_edges, np.int64)
    np.cumsum(m_per_edge[:-1], out=first[1:])
    sig = np.zeros((n_edges, 3), np.int32)
    sig[:, 0] = m_per_edge
    for m, edges_m, iu, ju in _groups_of_common(m_per_edge):
        step = max(1, _CHUNK // len(iu))
        for s in range(0, len(edges_m), step):
            em = edges_m[s : s + step]
            verts = inc_vert[first[em][:, None] + np.arange(m)].astype(np.int64)  # (n, m)
            va, vb = verts[:, iu], verts[:, ju]
            q = np.minimum(va, vb) * n_atoms + np.maximum(va, vb)
            present = _lookup(keys, q.ravel(), n_atoms)[1].reshape(q.shape)  # (n, P)
            sig[em, 1], sig[em, 2] = _bonds_and_chains(present, m)
    cls = np.concatenate([classes(sig[s : s + SUM_CHUNK])
                          for s in range(0, n_edges, SUM_CHUNK)])
    return b, sig, cls, order, None


def cna(n_atoms, bonds, workers=1, *, engine="auto"):
    r"""Conventional common neighbour analysis (fixed cutoff) of every atom.

    Uses the bond network as given (one cutoff for the whole frame, the bonds every other
    descriptor uses).  With the signatures ``jkl`` of :func:`cna_signatures`, an atom is

    ========  ====  ===========================================================
    code      name  condition on the atom's bonds
    ========  ====  ===========================================================
    1         fcc   exactly 12 bonds, all 421
    2         hcp   exactly 12 bonds, six 421 and six 422
    3         bcc   exactly 14 bonds (1st + 2nd shell), eight 666 and six 444
    4         ico   exactly 12 bonds, all 555
    0         other anything else (surface atoms, defects, atoms without bonds)
    ========  ====  ===========================================================

    (Honeycutt & Andersen, J. Phys. Chem. 91, 4950 (1987); Faken & Jonsson, Comput. Mater.
    Sci. 2, 279 (1994)).  The codes are OVITO's ``CommonNeighborAnalysisModifier.Type``
    numbering and the classification is that of OVITO's ``FixedCutoff`` mode, with which it
    agrees atom for atom (``benchmarks/ovito_cna_counts.py``).  bcc needs a cutoff between the
    2nd and 3rd neighbour shells (e.g. ``(1 + sqrt(2)) / 2 * a``), fcc/hcp/ico between the 1st
    and 2nd.  OVITO's default *adaptive* CNA (Stukowski, Modelling Simul. Mater. Sci. Eng. 20,
    045021 (2012)) instead picks a per-atom cutoff from the 12 (14) nearest neighbours; it
    recognises more strained atoms and is not what this function computes.

    Parameters
    ----------
    n_atoms : int
        Number of atoms ``N``.
    bonds : (B, 2) integer array
        Each bonded pair once (any order), e.g. from :func:`nanotraj.bonds.find_bonds`.
    workers : int
        Threads of :func:`cna_signatures` (the result does not depend on it).  Default 1.

    Returns
    -------
    signatures : (B, 3) int64
        ``n_common, n_bonds, longest_chain`` per bond, in the order of ``bonds``.
    structure : (N,) int8
        Per-atom code (0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico).

    Notes
    -----
    Vectorised numpy, no Python loop over atoms or bonds, for frames under
    ``nanotraj.engine.LARGE_BONDS`` bonds (1.0e5 atoms in ~0.3 s with 2 threads on a 2-core
    machine); larger frames go bond by bond through a compiled kernel
    (:func:`nanotraj._kernels.cna`: 1.0e6 atoms in ~0.4 s with 2 threads,
    ``benchmarks/bench_threads.py``) with the same results, tested.  The atom order does not matter.
    """
    b, sig, cls, order, structure = _signatures_sorted(n_atoms, bonds, workers, engine)
    if structure is None:
        structure = structure_from_classes(int(n_atoms), b, cls, workers)
    if order is None:
        sig = sig.astype(np.int64)
    else:
        out = np.empty((len(sig), 3), np.int64)
        out[order] = sig
        sig = out
    return sig, structure


#: CNA signatures (n_common, n_bonds, longest_chain) that classify atoms, as class numbers
_SIGNATURE_CLASS = {(4, 2, 1): 1, (4, 2, 2): 2, (5, 5, 5): 3, (4, 4, 4): 4, (6, 6, 6): 5}


def classes(sig):
    """Class of each signature row (n_common, n_bonds, longest_chain): its number in
    :data:`_SIGNATURE_CLASS` (1 421, 2 422, 3 555, 4 444, 5 666), 0 for any other; (n,) int8."""
    part = sig.astype(np.int32)
    small = (part <= 9).all(axis=1)
    code = part[:, 0] * 100 + part[:, 1] * 10 + part[:, 2]
    return np.where(small, _CLASS_OF_CODE[np.where(small, code, 0)], 0).astype(np.int8)


def _class_of_code():
    table = np.zeros(1000, np.int8)  # class of code n_common * 100 + n_bonds * 10 + chain
    for (m, k, c), cls in _SIGNATURE_CLASS.items():
        table[m * 100 + k * 10 + c] = cls
    return table


_CLASS_OF_CODE = _class_of_code()


def structure_from_classes(n_atoms, bonds, cls, workers=1):
    """Per-atom CNA codes (see :func:`cna`) from the classes (:func:`classes`) of ``bonds``:
    one bincount over (atom, class) gives every atom's number of bonds of each class, in
    chunks of bonds (no temporary of their size); ``workers`` threads count disjoint halves
    of the chunks into arrays of their own, added at the end (integers: the same result)."""
    structure = np.zeros(n_atoms, np.int8)
    starts = list(range(0, len(cls), SUM_CHUNK))
    parts = max(1, min(workers, len(starts)))
    totals = [None] * parts

    def count(t):
        counts = np.zeros((n_atoms, 6), np.int64)  # bonds per (atom, class)
        for b0 in starts[t::parts]:
            ends = bonds[b0 : b0 + SUM_CHUNK]
            lo = int(ends.min())
            idx = (ends - lo) * 6 + cls[b0 : b0 + SUM_CHUNK, None]
            got = np.bincount(idx.ravel(), minlength=6 * (int(ends.max()) + 1 - lo))
            counts[lo : lo + len(got) // 6] += got.reshape(-1, 6)
        totals[t] = counts

    run_each(count, range(parts), workers)
    counts = totals[0]
    for other in totals[1:]:
        counts += other
    cn = counts.sum(axis=1)
    n421, n422, n555, n444, n666 = (counts[:, k] for k in range(1, 6))
    structure[(cn == 12) & (n421 == 12)] = FCC
    structure[(cn == 12) & (n421 == 6) & (n422 == 6)] = HCP
    structure[(cn == 12) & (n555 == 12)] = ICO
    structure[(cn == 14) & (n666 == 8) & (n444 == 6)] = BCC
    return structure


def cna_structure(n_atoms, bonds, workers=1, *, engine="auto"):
    """Per-atom CNA codes of :func:`cna`, without the (B, 3) signatures in the caller's
    order (what the workflow's structure stage needs)."""
    b, _, cls, _, structure = _signatures_sorted(n_atoms, bonds, workers, engine)
    if structure is None:
        structure = structure_from_classes(int(n_atoms), b, cls, workers)
    return structure
