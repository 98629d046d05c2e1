r"""Crystalline domains of a frame, the boundaries between them, and twins.

A *domain* is a connected crystalline region of one lattice orientation: a grain, a twin
segment of a multiply twinned particle, or a nucleus in an amorphous matrix.  Two ways of finding
them (``method``):

``"orientation"`` (default)
    Atoms classified as a lattice by polyhedral template matching (:mod:`nanotraj.ptm`: fcc, hcp,
    bcc or sc; not ico, not other) are the nodes; a bond of the frame's network joins two of them
    when they have the same structure and their orientations differ by less than
    ``max_misorientation`` degrees (symmetry-aware: :func:`misorientation`).  The connected
    components (union-find over those bonds) with at least ``min_atoms`` atoms are the domains.
    A component that is at most two close-packed layers thick (:func:`layers`) is not a domain
    but a planar defect: the single layer of hcp atoms in a coherent {111} twin plane of an fcc
    crystal (two layers: an intrinsic stacking fault), and vice versa fcc layers in hcp.  Its
    atoms stay outside every domain and become boundary atoms between the crystals on either
    side.  This is how a perfect decahedron gives its five tetrahedra and not ten regions.
    Chaining: a slowly bending crystal stays one domain as long as neighbouring atoms differ by
    less than the threshold, whatever the total bend (as any bond-based segmentation; OVITO's
    grain segmentation with its minimum-spanning-tree algorithm does the same).

``"order"``
    The nucleation order parameter of atomic electron tomography (Zhou et al., Nature 570, 500
    (2019)): ``psi = sqrt(Q4^2 + Q6^2) / sqrt(Q4_fcc^2 + Q6_fcc^2)`` with ``Q4_fcc`` = 0.19094,
    ``Q6_fcc`` = 0.57452 (:data:`Q4_FCC`, :data:`Q6_FCC`: a perfect fcc lattice with 12
    neighbours, so ``psi = 1`` there).  Atoms with ``psi >= order_threshold`` (0.5) are
    crystal-like; the connected components of crystal-like atoms over the bonds with at least
    ``min_atoms`` (13: an atom and its 12 neighbours) atoms are the nuclei.  No orientation is
    used: two nuclei that touch are one.  ``Q4, Q6`` are the frame's *coarse-grained* values
    (the neighbours' mean q_lm; :mod:`nanotraj.order`): with the per-atom Steinhardt q4, q6 a
    metallic glass would be 99 % crystal-like (median psi 0.79 on ``amorphous_sphere(15)``),
    with the coarse-grained ones 7 % (median 0.34), as the AET papers' amorphous regions.

Per domain (:data:`DOMAIN_COLUMNS`): ``n_atoms``; ``structure`` (the PTM structure of the
domain: its one structure with ``orientation``; with ``order`` the most frequent lattice structure
among its atoms, ``other`` when none); ``orientation_x..w``, the mean orientation
(:func:`mean_orientation`) in PTM's fundamental zone and quaternion order; ``centroid_x..z`` (A);
``radius_gyration`` ``sqrt(mean |r - centroid|^2)`` (A); ``Q6_mean``; ``order_mean`` (mean psi);
``d_center`` = distance of the centroid from the mean position of all atoms of the frame (A).
Domains are numbered 0, 1, ... by decreasing size (ties: the smallest atom index first).

Boundaries
----------
Two domains are *neighbours* when atoms of both are bonded, or separated by one or two atoms
that belong to no domain (a twin plane, a stacking fault, a disordered grain boundary, a thin
amorphous gap).  Per atom, ``touched(i)`` = the domains of its bonded domain atoms:

* a domain atom bonded to an atom of another domain: boundary atom of that pair;
* an atom of no domain with ``touched`` = {A, B}: boundary atom of (A, B);
* an atom of no domain with ``touched`` = {A} and bonded to atoms of no domain whose own
  ``touched`` is one other domain B: boundary atom of (A, B) (a two-layer boundary);
* an atom of no domain touching three or more domains (where three grains meet) is a boundary
  *junction* atom: ``boundary`` = 1 but attributed to no pair.

The five-fold axes of a decahedron or an icosahedron touch only twin-plane atoms, no domain atom:
they are not boundary atoms.

Per pair (:data:`BOUNDARY_COLUMNS`): ``misorientation`` (degrees, between the two mean
orientations; ``nan`` for domains of different structures or without orientation),
``sigma3`` (1 = a Sigma-3 twin: cubic domains whose misorientation is within
``twin_tolerance`` of 60 degrees about <111>, :func:`sigma3_deviation`; Brandon's criterion
15 / sqrt(3) = 8.66 degrees by default, D. G. Brandon, Acta Metall. 14, 1479 (1966)),
``n_atoms`` (boundary atoms attributed to the pair), ``kind`` (``twin``, ``low_angle`` below 15
degrees, ``high_angle``, ``interphase`` for two lattices of different structures, ``undefined``
when a domain has no lattice orientation -- a nucleus of the ``order`` method made of atoms PTM
does not classify) and ``sigma3_deviation`` (degrees; NaN unless both are cubic).

Summary (:data:`SUMMARY_COLUMNS`): ``n_domains``, ``largest_domain_fraction`` (atoms of the
largest domain / atoms of the frame; 0 without domains), ``fraction_boundary`` (boundary atoms /
atoms), ``n_twin_boundaries`` (pairs with ``sigma3``), ``fraction_twin_boundary`` (atoms
attributed to Sigma-3 pairs / atoms; junction atoms are not counted).

Orientations and symmetry
-------------------------
Quaternions are ``(x, y, z, w)`` as in ``atoms.csv`` (``orientation_x..w``) and OVITO; PTM's
orientation ``q`` maps the template onto the lattice, ``r = R(q) t``, so ``q`` and ``q g`` (``g``
in the lattice's rotation group, applied on the right) describe the same lattice.  Groups
(:func:`symmetry_group`): cubic (24 rotations; fcc, bcc, sc, cube axes along x, y, z as PTM's
templates) and hexagonal D6 (12; hcp, c along z, an in-plane neighbour along x); the same groups
as PTM's fundamental zones (:func:`nanotraj.ptm.tables`, ``gens``; tested).  The misorientation
angle of ``a`` and ``b`` is ``min_g 2 arccos |w(a^-1 b g)|``, which equals the minimum over both
orientations' symmetry copies ``g1^-1 a^-1 b g2`` (a conjugation does not change an angle) and
OVITO's ``calculate_misorientation`` (tests/oracle).

References
----------
P. M. Larsen, S. Schmidt, J. Schiotz, Modelling Simul. Mater. Sci. Eng. 24, 055007 (2016) (PTM
orientations).  J. Zhou et al., Nature 570, 500 (2019) (nuclei in 4D by atomic electron
tomography; the normalised order parameter, threshold 0.5).  D. G. Brandon, Acta Metall. 14,
1479 (1966) (tolerance of coincidence boundaries).  S. Ino, J. Phys. Soc. Jpn. 27, 941 (1969);
L. D. Marks, Rep. Prog. Phys. 57, 603 (1994) (multiply twinned particles).  A. L. Mackay, Acta
Cryst. 15, 916 (1962).  W. T. Read, W. Shockley, Phys. Rev. 78, 275 (1950) (15 degrees between
low- and high-angle boundaries).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from nanotraj import contract as _contract

__all__ = [
    "METHODS",
    "Q4_FCC",
    "Q6_FCC",
    "TWIN_TOLERANCE",
    "LOW_ANGLE",
    "LATTICE_CODES",
    "STRUCTURE_NAMES",
    "DOMAIN_COLUMNS",
    "BOUNDARY_COLUMNS",
    "SUMMARY_COLUMNS",
    "symmetry_group",
    "misorientation",
    "sigma3_deviation",
    "mean_orientation",
    "order_parameter",
    "layers",
    "find_domains",
    "empty_result",
]

#: Segmentation methods (config ``domains.method``).
METHODS = ("orientation", "order")

#: Q4 and Q6 of an atom of a perfect fcc lattice with its 12 nearest neighbours (Steinhardt,
#: Nelson & Ronchetti, PRB 28, 784 (1983); :func:`nanotraj.lattices.reference_points`).
Q4_FCC = 0.190941
Q6_FCC = 0.574524

#: Default tolerance of a Sigma-3 twin (degrees): Brandon's 15 / sqrt(Sigma).
TWIN_TOLERANCE = 15.0 / math.sqrt(3.0)

#: Misorientation (degrees) below which a boundary is low-angle (Read & Shockley).
LOW_ANGLE = 15.0

#: PTM codes that form domains with ``method="orientation"`` (lattices: fcc, hcp, bcc, sc).
LATTICE_CODES = (1, 2, 3, 5)

#: Structure names by PTM code (:data:`nanotraj.ptm.STRUCTURE_NAMES`).
STRUCTURE_NAMES = ("other", "fcc", "hcp", "bcc", "ico", "sc")

#: Columns of a frame's ``domains.csv``, ``boundaries.csv`` and its summary: the contract's.
DOMAIN_COLUMNS = _contract.DOMAIN_COLUMNS
BOUNDARY_COLUMNS = _contract.BOUNDARY_COLUMNS
SUMMARY_COLUMNS = _contract.DOMAIN_SUMMARY_COLUMNS

#: A fcc or hcp component at most this many close-packed layers thick is a planar defect.
PLANAR_LAYERS = 2

_CHUNK = 1 << 18  # bonds per block of the misorientation (24 x 8 bytes each: 50 MB)


# ----------------------------------------------------------------------------------------------
# quaternions: internally (w, x, y, z); the public functions take (x, y, z, w)


def _wxyz(q) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions must have 4 components, got shape {q.shape}")
    return q[..., [3, 0, 1, 2]]


def _xyzw(q) -> np.ndarray:
    return q[..., [1, 2, 3, 0]]


def _qmul(a, b) -> np.ndarray:
    """Hamilton product of (w, x, y, z) quaternions (broadcasting)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _conj(q) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _quat_of_matrix(m) -> np.ndarray:
    """(w, x, y, z) of a proper rotation matrix, w >= 0 (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    tr = np.trace(m)
    cands = [1.0 + tr, 1.0 + 2 * m[0, 0] - tr, 1.0 + 2 * m[1, 1] - tr, 1.0 + 2 * m[2, 2] - tr]
    k = int(np.argmax(cands))
    s = math.sqrt(cands[k]) * 2.0
    if k == 0:
        q = [s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif k == 1:
        q = [(m[2, 1] - m[1, 2]) / s, s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif k == 2:
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s]
    else:
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4]
    q = np.array(q)
    return -q if q[0] < 0 else q


def _rotation_matrices(q) -> np.ndarray:
    """(..., 3, 3) active rotation matrices of (w, x, y, z) unit quaternions."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


