r"""Polyhedral template matching (PTM): per-atom structure, orientation and lattice spacing.

P. M. Larsen, S. Schmidt, J. Schiotz, "Robust structural identification via polyhedral template
matching", Modelling Simul. Mater. Sci. Eng. 24, 055007 (2016).  Re-implemented here (numpy +
numba, :mod:`nanotraj._ptm_kernels`) with the conventions of OVITO 3.17's
``PolyhedralTemplateMatchingModifier``, against which it is tested atom for atom
(``tests/oracle/test_ovito_ptm.py``).

For every atom, PTM takes its (at most) 18 nearest neighbours, orders them by the solid angle of
their face of the atom's Voronoi cell, and for each enabled structure compares the convex hull of
the atom and its first 6 (sc), 12 (fcc, hcp, ico) or 14 (bcc) neighbours with that of the ideal
template: the hull must be the same polyhedron (same triangulated surface up to an
orientation-preserving relabelling; square faces may be split either way).  Each such
correspondence between neighbours and template points is scored by the RMSD after the best
rotation and scaling; the lowest RMSD over all structures wins.  An atom matches nothing (code
0) when its central atom lies on the hull of its neighbours (surface atoms), the hull is not
that of any template, or it has too few neighbours.

Structure codes (OVITO's ``PolyhedralTemplateMatchingModifier.Type``): :data:`OTHER` = 0,
:data:`FCC` = 1, :data:`HCP` = 2, :data:`BCC` = 3, :data:`ICO` = 4 (icosahedral), :data:`SC` = 5
(simple cubic).  Lengths in Angstrom.

Templates (:data:`TEMPLATES`)
-----------------------------
Ideal neighbour vectors, barycentre at the central atom, scaled to a mean neighbour distance of
1 (the unit of the RMSD):

* fcc: the 12 vectors ``(+-1, +-1, 0) / sqrt(2)`` and permutations (cube axes along x, y, z);
* hcp: c axis along z; 6 neighbours in the plane at azimuths 0, 60, ..., 300 deg (one along
  +x), 3 above and 3 below (``z = +-sqrt(2/3)``, radius ``1/sqrt(3)``) at azimuths 30, 150,
  270 deg.  HCP has a second template (index 1), the first rotated by 60 deg about z (the
  other stacking of the same hexagonal lattice), point for point in the same order;
* bcc: 8 first neighbours ``(+-1, +-1, +-1) a / 2`` and 6 second ``(+-a, 0, 0)``, ...,
  ``a = 14 sqrt(3) / 3 - 7`` (nearest-neighbour distance ``7 - 3.5 sqrt(3)`` = 0.938);
* ico: a five-fold axis along z: ``(0, 0, +-1)``, an upper ring at ``z = 1/sqrt(5)``, radius
  ``2/sqrt(5)``, azimuths 90 + 72 k deg and a lower ring at ``z = -1/sqrt(5)``, azimuths
  270 + 72 k deg;
* sc: ``(+-1, 0, 0)``, ``(0, +-1, 0)``, ``(0, 0, +-1)``.

Within a template the points are sorted by decreasing z, then y, then x (hcp index 1: in the
order of index 0).  ``result["neighbours"][i, k]`` is the atom matched to point ``k`` of
template ``result["template_index"][i]`` of the atom's structure, and the orientation ``q`` maps
the template onto the atom's neighbours: ``r_j - r_i ~ R(q) t_k * interatomic_distance /
nn(template)``.

The triangulations of the templates' square faces (6 squares of the fcc and hcp polyhedra, the
12 rhombi of bcc's rhombic dodecahedron), their classes under the templates' rotations (8 for
fcc, 16 hcp, 218 bcc, 1 ico, 1 sc), the canonical codes and the symmetry groups of the
fundamental zones are derived from these points by :func:`derive_tables` on first use, then
kept on disk for the next processes (:func:`tables`).

Agreement with OVITO 3.17.2 (``tests/oracle/test_ovito_ptm.py``)
-----------------------------------------------------------------
With the same structures enabled: the same structure type on every atom of the four measured
frames of the shared Pt series and of synthetic fcc, hcp and bcc spheres, a Mackay icosahedron,
an Ino decahedron and an amorphous particle (2,000-2,300 atoms each) with 0.05-0.25 A of noise,
for RMSD cutoffs 0, 0.1 and 0.2; on the matched atoms the same RMSD (1e-13), orientation (3e-8,
OVITO stores float32), interatomic distance and deformation gradient (1e-14) and neighbours.
Ideal lattices (noise 0, and the ideal truncated octahedron of the shared data) agree on every
atom with cutoff 0.1, on 98.9-100 % with 0.2 and on 94.4-99.4 % without a cutoff: the others
are atoms whose result is decided by floating-point rounding in both programs -- exactly equal
Voronoi face areas or distances at the 6th/12th/14th/18th neighbour, coplanar hull points,
orientations on the boundary of the fundamental zone (surface atoms matched with RMSD > 0.1).
Which way such a tie goes depends on the last bits of each program's arithmetic; it is not
reproducible between implementations (nor, in either program, under a rotation of the
particle).

Choosing the RMSD cutoff (``benchmarks/validate_ptm.py``)
--------------------------------------------------------
Interior atoms (> 2 nearest-neighbour distances inside the surface) of noisy synthetic
particles, per coordinate Gaussian noise sigma (median RMSD of the interior atoms in brackets):

=============  =================  ==================  ==================  ===================
cutoff         sigma 0.15 (0.08)  sigma 0.20 (0.11)   sigma 0.25 (0.14)   amorphous: crystal.
=============  =================  ==================  ==================  ===================
none           92-100 % right     92.0-99.8 % right   89-97 % right,      84 % (+ 14 % ico)
                                                      2-11 % wrong
0.10           86-99 %            18-31 %             1-9 %               0.1-0.2 %
0.15           100 %              98.9-99.8 %         70-87 %             1.9-2.7 %
0.20           100 %              99.5-99.8 %         94-97 %, 1-2 %      19-21 %
                                                      wrong
=============  =================  ==================  ==================  ===================

(fcc, hcp, bcc, Mackay icosahedron, Ino decahedron; "wrong": another structure than the right
one; without a cutoff the five-fold axes of the icosahedron and the decahedron, RMSD 0.27-0.28
to bcc, are matched -- 8 % and 1.5 % of their interior.)  The
crystalline atoms of the measured frames of the shared series have RMSD 0.03-0.07 (noise of
about 0.05-0.12 A); there cutoffs 0.1 and 0.15 give the same labels within one atom per frame.
Without a cutoff PTM calls most of an amorphous particle crystalline.  :data:`DEFAULT_RMSD_CUTOFF`
is OVITO's 0.1; 0.15 keeps noisier frames (up to 0.2 A) crystalline at the price of ~2.5 %
false crystalline atoms in amorphous regions.

Where PTM says "other"
----------------------
Surface atoms (the central atom is on the hull of its neighbours), atoms with fewer than 6
(sc), 12 (fcc/hcp/ico) or 14 (bcc) neighbours, and environments that are none of the five
polyhedra (the five-fold axes of twinned particles, grain boundaries, vacancies, liquid or
amorphous regions -- the latter only with a cutoff).  Above about 0.25 A of noise (9 % of the
nearest-neighbour distance) the hull itself changes and crystals lose 5-30 % of their atoms
whatever the cutoff.  Not implemented: OVITO's diamond and graphene templates, chemical ordering
types, periodic cells.

Only :mod:`numpy` is imported at module level; scipy and the compiled kernels when first needed.
"""

