r"""The crystal lattice of every atom: lattice constant, elastic strain, radial strain profile.

Everything is built on polyhedral template matching (:mod:`nanotraj.ptm`): for each matched
atom ``i`` PTM gives its structure, the atoms matched to the points ``t_k`` of the structure's
ideal template (``result["neighbours"]`` in template order, ``result["template_index"]``) and
the rotation ``R_i`` (quaternion) that maps the template onto them.  Nothing is matched again.

Reference templates (:func:`reference_template`)
-----------------------------------------------
PTM's templates scaled to a **nearest-neighbour distance of 1**: fcc 12 vectors of length 1;
hcp 12 (6 in the basal plane at 1, 6 above and below; the c axis stretched by
``gamma = (c/a) / sqrt(8/3)`` for an hcp element whose table gives ``c``, else ideal); bcc 8
first neighbours at 1 and 6 second at ``2/sqrt(3)``; sc 6 at 1.  Every template sums to zero
(``sum_k t_k = 0``), so the central atom's own position drops out of every fit below.

Lattice constant (:func:`lattice_fit`)
--------------------------------------
Per atom, the scale ``d_i`` of the template in the atom's PTM orientation that fits its
neighbour vectors ``dx_ik = r_nbr(i,k) - r_i`` best (least squares):

.. math::  d_i = \arg\min_d \sum_k |dx_{ik} - d\, R_i t_k|^2
             = \frac{\sum_k dx_{ik} \cdot R_i t_k}{\sum_k |t_k|^2}

(Angstrom: the atom's nearest-neighbour distance).  The frame's value is the mean over the
atoms of the frame's lattice family (:data:`FAMILY`), ``lattice_constant = mean(d_i) / f``
with ``f`` the element's ``d_nn / a`` (fcc ``1/sqrt(2)``, bcc ``sqrt(3)/2``, hcp and sc 1);
``lattice_constant_err = std(d_i) / sqrt(n) / f`` (the standard error of the mean, treating the
atoms as independent: each bond enters two atoms' fits, but the noise of a bond enters their
``d_i`` with opposite directions ``t_k`` and partly cancels: up to 0.15 A of noise it is about
twice the scatter between noise samples, measured; it does not contain the calibration of the
length scale).  The noise does not bias ``d_i`` to first order (it is a
regression of the data on the template); PTM's own ``interatomic_distance`` regresses the
template on the data and is biased upwards by about ``3 sigma^2 / d_nn^2`` (0.36 % at 0.1 A
for Pt), which is why it is not used.

Elastic strain (:func:`deformation_gradients`, :func:`green_lagrange`)
----------------------------------------------------------------------
The deformation gradient ``F_i`` that maps the reference template (nearest-neighbour distance
``d_0``, the reference lattice) onto the neighbour vectors, least squares as OVITO's
``ElasticStrainModifier`` (A. Stukowski, A. Arsenlis, Modelling Simul. Mater. Sci. Eng. 20,
035012 (2012)) and PTM do (agreement with OVITO 3.17.2 to 1e-15: ``tests/oracle``):

.. math::  F_i = \Big(\sum_k dx_{ik}\, t_k^T\Big) \Big(\sum_k t_k t_k^T\Big)^{-1} / d_0

``F_i`` maps the crystal frame onto the sample; its polar decomposition ``F = R U`` has the
rotation of PTM's orientation (every template's ``sum t t^T`` is isotropic, so the
least-squares rotation of the template is the polar rotation).  The **Green-Lagrangian strain
of the reference lattice turned into the atom's orientation**, in the sample's x, y, z axes:

.. math::  E_i = R\, \tfrac12 (F^T F - I)\, R^T = \tfrac12 (F_i F_i^T - I)

which is OVITO's ``push_strain_tensors_forward=False`` tensor (the material frame) rotated into
the sample, and agrees with OVITO's default Euler-Almansi tensor ``(I - (F F^T)^-1) / 2`` to
first order.  ``strain_volumetric = tr(E) / 3`` (OVITO's definition); ``strain_radial = n^T E n``
with ``n`` the unit vector from the particle's centre (the mean position) to the atom.

Noise: ``F`` is a sum over 12 (bcc 14) neighbours, so Gaussian noise ``sigma`` per coordinate
gives each diagonal component of ``E`` a scatter of ``sigma / (2 d_nn)`` (fcc; 0.0036 at 0.02 A
on Pt) and each shear component ``sigma / (2 sqrt(2) d_nn)``; means over many atoms are
unbiased to first order, but ``F F^T`` adds about ``3 sigma^2 / (8 d_nn^2)`` to each diagonal
component (+4.5e-4 at 0.1 A).  Measured in docs/methods.md (``benchmarks/validate_lattice.py``).

Which atoms (:data:`FAMILY`)
----------------------------
The frame's lattice is the element's structure (:mod:`nanotraj.elements`).  Strain and the
lattice fit use the atoms PTM assigns to that lattice's family: fcc and hcp for close-packed
elements (twin planes and stacking faults are hcp; both have the same nearest-neighbour
distance), bcc for bcc, sc for sc.  Other atoms -- surface atoms (PTM never matches them),
disordered atoms, ico, another lattice -- have NaN.

Only numpy is imported.  Lengths in Angstrom, strains dimensionless.
"""