@cache
def _groups() -> dict[str, np.ndarray]:
    import itertools

    cubic = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs, strict=True)):
                m[row, col] = s
            if np.linalg.det(m) > 0:
                cubic.append(_quat_of_matrix(m))
    hexagonal = []
    for k in range(6):  # six-fold axis along z, two-fold axes in the plane every 30 degrees
        t = math.radians(60.0 * k)
        hexagonal.append([math.cos(t / 2), 0.0, 0.0, math.sin(t / 2)])
        p = math.radians(30.0 * k)
        hexagonal.append([0.0, math.cos(p), math.sin(p), 0.0])
    out = {"cubic": np.array(cubic), "hexagonal": np.array(hexagonal)}
    for arr in out.values():
        arr.setflags(write=False)
    return out


def symmetry_group(symmetry) -> np.ndarray:
    """The proper rotations of a lattice as unit quaternions ``(x, y, z, w)``, identity first.

    ``symmetry``: ``"cubic"`` (24: fcc, bcc, sc), ``"hexagonal"`` (12, D6 with c along z: hcp),
    or a PTM structure code / name (1 fcc, 3 bcc, 5 sc: cubic; 2 hcp: hexagonal).  The frames
    are those of PTM's templates (:data:`nanotraj.ptm.TEMPLATES`).  ValueError for ico, other
    or an unknown name.
    """
    return _xyzw(_group_wxyz(symmetry))