from __future__ import annotations

import itertools
import math
import os
from functools import cache

import numpy as np

__all__ = [
    "OTHER",
    "FCC",
    "HCP",
    "BCC",
    "ICO",
    "SC",
    "STRUCTURE_NAMES",
    "STRUCTURE_CODES",
    "CRYSTAL_CODES",
    "DEFAULT_STRUCTURES",
    "DEFAULT_RMSD_CUTOFF",
    "MAX_NEIGHBOURS",
    "TEMPLATES",
    "tables",
    "ptm",
]

#: No template matched (or the RMSD is above the cutoff).
OTHER = 0
#: Face-centred cubic.
FCC = 1
#: Hexagonal close-packed.
HCP = 2
#: Body-centred cubic.
BCC = 3
#: Icosahedral (the centre of a Mackay icosahedron).
ICO = 4
#: Simple cubic.
SC = 5
#: Names by code.
STRUCTURE_NAMES = ("other", "fcc", "hcp", "bcc", "ico", "sc")
#: Codes by name.
STRUCTURE_CODES = {name: code for code, name in enumerate(STRUCTURE_NAMES)}
#: Codes of the crystal lattices (icosahedral order is not a lattice).
CRYSTAL_CODES = (FCC, HCP, BCC, SC)
#: Structures matched by default (OVITO enables only fcc, hcp and bcc by default).
DEFAULT_STRUCTURES = ("fcc", "hcp", "bcc", "ico", "sc")
#: Default RMSD cutoff (OVITO's default; see ``benchmarks/validate_ptm.py``).
DEFAULT_RMSD_CUTOFF = 0.1
#: Neighbours considered per atom (OVITO's ``MAX_INPUT_NEIGHBORS``).
MAX_NEIGHBOURS = 18