from __future__ import annotations

import math

import numpy as np

from nanotraj.contract import STRAIN_PROFILE_COLUMNS

__all__ = ["FAMILY", "PROFILE_COLUMNS", "reference_template", "family_mask", "lattice_fit",
           "deformation_gradients", "green_lagrange", "volumetric", "radial", "voigt",
           "radial_profile"]

#: PTM structure names whose atoms belong to each lattice (the element's structure).
FAMILY = {"fcc": ("fcc", "hcp"), "hcp": ("hcp", "fcc"), "bcc": ("bcc",), "sc": ("sc",)}

#: Columns of ``strain_profile.csv`` (:func:`radial_profile`).
PROFILE_COLUMNS = STRAIN_PROFILE_COLUMNS

_CHUNK = 1 << 16  # atoms per block (the (n, m, 3) neighbour vectors of a block)


def reference_template(structure: str, template_index: int = 0, *, gamma: float = 1.0):
    """Ideal neighbour vectors of a PTM structure at nearest-neighbour distance 1.

    Parameters
    ----------
    structure : ``"fcc"``, ``"hcp"``, ``"bcc"`` or ``"sc"``.
    template_index : int, PTM's template (hcp has two, 0 and 1; the others only 0).
    gamma : float, factor on the z components (the c axis) of hcp: ``(c/a) / sqrt(8/3)``.

    Returns
    -------
    (m, 3) float64 in PTM's point order (:data:`nanotraj.ptm.TEMPLATES`), m = 12 (fcc, hcp),
    14 (bcc), 6 (sc).
    """
    from nanotraj.ptm import TEMPLATES

    if structure not in ("fcc", "hcp", "bcc", "sc"):
        raise ValueError(f"no lattice template for {structure!r}")
    t = np.array(TEMPLATES[structure][template_index], dtype=np.float64)
    t /= np.linalg.norm(t, axis=1).min()
    if structure == "hcp":
        t[:, 2] *= gamma
    return t


def family_mask(ptm_structure, lattice: str) -> np.ndarray:
    """(N,) bool: atoms whose PTM code is in the ``lattice``'s :data:`FAMILY`."""
    from nanotraj.ptm import STRUCTURE_CODES

    codes = [STRUCTURE_CODES[s] for s in FAMILY[lattice]]
    return np.isin(np.asarray(ptm_structure).reshape(-1), codes)


def _groups(ptm, mask, gamma):
    """(structure name, template index, atom indices, template) for the atoms of ``mask``."""
    from nanotraj.ptm import STRUCTURE_NAMES

    structure = np.asarray(ptm["structure"]).reshape(-1)
    tidx = np.asarray(ptm["template_index"]).reshape(-1)
    for code in np.unique(structure[mask]):
        name = STRUCTURE_NAMES[int(code)]
        for ti in (0, 1) if name == "hcp" else (0,):
            idx = np.flatnonzero(mask & (structure == code) & (tidx == ti))
            if len(idx):
                yield name, ti, idx, reference_template(name, ti, gamma=gamma)


def _vectors(coords, neighbours, idx, m):
    """Neighbour vectors (n, m, 3) of atoms ``idx`` in template order; the template sums to
    zero, so they are taken from the atom's own position only for readability."""
    nb = np.asarray(neighbours)[idx, :m]
    if (nb < 0).any():
        raise ValueError("PTM neighbours missing for a matched atom")
    return coords[nb] - coords[idx][:, None, :]