def _group_wxyz(symmetry) -> np.ndarray:
    name = _symmetry_name(symmetry)
    g = _groups()[name]
    return g[np.lexsort((np.arange(len(g)), -np.abs(g[:, 0])))]  # identity first


def _symmetry_name(symmetry) -> str:
    if isinstance(symmetry, str) and symmetry in ("cubic", "hexagonal"):
        return symmetry
    code = STRUCTURE_NAMES.index(symmetry) if isinstance(symmetry, str) and \
        symmetry in STRUCTURE_NAMES else symmetry
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = -1
    if code in (1, 3, 5):
        return "cubic"
    if code == 2:
        return "hexagonal"
    raise ValueError(f"no lattice symmetry for structure {symmetry!r}: give 'cubic', "
                     "'hexagonal' or a lattice structure (fcc, hcp, bcc, sc)")


def _best_w(d, group) -> tuple[np.ndarray, np.ndarray]:
    """For (M, 4) (w, x, y, z) quaternions ``d``: the largest ``|w(d g)|`` over the group and the
    index of that ``g`` (the first one on ties)."""
    gw = group * np.array([1.0, -1.0, -1.0, -1.0])  # w(d g) = d . (g_w, -g_x, -g_y, -g_z)
    ws = np.abs(d @ gw.T)
    k = np.argmax(ws, axis=1)
    return ws[np.arange(len(d)), k], k


def _angle(d) -> np.ndarray:
    """Rotation angle (degrees, 0..180) of (w, x, y, z) unit quaternions, accurate near 0."""
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(d[..., 1:], axis=-1), np.abs(d[..., 0])))


def _reduced_angle(d, group) -> np.ndarray:
    """min over g of the angle of ``d g``: (M, 4) (w, x, y, z) -> (M,) degrees."""
    out = np.empty(len(d))
    for a in range(0, len(d), _CHUNK):
        blk = d[a:a + _CHUNK]
        _, k = _best_w(blk, group)
        out[a:a + _CHUNK] = _angle(_qmul(blk, group[k]))
    return out