_CHUNK = 4096  # atoms per range handed to a thread
_N_NBRS = {FCC: 12, HCP: 12, BCC: 14, ICO: 12, SC: 6}
_N_FACETS = {FCC: 20, HCP: 20, BCC: 24, ICO: 20, SC: 8}


# ----------------------------------------------------------------------------------------------
# templates
# ----------------------------------------------------------------------------------------------
def _sorted_points(points):
    """Points sorted by decreasing z, then y, then x (rounded to 1e-9 for the ties)."""
    p = np.asarray(points, float)
    key = np.round(p, 9)
    order = np.lexsort((-key[:, 0], -key[:, 1], -key[:, 2]))
    return p[order]


def _rot_z(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _make_templates():
    h = math.sqrt(2.0) / 2.0
    fcc = [
        v
        for a, b in itertools.product((h, -h), repeat=2)
        for v in ((a, b, 0.0), (0.0, a, b), (a, 0.0, b))
    ]
    half = 7.0 * math.sqrt(3.0) / 3.0 - 3.5  # a / 2 of bcc at mean neighbour distance 1
    bcc = [(x, y, z) for x, y, z in itertools.product((half, -half), repeat=3)]
    bcc += [tuple(2.0 * half * e) for e in np.vstack([np.eye(3), -np.eye(3)])]
    sc = [tuple(e) for e in np.vstack([np.eye(3), -np.eye(3)])]
    zr, rr = 1.0 / math.sqrt(5.0), 2.0 / math.sqrt(5.0)
    ico = [(0.0, 0.0, 1.0), (0.0, 0.0, -1.0)]
    for k in range(5):
        for z, az in ((zr, 90.0 + 72.0 * k), (-zr, 270.0 + 72.0 * k)):
            t = math.radians(az)
            ico.append((rr * math.cos(t), rr * math.sin(t), z))
    hcp = []
    for k in range(6):
        t = math.radians(60.0 * k)
        hcp.append((math.cos(t), math.sin(t), 0.0))
    for z in (math.sqrt(2.0 / 3.0), -math.sqrt(2.0 / 3.0)):
        for az in (30.0, 150.0, 270.0):
            t = math.radians(az)
            hcp.append((math.cos(t) / math.sqrt(3.0), math.sin(t) / math.sqrt(3.0), z))
    hcp0 = _sorted_points(hcp)
    hcp1 = hcp0 @ _rot_z(60.0).T
    out = {
        "fcc": _sorted_points(fcc)[None],
        "hcp": np.stack([hcp0, hcp1]),
        "bcc": _sorted_points(bcc)[None],
        "ico": _sorted_points(ico)[None],
        "sc": _sorted_points(sc)[None],
    }
    for arr in out.values():
        arr.setflags(write=False)
    return out


#: Ideal neighbour vectors per structure name, shape (n_templates, n_neighbours, 3), mean
#: neighbour distance 1, in the order of ``result["neighbours"]`` (module docstring).  hcp has
#: two templates (index 1 = index 0 rotated by 60 deg about z), the others one.
TEMPLATES = _make_templates()


# ----------------------------------------------------------------------------------------------
# tables derived from the templates
# ----------------------------------------------------------------------------------------------
def _rotation_group(points, tol=1e-8):
    """All proper rotations mapping the point set onto itself, as 3x3 matrices."""
    p = np.asarray(points, float)
    norms = np.linalg.norm(p, axis=1)
    i0 = 0
    i1 = next(i for i in range(1, len(p)) if np.linalg.norm(np.cross(p[i0], p[i])) > 1e-6)

    def frame(u, v):
        e1 = u / np.linalg.norm(u)
        e2 = v - (v @ e1) * e1
        e2 /= np.linalg.norm(e2)
        return np.column_stack([e1, e2, np.cross(e1, e2)])

    ref = frame(p[i0], p[i1])
    mats = []
    for a in range(len(p)):
        if abs(norms[a] - norms[i0]) > tol:
            continue
        for b in range(len(p)):
            if abs(norms[b] - norms[i1]) > tol or abs(p[a] @ p[b] - p[i0] @ p[i1]) > tol:
                continue
            if np.linalg.norm(np.cross(p[a], p[b])) < 1e-6:
                continue
            R = frame(p[a], p[b]) @ ref.T
            img = p @ R.T
            d = np.linalg.norm(img[:, None, :] - p[None, :, :], axis=2)
            if np.all(d.min(axis=1) < tol) and not any(np.abs(R - M).max() < tol for M in mats):
                mats.append(R)
    return mats


def _quaternion(R):
    """Unit quaternion (w, x, y, z) of a rotation matrix, w >= 0 (w = 0: first non-zero
    component positive)."""
    K = np.array(
        [
            [R[0, 0] + R[1, 1] + R[2, 2], R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]],
            [R[2, 1] - R[1, 2], R[0, 0] - R[1, 1] - R[2, 2], R[0, 1] + R[1, 0], R[0, 2] + R[2, 0]],
            [R[0, 2] - R[2, 0], R[0, 1] + R[1, 0], R[1, 1] - R[0, 0] - R[2, 2], R[1, 2] + R[2, 1]],
            [R[1, 0] - R[0, 1], R[0, 2] + R[2, 0], R[1, 2] + R[2, 1], R[2, 2] - R[0, 0] - R[1, 1]],
        ]
    )
    w, v = np.linalg.eigh(K / 3.0)
    q = v[:, np.argmax(w)]
    q[np.abs(q) < 1e-15] = 0.0
    nz = q[np.flatnonzero(np.abs(q) > 1e-9)[0]]
    if q[0] < -1e-12 or (abs(q[0]) <= 1e-12 and nz < 0):
        q = -q
    return q / np.linalg.norm(q)


