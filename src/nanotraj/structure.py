r"""Local structure per atom: common neighbour analysis, BOO classes, surface, quality flags.

Four independent per-atom descriptors and one per-frame quality flag, all on the frame's own bond
network (the pairs closer than the frame's cutoff, :func:`nanotraj.bonds.find_bonds`):

* :func:`cna` -- conventional (fixed-cutoff) common neighbour analysis, Honeycutt & Andersen,
  J. Phys. Chem. 91, 4950 (1987); Faken & Jonsson, Comput. Mater. Sci. 2, 279 (1994).  Integer
  codes :data:`OTHER` = 0, :data:`FCC` = 1, :data:`HCP` = 2, :data:`BCC` = 3, :data:`ICO` = 4,
  the numbering of OVITO's ``CommonNeighborAnalysisModifier.Type``.  Agrees atom for atom with
  OVITO 3.17.2 in ``FixedCutoff`` mode (``benchmarks/ovito_cna_counts.py``).  OVITO's default
  *adaptive* CNA (Stukowski, Modelling Simul. Mater. Sci. Eng. 20, 045021 (2012)) chooses a
  cutoff per atom from its 12 (14) nearest neighbours instead; it is more tolerant of strain
  but is not what is computed here: the workflow's contract is one cutoff per frame, the same
  bonds for every descriptor.
* :func:`boo_class` -- nearest reference structure in the (Q4, Q6, W6) space of coarse-grained
  bond-orientational order, in the spirit of Lechner & Dellago, J. Chem. Phys. 129, 114707
  (2008), or ``"disordered"`` (too far from all of them, or nearest to fcc/hcp/bcc but not
  ``crystalline``).  Works for every atom, surface included (CNA calls all surface atoms
  "other").
* :func:`surface` -- surface atoms: atoms with an open side, i.e. a large vector sum of their
  bond vectors (see its docstring for the criterion and why not the convex hull).
* :func:`n_close_contacts` -- pairs closer than ``0.8 x`` the element's nearest-neighbour
  distance (an unphysical distance, a reconstruction artefact).
* :func:`structure_summary` -- the per-frame summary columns from the per-atom arrays.
* :func:`classify` -- the one call of the workflow stage: all per-atom arrays of the frame.

All lengths are in Angstrom.  Only :mod:`numpy` is imported at module level; ``scipy.spatial``
and the modules of perfect lattices are imported where needed.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

import numpy as np

__all__ = [
    "OTHER",
    "FCC",
    "HCP",
    "BCC",
    "ICO",
    "CNA_NAMES",
    "BOO_CLASSES",
    "BOO_REFERENCE_STRUCTURES",
    "CRYSTALLINE_STRUCTURES",
    "W6_SCALE",
    "MAX_BOO_DISTANCE",
    "SURFACE_THRESHOLD",
    "SURFACE_MIN_CN",
    "cna",
    "cna_signatures",
    "boo_reference_points",
    "boo_class",
    "surface",
    "n_close_contacts",
    "SUMMARY_COLUMNS",
    "structure_summary",
    "classify",
]

#: CNA structure codes (OVITO's ``CommonNeighborAnalysisModifier.Type`` numbering).
OTHER, FCC, HCP, BCC, ICO = 0, 1, 2, 3, 4
#: Name of each CNA code, indexed by the code.
CNA_NAMES = ("other", "fcc", "hcp", "bcc", "ico")

#: Structures that :func:`boo_class` can assign, and the class of everything else.
BOO_REFERENCE_STRUCTURES = ("fcc", "hcp", "bcc", "ico")
BOO_CLASSES = (*BOO_REFERENCE_STRUCTURES, "disordered")
#: Structures that :func:`boo_class` assigns only to ``crystalline`` atoms (not ico: see there).
CRYSTALLINE_STRUCTURES = ("fcc", "hcp", "bcc")

#: Factor applied to W6 (pyboo's *unnormalised* w_6 of the coarse-grained Q_6m, of order 1e-3)
#: before distances are measured in (Q4, Q6, W6) space; see :func:`boo_class`.
W6_SCALE = 40.0
#: Default largest distance to the nearest reference point in (Q4, Q6, W6_SCALE * W6) space.
MAX_BOO_DISTANCE = 0.10
#: Default threshold of :func:`surface`: |sum of bond vectors| > SURFACE_THRESHOLD * nn_distance.
SURFACE_THRESHOLD = 1.5
#: Atoms with fewer bonds than this are always surface (4 non-coplanar neighbours are the fewest
#: that can enclose an atom).
SURFACE_MIN_CN = 4

_CHUNK = 1 << 21  # candidate entries per chunk (bounds the temporary memory of cna)
_CHUNK_BITS = 21
_PACK_LIMIT = 1 << 62
_SUM_CHUNK = 1 << 18  # bonds per chunk of the per-atom sums (surface vectors, CNA classes)


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


# ----------------------------------------------------------------------------------------------
# common neighbour analysis
# ----------------------------------------------------------------------------------------------
def _sorted_unique(bonds, n_atoms):
    """True when ``bonds`` (B, 2) int64 already is what :func:`_normalise_bonds` makes: i < j,
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