def _check(coords, ptm):
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    n = len(x)
    for key, shape in (("structure", (n,)), ("template_index", (n,)), ("orientation", (n, 4))):
        if np.asarray(ptm[key]).shape != shape:
            raise ValueError(f"ptm[{key!r}] must have shape {shape}")
    if np.asarray(ptm["neighbours"]).shape[0] != n:
        raise ValueError("ptm['neighbours'] must have one row per atom")
    return x


def lattice_fit(coords, ptm, lattice: str, *, nn_factor: float, gamma: float = 1.0,
                mask=None) -> dict:
    """Nearest-neighbour distance of every atom of the lattice family and the frame's lattice
    constant (module docstring: ``d_i = sum_k dx_ik . R_i t_k / sum_k |t_k|^2``).

    Parameters
    ----------
    coords : (N, 3) Angstrom.
    ptm : mapping with PTM's ``structure`` (N,), ``orientation`` (N, 4) (x, y, z, w),
        ``neighbours`` (N, >= 14), ``template_index`` (N,) (:func:`nanotraj.ptm.ptm`).
    lattice : the element's structure, a key of :data:`FAMILY`.
    nn_factor : ``d_nn / a`` of that structure (``1/sqrt(2)`` for fcc): converts the mean
        nearest-neighbour distance into the lattice constant ``a``.
    gamma : hcp c-axis factor (:func:`reference_template`).
    mask : optional (N,) bool, restricts the atoms used (default: the whole family).

    Returns
    -------
    dict: ``nn_distance`` (N,) Angstrom, NaN outside the family; ``lattice_constant``,
    ``lattice_constant_err`` (Angstrom, NaN without atoms; the error NaN with one atom),
    ``nn_distance_mean`` (Angstrom), ``n_atoms`` (atoms used).
    """
    from nanotraj.orientations import rotation_matrices

    x = _check(coords, ptm)
    use = family_mask(ptm["structure"], lattice)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool).reshape(-1)
    use &= np.all(np.isfinite(np.asarray(ptm["orientation"], dtype=np.float64)), axis=1)
    d = np.full(len(x), np.nan)
    q = np.asarray(ptm["orientation"], dtype=np.float64)
    for _, _, idx, t in _groups(ptm, use, gamma):
        m = len(t)
        norm = float(np.sum(t * t))
        for a in range(0, len(idx), _CHUNK):
            sub = idx[a : a + _CHUNK]
            dx = _vectors(x, ptm["neighbours"], sub, m)
            S = np.einsum("nki,kj->nij", dx, t)  # sum_k dx_k t_k^T
            R = rotation_matrices(q[sub])
            d[sub] = np.einsum("nij,nij->n", R, S) / norm  # tr(R^T S)
    vals = d[np.isfinite(d)]
    n = len(vals)
    mean = float(vals.mean()) if n else math.nan
    err = float(vals.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"nn_distance": d, "lattice_constant": mean / nn_factor,
            "lattice_constant_err": err / nn_factor, "nn_distance_mean": mean, "n_atoms": n}


def deformation_gradients(coords, ptm, lattice: str, d0: float, *, gamma: float = 1.0,
                          mask=None) -> np.ndarray:
    """Elastic deformation gradient of every atom of the lattice family (module docstring).

    ``F_i = (sum_k dx_ik t_k^T) (sum_k t_k t_k^T)^-1 / d0``: maps the reference template
    (crystal frame, nearest-neighbour distance ``d0``) onto the atom's neighbour vectors.
    As OVITO's ``ElasticStrainModifier`` (its ``Elastic Deformation Gradient``) up to the choice
    of the crystal frame among the lattice's symmetric equivalents.

    Parameters
    ----------
    coords, ptm, lattice, gamma, mask : as :func:`lattice_fit`.
    d0 : float > 0, nearest-neighbour distance of the reference lattice (Angstrom).

    Returns
    -------
    (N, 3, 3) float64; NaN for atoms outside the family (or ``mask``).
    """
    if not (math.isfinite(d0) and d0 > 0):
        raise ValueError(f"reference nearest-neighbour distance must be > 0, got {d0}")
    x = _check(coords, ptm)
    use = family_mask(ptm["structure"], lattice)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool).reshape(-1)
    F = np.full((len(x), 3, 3), np.nan)
    for _, _, idx, t in _groups(ptm, use, gamma):
        m = len(t)
        inv = np.linalg.inv(t.T @ t) / d0
        for a in range(0, len(idx), _CHUNK):
            sub = idx[a : a + _CHUNK]
            dx = _vectors(x, ptm["neighbours"], sub, m)
            F[sub] = np.einsum("nki,kj->nij", dx, t) @ inv
    return F