def _normalised(q) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def misorientation(a, b, symmetry="cubic") -> np.ndarray:
    """Symmetry-reduced misorientation angle (the disorientation angle) of two orientations.

    .. math::  \\theta(a, b) = \\min_{g \\in G} 2 \\arccos |w(a^{-1} b\\, g)|

    over the proper rotations ``G`` of the lattice (:func:`symmetry_group`), which equals the
    minimum over the symmetry copies of both orientations.  Computed as
    ``2 atan2(|v|, |w|)`` of the best ``a^-1 b g`` (accurate for small angles).

    Parameters
    ----------
    a, b : (4,) or (M, 4) unit quaternions ``(x, y, z, w)`` (PTM's ``orientation_x..w``;
        normalised here), broadcast against each other.
    symmetry : ``"cubic"``, ``"hexagonal"`` or a PTM structure code / name.

    Returns
    -------
    float or (M,) float64: degrees, 0 .. 62.8 (cubic) or 0 .. 93.8 (hexagonal); NaN where a
    quaternion has a NaN (an atom PTM did not classify).
    """
    group = _group_wxyz(symmetry)
    return _per_pair(a, b, lambda d: _reduced_angle(d, group))


def _per_pair(a, b, angle) -> np.ndarray:
    """``angle(d)`` of the relative rotations ``d = a^-1 b`` (M, 4) ``(w, x, y, z)`` of the pairs
    of ``(x, y, z, w)`` quaternions ``a``, ``b`` (broadcast, normalised here); NaN for a pair
    with a NaN; a float for two single quaternions."""
    qa, qb = np.broadcast_arrays(_wxyz(a), _wxyz(b))
    scalar = qa.ndim == 1
    qa, qb = np.atleast_2d(qa), np.atleast_2d(qb)
    bad = ~(np.isfinite(qa).all(axis=1) & np.isfinite(qb).all(axis=1))
    out = np.full(len(qa), np.nan)
    if (~bad).any():
        out[~bad] = angle(_qmul(_conj(_normalised(qa[~bad])), _normalised(qb[~bad])))
    return float(out[0]) if scalar else out


@cache
def _sigma3_variants() -> np.ndarray:
    """The 8 rotations by 60 degrees about the <111> directions (w, x, y, z): the Sigma-3
    relation in every cubic setting."""
    import itertools

    c, s = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
    return np.array([[c, *(s * np.array(n) / math.sqrt(3.0))]
                     for n in itertools.product((1.0, -1.0), repeat=3)])


def sigma3_deviation(a, b) -> np.ndarray:
    """Angle (degrees) between the misorientation of two cubic orientations and the Sigma-3
    twin relation, 60 degrees about <111>.

    .. math::  \\Delta = \\min_{g_1, g_2 \\in G} \\angle\\left(S^{-1} g_1^{-1} a^{-1} b\\, g_2
               \\right) = \\min_{k, g} \\angle\\left(S_k^{-1} a^{-1} b\\, g\\right)

    with ``S`` 60 degrees about [111] and ``S_k = g_1 S g_1^-1`` its 8 variants (60 degrees
    about each of the eight <111> directions).  0 for a perfect twin; a pair is a twin when
    ``Delta`` is at most the tolerance (Brandon's 8.66 degrees, :data:`TWIN_TOLERANCE`).
    ``a, b``: (4,) or (M, 4) quaternions ``(x, y, z, w)``; NaN where either has a NaN.
    """
    group = _group_wxyz("cubic")

    def deviation(d):
        best = np.full(len(d), np.inf)
        for s in _sigma3_variants():
            best = np.minimum(best, _reduced_angle(_qmul(_conj(s), d), group))
        return best

    return _per_pair(a, b, deviation)


def _fundamental(q, group) -> np.ndarray:
    """PTM's representative of each (w, x, y, z) orientation: ``q g`` with the largest ``|w|``
    over the group, then ``w >= 0``."""
    _, k = _best_w(q, group)
    out = _qmul(q, group[k])
    return np.where(out[:, :1] < 0, -out, out)