def _normalise_bonds(n_atoms, bonds):
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
    parts = workers if workers > 1 and n >= _SUM_CHUNK * 8 else 1
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

    _run_chunks(count, range(parts), workers)
    _run_chunks(rank, range(parts), workers)
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


def _signatures_masks(n_atoms, ea, eb, workers=1):
    """CNA signatures of the sorted unique bonds (ea < eb) from per-atom neighbour bit masks.

    Every atom's neighbours are put in a padded row (out-neighbours, then in-neighbours); for
    every bond (a, b) the common neighbours are found by comparing the two rows (a bit mask
    over the positions of a's row), and the bonds among them are read from the masks of a's
    other bonds.  Returns None when an atom has more than ``_MASK_BITS`` bonds, else the (B, 3)
    int16 signatures and the (B,) int8 classes (:func:`_classes`).  Both passes run over chunks
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

    _run_chunks(fill, range(2), workers)
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

    _run_chunks(chunk_masks, range(0, n_edges, step), workers)
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
        cls[s : s + len(a)] = _classes(sig[s : s + len(a)])

    _run_chunks(chunk_signatures, range(0, n_edges, step), workers)
    return sig, cls


def _kernels_for(n_bonds):
    """:mod:`nanotraj._kernels` for a frame of ``n_bonds`` bonds when it is large enough
    (:func:`nanotraj.order._kernels_for`), else None."""
    from nanotraj import order

    return order._kernels_for(n_bonds)


def _run_chunks(fn, starts, workers):
    """``fn(s)`` for every start, in ``workers`` threads (numpy releases the GIL)."""
    starts = list(starts)
    if workers <= 1 or len(starts) <= 1:
        for s in starts:
            fn(s)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(fn, starts))


def cna_signatures(n_atoms, bonds, workers=1):
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
    ``nanotraj.order.LARGE_BONDS`` bonds (and at most 64 bonds per atom) use the compiled
    kernel :func:`nanotraj._kernels.cna_range` instead (a merge of the two sorted neighbour
    lists, binary searches for the bonds among the common neighbours, a flood fill on bit
    masks for the chain): the same signatures.
    """
    b, sig, _, order, _ = _signatures_sorted(n_atoms, bonds, workers)
    if order is None:
        return sig.astype(np.int64)
    out = np.empty((len(sig), 3), np.int64)
    out[order] = sig
    return out