def _match_index(points, ref, tol=1e-8):
    """Index in ``ref`` of every point (all must be found)."""
    d = np.linalg.norm(points[:, None, :] - ref[None, :, :], axis=2)
    idx = d.argmin(axis=1)
    if not np.all(d[np.arange(len(points)), idx] < tol):
        return None
    return idx


def _hull_faces(points):
    """Faces of the convex hull of ``points`` as vertex cycles, counter-clockwise seen from
    outside (coplanar triangles merged)."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(points)
    faces = {}
    for simplex, eq in zip(hull.simplices, hull.equations, strict=True):
        key = tuple(np.round(eq, 8))
        faces.setdefault(key, set()).update(int(v) for v in simplex)
    out = []
    for key, verts in faces.items():
        n = np.array(key[:3])
        verts = sorted(verts)
        c = points[verts].mean(axis=0)
        e1 = points[verts[0]] - c
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        ang = [math.atan2((points[v] - c) @ e2, (points[v] - c) @ e1) for v in verts]
        out.append([verts[k] for k in np.argsort(ang)])
    return out


def _oriented(points, a, b, c):
    """(a, b, c) counter-clockwise seen from outside (the origin is inside)."""
    n = np.cross(points[b] - points[a], points[c] - points[a])
    return (a, b, c) if n @ (points[a] + points[b] + points[c]) > 0 else (b, a, c)


def _triangulations(points):
    """Every triangulation of the hull's faces (squares split along either diagonal): list of
    (diagonals, facets) with facets (F, 3) counter-clockwise seen from outside."""
    faces = _hull_faces(points)
    tris = [f for f in faces if len(f) == 3]
    quads = [f for f in faces if len(f) == 4]
    if any(len(f) > 4 for f in faces):
        raise AssertionError("template faces are triangles and squares")
    fixed = [_oriented(points, *t) for t in tris]
    options = []  # per square: (diagonal, its two triangles) for both diagonals
    for quad in quads:
        opts = []
        for ch in (0, 1):
            v = quad[ch:] + quad[:ch]
            tri2 = [_oriented(points, v[0], v[1], v[2]), _oriented(points, v[0], v[2], v[3])]
            opts.append((tuple(sorted((v[0], v[2]))), tri2))
        options.append(opts)
    out = []
    for choice in itertools.product((0, 1), repeat=len(quads)):
        facets = list(fixed)
        diagonals = []
        for opts, ch in zip(options, choice, strict=True):
            diagonals.append(opts[ch][0])
            facets.extend(opts[ch][1])
        out.append((frozenset(diagonals), np.array(facets, np.int64)))
    return out


def _all_codes(facets, m):
    """Canonical code of a triangulation and every labelling that attains it (one per
    orientation-preserving automorphism), with the kernels' own code."""
    from nanotraj import _ptm_kernels as kern

    nfac = len(facets)
    succ = np.empty((m, m), np.int64)
    deg = np.empty(m, np.int64)
    if not kern.build_map(facets, nfac, m, succ, deg):
        raise AssertionError("template triangulation is not a closed surface")
    key = kern.start_degrees(facets, nfac, deg)
    length = m + 3 * nfac
    dummy = np.zeros(length, np.int64)
    cur = np.empty(length, np.int64)
    lab = np.empty(m, np.int64)
    order = np.empty(m, np.int64)
    first = np.empty(m, np.int64)
    found = {}
    for f in range(nfac):
        for k in range(3):
            a, b = facets[f, k], facets[f, (k + 1) % 3]
            if 64 * deg[a] + deg[b] != key:
                continue
            r = kern.code_from(succ, deg, m, a, b, dummy, False, cur, lab, order, first)
            if r < 0:
                raise AssertionError("template triangulation is not connected")
            found.setdefault(tuple(cur.tolist()), []).append(lab.copy())
    code = min(found)
    # the kernels' graph_code must reach the same minimum
    best = np.empty(length, np.int64)
    blab = np.empty(m, np.int64)
    got = kern.graph_code(facets, nfac, m, succ, deg, best, blab, cur, lab, order, first)
    if got != length or tuple(best.tolist()) != code:
        raise AssertionError("canonical code mismatch")
    return np.array(code, np.int64), np.array(found[code], np.int64)


