r"""Frame-to-frame tracking: which atoms of frame t-1 remain in frame t, and how far they moved.

Reconstructed atomic maps carry no atom identifiers, so atoms are followed between two
consecutive frames of a series by an optimal one-to-one assignment of positions. The frames of a
SINGLE series are docked into one reference frame (in the shared Pt series 95 % of stage2's atoms
lie within 0.5 A of a stage1 atom), which makes this well posed.

Matching (:func:`match`)
------------------------
Let ``p_i`` (i < N_prev) be the atoms of frame t-1 and ``x_j`` (j < N_next) those of frame t,
in Angstrom. A *candidate pair* is (i, j) with ``|p_i - x_j| <= d_max`` (found with a k-d tree,
``scipy.spatial.cKDTree.sparse_distance_matrix``); pairs farther apart are never matched. Among
all one-to-one assignments that use only candidate pairs, the one chosen

1. has the **largest number of pairs** (maximum-cardinality matching: as many atoms retained as
   the distance limit allows), and among those
2. has the **smallest sum of squared distances** ``sum |p_i - x_j|^2`` (the maximum-likelihood
   assignment under isotropic Gaussian position errors, and the quantity the Kabsch fit minimises).

This is a linear assignment problem (Kuhn 1955, Munkres 1957). It is solved per connected
component of the candidate graph: a component with a single pair is matched directly
(vectorised: almost every atom of a docked series); a larger one gets a dense cost matrix,
``(d / d_max)^2`` for candidate pairs and ``B = min(a, b) + 1`` for the others (B exceeds the
largest possible total cost of real pairs, so using one fewer non-candidate pair always wins:
this yields property 1, then 2), solved with :func:`scipy.optimize.linear_sum_assignment`
(shortest augmenting path, Crouse 2016). With ``d_max`` at most half the interatomic distance
the components hold a few atoms, so memory and time scale with the number of candidate pairs,
not N_prev x N_next: 1.2e5 atoms match in about 1 s. A ``d_max`` approaching the interatomic
distance joins the lattice into one giant component; a component whose dense matrix would exceed
``dense_limit`` entries is a ``ValueError`` rather than a job that runs for hours (the sparse
LAPJVsp solver, ``scipy.sparse.csgraph.min_weight_full_bipartite_matching``, on the augmented
graph with one "unmatched" node per atom, was measured 50x slower than the dense solver on such a
component of 2,000 atoms).

Atom *i* of frame t-1 is **retained** if it has a partner ``partner[i] = j >= 0``, else
**removed** (``partner[i] = -1``); atom *j* of frame t is **new** if no atom of frame t-1 is
assigned to it. Displacement ``u_i = x'_j - p_i`` (A), with ``x'`` the frame-t positions after
the optional rigid alignment (identity by default); ``|u_i| <= d_max`` by construction.

The result is deterministic (no random numbers; ties, which only occur for exactly equidistant
atoms, are broken by the solvers in atom order). The *number* of retained atoms is the size of a
maximum matching and so does not depend on the atom order of either file at all.

Maximum distance
----------------
Default ``d_max = 0.5 x`` the element's nearest-neighbour distance (``a / sqrt 2`` for FCC;
1.383 A for Pt), :func:`default_max_distance`. Half the bond length is the largest distance at
which "the same site" is unambiguous: an atom moving farther than ``d_nn / 2`` is closer to a
neighbouring lattice site than to its own, so a hop to a neighbouring site is recorded as one
removal plus one addition rather than a long displacement. Lower it (e.g. 0.5 A) for a stricter
"same position" criterion; raising it above ``d_nn / 2`` lets an atom be matched to a neighbour's
site.

Rigid alignment (``align=True`` or ``"search"``)
-----------------------------------------------
Off by default: SINGLE frames are already docked into one reference frame, and an alignment fit
on an etched particle can absorb part of a genuine, one-sided motion of the lattice into a
spurious rotation. Switch it on when the frames are *not* docked (e.g. independently
reconstructed tomograms with arbitrary origin and orientation, or a drifting particle) -- that is
when the displacements of the retained atoms are dominated by a common shift or rotation
(``displacement_mean`` approaching ``d_max``, or few retained atoms near the surface only).

The alignment is an iterative closest point scheme with one-to-one matches: starting from the
identity or from the translation that superposes the two centroids (whichever matches more
pairs), frame t is matched to frame t-1 as above, the rotation R and translation t minimising
``sum |R x_j + t - p_i|^2`` over the matched pairs are computed (Kabsch 1976, with the
reflection correction of Kabsch 1978), frame t is transformed by them (always from its original
coordinates) and matched again, until the set of pairs no longer changes (``converged``) or
``max_iter`` fits have been made. A rotation error moves an atom in proportion to its
distance from the centre, so the fit is made on growing cores of frame t (its 400 atoms
nearest the centroid, then 3x as many, up to all), each starting the next. That recovers
rotations up to ~10 degrees at any particle size (300 to 18,000 atoms; some 12-15 degree
turns of 600-1,200 atoms already fail); a lattice turned further still matches
itself on 80-90 % of its sites in a wrong orientation. With ``align="search"`` (frames in
arbitrary orientations), unless the fit matches 98 % of the smaller frame, starting
orientations (150 within 60 degrees, 240 over all rotations; fixed
samples: reruns are identical) are tried in order of increasing angle, each with a short fit
of the 400-atom core; up to 8 distinct fits that match 98 % of the best core count are
refined on growing cores as above, and the one matching the most atoms of the whole frame,
then the smallest rotation, is kept if it matches more pairs than the first fit. A search
costs ~1-2 s for a 300-atom pair and ~4 s for 18,000 atoms; rotations up to 45 degrees of the
test particles (300 to 18,000 atoms) are recovered atom for atom.
A particle with symmetry looks the same after some rotations (an fcc sphere after 90 degrees
about a cube axis): which atom is which is then undecidable, and the smallest rotation is
taken. The search is not the default of ``True`` because a particle that changes a lot between
two frames can match more atoms in a twin-related orientation than in the right one: the
shared, docked stage 3 -> 4 Pt pair (233 -> 119 atoms) matches 100 atoms at 0.5 degrees and
108 at 60 degrees (a 60-degree turn about a <111> axis puts two of three {111} layers back on
sites). Fewer than 3 matched pairs is a ``ValueError`` (no rotation is defined).

Summary of a pair (:func:`pair_summary`)
----------------------------------------
``n_retained``, ``n_removed`` (atoms of frame t-1), ``n_added`` (atoms of frame t without
partner), ``displacement_mean`` and ``displacement_p95`` (mean and 95th percentile, linear
interpolation, of ``|u_i|`` over retained atoms, A); and to show whether removal is selective,
for the removed atoms and for all atoms of frame t-1: the mean ``cn``, mean ``Q6``, the fraction
of surface atoms and the fraction of disordered (not ``crystalline``) atoms
(``removed_cn_mean`` next to ``all_cn_mean``, etc.). Undefined values (no removed atom, no
retained atom) are NaN.

Workflow files (:mod:`nanotraj.stages.tracking`)
------------------------------------------------
One job per frame t of a series (frames ordered by time) writes, with t-1 its predecessor:

* ``results/{series}/{frame}/fate.csv``: one row per atom of frame t-1 (:data:`FATE_COLUMNS`);
* ``results/{series}/{frame}/fate.pdb`` and ``fate.cif``: frame t-1's atoms with the fate in
  the B-factor column (retained 0, removed 1); above 99,999 atoms, or with coordinates beyond
  the PDB columns, ``fate.pdb`` holds only a REMARK naming the reason and ``fate.cif``;
* ``results/{series}/{frame}/new.csv``: one row per atom of frame t (:data:`NEW_COLUMNS`):
  ``new`` 0/1 and the index of its partner in frame t-1;
* ``results/intermediate/{series}/{frame}/tracking.npz``: the ``new`` flags and the pair's
  summary values, for ``aggregate_tracking`` (``results/{series}/tracking.csv``, one row per
  frame) and, if a workflow wants them in a frame's own tables, :func:`atom_columns` and
  :func:`summary_row`.

These files are kept apart from the frame's own ``atoms.csv`` and ``summary.csv`` on purpose:
the frame's jobs then never wait for another frame (with ``on_bad_frame: fail --keep-going`` the
frame after a bad one still finishes; the cluster profile's per-frame job groups stay
independent; editing frame t reruns only the pairs (t-1, t), (t, t+1) and the aggregates).

The **first frame** of a series has no pair: its ``fate.csv`` and ``new.csv`` have only the
header, its ``fate.pdb`` only a REMARK (``fate.cif`` a comment), its tracking values are
empty (and :func:`atom_columns` gives an *empty* ``new`` column, unknown rather than 0: "not
new" would be a claim about a frame that does not exist). The same holds when frame t-1 was
rejected (``on_bad_frame: skip``); the log and ``pair_status`` say why. A rejected frame t
writes its rejection into ``tracking.npz``.

References
----------
H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Res. Logist. Q. 2, 83 (1955).
J. Munkres, "Algorithms for the assignment and transportation problems", J. SIAM 5, 32 (1957).
D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE Trans. Aerosp.
Electron. Syst. 52, 1679 (2016) (scipy's ``linear_sum_assignment``).
W. Kabsch, "A solution for the best rotation to relate two sets of vectors", Acta Cryst. A 32,
922 (1976); "A discussion of the solution for the best rotation ...", Acta Cryst. A 34, 827 (1978).
P. J. Besl, N. D. McKay, "A method for registration of 3-D shapes", IEEE TPAMI 14, 239 (1992) (ICP).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DEFAULT_MAX_DISTANCE_FACTOR",
    "DENSE_LIMIT",
    "FATE_COLUMNS",
    "TRACKING_ATOM_COLUMNS",
    "PAIR_SUMMARY_COLUMNS",
    "SUMMARY_COLUMNS",
    "Match",
    "default_max_distance",
    "candidate_pairs",
    "assign",
    "kabsch",
    "match",
    "pair_summary",
    "atom_columns",
    "summary_row",
]

#: Default maximum displacement, as a fraction of the element's nearest-neighbour distance.
DEFAULT_MAX_DISTANCE_FACTOR = 0.5

#: Largest dense cost matrix (entries, ~9 bytes each) built for one connected component of
#: candidate pairs; a larger component is a ValueError (``max_distance`` too large to separate
#: lattice sites).
DENSE_LIMIT = 10_000_000

#: Columns of ``fate.csv`` (one row per atom of frame t-1, in its file's atom order):
#: ``index`` (0-based, into frame t-1's atoms.csv), ``partner`` (0-based index into frame t's
#: atoms.csv, -1 if removed), ``fate`` (``retained`` / ``removed``), ``dx, dy, dz,
#: displacement`` (A; NaN if removed), then frame t-1's ``x, y, z`` (A), ``cn``, ``Q6``,
#: ``surface`` (0/1), ``crystalline`` (0/1) so that the fate can be related to the local structure
#: from this one file.
FATE_COLUMNS = (
    "index", "partner", "fate", "dx", "dy", "dz", "displacement",
    "x", "y", "z", "cn", "Q6", "surface", "crystalline",
)  # fmt: skip

#: Columns of ``new.csv`` (one row per atom of frame t, in its file's atom order): ``index``
#: (0-based, into frame t's atoms.csv), ``new`` (1 = no partner in frame t-1, i.e. added),
#: ``previous`` (0-based index of the partner in frame t-1's atoms.csv, -1 if new).
NEW_COLUMNS = ("index", "new", "previous")

#: Per-atom column that :func:`atom_columns` gives for frame t's ``atoms.csv`` (when the workflow
#: puts it there): ``new`` (1 = added, 0 = retained from frame t-1; empty without a pair).
TRACKING_ATOM_COLUMNS = ("new",)

#: Summary columns of a pair (frame t's summary row), see :func:`pair_summary`.
PAIR_SUMMARY_COLUMNS = (
    "n_retained", "n_removed", "n_added", "displacement_mean", "displacement_p95",
    "removed_cn_mean", "all_cn_mean", "removed_Q6_mean", "all_Q6_mean",
    "removed_fraction_surface", "all_fraction_surface",
    "removed_fraction_disordered", "all_fraction_disordered",
)  # fmt: skip

#: Every summary column added by tracking: the name of frame t-1, then the pair's values.
SUMMARY_COLUMNS = ("previous_frame", *PAIR_SUMMARY_COLUMNS)

#: Columns of the per-series ``tracking.csv`` (one row per frame, in time order).
SERIES_COLUMNS = ("series", "frame", "time", "previous_frame", "pair_status",
                  *PAIR_SUMMARY_COLUMNS)

_INT_COLUMNS = frozenset({"n_retained", "n_removed", "n_added"})

OK = "ok"
FIRST_FRAME = "no previous frame (first frame of the series)"


# ----------------------------------------------------------------------------------------------
# the matching


@dataclass(frozen=True)
class Match:
    """The one-to-one assignment of the atoms of frame t-1 to those of frame t.

    Attributes
    ----------
    partner : (N_prev,) int64
        Index of the partner in frame t of each atom of frame t-1, -1 if the atom was removed.
    new : (N_next,) bool
        True for the atoms of frame t without partner in frame t-1 (added).
    displacement : (N_prev, 3) float64
        ``x'[partner] - p`` in Angstrom (``x'``: frame t after the alignment); NaN rows for
        removed atoms.
    distance : (N_prev,) float64
        Length of ``displacement`` (A), NaN for removed atoms; always ``<= max_distance``.
    max_distance : float
        The distance limit used (A).
    rotation, translation : (3, 3), (3,) float64
        The rigid transform applied to frame t, ``x' = x @ rotation.T + translation``
        (identity and zero without alignment).
    aligned : bool
        Whether a rigid alignment was fitted.
    converged : bool
        Alignment: the set of pairs stopped changing within ``max_iter`` fits (always True
        without alignment).
    n_iter : int
        Number of Kabsch fits made (0 without alignment).
    """

    partner: np.ndarray
    new: np.ndarray
    displacement: np.ndarray
    distance: np.ndarray
    max_distance: float
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    aligned: bool = False
    converged: bool = True
    n_iter: int = 0

    @property
    def retained(self) -> np.ndarray:
        """(N_prev,) bool: atoms of frame t-1 with a partner."""
        return self.partner >= 0

    @property
    def removed(self) -> np.ndarray:
        """(N_prev,) bool: atoms of frame t-1 without partner."""
        return self.partner < 0

    @property
    def n_retained(self) -> int:
        return int(self.retained.sum())

    @property
    def n_removed(self) -> int:
        return int(self.removed.sum())

    @property
    def n_added(self) -> int:
        return int(self.new.sum())

    @property
    def previous(self) -> np.ndarray:
        """(N_next,) int64: the partner in frame t-1 of each atom of frame t, -1 if new."""
        prev = np.full(len(self.new), -1, dtype=np.int64)
        idx = np.flatnonzero(self.retained)
        prev[self.partner[idx]] = idx
        return prev

    @property
    def sum_squared(self) -> float:
        """Sum of the squared displacements of the retained atoms (A^2), the minimised cost."""
        d = self.distance[self.retained]
        return float(np.dot(d, d))


def default_max_distance(element: str = "Pt", *, bulk_nn: float | None = None) -> float:
    """``0.5 x`` the bulk nearest-neighbour distance (A) of ``element`` (or ``bulk_nn``).

    For Pt (FCC, a = 3.912 A in ``src/nanotraj/data/elements.tsv``) ``0.5 x a / sqrt(2) = 1.383`` A.
    See the module docstring for why half the bond length.
    """
    if bulk_nn is None:
        from nanotraj.elements import nn_distance

        bulk_nn = nn_distance(element)
    return DEFAULT_MAX_DISTANCE_FACTOR * float(bulk_nn)


def resolve_max_distance(value, element: str = "Pt") -> float:
    """The matching limit (A) of the configuration's ``tracking.max_distance``: a number as
    given, ``"auto"`` :func:`default_max_distance` of ``element``."""
    if value == "auto":
        return default_max_distance(element)
    return check_max_distance(value)


def _as_coords(coords, name: str) -> np.ndarray:
    arr = np.asarray(coords, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has non-finite coordinates")
    return arr


def check_max_distance(max_distance) -> float:
    d = float(max_distance)
    if not (math.isfinite(d) and d > 0):
        raise ValueError(f"max_distance must be a positive finite distance (A), got {max_distance}")
    return d


def candidate_pairs(prev_coords, next_coords, max_distance: float, *, prev_tree=None):
    """Every pair (i, j) with ``|prev_i - next_j| <= max_distance`` (A).

    ``prev_tree``: a ``cKDTree`` of ``prev_coords`` to reuse (the alignment matches the same
    frame t-1 many times).

    Returns
    -------
    i, j : (P,) int64, sorted by (i, j); d : (P,) float64 distances in A. Cost O((N + P) log N)
    with k-d trees; memory O(P).
    """
    from scipy.spatial import cKDTree

    prev = _as_coords(prev_coords, "prev_coords")
    nxt = _as_coords(next_coords, "next_coords")
    max_distance = check_max_distance(max_distance)
    if len(prev) == 0 or len(nxt) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    tree = cKDTree(prev) if prev_tree is None else prev_tree
    pairs = tree.sparse_distance_matrix(cKDTree(nxt), max_distance, output_type="ndarray")
    i = pairs["i"].astype(np.int64)
    j = pairs["j"].astype(np.int64)
    # recompute the distances exactly (the tree's value may differ in the last bit) and keep
    # the limit inclusive but strict to rounding
    d = np.linalg.norm(nxt[j] - prev[i], axis=1) if len(i) else np.zeros(0)
    keep = d <= max_distance
    i, j, d = i[keep], j[keep], d[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def _solve_dense(ri, ci, cost, a, b):
    """Max-cardinality, then min-cost matching of one component (local indices) by LSA."""
    from scipy.optimize import linear_sum_assignment

    big = float(min(a, b) + 1)
    c = np.full((a, b), big)
    c[ri, ci] = cost
    edge = np.zeros((a, b), dtype=bool)
    edge[ri, ci] = True
    r, k = linear_sum_assignment(c)
    keep = edge[r, k]
    return r[keep], k[keep]


def assign(i, j, d, n_prev: int, n_next: int, max_distance: float, *,
           dense_limit: int = DENSE_LIMIT) -> np.ndarray:
    """Optimal one-to-one assignment over candidate pairs (see the module docstring).

    Parameters
    ----------
    i, j, d : (P,) candidate pairs and their distances (A), e.g. from :func:`candidate_pairs`.
    n_prev, n_next : numbers of atoms of frames t-1 and t.
    max_distance : the limit the candidates were found with (A); costs are ``(d / max_distance)^2``.
    dense_limit : largest dense cost matrix (entries) of one component; a larger component is a
        ``ValueError`` (it only occurs when ``max_distance`` approaches the interatomic distance).

    Returns
    -------
    partner : (n_prev,) int64, index into frame t or -1.
    """
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    cost = (np.asarray(d, dtype=np.float64) / float(max_distance)) ** 2
    partner = np.full(n_prev, -1, dtype=np.int64)
    if len(i) == 0:
        return partner
    n = n_prev + n_next
    graph = coo_array((np.ones(len(i)), (i, n_prev + j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    comp = label[i]
    n_edges = np.bincount(comp, minlength=label.max() + 1)
    single = n_edges[comp] == 1
    partner[i[single]] = j[single]  # a component with one pair: matched as is
    multi = np.flatnonzero(~single)
    if multi.size == 0:
        return partner
    multi = multi[np.argsort(comp[multi], kind="stable")]
    bounds = np.flatnonzero(np.diff(comp[multi])) + 1
    for e in np.split(multi, bounds):
        rows, ri = np.unique(i[e], return_inverse=True)
        cols, ci = np.unique(j[e], return_inverse=True)
        a, b = len(rows), len(cols)
        if a * b > dense_limit:
            raise ValueError(
                f"max_distance {max_distance:.3f} A joins {a} + {b} atoms into one group of "
                "competing candidate pairs: the limit does not separate lattice sites; use at "
                "most about half the nearest-neighbour distance (the default)"
            )
        r, k = _solve_dense(ri, ci, cost[e], a, b)
        partner[rows[r]] = cols[k]
    return partner


def kabsch(target, mobile, weights=None):
    """Rotation R and translation t minimising ``sum_k w_k |R mobile_k + t - target_k|^2``.

    Kabsch (1976, 1978): with centred coordinates P (target) and Q (mobile), the SVD
    ``Q^T W P = U S V^T`` gives ``R = V diag(1, 1, s) U^T`` with ``s = sign det(V U^T)`` (a proper
    rotation, never a reflection) and ``t = c_target - R c_mobile`` (weighted centroids).

    Parameters
    ----------
    target, mobile : (K, 3) matched positions (A), K >= 3 and not all collinear for a unique R.
    weights : (K,) non-negative, optional.

    Returns
    -------
    R : (3, 3), t : (3,); apply as ``mobile @ R.T + t``.
    """
    p = np.asarray(target, dtype=np.float64)
    q = np.asarray(mobile, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"target and mobile must both be (K, 3), got {p.shape} and {q.shape}")
    if len(p) < 3:
        raise ValueError(f"a rigid fit needs at least 3 matched pairs, got {len(p)}")
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    cp, cq = w @ p, w @ q
    h = (q - cq).T @ ((p - cp) * w[:, None])
    u, _, vt = np.linalg.svd(h)
    s = 1.0 if np.linalg.det(vt.T @ u.T) >= 0 else -1.0
    r = vt.T @ np.diag([1.0, 1.0, s]) @ u.T
    return r, cp - r @ cq


def _match_once(prev, nxt, max_distance, dense_limit, prev_tree=None):
    i, j, d = candidate_pairs(prev, nxt, max_distance, prev_tree=prev_tree)
    return assign(i, j, d, len(prev), len(nxt), max_distance, dense_limit=dense_limit)


#: Rigid alignment: a first fit that matches at least this fraction of the smaller frame is
#: kept; otherwise starting orientations are searched (:func:`_search_orientations`).
ALIGN_ACCEPT = 0.98
ALIGN_STARTS = 240  # starting orientations of the search over all rotations
ALIGN_STARTS_NEAR = 150  # more of them within ALIGN_NEAR degrees (the likely misorientations)
ALIGN_NEAR = 60.0
ALIGN_SAMPLE = 400  # atoms of frame t matched during the search
ALIGN_SEARCH_ITER = 15  # Kabsch fits per starting orientation during the search
ALIGN_CANDIDATES = 8  # distinct fits of the core refined on the whole frame
#: track_pair warns when an alignment matches less than this fraction of the smaller frame (a
#: 40-degree turn fitted with align=True matches well under it, see the tests; the docked,
#: etched Pt stage 3 -> 4 pair matches 100 of 119 atoms, 84 %)
ALIGN_WARN = 0.8


def _icp(prev, nxt, rot, shift, max_distance, max_iter, dense_limit, tree):
    """Iterated one-to-one matching and Kabsch fits from the transform (rot, shift) of ``nxt``:
    ``(rot, shift, partner, converged, n_iter)``, or None when fewer than 3 pairs match.
    ``tree``: the cKDTree of ``prev``."""
    partner = _match_once(prev, nxt @ rot.T + shift, max_distance, dense_limit, tree)
    converged, n_iter = False, 0
    for _ in range(max_iter):
        ok = np.flatnonzero(partner >= 0)
        if len(ok) < 3:
            return None
        n_iter += 1
        rot, shift = kabsch(prev[ok], nxt[partner[ok]])
        new_partner = _match_once(prev, nxt @ rot.T + shift, max_distance, dense_limit, tree)
        if np.array_equal(new_partner, partner):
            converged = True
            break
        partner = new_partner
    return rot, shift, partner, converged, n_iter


def _core_order(nxt):
    """Atoms of frame t by distance from its centroid (a rotation moves the core least)."""
    return np.argsort(np.linalg.norm(nxt - nxt.mean(axis=0), axis=1), kind="stable")


def _icp_grow(prev, nxt, rot, shift, max_distance, max_iter, dense_limit, tree):
    """:func:`_icp` on growing cores of frame t: the ``ALIGN_SAMPLE`` atoms nearest its
    centroid first, then cores 3x as large, up to the whole frame.  A rotation error moves an
    atom in proportion to its distance from the centre, so the core still finds its partners
    when the outer atoms of a large particle would match their neighbours' sites; each core's
    fit starts the next one.  Returns what the last :func:`_icp` returns."""
    order = _core_order(nxt)
    size = ALIGN_SAMPLE
    while size < len(nxt):
        fit = _icp(prev, nxt[order[:size]], rot, shift, max_distance, ALIGN_SEARCH_ITER,
                   dense_limit, tree)
        if fit is None:
            break
        rot, shift = fit[:2]
        size *= 3
    return _icp(prev, nxt, rot, shift, max_distance, max_iter, dense_limit, tree)


def _start_rotations() -> tuple[np.ndarray, np.ndarray]:
    """Starting orientations of the alignment search and their angles (degrees): the identity,
    ``ALIGN_STARTS_NEAR`` rotations within ``ALIGN_NEAR`` degrees and ``ALIGN_STARTS`` over all
    orientations (fixed pseudo-random samples, uniform in orientation: reruns are identical),
    by increasing angle.  A start converges to the right orientation from within ~15 degrees
    of it: the near ones cover the misorientations of consecutive frames more densely."""
    from scipy.spatial.transform import Rotation

    near = Rotation.random(ALIGN_STARTS_NEAR * 60, random_state=1)
    near = near[near.magnitude() <= math.radians(ALIGN_NEAR)][:ALIGN_STARTS_NEAR]
    rots = Rotation.concatenate([near, Rotation.random(ALIGN_STARTS, random_state=0)])
    order = np.argsort(rots.magnitude(), kind="stable")
    mats, angles = rots.as_matrix()[order], np.degrees(rots.magnitude()[order])
    mats[0], angles[0] = np.eye(3), 0.0
    return mats, angles


def angle(rot) -> float:
    """Rotation angle of a rotation matrix, degrees."""
    return math.degrees(math.acos(max(-1.0, min(1.0, (np.trace(rot) - 1.0) / 2.0))))


def _fit_key(fit):
    """Order of two alignments: more matched pairs, then the smaller rotation."""
    return int(np.count_nonzero(fit[2] >= 0)), -round(angle(fit[0]), 6)


def _search_orientations(prev, nxt, max_distance, dense_limit, tree):
    """Candidate (rot, shift) for :func:`_icp_grow`: short ICPs of the core of frame t (its
    ``ALIGN_SAMPLE`` atoms nearest the centroid) from every start of
    :func:`_start_rotations` (the centroids superposed after the start's rotation); the
    distinct fits (rotations more than 2 degrees apart) that match at least ``ALIGN_ACCEPT``
    of the best count, at most ``ALIGN_CANDIDATES``, smallest rotation first.  The core alone
    cannot rank them (a core fits its partners within ``max_distance`` over a few degrees),
    the whole frame does.  As the starts come by increasing angle, the search stops once a fit
    matches ``ALIGN_ACCEPT`` of the core and the starts are 30 degrees beyond its rotation (ICP
    moves a start by less)."""
    sample = nxt[_core_order(nxt)[:ALIGN_SAMPLE]]
    enough = ALIGN_ACCEPT * len(sample)
    cp, cn = prev.mean(axis=0), nxt.mean(axis=0)
    fits, first_good = [], None
    for r0, start_angle in zip(*_start_rotations(), strict=True):
        if first_good is not None and start_angle > first_good + 30.0:
            break
        fit = _icp(prev, sample, r0, cp - r0 @ cn, max_distance, ALIGN_SEARCH_ITER, dense_limit,
                   tree)
        if fit is None:
            continue
        fits.append((_fit_key(fit), fit[0], fit[1]))
        if fits[-1][0][0] >= enough:
            first_good = min(first_good if first_good is not None else 360.0, -fits[-1][0][1])
    if not fits:
        return []
    top = max(key[0] for key, _, _ in fits)
    chosen = []
    for key, rot, shift in sorted(fits, key=lambda f: (-f[0][1], -f[0][0])):  # small angle
        if key[0] >= ALIGN_ACCEPT * top and all(angle(rot @ r.T) > 2.0 for r, _ in chosen):
            chosen.append((rot, shift))
            if len(chosen) == ALIGN_CANDIDATES:
                break
    return chosen


class AlignmentError(ValueError):
    """No rigid alignment is defined: fewer than 3 atoms, or fewer than 3 matched pairs."""


def match(prev_coords, next_coords, *, max_distance: float, align: bool | str = False,
          max_iter: int = 50, dense_limit: int = DENSE_LIMIT) -> Match:
    """Match the atoms of frame t-1 (``prev_coords``) to those of frame t (``next_coords``).

    Parameters
    ----------
    prev_coords : (N_prev, 3), next_coords : (N_next, 3)
        Positions in Angstrom, any atom order; either may be empty.
    max_distance : float
        Largest displacement (A) of a retained atom; pairs farther apart are never matched.
        The workflow's default is :func:`default_max_distance` (0.5 x the nearest-neighbour
        distance).
    align : False, True or "search"
        Fit a rigid transform of frame t onto frame t-1 (iterated Kabsch on the matched pairs)
        before the final matching; off by default (docked frames). ``True``: from the identity
        or the centroids' shift (misorientations up to ~10 degrees); ``"search"``: also over
        starting orientations when that fit matches less than 98 % of the smaller frame (any
        orientation). See the module docstring.
    max_iter : int
        Largest number of Kabsch fits of the alignment.
    dense_limit : int
        See :func:`assign`.

    Returns
    -------
    :class:`Match`. Removed atoms have ``partner = -1``; atoms of frame t without partner are
    ``new``. Empty frames give all atoms removed (or all new).

    Raises
    ------
    ValueError
        Bad shapes, non-finite coordinates, a non-positive ``max_distance``, an unknown
        ``align``; with ``align``, :class:`AlignmentError` (a ValueError) for fewer than 3
        matched pairs (the ``track_pair`` stage records the pair as not tracked).
    """
    prev = _as_coords(prev_coords, "prev_coords")
    nxt = _as_coords(next_coords, "next_coords")
    max_distance = check_max_distance(max_distance)
    if not (align is False or align is True or align == "search"):
        raise ValueError(f"align must be False, True or 'search', got {align!r}")
    rot, shift = np.eye(3), np.zeros(3)
    converged, n_iter = True, 0
    if not align:
        partner = _match_once(prev, nxt, max_distance, dense_limit)
    else:
        if min(len(prev), len(nxt)) < 3:
            raise AlignmentError("rigid alignment needs at least 3 atoms in each frame")
        from scipy.spatial import cKDTree

        tree = cKDTree(prev)  # frame t-1 is matched again and again: one tree
        guesses = [np.zeros(3), prev.mean(axis=0) - nxt.mean(axis=0)]
        trials = [_match_once(prev, nxt + g, max_distance, dense_limit, tree) for g in guesses]
        best = int(np.argmax([np.count_nonzero(p >= 0) for p in trials]))  # ties: identity
        fit = _icp_grow(prev, nxt, np.eye(3), guesses[best], max_distance, max_iter, dense_limit,
                        tree)
        enough = ALIGN_ACCEPT * min(len(prev), len(nxt))
        if align == "search" and (fit is None or np.count_nonzero(fit[2] >= 0) < enough):
            for start in _search_orientations(prev, nxt, max_distance, dense_limit, tree):
                found = _icp_grow(prev, nxt, *start, max_distance, max_iter, dense_limit, tree)
                if found is not None and (fit is None or _fit_key(found) > _fit_key(fit)):
                    fit = found
        if fit is None:
            starts = "any starting orientation" if align == "search" else "the initial position"
            raise AlignmentError(
                f"rigid alignment: fewer than 3 atom pairs within {max_distance:.3f} A from "
                f"{starts}; pre-align the frames or raise max_distance"
            )
        rot, shift, partner, converged, n_iter = fit
    moved = nxt @ rot.T + shift if align else nxt
    ok = partner >= 0
    disp = np.full((len(prev), 3), np.nan)
    disp[ok] = moved[partner[ok]] - prev[ok]
    dist = np.full(len(prev), np.nan)
    dist[ok] = np.linalg.norm(disp[ok], axis=1)
    new = np.ones(len(nxt), dtype=bool)
    new[partner[ok]] = False
    return Match(partner=partner, new=new, displacement=disp, distance=dist,
                 max_distance=max_distance, rotation=rot, translation=shift, aligned=bool(align),
                 converged=converged, n_iter=n_iter)


def _mean(values) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def pair_summary(result: Match, *, cn=None, Q6=None, surface=None, crystalline=None) -> dict:
    """The summary values of a pair (:data:`PAIR_SUMMARY_COLUMNS`).

    Parameters
    ----------
    result : the :class:`Match` of frame t-1 to frame t.
    cn, Q6, surface, crystalline : (N_prev,) per-atom values of frame t-1 (bond count, coarse-
        grained Q6, surface flag, crystalline flag); a missing one gives NaN columns.

    Returns
    -------
    dict: ``n_retained, n_removed, n_added`` (int); ``displacement_mean``, ``displacement_p95``
    (A, over retained atoms; 95th percentile with linear interpolation); ``removed_X`` and
    ``all_X`` for X in ``cn_mean, Q6_mean, fraction_surface, fraction_disordered`` (disordered =
    not crystalline), over the removed atoms and over all atoms of frame t-1. NaN where the set
    is empty.
    """
    removed = result.removed
    d = result.distance[result.retained]
    row = {
        "n_retained": result.n_retained,
        "n_removed": result.n_removed,
        "n_added": result.n_added,
        "displacement_mean": float(d.mean()) if d.size else math.nan,
        "displacement_p95": float(np.percentile(d, 95)) if d.size else math.nan,
    }
    n_prev = len(result.partner)
    values = {
        "cn_mean": cn,
        "Q6_mean": Q6,
        "fraction_surface": None if surface is None else np.asarray(surface, dtype=bool),
        "fraction_disordered": None if crystalline is None
        else ~np.asarray(crystalline, dtype=bool),
    }
    for name, v in values.items():
        if v is None:
            row[f"removed_{name}"] = row[f"all_{name}"] = math.nan
            continue
        v = np.asarray(v, dtype=np.float64)
        if len(v) != n_prev:
            raise ValueError(f"{name}: {len(v)} values for {n_prev} atoms of frame t-1")
        row[f"removed_{name}"] = _mean(v[removed])
        row[f"all_{name}"] = _mean(v)
    return {k: row[k] for k in PAIR_SUMMARY_COLUMNS}


def atom_columns(tracking: Mapping[str, np.ndarray], n_atoms: int) -> dict[str, np.ndarray]:
    """The per-atom tracking column of frame t for its ``atoms.csv``: ``{"new": ...}``.

    ``tracking`` is the loaded ``tracking.npz``. With a pair: int64 0/1 (1 = added in frame t).
    Without (first frame, previous frame rejected): empty cells (unknown, not 0).
    """
    if bool(tracking.get("has_pair", False)):
        new = np.asarray(tracking["new"], dtype=np.int64)
        if len(new) != n_atoms:
            raise ValueError(f"tracking has {len(new)} atoms, the frame {n_atoms}")
        return {"new": new}
    return {"new": np.full(n_atoms, None, dtype=object)}


def summary_row(tracking: Mapping[str, np.ndarray]) -> dict:
    """The tracking columns of frame t's summary row (:data:`SUMMARY_COLUMNS`).

    ``previous_frame`` is the name of frame t-1 (empty for the first frame); the pair's values
    are ``None`` (empty cells) without a pair, NaN where undefined (e.g. no removed atom).
    """
    row: dict = {"previous_frame": str(tracking.get("previous_frame", "")) or None}
    row.update(dict.fromkeys(PAIR_SUMMARY_COLUMNS))
    if bool(tracking.get("has_pair", False)):
        for name, value in zip(tracking["summary_names"].tolist(),
                               tracking["summary_values"].tolist(), strict=True):
            row[name] = int(value) if name in _INT_COLUMNS else float(value)
    return row
