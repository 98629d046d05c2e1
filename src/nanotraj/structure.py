r"""Local structure per atom: common neighbour analysis, BOO classes, surface, quality flags.

Four independent per-atom descriptors and one per-frame quality flag, all on the frame's own bond
network (the pairs closer than the frame's cutoff, :func:`nanotraj.bonds.find_bonds`):

* conventional common neighbour analysis: :mod:`nanotraj.cna` (codes re-exported here).
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
from functools import lru_cache

import numpy as np

from nanotraj._parallel import run_each
from nanotraj.cna import BCC, CNA_NAMES, FCC, HCP, ICO, OTHER, cna_structure
from nanotraj.engine import kernels_for

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
    "boo_reference_points",
    "boo_class",
    "surface",
    "n_close_contacts",
    "SUMMARY_COLUMNS",
    "structure_summary",
    "classify",
]


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


#: Default threshold of :func:`surface`: |sum of bond vectors| > SURFACE_THRESHOLD * bulk_nn.
SURFACE_THRESHOLD = 1.5


_SUM_CHUNK = 1 << 18  # bonds per chunk of the surface vector sums

#: Atoms with fewer bonds than this are always surface (4 non-coplanar neighbours are the fewest
#: that can enclose an atom).
SURFACE_MIN_CN = 4


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


def surface(
    coords,
    cn,
    bonds,
    bulk_nn,
    *,
    threshold=SURFACE_THRESHOLD,
    min_cn=SURFACE_MIN_CN,
    workers=1,
    engine="auto",
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
    bulk_nn : float, Angstrom (``nanotraj.elements.nn_distance(element)``).
    threshold : float, ``t`` in units of ``bulk_nn``.
    min_cn : int, atoms with ``cn < min_cn`` are surface.
    workers : int, threads summing the bond vectors (the result does not depend on it: the
        bonds are always summed in the same two halves, added at the end).
    engine : "auto", "numpy" or "compiled" (:mod:`nanotraj.engine`).

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
    if not bulk_nn > 0:
        raise ValueError(f"bulk_nn must be positive, got {bulk_nn}")
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if (kernels := kernels_for(engine, len(b))) is not None:  # per atom over its neighbours
        return kernels.surface(x, b, cn, threshold * float(bulk_nn), min_cn, workers)
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

    run_each(add, range(2), workers)
    total = sums[0]
    total += sums[1]
    length = np.sqrt(np.einsum("ij,ij->i", total, total))
    return (length > threshold * float(bulk_nn)) | (cn < min_cn)


def n_close_contacts(coords, bulk_nn, factor=0.8, *, distances=None, cutoff=None):
    r"""Number of atom pairs closer than ``factor * bulk_nn``.

    ``#{(i, j), i < j : |r_i - r_j| < factor * d_nn}``, a quality flag of a reconstruction:
    in a metal no two atoms come closer than ~0.85 of the bulk nearest-neighbour distance, so
    such pairs are artefacts (double-placed or mis-fitted atoms).  Lengths in Angstrom.

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    bulk_nn : float, the element's nearest-neighbour distance (Angstrom).
    factor : float, default 0.8.
    distances, cutoff : optional, the lengths (B,) of a bond network holding every pair
        within ``cutoff`` (Angstrom; :func:`nanotraj.bonds.find_bonds`).  When ``cutoff`` is
        at least ``factor * bulk_nn`` the pairs are counted among them (no pair search);
        otherwise, or without them, with a kd-tree.

    Returns
    -------
    int (0 for fewer than two atoms).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    limit = float(factor) * float(bulk_nn)
    if not limit > 0:
        raise ValueError(f"factor * bulk_nn must be positive, got {limit}")
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


#: Names of the codes of the adaptive CNA (:mod:`nanotraj.acna`) and of PTM
#: (:mod:`nanotraj.ptm`), OVITO's numbering.
ACNA_NAMES = CNA_NAMES
PTM_NAMES = ("other", "fcc", "hcp", "bcc", "ico", "sc")

#: Summary columns returned by :func:`structure_summary`, in order.
SUMMARY_COLUMNS = (
    "fraction_fcc", "fraction_hcp", "fraction_bcc", "fraction_ico", "fraction_other",
    "fraction_fcc_boo", "fraction_hcp_boo", "fraction_bcc_boo", "fraction_ico_boo",
    "fraction_disordered_boo", "fraction_surface", "cn_mean_core", "cn_mean_surface",
    "Q6_mean_core", "Q6_mean_surface", "fraction_disordered_core", "fraction_disordered_surface",
    *(f"fraction_{name}_acna" for name in (*ACNA_NAMES[1:], "other")),
    *(f"fraction_{name}_ptm" for name in (*PTM_NAMES[1:], "other")),
)  # fmt: skip


def _mean(values, mask):
    return float(np.mean(values[mask])) if np.any(mask) else math.nan


def _code_fractions(codes, names, suffix, n):
    """``fraction_<name><suffix>`` of every code but 0, then ``fraction_other<suffix>`` (any
    other code, 0 included); NaN without atoms (or without the classifier's codes)."""
    out = {}
    if codes is None:
        return {f"fraction_{name}{suffix}": math.nan for name in (*names[1:], "other")}
    codes = np.asarray(codes).ravel().astype(np.int64)
    if len(codes) != n:
        raise ValueError(f"structure codes must have length {n}, got {len(codes)}")
    every = np.ones(n, bool)
    for code, name in enumerate(names):
        if code:
            out[f"fraction_{name}{suffix}"] = _mean(codes == code, every)
    out[f"fraction_other{suffix}"] = _mean(~np.isin(codes, np.arange(1, len(names))), every)
    return out


