"""The crystal lattice of a frame in one call: lattice constant, strain, GCN, sites, facets.

:func:`analyse` combines :mod:`nanotraj.strain` (lattice constant, elastic strain, radial
profile), :mod:`nanotraj.orientations` (grains and the dominant orientation),
:mod:`nanotraj.sites` (generalised coordination numbers, surface site classes) and
:mod:`nanotraj.facets` (planes of the surface and their Miller indices) on the results the
workflow already has: the bond network, the alpha-shape surface and PTM.  The file-level stage
(:mod:`nanotraj.stages.lattice`) only reads, calls this and writes.

Definitions, formulas and references are in those modules; the choices made here:

* **Lattice.**  The element's structure (``structure``, from :mod:`nanotraj.elements`) decides
  which PTM atoms form the lattice (:data:`nanotraj.strain.FAMILY`: fcc and hcp atoms for an
  fcc metal), the conversion of the nearest-neighbour distance into the lattice constant and the
  bulk coordination of the GCN.  Structures other than fcc, hcp, bcc and sc (diamond) get no
  lattice constant, strain, site classes or facet indices (NaN / ``other``), with a note.
* **Reference of the strain** (``reference``): ``"frame"`` (the frame's own fitted lattice
  constant; the strain is then the inhomogeneity within the particle), ``"element"`` (the
  table's bulk value; the strain includes the particle's overall expansion or contraction and
  any error of the length scale) or a number (Angstrom).
* **Core and surface means** of the volumetric strain: the surface atoms of the alpha shape
  never have a strain (PTM needs a full shell of neighbours), so ``_surface`` is the mean over
  the strained atoms *bonded to a surface atom* (the outermost crystalline layer) and ``_core``
  over the other strained atoms.
* **Crystal frame of the surface.**  Grains of the lattice's own structure (fcc atoms of an fcc
  metal: hcp atoms have a hexagonal frame) by :func:`nanotraj.orientations.grains`; each
  surface atom takes the grain of the nearest grain atom (:func:`nanotraj.orientations.
  nearest_grain`), each surface triangle the grain of at least two of its corners (else its
  first corner's).  A single crystal is one grain: every facet is indexed in the dominant
  orientation, as a twinned particle's facets are indexed in their own segment's frame (an Ino
  decahedron: all ten faces {111}; in the dominant frame only two of them would be).
* **Radial profile** bins of ``profile_bin`` Angstrom (``"auto"``: the reference
  nearest-neighbour distance, else the element's) of the distance to the mean position.

Only numpy (scipy through the modules it calls).  Lengths in Angstrom.
"""

from __future__ import annotations

import math

import numpy as np

from nanotraj.contract import LATTICE_SUMMARY_COLUMNS

__all__ = ["analyse"]