def _signatures_sorted(n_atoms, bonds, workers=1):
    """``(b, sig, cls, order, codes)``: the normalised bonds (:func:`_normalise_bonds`), the
    signatures of :func:`cna_signatures` in their order as a small integer type (int16 on the
    bit-mask path and the compiled one, int32 otherwise), their classes (:func:`_classes`), the
    permutation from the caller's bonds (None: the same) and the per-atom codes of :func:`cna`
    where the compiled kernels (frames of at least ``order.LARGE_BONDS`` bonds,
    :func:`nanotraj._kernels.cna`) gave them, else None."""
    b, order, keys = _normalise_bonds(n_atoms, bonds)
    n_atoms = int(n_atoms)
    n_edges = len(b)
    if n_edges == 0:
        return b, np.zeros((0, 3), np.int16), np.zeros(0, np.int8), order, None
    ea, eb = b[:, 0], b[:, 1]
    kernels = _kernels_for(n_edges)
    if kernels is not None and (done := kernels.cna(n_atoms, b, workers)) is not None:
        return b, *done[:2], order, done[2]
    masked = _signatures_masks(n_atoms, ea, eb, workers)
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
    cls = np.concatenate([_classes(sig[s : s + _SUM_CHUNK])
                          for s in range(0, n_edges, _SUM_CHUNK)])
    return b, sig, cls, order, None