def structure_summary(cn, Q6, crystalline, structure_cna, structure_boo, surface, *,
                      structure_acna=None, structure_ptm=None):
    """Per-frame summary of the local structure.

    All fractions are over all ``N`` atoms of the frame unless suffixed ``_core`` (over the
    atoms with ``surface == False``) or ``_surface`` (over ``surface == True``):

    * ``fraction_fcc, _hcp, _bcc, _ico, _other``: conventional CNA codes
      (:func:`nanotraj.cna.cna`); sum to 1.
    * ``fraction_fcc_boo, _hcp_boo, _bcc_boo, _ico_boo``: the BOO classes;
      ``fraction_disordered_boo``: their ``"disordered"``; the five sum to 1.
    * ``fraction_surface``: the surface flag given (the workflow's: the alpha shape,
      :func:`nanotraj.alphashape.alpha_shape`).
    * ``cn_mean_core``, ``cn_mean_surface``: mean bonds per atom.
    * ``Q6_mean_core``, ``Q6_mean_surface``: mean coarse-grained Q6.
    * ``fraction_disordered_core``, ``fraction_disordered_surface``: fraction of atoms that are
      not ``crystalline`` (the definition of the frame's ``fraction_disordered``).
    * ``fraction_{fcc,hcp,bcc,ico,other}_acna``: adaptive CNA (:mod:`nanotraj.acna`), and
      ``fraction_{fcc,hcp,bcc,ico,sc,other}_ptm``: PTM (:mod:`nanotraj.ptm`); NaN when the
      codes are not given.

    Parameters
    ----------
    cn : (N,) int; Q6 : (N,) float; crystalline : (N,) bool; structure_cna : (N,) int codes;
    structure_boo : (N,) str; surface : (N,) bool; structure_acna, structure_ptm : (N,) int
    codes or None.

    Returns
    -------
    dict ``column -> float`` with the keys :data:`SUMMARY_COLUMNS`, in that order.  Means and
    fractions over an empty set (no atom, no core atom, no surface atom) are NaN.
    """
    cn = np.asarray(cn, float).ravel()
    q6 = np.asarray(Q6, float).ravel()
    xtal = np.asarray(crystalline).ravel().astype(bool)
    s_boo = np.asarray(structure_boo).ravel().astype(str)
    surf = np.asarray(surface).ravel().astype(bool)
    n = len(cn)
    for name, arr in (("Q6", q6), ("crystalline", xtal), ("structure_boo", s_boo),
                      ("surface", surf)):
        if len(arr) != n:
            raise ValueError(f"{name} must have length {n} (as cn), got {len(arr)}")
    every = np.ones(n, bool)
    out = _code_fractions(structure_cna, CNA_NAMES, "", n)
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
    out.update(_code_fractions(structure_acna, ACNA_NAMES, "_acna", n))
    out.update(_code_fractions(structure_ptm, PTM_NAMES, "_ptm", n))
    return {k: out[k] for k in SUMMARY_COLUMNS}


def classify(
    coords,
    bonds,
    boo_result,
    cn,
    bulk_nn,
    *,
    cutoff,
    distances,
    close_factor=0.8,
    workers=1,
    engine="auto",
):
    """All local-structure descriptors of one frame (the workflow stage's single call).

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    bonds : (B, 2) int, the frame's bond network (``nanotraj.bonds.find_bonds`` at the frame's
        cutoff), each pair once; ``distances`` (B,) their lengths and ``cutoff`` the cutoff
        (Angstrom).
    boo_result : mapping from :func:`nanotraj.order.boo` (needs ``"Q4"``, ``"Q6"``, ``"W4"``,
        ``"W6"``).
    cn : (N,) int, bonds per atom.
    bulk_nn : float, the element's nearest-neighbour distance in Angstrom
        (``nanotraj.elements.nn_distance``), for :func:`n_close_contacts`.
    close_factor : passed to :func:`n_close_contacts` as ``factor``.
    workers : threads of the CNA, the adaptive CNA and the noise estimate; the result does not
        depend on it.
    engine : "auto", "numpy" or "compiled" (:mod:`nanotraj.engine`), of the CNA.

    Returns
    -------
    dict with per-atom ``structure_cna`` ((N,) int8 codes 0 other, 1 fcc, 2 hcp, 3 bcc,
    4 ico; :func:`nanotraj.cna.cna`), ``structure_acna`` (the same codes of the adaptive CNA,
    :func:`nanotraj.acna.adaptive_cna`), ``structure_boo`` ((N,) ``<U10`` str: the BOO classes
    of :func:`nanotraj.boo_classes.classify_boo` at the frame's noise level), and per frame
    ``sigma_estimate`` (Angstrom, :func:`nanotraj.noise.noise_estimate`; NaN with too few
    bonds), ``nn_peak`` (Angstrom, the frame's nearest-neighbour distance from the same fit)
    and ``n_close_contacts`` (int; :func:`n_close_contacts`).
    """
    from nanotraj.acna import adaptive_cna
    from nanotraj.boo_classes import classify_boo
    from nanotraj.noise import noise_estimate

    x = np.asarray(coords, dtype=np.float64)
    n = len(x)
    noise = noise_estimate(x, bonds, distances, workers=workers)
    s_boo = classify_boo(boo_result["Q4"], boo_result["Q6"], boo_result["W4"],
                         boo_result["W6"], sigma=noise["sigma"],
                         nn_distance=noise["nn_distance"], cutoff=cutoff)
    return {
        "structure_cna": cna_structure(n, bonds, workers, engine=engine),
        "structure_acna": adaptive_cna(x, workers=workers),
        "structure_boo": s_boo,
        "sigma_estimate": float(noise["sigma"]),
        "nn_peak": float(noise["nn_distance"]),
        "n_close_contacts": n_close_contacts(x, bulk_nn, close_factor,
                                             distances=distances, cutoff=cutoff),
    }