def mean_orientation(q, symmetry="cubic", *, iterations=3) -> np.ndarray:
    """Mean of lattice orientations, symmetry-aware: the symmetry copy of each orientation
    nearest the current mean is averaged (sign-aligned quaternions, then normalised), starting
    from the first orientation, ``iterations`` times; returned in PTM's fundamental zone (the
    copy with the largest ``|w|``, then ``w >= 0``).

    For orientations spread by less than a few degrees this is the usual quaternion average
    (the chordal L2 mean); it is what OVITO's grain segmentation reports as a grain's
    orientation.  ``q``: (M, 4) ``(x, y, z, w)`` (rows with NaN are ignored); returns (4,)
    ``(x, y, z, w)``, NaN for no finite row.
    """
    q = _wxyz(np.atleast_2d(q))
    q = q[np.isfinite(q).all(axis=1)]
    if not len(q):
        return np.full(4, np.nan)
    q = _normalised(q)
    group = _group_wxyz(symmetry)
    ref = q[0]
    copies = np.empty_like(q)
    for _ in range(max(1, int(iterations))):
        # the copy of each q nearest ref: largest |<ref, q g>| = largest |w(ref^-1 q g)|;
        # block by block (the (M, 24) products of a 1e6-atom grain would take 200 MB)
        cref = _conj(ref)[None, :]
        for a in range(0, len(q), _CHUNK):
            blk = q[a:a + _CHUNK]
            _, k = _best_w(_qmul(cref, blk), group)
            c = _qmul(blk, group[k])
            c *= np.where(c @ ref < 0, -1.0, 1.0)[:, None]
            copies[a:a + _CHUNK] = c
        ref = _normalised(copies.sum(axis=0))
    return _xyzw(_fundamental(ref[None, :], group)[0])


def order_parameter(Q4, Q6) -> np.ndarray:
    """The normalised nucleation order parameter ``sqrt(Q4^2 + Q6^2) / sqrt(Q4_fcc^2 +
    Q6_fcc^2)`` (Zhou et al., Nature 570, 500 (2019)): 1 in a perfect fcc lattice, 0 for an atom
    without bonds; (N,) arrays in, (N,) out (dimensionless)."""
    return np.hypot(np.asarray(Q4, float), np.asarray(Q6, float)) / math.hypot(Q4_FCC, Q6_FCC)


def layers(coords, normal, spacing) -> float:
    """Close-packed layers of a set of atoms along a unit ``normal``: ``1 + span / spacing``
    with ``span`` the 5-95 % range of the positions along it (robust to a few stray atoms and
    to noise); ``spacing`` = the interlayer distance ``sqrt(2/3) d_nn`` (A).  One layer ~1,
    two ~2; 0 atoms -> 0."""
    x = np.asarray(coords, float)
    if not len(x):
        return 0.0
    s = x @ np.asarray(normal, float)
    lo, hi = np.percentile(s, [5.0, 95.0])
    return 1.0 + float(hi - lo) / float(spacing)


#: The four <111> normals of the fcc template (close-packed planes).
_FCC_NORMALS = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]]) / math.sqrt(3.0)


def _is_planar(coords, code, q_mean, spacing) -> bool:
    """Whether an fcc or hcp component is a planar defect (at most :data:`PLANAR_LAYERS`
    close-packed layers along its c axis, or along any <111> for fcc)."""
    if code not in (1, 2) or not np.isfinite(q_mean).all() or not spacing > 0:
        return False
    rot = _rotation_matrices(_wxyz(q_mean))
    normals = [rot @ np.array([0.0, 0.0, 1.0])] if code == 2 else [rot @ n for n in _FCC_NORMALS]
    return min(layers(coords, n, spacing) for n in normals) < PLANAR_LAYERS + 0.5


# ----------------------------------------------------------------------------------------------
# segmentation


def _components(n, edges) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes over ``edges`` (E, 2) (union-find,
    :func:`scipy.sparse.csgraph.connected_components`)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _number_by_size(labels, keep) -> np.ndarray:
    """Relabel components: those ``keep`` (bool per component) as 0, 1, ... by decreasing size
    then smallest atom index; the others -1."""
    n_comp = int(labels.max()) + 1 if len(labels) else 0
    size = np.bincount(labels, minlength=n_comp)
    first = np.full(n_comp, len(labels), dtype=np.int64)
    np.minimum.at(first, labels, np.arange(len(labels)))
    kept = np.flatnonzero(keep)
    order = kept[np.lexsort((first[kept], -size[kept]))]
    new = np.full(n_comp, -1, dtype=np.int64)
    new[order] = np.arange(len(order))
    return new[labels]


def empty_result(n_atoms: int = 0) -> dict:
    """The result of :func:`find_domains` for a frame without any domain."""
    return {
        "domain": np.full(n_atoms, -1, dtype=np.int64),
        "boundary": np.zeros(n_atoms, dtype=np.int8),
        "twin_boundary": np.zeros(n_atoms, dtype=bool),
        "domains": _domain_table([]),
        "boundaries": _boundary_table([]),
        "summary": dict.fromkeys(SUMMARY_COLUMNS, 0) | {
            "largest_domain_fraction": 0.0, "fraction_boundary": 0.0,
            "fraction_twin_boundary": 0.0},
        "n_planar": 0,
    }