def green_lagrange(F) -> np.ndarray:
    """``E = (F F^T - I) / 2`` per atom: the Green-Lagrangian strain of the reference lattice
    turned into the atom's orientation, in the sample's axes (module docstring).  (N, 3, 3)
    in, (N, 3, 3) out, symmetric; NaN in, NaN out."""
    F = np.asarray(F, dtype=np.float64)
    return 0.5 * (F @ np.swapaxes(F, -1, -2) - np.eye(3))


def volumetric(E) -> np.ndarray:
    """``tr(E) / 3`` per atom (OVITO's volumetric strain).  (N, 3, 3) -> (N,)."""
    return np.trace(np.asarray(E, dtype=np.float64), axis1=-2, axis2=-1) / 3.0


def radial(E, coords, centre=None) -> np.ndarray:
    """Strain along the direction from the centre: ``n^T E n``, ``n = (r - c) / |r - c|``.

    Parameters
    ----------
    E : (N, 3, 3); coords : (N, 3) Angstrom; centre : (3,) Angstrom, default the mean position.

    Returns
    -------
    (N,) float64; NaN where ``E`` is NaN or the atom sits at the centre (``|r - c| < 1e-9`` A).
    """
    x = np.asarray(coords, dtype=np.float64)
    c = x.mean(axis=0) if centre is None else np.asarray(centre, dtype=np.float64)
    v = x - c
    r = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = v / r[:, None]
    out = np.einsum("ni,nij,nj->n", n, np.asarray(E, dtype=np.float64), n)
    out[r < 1e-9] = np.nan
    return out


def voigt(E) -> dict:
    """The six components ``xx, yy, zz, xy, xz, yz`` (OVITO's order) of symmetric tensors
    (N, 3, 3), as a dict of (N,) arrays keyed ``strain_xx`` ... ``strain_yz`` (tensor shear
    components, not engineering shear)."""
    E = np.asarray(E, dtype=np.float64)
    return {"strain_xx": E[:, 0, 0], "strain_yy": E[:, 1, 1], "strain_zz": E[:, 2, 2],
            "strain_xy": E[:, 0, 1], "strain_xz": E[:, 0, 2], "strain_yz": E[:, 1, 2]}


def radial_profile(d_center, strain_radial, strain_volumetric, width: float) -> dict:
    """Radial strain profile: means over shells of the distance to the centre.

    Bins ``[k w, (k + 1) w)`` for ``k = 0 .. floor(max d / w)`` (every bin up to the farthest
    atom, empty bins included).  Per bin: ``n_atoms`` with a finite ``strain_volumetric``, and
    the means of ``strain_radial`` and ``strain_volumetric`` over them (NaN for none).

    Parameters
    ----------
    d_center : (N,) Angstrom; strain_radial, strain_volumetric : (N,) (NaN where undefined);
    width : float > 0, Angstrom.

    Returns
    -------
    dict of (K,) arrays keyed :data:`PROFILE_COLUMNS`; K = 0 for no atoms.
    """
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"profile bin width must be > 0, got {width}")
    d = np.asarray(d_center, dtype=np.float64).reshape(-1)
    sr = np.asarray(strain_radial, dtype=np.float64).reshape(-1)
    sv = np.asarray(strain_volumetric, dtype=np.float64).reshape(-1)
    if len(d) == 0:
        return {c: np.zeros(0) for c in PROFILE_COLUMNS} | {"n_atoms": np.zeros(0, np.int64)}
    k = np.floor(d / width).astype(np.int64)
    nb = int(k.max()) + 1
    ok = np.isfinite(sv)
    n = np.bincount(k[ok], minlength=nb)
    okr = ok & np.isfinite(sr)
    nr = np.bincount(k[okr], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mv = np.bincount(k[ok], weights=sv[ok], minlength=nb) / n
        mr = np.bincount(k[okr], weights=sr[okr], minlength=nb) / nr
    edges = np.arange(nb + 1) * width
    return {"r_min": edges[:-1], "r_max": edges[1:], "n_atoms": n.astype(np.int64),
            "strain_radial_mean": mr, "strain_volumetric_mean": mv}