def cna(n_atoms, bonds, workers=1):
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
    ``nanotraj.order.LARGE_BONDS`` bonds (1.0e5 atoms in ~0.3 s with 2 threads on a 2-core
    machine); larger frames go bond by bond through a compiled kernel
    (:func:`nanotraj._kernels.cna`: 1.0e6 atoms in ~0.4 s with 2 threads,
    ``benchmarks/bench_threads.py``) with the same results, tested.  The atom order does not matter.
    """
    b, sig, cls, order, structure = _signatures_sorted(n_atoms, bonds, workers)
    if structure is None:
        structure = _structure_from_classes(int(n_atoms), b, cls, workers)
    if order is None:
        sig = sig.astype(np.int64)
    else:
        out = np.empty((len(sig), 3), np.int64)
        out[order] = sig
        sig = out
    return sig, structure


#: CNA signatures (n_common, n_bonds, longest_chain) that classify atoms, as class numbers
_SIGNATURE_CLASS = {(4, 2, 1): 1, (4, 2, 2): 2, (5, 5, 5): 3, (4, 4, 4): 4, (6, 6, 6): 5}


def _classes(sig):
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


def _structure_from_classes(n_atoms, bonds, cls, workers=1):
    """Per-atom CNA codes (see :func:`cna`) from the classes (:func:`_classes`) of ``bonds``:
    one bincount over (atom, class) gives every atom's number of bonds of each class, in
    chunks of bonds (no temporary of their size); ``workers`` threads count disjoint halves
    of the chunks into arrays of their own, added at the end (integers: the same result)."""
    structure = np.zeros(n_atoms, np.int8)
    starts = list(range(0, len(cls), _SUM_CHUNK))
    parts = max(1, min(workers, len(starts)))
    totals = [None] * parts

    def count(t):
        counts = np.zeros((n_atoms, 6), np.int64)  # bonds per (atom, class)
        for b0 in starts[t::parts]:
            ends = bonds[b0 : b0 + _SUM_CHUNK]
            lo = int(ends.min())
            idx = (ends - lo) * 6 + cls[b0 : b0 + _SUM_CHUNK, None]
            got = np.bincount(idx.ravel(), minlength=6 * (int(ends.max()) + 1 - lo))
            counts[lo : lo + len(got) // 6] += got.reshape(-1, 6)
        totals[t] = counts

    _run_chunks(count, range(parts), workers)
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


def _cna_structure(n_atoms, bonds, workers=1):
    """Per-atom CNA codes of :func:`cna`, without the (B, 3) signatures in the caller's
    order (what the workflow's structure stage needs)."""
    b, _, cls, _, structure = _signatures_sorted(n_atoms, bonds, workers)
    if structure is None:
        structure = _structure_from_classes(int(n_atoms), b, cls, workers)
    return structure


# ----------------------------------------------------------------------------------------------
# BOO-based classes
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _default_reference_points():
    from nanotraj.lattices import reference_points

    return reference_points(ls=(4, 6))


def boo_reference_points(reference_points=None):
    """The reference structures' ``(Q4, Q6, W6)`` as ``(names, (K, 3) array)``.

    ``reference_points`` is a mapping structure -> mapping with float ``"Q4"``, ``"Q6"``,
    ``"W6"`` (the format of :func:`nanotraj.lattices.reference_points`); ``None`` takes
    :func:`nanotraj.lattices.reference_points` (computed once per process).  Only the
    structures of :data:`BOO_REFERENCE_STRUCTURES` that are present are used, in that order.
    """
    ref = _default_reference_points() if reference_points is None else reference_points
    names = tuple(n for n in BOO_REFERENCE_STRUCTURES if n in ref)
    if not names:
        raise ValueError(
            f"reference_points has none of the structures {BOO_REFERENCE_STRUCTURES}: {list(ref)}"
        )
    try:
        points = np.array([[ref[n]["Q4"], ref[n]["Q6"], ref[n]["W6"]] for n in names], float)
    except KeyError as exc:
        raise ValueError(f"reference points need Q4, Q6 and W6 values, missing {exc}") from None
    return names, points


def boo_class(
    Q4,
    Q6,
    W6,
    crystalline,
    reference_points=None,
    max_distance=MAX_BOO_DISTANCE,
    *,
    w6_scale=W6_SCALE,
    require_crystalline=CRYSTALLINE_STRUCTURES,
    return_distance=False,
):
    r"""Per-atom structure from coarse-grained bond-orientational order.

    Each atom gets the name of the nearest reference structure (fcc, hcp, bcc, ico) in the
    space ``(Q4, Q6, w6_scale * W6)``, with the Euclidean distance

    .. math:: d^2 = (Q_4 - Q_4^{ref})^2 + (Q_6 - Q_6^{ref})^2
                    + s^2 (W_6 - W_6^{ref})^2, \qquad s = 40,

    or ``"disordered"`` when ``d > max_distance``, or when the nearest structure is fcc, hcp
    or bcc (``require_crystalline``) and the atom is not ``crystalline``.

    Why ico is exempt from the crystalline test: ``crystalline`` (ten Wolde et al.: at least
    half the bonds with a normalised ``s_6 > 0.8``) measures whether neighbouring atoms share
    the same orientation of the q_6m pattern, i.e. translational (crystal) order.  Five-fold
    environments never pass it: the centre of a perfect Mackay icosahedron has ``C_6 = 0.70``
    and no bond with ``s_6 > 0.8``, so requiring it would make ico unreachable.  W6 is what
    separates icosahedral order from liquid-like disorder (Lechner & Dellago 2008): atoms of a
    strongly disordered fcc cluster (0.35 A noise) lie > 0.1 from the ico point (W6 ~ 0 vs
    -0.0048); on the shared real frames no atom is within 0.1 of it.

    What "ico" does **not** mean: the ico point is the coarse-grained value of an icosahedron's
    centre, whose neighbours sit on five-fold axes; every atom on a five-fold axis (CNA
    signatures 10 x 422 + 2 x 555: the twin junctions of icosahedra and decahedra) lies within
    0.1 of it too.  A perfect 309-atom Mackay icosahedron (``lattices.icosahedron(4)``) has 49
    BOO-ico atoms (the centre and the 48 atoms of its six axes) against 1 CNA-ico (12 x 555)
    atom; a perfect 609-atom Ino decahedron (``lattices.decahedron(8)``), which has no
    icosahedral atom, 9 (its axis).  Read ``ico`` as "five-fold (icosahedral or decahedral)
    local order" and take ``structure_cna`` = 4 for icosahedral centres.
    ``Q4, Q6, W6`` are the project's (pyboo's) values: ``Q_l`` from the neighbour-only
    coarse-grained ``Q_lm``, ``W_6`` **not** normalised (of order 1e-3).  The reference points
    are those of :func:`nanotraj.lattices.reference_points` -- the central atom of perfect
    clusters analysed with the same definitions (fcc/hcp/ico at a first-shell cutoff, bcc
    with its 14 first- and second-shell neighbours); for ico the neighbour-only coarse-graining
    gives ``Q6 = 0.30`` (the centre's neighbours sit on 5-fold axes), not the bare ``q6 = 0.66``.

    Metric: Q4 and Q6 are dimensionless in [0, 1] and the four reference points span 0.19 in
    Q4 and 0.27 in Q6 but only 0.0067 in W6; ``s = 40`` stretches W6 to span 0.27, so the three
    axes weigh alike (W6 is what separates ico and bcc from fcc/hcp).  The closest pair of
    reference points is fcc-hcp at ``d = 0.137``.  The default ``max_distance = 0.10`` accepts
    the surface atoms of perfect fcc/hcp/bcc clusters (``d <= 0.056, 0.088, 0.039`` from their
    own reference point; their ``Q`` is averaged over incomplete shells, and some surface atoms
    of hcp clusters are nearer to the fcc point: 38 of the 383 atoms of a perfect hcp sphere,
    ``lattices.hcp_sphere(11.0)``, all with 6-9 bonds, are called fcc) and real, noisy
    interiors (``d`` ~0.02-0.06 on the shared Pt frames), and rejects atoms that are no
    closer than ~3/4 of the fcc-hcp separation to any structure.  In the spirit of Lechner &
    Dellago, J. Chem. Phys. 129, 114707 (2008) (classes from averaged local bond order
    parameters), with pyboo's coarse-graining (Leocmach, doi:10.5281/zenodo.1066568).

    Parameters
    ----------
    Q4, Q6, W6 : (N,) float arrays (dimensionless), e.g. ``order.boo(...)["Q4"]``.
    crystalline : (N,) bool array, ``order.boo(...)["crystalline"]`` (atoms without bonds are
        not crystalline, hence disordered).
    reference_points : mapping, optional
        structure -> ``{"Q4", "Q6", "W6"}``; default :func:`nanotraj.lattices.reference_points`.
    max_distance : float, default 0.10 (``inf`` disables the cut).
    w6_scale : float, default :data:`W6_SCALE` = 40.
    require_crystalline : structures that also need ``crystalline`` (default fcc, hcp, bcc);
        pass :data:`BOO_REFERENCE_STRUCTURES` to require it for ico too.
    return_distance : bool, also return the distance to the nearest reference point.

    Returns
    -------
    (N,) str array (dtype ``<U10``) with values in :data:`BOO_CLASSES`; with
    ``return_distance``, also the (N,) float64 distances ``d``.
    """
    q4 = np.asarray(Q4, float).ravel()
    q6 = np.asarray(Q6, float).ravel()
    w6 = np.asarray(W6, float).ravel()
    xtal = np.asarray(crystalline).ravel().astype(bool)
    if not (len(q4) == len(q6) == len(w6) == len(xtal)):
        raise ValueError(
            f"Q4, Q6, W6, crystalline must have the same length, got "
            f"{len(q4)}, {len(q6)}, {len(w6)}, {len(xtal)}"
        )
    names, ref = boo_reference_points(reference_points)
    scale = float(w6_scale)
    # squared distance to each reference point, one (N,) array at a time; the nearest by a
    # running minimum (ties and NaN: the first, as argmin); NaN input ends disordered
    best = nearest = None
    for k, (r4, r6, rw) in enumerate(ref):
        d2 = (q4 - r4) ** 2
        d2 += (q6 - r6) ** 2
        d2 += (w6 * scale - rw * scale) ** 2
        if best is None:
            best, nearest = d2, np.zeros(len(q4), np.int64)
            continue
        closer = d2 < best
        best[closer] = d2[closer]
        nearest[closer] = k
    dist = np.sqrt(best)
    codes = np.array(names + ("disordered",), dtype="<U10")
    gated = np.isin(np.arange(len(names)), [names.index(n) for n in require_crystalline
                                            if n in names])[nearest]
    nearest[(gated & ~xtal) | ~(dist <= max_distance)] = len(names)  # NaN input -> disordered
    out = codes[nearest]
    return (out, dist) if return_distance else out


# ----------------------------------------------------------------------------------------------
# surface, close contacts
# ----------------------------------------------------------------------------------------------
def surface(
    coords,
    cn,
    bonds,
    nn_distance,
    *,
    threshold=SURFACE_THRESHOLD,
    min_cn=SURFACE_MIN_CN,
    workers=1,
):
    r"""Surface atoms: atoms with an open side.

    An atom ``i`` is surface when the vector sum of its bond vectors is long,

    .. math:: \Big|\sum_{j \in b(i)} (\mathbf r_j - \mathbf r_i)\Big| > t\, d_{nn},
              \qquad t = 1.5,

    or when it has fewer than ``min_cn = 4`` bonds (fewer than four neighbours cannot enclose
    an atom; an isolated atom has a zero sum).  ``d_nn`` is the element's nearest-neighbour
    distance (Angstrom).

    Why: the neighbour shells of fcc, hcp, bcc and icosahedral atoms are centro-symmetric or
    balanced, so a bulk atom's sum is 0; Gaussian noise of 0.05 A adds ~0.1 ``d_nn``
    (``sigma sqrt(2 cn)``) and a vacancy next to the atom adds 1 ``d_nn``.  An atom on a
    facet misses the bonds on one side, all with an outward component: 2.45 ``d_nn`` on
    {111} (3 missing bonds), 2.83 ``d_nn`` on {100} (4), more at edges, vertices and adatoms.
    ``t = 1.5`` separates the two with margin on both sides.  Unlike "on the convex hull" it
    also finds the exposed atoms of rough, stepped or concave real particles (on the shared
    stage1 frame the hull within 0.3 A holds 107 atoms but 137 atoms have cn < 10; this
    criterion finds 161 including all of those), and unlike "cn below a threshold" it does not
    call under-coordinated atoms of a disordered *core* surface.  Alternatives in the
    literature: the cone algorithm of Wang, Teitel & Dellago, J. Chem. Phys. 122, 214722
    (2005); the alpha-shape surface mesh of OVITO (Stukowski, JOM 66, 399 (2014)).

    On a perfect FCC cluster bounded by {111}/{100} facets (e.g. the 586-atom truncated
    octahedron) the surface atoms are exactly the atoms on the convex hull (all atoms with
    fewer than 12 bonds).

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    cn : (N,) int, bonds per atom (``nanotraj.bonds.bond_counts``).
    bonds : (B, 2) int, the bond network (each pair once).
    nn_distance : float, Angstrom (``nanotraj.elements.nn_distance(element)``).
    threshold : float, ``t`` in units of ``nn_distance``.
    min_cn : int, atoms with ``cn < min_cn`` are surface.
    workers : int, threads summing the bond vectors (the result does not depend on it: the
        bonds are always summed in the same two halves, added at the end).

    Returns
    -------
    (N,) bool.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    n = len(x)
    cn = np.asarray(cn).ravel()
    if len(cn) != n:
        raise ValueError(f"cn must have length {n}, got {len(cn)}")
    if not nn_distance > 0:
        raise ValueError(f"nn_distance must be positive, got {nn_distance}")
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if (kernels := _kernels_for(len(b))) is not None:  # per atom over its neighbour list
        return kernels.surface(x, b, cn, threshold * float(nn_distance), min_cn, workers)
    step = _SUM_CHUNK  # chunks of bonds over the window of atoms they touch: small temporaries
    half = -(-len(b) // (2 * step)) * step  # two halves of whole chunks, whatever ``workers``
    sums = [None, None]

    def add(h):
        total = np.zeros((n, 3))
        for b0 in range(h * half, min(len(b), (h + 1) * half), step):
            i, j = b[b0 : b0 + step, 0], b[b0 : b0 + step, 1]
            lo = int(min(i.min(), j.min()))
            size = int(max(i.max(), j.max())) + 1 - lo
            v = x[j] - x[i]
            for k in range(3):
                total[lo : lo + size, k] += np.bincount(i - lo, v[:, k], minlength=size)
                total[lo : lo + size, k] -= np.bincount(j - lo, v[:, k], minlength=size)
        sums[h] = total

    _run_chunks(add, range(2), workers)
    total = sums[0]
    total += sums[1]
    length = np.sqrt(np.einsum("ij,ij->i", total, total))
    return (length > threshold * float(nn_distance)) | (cn < min_cn)


def n_close_contacts(coords, nn_distance, factor=0.8, *, distances=None, cutoff=None):
    r"""Number of atom pairs closer than ``factor * nn_distance``.

    ``#{(i, j), i < j : |r_i - r_j| < factor * d_nn}``, a quality flag of a reconstruction:
    in a metal no two atoms come closer than ~0.85 of the bulk nearest-neighbour distance, so
    such pairs are artefacts (double-placed or mis-fitted atoms).  Lengths in Angstrom.

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    nn_distance : float, the element's nearest-neighbour distance (Angstrom).
    factor : float, default 0.8.
    distances, cutoff : optional, the lengths (B,) of a bond network holding every pair
        within ``cutoff`` (Angstrom; :func:`nanotraj.bonds.find_bonds`).  When ``cutoff`` is
        at least ``factor * nn_distance`` the pairs are counted among them (no pair search);
        otherwise, or without them, with a kd-tree.

    Returns
    -------
    int (0 for fewer than two atoms).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    limit = float(factor) * float(nn_distance)
    if not limit > 0:
        raise ValueError(f"factor * nn_distance must be positive, got {limit}")
    if len(x) < 2:
        return 0
    if distances is not None and cutoff is not None and float(cutoff) >= limit:
        return int(np.count_nonzero(np.asarray(distances, dtype=np.float64) < limit))
    pairs = cKDTree(x, balanced_tree=False, compact_nodes=False).query_pairs(
        limit, output_type="ndarray")
    if len(pairs) == 0:
        return 0
    d = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1)
    return int(np.count_nonzero(d < limit))