def _domain_table(rows) -> dict[str, np.ndarray]:
    cols = {c: [r[c] for r in rows] for c in DOMAIN_COLUMNS}
    out = {}
    for c, v in cols.items():
        if c in ("domain", "n_atoms"):
            out[c] = np.array(v, dtype=np.int64)
        elif c == "structure":
            out[c] = np.array(v, dtype=str) if v else np.zeros(0, dtype="<U5")
        else:
            out[c] = np.array(v, dtype=np.float64)
    return out


def _boundary_table(rows) -> dict[str, np.ndarray]:
    out = {}
    for c in BOUNDARY_COLUMNS:
        v = [r[c] for r in rows]
        if c in ("domain_a", "domain_b", "n_atoms"):
            out[c] = np.array(v, dtype=np.int64)
        elif c == "sigma3":
            out[c] = np.array(v, dtype=bool)
        elif c == "kind":
            out[c] = np.array(v, dtype=str) if v else np.zeros(0, dtype="<U10")
        else:
            out[c] = np.array(v, dtype=np.float64)
    return out


def _check(coords, bonds, structure, orientation, Q4, Q6):
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    n = len(x)
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(b) and (b.min() < 0 or b.max() >= n):
        raise ValueError(f"bonds refer to atoms outside 0..{n - 1}")
    st = np.asarray(structure, dtype=np.int64)
    q = np.asarray(orientation, dtype=np.float64)
    if st.shape != (n,) or q.shape != (n, 4):
        raise ValueError(f"structure must be (N,) and orientation (N, 4) for N = {n} atoms, got "
                         f"{st.shape} and {q.shape}")
    q4 = np.zeros(n) if Q4 is None else np.asarray(Q4, dtype=np.float64)
    q6 = np.zeros(n) if Q6 is None else np.asarray(Q6, dtype=np.float64)
    if q4.shape != (n,) or q6.shape != (n,):
        raise ValueError(f"Q4 and Q6 must be (N,) for N = {n} atoms")
    return x, b, st, q, q4, q6