#: Where :func:`tables` keeps its derivation between processes: the folder of the numba caches of
#: the package (``__pycache__``) where writable, else ``$XDG_CACHE_HOME/nanotraj`` (default
#: ``~/.cache/nanotraj``); ``NANOTRAJ_CACHE_DIR`` overrides both (empty: no disk cache).
CACHE_ENV = "NANOTRAJ_CACHE_DIR"


def _tables_cache_file() -> str | None:
    """The file of the kept tables: named by a digest of this module's and the kernels' source
    and numpy's version (any change derives the tables again); None: no writable folder."""
    import hashlib

    from nanotraj import _ptm_kernels

    h = hashlib.blake2b(np.__version__.encode(), digest_size=8)
    for mod in (__file__, _ptm_kernels.__file__):
        with open(mod, "rb") as fh:
            h.update(fh.read())
    name = f"ptm_tables.{h.hexdigest()}.npz"
    if CACHE_ENV in os.environ:
        folders = [os.environ[CACHE_ENV]] if os.environ[CACHE_ENV] else []
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folders = [os.path.join(os.path.dirname(__file__), "__pycache__"),
                   os.path.join(xdg, "nanotraj")]
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return path
    return None


def _load_tables(path: str) -> dict | None:
    """The tables kept in ``path`` (None: missing, unreadable or incomplete)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in _KERNEL_TABLES}
            names, counts = z["n_classes_names"], z["n_classes_counts"]
    except (OSError, KeyError, ValueError, EOFError):
        return None
    out["n_classes"] = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    return out


def _save_tables(path: str, tab: dict) -> None:
    """Keep ``tab`` in ``path`` (written whole, then renamed: a process reading it never sees
    half a file); a folder that refuses it is left alone."""
    import tempfile

    arrays = {k: tab[k] for k in _KERNEL_TABLES}
    arrays["n_classes_names"] = np.array(list(tab["n_classes"]))
    arrays["n_classes_counts"] = np.array(list(tab["n_classes"].values()), np.int64)
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


@cache
def tables():
    """The tables of the matcher (:func:`derive_tables`), once per process: read from the disk
    cache (:data:`CACHE_ENV`) when a process has derived them before, else derived and kept
    there. The same arrays either way (tested)."""
    path = _tables_cache_file()
    tab = _load_tables(path) if path else None  # a missing file: None, as a damaged one
    if tab is None:
        tab = derive_tables()
        if path:
            _save_tables(path, tab)
    return tab


def derive_tables():
    """The tables of the matcher, derived from :data:`TEMPLATES`.

    Returns a dict of arrays indexed by structure code (row 0 unused): ``t_pts`` (6, 2, 15, 3)
    template points with the central atom first, ``t_m`` neighbours, ``t_nfac`` hull facets,
    ``t_g1`` sum of squared template vectors, ``t_nn`` nearest-neighbour distance of the
    template, ``t_pen`` Moore-Penrose pseudo-inverse rows of the template points
    (``(sum_k t_k t_k^T)^-1 t_k``); the triangulation classes ``rep_*`` (one representative per
    class of triangulations related by a rotation of the template, with its canonical code,
    its hash and all labellings attaining the code, ``labs``); the rotation groups of the
    fundamental zones ``gens`` (quaternions (w, x, y, z), cubic 24, hexagonal 12, icosahedral
    60; the identity first), with for each element the template ``gen_tidx`` and the
    renumbering ``gen_perm`` of template points it implies.  Also ``n_classes``: number of
    classes per structure name.
    """
    from nanotraj import _ptm_kernels as kern

    names = {FCC: "fcc", HCP: "hcp", BCC: "bcc", ICO: "ico", SC: "sc"}
    t_pts = np.zeros((6, 2, 15, 3))
    t_pen = np.zeros((6, 2, 15, 3))
    t_m = np.zeros(6, np.int64)
    t_nfac = np.zeros(6, np.int64)
    t_g1 = np.zeros(6)
    t_nn = np.zeros(6)
    reps, rep_codes, rep_labs, n_classes = [], [], [], {}
    rep_start = np.zeros(6, np.int64)
    rep_count = np.zeros(6, np.int64)
    gen_list, perm_list, tidx_list = [], [], []
    gen_start = np.zeros(6, np.int64)
    gen_count = np.zeros(6, np.int64)
    cubic = _rotation_group(TEMPLATES["fcc"][0])
    for s, name in names.items():
        tmpl = TEMPLATES[name]
        m = tmpl.shape[1]
        t_m[s] = m
        t_nfac[s] = _N_FACETS[s]
        for ti in range(tmpl.shape[0]):
            t_pts[s, ti, 1 : m + 1] = tmpl[ti]
            t_pen[s, ti, 1 : m + 1] = tmpl[ti] @ np.linalg.inv(tmpl[ti].T @ tmpl[ti])
        pts = tmpl[0]
        t_g1[s] = float(np.sum(pts * pts))
        t_nn[s] = float(np.linalg.norm(pts, axis=1).min())
        # triangulation classes under the template's rotations
        group = _rotation_group(pts)
        perms = [_match_index(pts @ R.T, pts) for R in group]
        seen = set()
        rep_start[s] = len(reps)
        for diagonals, facets in _triangulations(pts):
            if diagonals in seen:
                continue
            for p in perms:
                seen.add(frozenset(tuple(sorted((p[a], p[b]))) for a, b in diagonals))
            code, labs = _all_codes(facets, m)
            if len(facets) != _N_FACETS[s]:
                raise AssertionError("unexpected number of template facets")
            reps.append(s)
            rep_codes.append(code)
            rep_labs.append(labs)
        rep_count[s] = len(reps) - rep_start[s]
        n_classes[name] = int(rep_count[s])
        # fundamental zone: the rotation group of the lattice (hcp: of both templates)
        if s == ICO:
            fz = group
        elif s == HCP:
            fz = _rotation_group(np.vstack([tmpl[0], tmpl[1]]))
        else:
            fz = cubic
        quats = [_quaternion(R) for R in fz]
        order = sorted(range(len(quats)), key=lambda k: tuple(np.round(-quats[k], 9)))
        gen_start[s] = len(gen_list)
        for k in order:
            q = quats[k]
            R = fz[k]
            u = pts @ R  # R^T t for every template point (rows)
            for ti in range(tmpl.shape[0]):
                idx = _match_index(u, tmpl[ti])
                if idx is not None:
                    break
            if idx is None:
                raise AssertionError("symmetry element does not map the template")
            gen_list.append(q)
            perm_list.append(np.concatenate([[0], idx + 1]))
            tidx_list.append(ti)
        gen_count[s] = len(gen_list) - gen_start[s]
    max_code = max(len(c) for c in rep_codes)
    rep_code = np.full((len(reps), max_code), -1, np.int64)
    rep_hash = np.empty(len(reps), np.int64)
    rep_lab_start = np.empty(len(reps), np.int64)
    rep_lab_count = np.empty(len(reps), np.int64)
    labs = []
    for r, code in enumerate(rep_codes):
        rep_code[r, : len(code)] = code
        rep_hash[r] = kern.code_hash(code, len(code))
        rep_lab_start[r] = len(labs)
        rep_lab_count[r] = len(rep_labs[r])
        for lab in rep_labs[r]:
            row = np.zeros(14, np.int64)
            row[: len(lab)] = lab
            labs.append(row)
    gen_perm = np.zeros((len(gen_list), 15), np.int64)
    for g, p in enumerate(perm_list):
        gen_perm[g, : len(p)] = p
    return {
        "t_pts": t_pts,
        "t_m": t_m,
        "t_nfac": t_nfac,
        "t_g1": t_g1,
        "t_nn": t_nn,
        "t_pen": t_pen,
        "rep_start": rep_start,
        "rep_count": rep_count,
        "rep_hash": rep_hash,
        "rep_code": rep_code,
        "rep_lab_start": rep_lab_start,
        "rep_lab_count": rep_lab_count,
        "labs": np.array(labs, np.int64),
        "gen_start": gen_start,
        "gen_count": gen_count,
        "gens": np.array(gen_list),
        "gen_perm": gen_perm,
        "gen_tidx": np.array(tidx_list, np.int64),
        "n_classes": n_classes,
    }


_KERNEL_TABLES = (
    "t_pts t_m t_nfac t_g1 t_nn t_pen rep_start rep_count rep_hash rep_code rep_lab_start "
    "rep_lab_count labs gen_start gen_count gens gen_perm gen_tidx"
).split()


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------
def ptm(
    coords,
    *,
    structures=DEFAULT_STRUCTURES,
    rmsd_cutoff=DEFAULT_RMSD_CUTOFF,
    workers=1,
    deformation_gradient=False,
):
    r"""Polyhedral template matching of every atom (Larsen, Schmidt & Schiotz, Modelling Simul.
    Mater. Sci. Eng. 24, 055007 (2016)), as OVITO 3.17's ``PolyhedralTemplateMatchingModifier``.

    For atom ``i`` with neighbour vectors ``x_k`` (its 18 nearest neighbours ordered by the
    solid angle of their Voronoi faces; the first 6/12/14 form the candidate polyhedron) and a
    template ``t_k`` whose convex hull has the same triangulated surface, with both point sets
    (the atom included) centred on their barycentres:

    .. math::  \mathrm{RMSD} = \min_{R, s} \sqrt{\frac{1}{n} \sum_{k=0}^{n-1}
               \lvert s\, x_{\pi(k)} - R\, t_k \rvert^2}

    over rotations ``R``, scales ``s`` and the correspondences ``pi`` allowed by the hull
    (``n`` = neighbours + 1).  The RMSD is in units of the template's mean neighbour distance
    (scale-invariant; 0 for a perfect, even uniformly strained, lattice).  The structure with
    the lowest RMSD wins; with ``rmsd_cutoff > 0`` atoms above it are relabelled ``OTHER``.

    Parameters
    ----------
    coords : (N, 3) array_like of float
        Positions in Angstrom (non-periodic).
    structures : iterable of str
        Structures to match, any of ``"fcc", "hcp", "bcc", "ico", "sc"`` (default all five;
        OVITO's default is fcc, hcp and bcc only).  Matching more structures can change the
        result of an atom (a lower RMSD with another template).
    rmsd_cutoff : float >= 0
        Atoms whose best RMSD exceeds it get ``structure`` 0 (their other outputs are kept, as
        OVITO does).  ``0`` means no cutoff (OVITO's convention).  Default 0.1 (OVITO's).
    workers : int >= 1
        Threads (neighbour search and matching); the result does not depend on it (bit for
        bit).
    deformation_gradient : bool
        Also return the elastic deformation gradient (OVITO's
        ``output_deformation_gradient``).

    Returns
    -------
    dict of arrays
        ``structure`` (N,) int8 -- :data:`STRUCTURE_NAMES` code, 0 where nothing matched or
        the RMSD exceeds the cutoff.
        ``rmsd`` (N,) float64 -- RMSD of the best template; NaN where no template matched
        (OVITO writes 0 there).
        ``orientation`` (N, 4) float64 -- unit quaternion ``(x, y, z, w)`` of the rotation that
        maps the template onto the atom's neighbours, in the fundamental zone of the
        structure's rotation group (cubic for fcc/bcc/sc, hexagonal D6 for hcp, icosahedral for
        ico: the equivalent rotation with the largest ``|w|``, then ``w >= 0``), exactly as
        OVITO writes it (OVITO stores float32); NaN rows where no template matched (OVITO: 0).
        ``interatomic_distance`` (N,) float64 -- nearest-neighbour distance of the fitted
        template in Angstrom (``nn(template) / s``; for bcc the first shell); NaN unmatched
        (OVITO: 0).
        ``neighbours`` (N, 14) int64 -- atom index matched to each point of the template
        ``template_index`` (order of :data:`TEMPLATES`); -1 padding (sc 6, fcc/hcp/ico 12,
        bcc 14 columns used) and for unmatched atoms.
        ``template_index`` (N,) int8 -- 0, or 1 for hcp atoms whose orientation refers to the
        second hcp template; -1 unmatched.
        ``deformation_gradient`` (N, 3, 3) float64, only if requested -- ``F`` minimising
        ``sum_k |F t_k - s x_k|^2`` (template -> scaled atom positions, rotation included), as
        OVITO's elastic deformation gradient; NaN unmatched (OVITO: 0).

    Raises
    ------
    ValueError
        ``coords`` not of shape (N, 3), not finite; unknown structure name; ``rmsd_cutoff``
        negative or not finite; ``workers < 1``.

    Notes
    -----
    Edge cases: atoms with fewer than 6 (12, 14) neighbours cannot match sc (fcc/hcp/ico,
    bcc); surface atoms (central atom on the hull) and coplanar or collinear neighbour shells
    give no match (code 0), never an error.  A duplicate position is a neighbour at distance 0
    without a Voronoi face: it comes after every neighbour with a face, so an atom with a
    complete shell is matched as if the duplicate were absent (OVITO does the same).
    Neighbours come from :class:`scipy.spatial.cKDTree`.  On ideal lattices, exact ties
    (equal distances or Voronoi face areas, coplanar points) are broken by floating-point
    rounding, differently from OVITO (module docstring).
    """
    x = np.ascontiguousarray(coords, dtype=np.float64)
    if not x.flags.writeable:  # one compiled specialisation (read-only arrays need another)
        x = x.copy()
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("coords contain NaN or infinite values")
    flags = 0
    for name in structures:
        if name not in STRUCTURE_CODES or name == "other":
            raise ValueError(
                f"unknown structure {name!r}; choose from {', '.join(STRUCTURE_NAMES[1:])}"
            )
        flags |= 1 << (STRUCTURE_CODES[name] - 1)
    cutoff = float(rmsd_cutoff)
    if not (math.isfinite(cutoff) and cutoff >= 0):
        raise ValueError(f"rmsd_cutoff must be finite and >= 0, got {rmsd_cutoff}")
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n = len(x)
    out = {
        "structure": np.zeros(n, np.int8),
        "rmsd": np.full(n, np.nan),
        "orientation": np.full((n, 4), np.nan),
        "interatomic_distance": np.full(n, np.nan),
        "neighbours": np.full((n, 14), -1, np.int64),
        "template_index": np.full(n, -1, np.int8),
    }
    f_out = np.full((n, 3, 3), np.nan) if deformation_gradient else np.empty((0, 3, 3))
    if n >= 2 and flags:
        from scipy.spatial import cKDTree

        from nanotraj import _ptm_kernels as kern
        from nanotraj._parallel import run_ranges

        tab = tables()
        targs = [tab[k] for k in _KERNEL_TABLES]
        tree = cKDTree(x)
        k = min(n, MAX_NEIGHBOURS + 1)
        o_type = np.zeros(n, np.int64)
        o_tidx = np.zeros(n, np.int64)

        def work(a, b):
            _, idx = tree.query(x[a:b], k=k)
            idx = np.ascontiguousarray(np.asarray(idx, np.int64).reshape(b - a, k))
            kern.ptm_range(
                x, idx, a, a, b, flags, bool(deformation_gradient), *targs,
                o_type, out["rmsd"], out["orientation"], out["interatomic_distance"],
                out["neighbours"], o_tidx, f_out,
            )  # fmt: skip

        run_ranges(work, n, workers, _CHUNK)
        out["structure"][:] = o_type
        out["template_index"][:] = o_tidx
        if cutoff > 0:
            out["structure"][out["rmsd"] > cutoff] = OTHER
    if deformation_gradient:
        out["deformation_gradient"] = f_out
    return out