# ----------------------------------------------------------------------------------------------
# summary, workflow entry point
# ----------------------------------------------------------------------------------------------
#: Summary columns returned by :func:`structure_summary`, in order.
SUMMARY_COLUMNS = (
    "fraction_fcc", "fraction_hcp", "fraction_bcc", "fraction_ico", "fraction_other",
    "fraction_fcc_boo", "fraction_hcp_boo", "fraction_bcc_boo", "fraction_ico_boo",
    "fraction_disordered_boo", "fraction_surface", "cn_mean_core", "cn_mean_surface",
    "Q6_mean_core", "Q6_mean_surface", "fraction_disordered_core", "fraction_disordered_surface",
)  # fmt: skip


def _mean(values, mask):
    return float(np.mean(values[mask])) if np.any(mask) else math.nan


def structure_summary(cn, Q6, crystalline, structure_cna, structure_boo, surface):
    """Per-frame summary of the local structure.

    All fractions are over all ``N`` atoms of the frame unless suffixed ``_core`` (over the
    atoms with ``surface == False``) or ``_surface`` (over ``surface == True``):

    * ``fraction_fcc, _hcp, _bcc, _ico, _other``: CNA codes (:func:`cna`); sum to 1.
    * ``fraction_fcc_boo, _hcp_boo, _bcc_boo, _ico_boo``: :func:`boo_class`;
      ``fraction_disordered_boo``: :func:`boo_class`'s ``"disordered"`` -- atoms farther than
      ``max_distance`` from every reference point, or nearest to fcc/hcp/bcc but not
      ``crystalline``; the five sum to 1.
    * ``fraction_surface``: :func:`surface`.
    * ``cn_mean_core``, ``cn_mean_surface``: mean bonds per atom.
    * ``Q6_mean_core``, ``Q6_mean_surface``: mean coarse-grained Q6.
    * ``fraction_disordered_core``, ``fraction_disordered_surface``: fraction of atoms that are
      not ``crystalline`` (the definition of the frame's ``fraction_disordered``).

    Parameters
    ----------
    cn : (N,) int; Q6 : (N,) float; crystalline : (N,) bool; structure_cna : (N,) int codes;
    structure_boo : (N,) str; surface : (N,) bool.

    Returns
    -------
    dict ``column -> float`` with the keys :data:`SUMMARY_COLUMNS`, in that order.  Means and
    fractions over an empty set (no atom, no core atom, no surface atom) are NaN.
    """
    cn = np.asarray(cn, float).ravel()
    q6 = np.asarray(Q6, float).ravel()
    xtal = np.asarray(crystalline).ravel().astype(bool)
    s_cna = np.asarray(structure_cna).ravel().astype(np.int64)
    s_boo = np.asarray(structure_boo).ravel().astype(str)
    surf = np.asarray(surface).ravel().astype(bool)
    n = len(cn)
    for name, arr in (
        ("Q6", q6), ("crystalline", xtal), ("structure_cna", s_cna),
        ("structure_boo", s_boo), ("surface", surf),
    ):  # fmt: skip
        if len(arr) != n:
            raise ValueError(f"{name} must have length {n} (as cn), got {len(arr)}")
    every = np.ones(n, bool)
    out = {}
    for code, name in enumerate(CNA_NAMES):
        if name != "other":
            out[f"fraction_{name}"] = _mean(s_cna == code, every)
    out["fraction_other"] = _mean(~np.isin(s_cna, [FCC, HCP, BCC, ICO]), every)
    for name in BOO_CLASSES:
        out[f"fraction_{name}_boo"] = _mean(s_boo == name, every)
    core = ~surf
    out["fraction_surface"] = _mean(surf, every)
    out["cn_mean_core"] = _mean(cn, core)
    out["cn_mean_surface"] = _mean(cn, surf)
    out["Q6_mean_core"] = _mean(q6, core)
    out["Q6_mean_surface"] = _mean(q6, surf)
    out["fraction_disordered_core"] = _mean(~xtal, core)
    out["fraction_disordered_surface"] = _mean(~xtal, surf)
    return {k: out[k] for k in SUMMARY_COLUMNS}