def find_domains(coords, bonds, structure, orientation, *, Q4=None, Q6=None,
                 method="orientation", max_misorientation=5.0, min_atoms=13,
                 order_threshold=0.5, twin_tolerance=TWIN_TOLERANCE, distances=None) -> dict:
    """Crystalline domains, their boundaries and twins of one frame (module docstring).

    Parameters
    ----------
    coords : (N, 3) positions, Angstrom.
    bonds : (B, 2) atom index pairs (the frame's bond network, :mod:`nanotraj.bonds`).
    structure : (N,) PTM codes (0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico, 5 sc).
    orientation : (N, 4) PTM orientations ``(x, y, z, w)``, NaN rows where unclassified.
    Q4, Q6 : (N,) coarse-grained bond-orientational order (needed by ``method="order"``, and
        for ``Q6_mean`` / ``order_mean``; zeros when None).
    method : ``"orientation"`` or ``"order"``.
    max_misorientation : degrees (> 0): largest misorientation of two bonded atoms of a domain
        (``orientation``).
    min_atoms : smallest domain (>= 1).
    order_threshold : crystal-like atoms have ``psi >= order_threshold`` (``order``).
    twin_tolerance : degrees: largest deviation of a Sigma-3 twin.
    distances : (B,) bond lengths (A), for the interlayer spacing of the planar-defect test
        (``sqrt(2/3)`` x the median bond length of the component); computed when None.

    Returns
    -------
    dict: ``domain`` (N,) int64 (-1: none), ``boundary`` (N,) int8, ``twin_boundary`` (N,) bool
    (attributed to a Sigma-3 pair), ``domains`` (columns :data:`DOMAIN_COLUMNS`, one entry per
    domain), ``boundaries`` (columns :data:`BOUNDARY_COLUMNS`, pairs with ``domain_a <
    domain_b``, sorted), ``summary`` (:data:`SUMMARY_COLUMNS`) and ``n_planar`` (components set
    aside as planar defects).  A frame without atoms, bonds or crystalline atoms has no domain
    (every atom -1, boundary 0, fractions 0).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (max_misorientation > 0 and math.isfinite(max_misorientation)):
        raise ValueError(f"max_misorientation must be > 0 degrees, got {max_misorientation}")
    if int(min_atoms) < 1:
        raise ValueError(f"min_atoms must be >= 1, got {min_atoms}")
    x, b, st, q, q4, q6 = _check(coords, bonds, structure, orientation, Q4, Q6)
    n = len(x)
    if n == 0:
        return empty_result(0)
    psi = order_parameter(q4, q6)
    n_planar = 0
    means = {}  # first atom of a component -> its mean orientation
    if method == "orientation":
        node = np.isin(st, LATTICE_CODES) & np.isfinite(q).all(axis=1)
        e = b[node[b[:, 0]] & node[b[:, 1]] & (st[b[:, 0]] == st[b[:, 1]])]
        keep_e = np.zeros(len(e), dtype=bool)
        for code in LATTICE_CODES:
            # block by block: the pairs' quaternions and their products are (M, 4) arrays,
            # ~1.5 GB at once for the 6e6 bonds of a 1e6-atom crystal
            sel = np.flatnonzero(st[e[:, 0]] == code)
            for a in range(0, len(sel), _CHUNK):
                blk = sel[a:a + _CHUNK]
                keep_e[blk] = misorientation(q[e[blk, 0]], q[e[blk, 1]], code) < \
                    max_misorientation
        e = e[keep_e]
    else:
        node = psi >= order_threshold
        e = b[node[b[:, 0]] & node[b[:, 1]]]
    labels = _components(n, e)
    n_comp = int(labels.max()) + 1
    size = np.bincount(labels[node], minlength=n_comp)
    keep = size >= int(min_atoms)
    keep &= np.bincount(labels, weights=node.astype(float), minlength=n_comp) > 0
    if method == "orientation" and keep.any():
        if distances is None:
            distances = np.linalg.norm(x[b[:, 0]] - x[b[:, 1]], axis=1) if len(b) else \
                np.zeros(0)
        d_e = np.asarray(distances, float)
        for c in np.flatnonzero(keep):
            members = np.flatnonzero(labels == c)
            code = int(st[members[0]])
            if code not in (1, 2):
                continue
            inner = (labels[b[:, 0]] == c) & (labels[b[:, 1]] == c)
            spacing = math.sqrt(2.0 / 3.0) * float(np.median(d_e[inner])) if inner.any() else 0
            # a component's atoms are all of one lattice code with an orientation: the same
            # rows _describe averages for its domain (kept by its first atom, not recomputed)
            means[int(members[0])] = mean_orientation(q[members], code)
            if _is_planar(x[members], code, means[int(members[0])], spacing):
                keep[c] = False
                n_planar += 1
    domain = _number_by_size(labels, keep)
    domain[~node] = -1
    k = int(domain.max()) + 1 if n else 0
    if k == 0:
        res = empty_result(n)
        res["n_planar"] = n_planar
        return res
    return _describe(x, b, st, q, q6, psi, domain, k, method, twin_tolerance, n_planar, means)


def _describe(x, b, st, q, q6, psi, domain, k, method, twin_tolerance, n_planar,
              means_by_first=None) -> dict:
    n = len(x)
    centre = x.mean(axis=0)
    rows, codes, means = [], [], []
    order = np.argsort(domain, kind="stable")
    starts = np.searchsorted(domain[order], np.arange(k + 1))
    for d in range(k):
        members = order[starts[d]:starts[d + 1]]
        lattice = st[members][np.isin(st[members], LATTICE_CODES)]
        code = int(np.bincount(lattice).argmax()) if len(lattice) else 0
        with_q = members[(st[members] == code) & np.isfinite(q[members]).all(axis=1)]
        known = (means_by_first or {}).get(int(members[0])) if len(with_q) == len(members) \
            else None
        if known is not None:
            mean_q = known
        else:
            mean_q = mean_orientation(q[with_q], code) if code and len(with_q) else \
                np.full(4, np.nan)
        c = x[members].mean(axis=0)
        rows.append({
            "domain": d, "n_atoms": len(members), "structure": STRUCTURE_NAMES[code],
            "orientation_x": mean_q[0], "orientation_y": mean_q[1], "orientation_z": mean_q[2],
            "orientation_w": mean_q[3], "centroid_x": c[0], "centroid_y": c[1],
            "centroid_z": c[2],
            "radius_gyration": math.sqrt(float(np.mean(np.sum((x[members] - c) ** 2, axis=1)))),
            "Q6_mean": float(np.mean(q6[members])), "order_mean": float(np.mean(psi[members])),
            "d_center": float(np.linalg.norm(c - centre)),
        })
        codes.append(code)
        means.append(mean_q)
    atom_pairs = _boundary_atoms(n, b, domain)  # (atom, a, b) with a < b; a = -1: junction
    boundary = np.zeros(n, dtype=np.int8)
    boundary[atom_pairs[:, 0]] = 1
    paired = atom_pairs[atom_pairs[:, 1] >= 0]
    brows = []
    twin_atoms = np.zeros(n, dtype=bool)
    if len(paired):
        keys, counts = np.unique(paired[:, 1:], axis=0, return_counts=True)
        for (da, db), cnt in zip(keys.tolist(), counts.tolist(), strict=True):
            ca, cb = codes[da], codes[db]
            qa, qb = means[da], means[db]
            mis = dev = math.nan
            if ca == cb and ca and np.isfinite(qa).all() and np.isfinite(qb).all():
                mis = misorientation(qa, qb, ca)
                if ca in (1, 3, 5):
                    dev = sigma3_deviation(qa, qb)
            twin = bool(dev <= twin_tolerance)
            if twin:
                kind = "twin"
            elif not (ca and cb) or (ca == cb and not math.isfinite(mis)):
                kind = "undefined"  # a domain without a lattice orientation (method order)
            elif ca != cb:
                kind = "interphase"
            elif mis < LOW_ANGLE:
                kind = "low_angle"
            else:
                kind = "high_angle"
            brows.append({"domain_a": da, "domain_b": db, "misorientation": mis, "sigma3": twin,
                          "n_atoms": cnt, "kind": kind, "sigma3_deviation": dev})
            if twin:
                sel = (paired[:, 1] == da) & (paired[:, 2] == db)
                twin_atoms[paired[sel, 0]] = True
    sizes = np.array([r["n_atoms"] for r in rows])
    summary = {
        "n_domains": k,
        "largest_domain_fraction": float(sizes.max()) / n,
        "fraction_boundary": float(boundary.sum()) / n,
        "n_twin_boundaries": int(sum(r["sigma3"] for r in brows)),
        "fraction_twin_boundary": float(twin_atoms.sum()) / n,
    }
    return {"domain": domain, "boundary": boundary, "twin_boundary": twin_atoms,
            "domains": _domain_table(rows), "boundaries": _boundary_table(brows),
            "summary": summary, "n_planar": n_planar, "method": method}


def _boundary_atoms(n, b, domain) -> np.ndarray:
    """Boundary atoms and the pair of domains each belongs to (module docstring, *Boundaries*):
    (M, 3) rows ``(atom, a, b)`` with ``a < b``, or ``(atom, -1, -1)`` for a junction atom;
    an atom appears once per pair, junction atoms once."""
    if not len(b):
        return np.zeros((0, 3), dtype=np.int64)
    i, j = b[:, 0], b[:, 1]
    di, dj = domain[i], domain[j]
    out = []
    direct = (di >= 0) & (dj >= 0) & (di != dj)
    if direct.any():
        lo, hi = np.minimum(di[direct], dj[direct]), np.maximum(di[direct], dj[direct])
        out.append(np.stack([i[direct], lo, hi], axis=1))
        out.append(np.stack([j[direct], lo, hi], axis=1))
    # atoms of no domain and the domains they touch: (atom, domain), unique
    t = np.concatenate([np.stack([j[(di >= 0) & (dj < 0)], di[(di >= 0) & (dj < 0)]], 1),
                        np.stack([i[(dj >= 0) & (di < 0)], dj[(dj >= 0) & (di < 0)]], 1)])
    t = np.unique(t, axis=0) if len(t) else t.reshape(0, 2)
    n_touch = np.bincount(t[:, 0], minlength=n) if len(t) else np.zeros(n, dtype=np.int64)
    # one touched domain per atom (the only one for n_touch == 1), two for n_touch == 2
    first = np.full(n, -1, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    if len(t):
        starts = np.searchsorted(t[:, 0], np.arange(n))
        has = n_touch > 0
        first[has] = t[starts[has], 1]
        last[has] = t[starts[has] + n_touch[has] - 1, 1]
    two = np.flatnonzero(n_touch == 2)
    if len(two):
        out.append(np.stack([two, first[two], last[two]], axis=1))
    many = np.flatnonzero(n_touch >= 3)
    if len(many):
        out.append(np.stack([many, np.full(len(many), -1), np.full(len(many), -1)], axis=1))
    # two-layer boundaries: a bond between atoms of no domain touching one domain each, different
    one = n_touch == 1
    m2 = one[i] & one[j] & (domain[i] < 0) & (domain[j] < 0) & (first[i] != first[j])
    if m2.any():
        # an atom whose one-domain neighbours touch more than one other domain is a junction
        pairs = np.concatenate([np.stack([i[m2], first[i[m2]], first[j[m2]]], 1),
                                np.stack([j[m2], first[j[m2]], first[i[m2]]], 1)])
        pairs = np.unique(pairs, axis=0)
        n_other = np.bincount(pairs[:, 0], minlength=n)
        single = n_other[pairs[:, 0]] == 1
        p = pairs[single]
        out.append(np.stack([p[:, 0], np.minimum(p[:, 1], p[:, 2]),
                             np.maximum(p[:, 1], p[:, 2])], axis=1))
        jn = np.unique(pairs[~single, 0])
        if len(jn):
            out.append(np.stack([jn, np.full(len(jn), -1), np.full(len(jn), -1)], axis=1))
    if not out:
        return np.zeros((0, 3), dtype=np.int64)
    return np.unique(np.concatenate(out).astype(np.int64), axis=0)