def analyse(coords, bonds, surface, facets, normals, ptm, *, structure: str, a: float,
            nn_distance: float, c: float | None = None, reference="frame",
            profile_bin="auto") -> dict:
    """The crystal lattice of one frame (module docstring).

    Parameters
    ----------
    coords : (N, 3) Angstrom.
    bonds : (B, 2) int, the bond network (each pair once).
    surface : (N,) bool, alpha-shape surface atoms.
    facets, normals : (F, 3) int and (F, 3) float, the alpha-shape surface triangles and their
        outward unit normals (:func:`nanotraj.alphashape.alpha_shape`).
    ptm : mapping with PTM's ``structure``, ``orientation``, ``neighbours``,
        ``template_index`` (:func:`nanotraj.ptm.ptm`).
    structure : the element's lattice (``"fcc"``, ``"hcp"``, ``"bcc"``, ``"sc"``, ...).
    a, nn_distance, c : the element's lattice constant, nearest-neighbour distance and c
        (Angstrom; c None for cubic lattices).
    reference : ``"frame"``, ``"element"`` or a number > 0 (Angstrom).
    profile_bin : ``"auto"`` or a width > 0 (Angstrom).

    Returns
    -------
    dict:
      per atom: ``strain`` (N, 6) (xx, yy, zz, xy, xz, yz), ``strain_volumetric``,
      ``strain_radial``, ``nn_fit`` (the atom's fitted nearest-neighbour distance), ``gcn``
      (N,) float; ``site`` (N,) int8 (:data:`nanotraj.contract.SITE_CLASSES`); ``grain``
      (N,) int (-1 none);
      ``grain_orientations`` (G, 4) (x, y, z, w), grain 0 the dominant orientation;
      ``summary``: dict of :data:`nanotraj.contract.LATTICE_SUMMARY_COLUMNS`;
      ``profile``: dict of the ``strain_profile.csv`` columns; ``facets``: dict of the
      ``facets.csv`` columns (plus ``family``); ``plane`` (F,) each triangle's facet;
      ``notes``: list of ``(kind, text)``, kind ``"info"``, ``"note"`` or ``"warning"``.
    Frames without lattice atoms, surface or bonds give NaN / empty values and a note, never
    an error.
    """
    from nanotraj import facets as fc
    from nanotraj import orientations as ori
    from nanotraj import sites
    from nanotraj import strain as st
    from nanotraj.ptm import STRUCTURE_CODES, STRUCTURE_NAMES

    x = np.asarray(coords, dtype=np.float64)
    n = len(x)
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    surface = np.asarray(surface, dtype=bool).reshape(-1)
    facets = np.asarray(facets, dtype=np.int64).reshape(-1, 3)
    normals = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    if len(surface) != n:
        raise ValueError(f"surface must have {n} entries, got {len(surface)}")
    ptm = {k: ptm[k] for k in ("structure", "orientation", "neighbours", "template_index")}
    nn_factor = nn_distance / a
    gamma = 1.0
    if structure == "hcp" and c:
        gamma = (c / a) / math.sqrt(8.0 / 3.0)
    supported = structure in st.FAMILY
    notes = []
    summary = {col: math.nan for col in LATTICE_SUMMARY_COLUMNS}

    # lattice constant and strain
    strain6 = np.full((n, 6), np.nan)
    vol, rad, nn_fit = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    a_ref = math.nan
    if not supported:
        notes.append(("note", f"the lattice is {structure}: lattice constant, strain, site "
                      "classes and facet indices are computed for fcc, hcp, bcc and sc "
                      "lattices only (empty values)"))
    else:
        codes = np.bincount(np.asarray(ptm["structure"], np.int64), minlength=6)
        family = st.FAMILY[structure]
        names = "/".join(family)
        n_family = sum(int(codes[STRUCTURE_CODES[s]]) for s in family)
        crystal = {STRUCTURE_NAMES[k]: int(codes[k]) for k in (1, 2, 3, 5) if codes[k]}
        if sum(crystal.values()) > 2 * n_family:
            notes.append(("warning", f"most crystalline atoms are "
                          f"{max(crystal, key=crystal.get)} ({crystal}), the element is "
                          f"{structure}: the lattice uses the {names} atoms only (is the "
                          "element right?)"))
        fit = st.lattice_fit(x, ptm, structure, nn_factor=nn_factor, gamma=gamma)
        nn_fit = fit["nn_distance"]
        summary["lattice_constant"] = fit["lattice_constant"]
        summary["lattice_constant_err"] = fit["lattice_constant_err"]
        summary["lattice_n_atoms"] = fit["n_atoms"]
        if fit["n_atoms"]:
            notes.append(("info", f"lattice constant {fit['lattice_constant']:.5f} +- "
                          f"{fit['lattice_constant_err']:.5f} A from {fit['n_atoms']} {names} "
                          f"atoms (PTM); element table {a:.5f} A"))
        else:
            notes.append(("note", f"no {names} atoms (PTM): no lattice constant, no strain"))
        if reference == "frame":
            a_ref, how = fit["lattice_constant"], "this frame's fitted lattice constant"
        elif reference == "element":
            a_ref, how = float(a), "the element table's bulk lattice constant"
        else:
            a_ref, how = float(reference), "the configured lattice constant"
            if not (math.isfinite(a_ref) and a_ref > 0):
                raise ValueError(f"reference must be 'frame', 'element' or a number > 0, got "
                                 f"{reference!r}")
        summary["strain_reference"] = a_ref
        if fit["n_atoms"] and math.isfinite(a_ref):
            F = st.deformation_gradients(x, ptm, structure, a_ref * nn_factor, gamma=gamma)
            E = st.green_lagrange(F)
            strain6 = np.column_stack(list(st.voigt(E).values()))
            vol = st.volumetric(E)
            rad = st.radial(E, x)
            notes.append(("info", f"strain of {fit['n_atoms']} atoms relative to a = "
                          f"{a_ref:.5f} A ({how})"))
    near_surface = np.zeros(n, bool)
    if len(bonds):
        near_surface[bonds[surface[bonds[:, 1]], 0]] = True
        near_surface[bonds[surface[bonds[:, 0]], 1]] = True
    has = np.isfinite(vol)
    for key, sel in (("core", has & ~near_surface & ~surface), ("surface", has & near_surface)):
        summary[f"strain_volumetric_mean_{key}"] = float(vol[sel].mean()) if sel.any() \
            else math.nan

    # generalised coordination
    gcn = sites.gcn(n, bonds, sites.BULK_CN.get(structure, 12))
    cn = np.bincount(bonds.ravel(), minlength=n)
    summary["gcn_mean_surface"] = float(gcn[surface].mean()) if surface.any() else math.nan

    # grains (the crystal frame of the surface)
    grain = np.full(n, -1, np.int64)
    q_grains = np.zeros((0, 4))
    if supported:
        own = np.asarray(ptm["structure"]) == STRUCTURE_CODES[structure]
        grain, q_grains = ori.grains(ptm["orientation"], own, structure)
        if len(q_grains):
            sizes = np.bincount(grain[grain >= 0]).tolist()
            notes.append(("info", f"{len(q_grains)} grain(s) of one orientation (within "
                          f"{ori.GRAIN_ANGLE:g} deg), atoms {sizes[:8]}"
                          f"{' ...' if len(sizes) > 8 else ''}"))
        grain = ori.nearest_grain(x, grain, surface)
    rot = ori.rotation_matrices(q_grains) if len(q_grains) else np.zeros((0, 3, 3))

    # surface sites
    vn = fc.vertex_normals(n, x, facets, normals)
    m = np.full((n, 3), np.nan)
    framed = surface & (grain >= 0)
    if framed.any():
        m[framed] = np.einsum("nji,nj->ni", rot[grain[framed]], vn[framed])
    site = sites.site_classes(cn, surface, m, lattice=structure)
    summary.update(sites.site_fractions(site, surface))
    if structure != "fcc":
        notes.append(("note", f"site classes are defined for fcc surfaces, the lattice is "
                      f"{structure}: every surface atom is 'other'"))
    elif surface.any() and not len(q_grains):
        notes.append(("note", "no fcc atom gives the surface a crystal frame: terrace atoms are "
                      "'other', facets are not indexed"))

    # facets
    if len(facets):
        g3 = grain[facets]
        tri_grain = np.where(g3[:, 1] == g3[:, 2], g3[:, 1], g3[:, 0])
    else:
        tri_grain = np.zeros(0, np.int64)
    planes = fc.facet_planes(x, facets, normals, tri_grain, rot,
                             cubic=structure in ("fcc", "bcc", "sc"))
    summary.update(fc.facet_fractions(planes["table"]))
    notes.append(("info", f"{len(planes['table']['area'])} surface planes, "
                  f"{summary['n_facets']} facets of >= {fc.MIN_FACET_ATOMS} atoms; area "
                  "fractions " + ", ".join(f"{{{f}}} {summary[f'facet_fraction_{f}']:.3f}"
                                           for f in fc.FAMILIES)))

    # radial profile
    if profile_bin == "auto":
        width = a_ref * nn_factor if math.isfinite(a_ref) else float(nn_distance)
    else:
        width = float(profile_bin)
    d = np.linalg.norm(x - x.mean(axis=0), axis=1) if n else np.zeros(0)
    profile = st.radial_profile(d, rad, vol, width)
    for col in ("lattice_n_atoms", "n_facets"):
        summary[col] = int(summary[col]) if math.isfinite(summary[col]) else 0
    return {"strain": strain6, "strain_volumetric": vol, "strain_radial": rad,
            "nn_fit": nn_fit, "gcn": gcn, "site": site, "grain": grain,
            "grain_orientations": q_grains, "summary": summary, "profile": profile,
            "facets": planes["table"], "plane": planes["plane"], "notes": notes}