def classify(
    coords,
    bonds,
    boo_result,
    cn,
    nn_distance,
    *,
    max_distance=MAX_BOO_DISTANCE,
    reference_points=None,
    close_factor=0.8,
    workers=1,
    distances=None,
    cutoff=None,
):
    """All local-structure descriptors of one frame (the workflow stage's single call).

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    bonds : (B, 2) int, the frame's bond network (``nanotraj.bonds.find_bonds`` at the frame's
        cutoff), each pair once.
    boo_result : mapping from :func:`nanotraj.order.boo` (needs ``"Q4"``, ``"Q6"``, ``"W6"``,
        ``"crystalline"``).
    cn : (N,) int, bonds per atom.
    nn_distance : float, the element's nearest-neighbour distance in Angstrom
        (``nanotraj.elements.nn_distance``), for :func:`surface` and :func:`n_close_contacts`.
    max_distance, reference_points : passed to :func:`boo_class`.
    close_factor : passed to :func:`n_close_contacts` as ``factor``.
    workers : threads of the CNA (:func:`cna`) and the surface sums; the result does not depend
        on it.
    distances, cutoff : optional, the bond lengths (B,) and the cutoff of ``bonds`` (every
        pair within ``cutoff``): :func:`n_close_contacts` then counts from them.

    Returns
    -------
    dict with per-atom ``structure_cna`` ((N,) int8 codes 0 other, 1 fcc, 2 hcp, 3 bcc,
    4 ico; :func:`cna`), ``structure_boo`` ((N,) ``<U10`` str; :func:`boo_class`),
    ``surface`` ((N,) bool; :func:`surface`) and the per-frame ``n_close_contacts`` (int;
    :func:`n_close_contacts`).  Feed the per-atom arrays with ``cn``, ``Q6`` and
    ``crystalline`` to :func:`structure_summary` for the summary columns.
    """
    x = np.asarray(coords, dtype=np.float64)
    n = len(x)
    s_cna = _cna_structure(n, bonds, workers)
    s_boo = boo_class(
        boo_result["Q4"],
        boo_result["Q6"],
        boo_result["W6"],
        boo_result["crystalline"],
        reference_points,
        max_distance,
    )
    return {
        "structure_cna": s_cna,
        "structure_boo": s_boo,
        "surface": surface(x, cn, bonds, nn_distance, workers=workers),
        "n_close_contacts": n_close_contacts(x, nn_distance, close_factor,
                                             distances=distances, cutoff=cutoff),
    }
