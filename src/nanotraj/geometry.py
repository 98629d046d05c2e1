"""Particle geometry: distance to the centre, convex-hull diameter.  Lengths in Angstrom."""

from __future__ import annotations

import numpy as np

from nanotraj.errors import AnalysisError

__all__ = ["distance_to_centre", "hull_diameter", "principal_extents", "check_3d",
           "MIN_THICKNESS"]

#: Smallest extent of a particle along its thinnest principal axis, in units of its median
#: nearest-neighbour distance, that :func:`check_3d` accepts (a bilayer has ~0.8).
MIN_THICKNESS = 0.5


def distance_to_centre(coords) -> np.ndarray:
    """Distance of each atom from the particle's centre (the unweighted mean position).

    ``d_i = |x_i - (1/N) sum_j x_j|`` (the seed's ``distance_from_center``; Kang et al.).

    Parameters
    ----------
    coords : array_like, shape (N, 3), Angstrom, N >= 1

    Returns
    -------
    ndarray, shape (N,), float64 (Angstrom)
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if len(x) == 0:
        return np.zeros(0)
    d = x - x.mean(axis=0)
    return np.sqrt(np.einsum("ij,ij->i", d, d))  # einsum: no (N, 3) temporary of squares


def hull_diameter(coords) -> float:
    """Diameter of the sphere with the volume of the atoms' convex hull.

    ``D = (6 V / pi)^(1/3)`` with V the volume of the convex hull of the atom centres (Qhull via
    ``scipy.spatial.ConvexHull``); the seed's ``calculate_diameter`` (Kang et al.).  Stage 1 of
    the Kang et al. series: 19.688 A.

    Parameters
    ----------
    coords : array_like, shape (N, 3), Angstrom

    Returns
    -------
    float (Angstrom)

    Raises
    ------
    AnalysisError
        ``AnalysisError("convex hull", reason)`` for fewer than 4 atoms or coplanar / collinear /
        coincident atoms (zero volume); the caller re-raises with the frame's path.

    References
    ----------
    C. B. Barber, D. P. Dobkin, H. Huhdanpaa, The Quickhull algorithm for convex hulls,
    ACM TOMS 22 (1996) 469.
    """
    from scipy.spatial import ConvexHull, QhullError

    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if len(x) < 4:
        raise AnalysisError("convex hull", f"{len(x)} atoms; a 3D hull needs at least 4")
    if not np.isfinite(x).all():
        raise AnalysisError("convex hull", "non-finite coordinates")
    try:
        volume = ConvexHull(x).volume
    except QhullError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "QhullError"
        raise AnalysisError(
            "convex hull", f"atoms are coplanar, collinear or coincident (Qhull: {first})"
        ) from None
    if not volume > 0:
        raise AnalysisError("convex hull", "zero volume (coplanar atoms)")
    return float((6.0 * volume / np.pi) ** (1.0 / 3.0))


def principal_extents(coords) -> np.ndarray:
    """Extents of the particle along its principal axes, largest first (Angstrom).

    The axes are the eigenvectors of the covariance of the atom positions; the extent along an
    axis is ``max - min`` of the projections on it.  A sphere of diameter D has three extents
    ~D, a flat sheet one extent ~0, atoms on a line two.

    Returns (3,) float64, Angstrom (zeros for fewer than 2 atoms).
    """
    x = np.asarray(coords, dtype=np.float64)
    if len(x) < 2:
        return np.zeros(3)
    d = x - x.mean(axis=0)
    _, vecs = np.linalg.eigh(d.T @ d)
    proj = d @ vecs
    return np.sort(np.ptp(proj, axis=0))[::-1]


def check_3d(coords, *, min_thickness=MIN_THICKNESS) -> None:
    """An :class:`AnalysisError` when the atoms do not form a 3D particle.

    A frame is refused when its thinnest principal extent (:func:`principal_extents`) is below
    ``min_thickness`` times the median nearest-neighbour distance of its atoms: atoms on a
    line, or a single flat layer, whose hull diameter, bond-orientational order and surface
    are meaningless for a 3D map of a nanocrystal (a bilayer, 0.8 of the nearest-neighbour
    distance thick, passes).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(coords, dtype=np.float64)
    if len(x) < 4:
        return
    ext = principal_extents(x)
    if ext[2] >= 10.0 * min_thickness:  # thicker than any interatomic distance allows
        return
    dist, _ = cKDTree(x).query(x, k=2)
    nn = float(np.median(dist[:, 1]))
    if not nn > 0:
        return  # coincident atoms: the duplicate check names them
    if ext[1] < min_thickness * nn:
        raise AnalysisError("shape", f"the atoms lie on a line (extents {ext[0]:.2f} x "
                                     f"{ext[1]:.2f} x {ext[2]:.2f} A): not a 3D particle")
    if ext[2] < min_thickness * nn:
        raise AnalysisError("shape", f"the atoms lie in one plane (thickness {ext[2]:.3f} A, "
                                     f"< {min_thickness} x the nearest-neighbour distance "
                                     f"{nn:.2f} A): not a 3D particle")
