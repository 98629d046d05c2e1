"""File-level stage of the crystal lattice per atom (rule ``compute_lattice``): lattice constant,
elastic strain, generalised coordination, surface sites and facets of one frame.

Reads the frame (``frame.npz``), its bonds, its alpha-shape surface and its PTM result; calls
:mod:`nanotraj.strain`, :mod:`nanotraj.orientations`, :mod:`nanotraj.sites` and
:mod:`nanotraj.facets`; writes ``lattice.npz`` (per-atom values and the frame's summary values,
read by the table and PDB stages) and the user-facing ``strain_profile.csv`` and ``facets.csv``.
The element's facts (structure, lattice constants) come from :mod:`nanotraj.elements` here.
"""

from __future__ import annotations

import math

import numpy as np

from nanotraj.contract import FACET_COLUMNS, LATTICE_SUMMARY_COLUMNS, STRAIN_PROFILE_COLUMNS
from nanotraj.stages.jobs import OK, Log, guard, save, upstream_status
from nanotraj.tables import load_arrays, write_columns

__all__ = ["compute_lattice", "resolve_reference"]


def resolve_reference(reference, fitted: float, element_a: float) -> tuple[float, str]:
    """The lattice constant the strain is measured from (Angstrom) and how it was chosen.

    ``reference``: ``"frame"`` (``fitted``, this frame's lattice constant; NaN when the frame
    has none), ``"element"`` (``element_a``, the element table's bulk value) or a number > 0
    (Angstrom, as given).
    """
    if reference == "frame":
        return float(fitted), "this frame's fitted lattice constant"
    if reference == "element":
        return float(element_a), "the element table's bulk lattice constant"
    value = float(reference)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"lattice.reference must be frame, element or a number > 0, "
                         f"got {reference!r}")
    return value, "the configured lattice constant"


def _empty_tables(profile_csv, facets_csv):
    write_columns(profile_csv, {c: np.array([]) for c in STRAIN_PROFILE_COLUMNS})
    write_columns(facets_csv, {c: np.array([]) for c in FACET_COLUMNS})


def compute_lattice(frame_npz, bonds_npz, surface_npz, ptm_npz, output, profile_csv, facets_csv,
                    *, element="Pt", reference="frame", profile_bin="auto", log=None,
                    on_bad_frame="fail"):
    """Stage ``lattice``: the crystal lattice per atom and per frame.

    ``reference``: the lattice constant of the strain: ``"frame"`` (this frame's fit, default),
    ``"element"`` (the element table's) or a number (Angstrom). ``profile_bin``: width of the
    radial profile's shells, Angstrom, or ``"auto"`` (the reference nearest-neighbour distance).

    Output ``.npz``: per atom ``strain`` (N, 6) (xx, yy, zz, xy, xz, yz), ``strain_volumetric``,
    ``strain_radial`` (N,) (NaN where the atom is not of the lattice family), ``nn_fit`` (N,) the
    atom's fitted nearest-neighbour distance (A), ``gcn`` (N,), ``site`` (N,) int8 codes of
    :data:`nanotraj.contract.SITE_CLASSES`, ``grain`` (N,) (-1: none); per frame
    ``summary_names`` / ``summary_values`` (:data:`nanotraj.contract.LATTICE_SUMMARY_COLUMNS`),
    ``grain_orientations`` (G, 4) (x, y, z, w), ``status``.
    ``strain_profile.csv``: :data:`nanotraj.contract.STRAIN_PROFILE_COLUMNS`;
    ``facets.csv``: :data:`nanotraj.contract.FACET_COLUMNS`. A rejected frame gets the
    rejection and empty tables.
    """
    lg = Log(log)
    arrays = [load_arrays(p) for p in (frame_npz, bonds_npz, surface_npz, ptm_npz)]

    def reject(status):
        _empty_tables(profile_csv, facets_csv)
        save(output, status)

    if (status := upstream_status(*arrays)) != OK:
        reject(status)
        lg.close(status)
        return
    frame, bd, su, pt = arrays
    guard(lg, on_bad_frame, frame["source"], "lattice",
          lambda: _compute(frame, bd, su, pt, output, profile_csv, facets_csv, lg,
                           element=element, reference=reference, profile_bin=profile_bin),
          reject)


def _compute(frame, bd, su, pt, output, profile_csv, facets_csv, lg, *, element, reference,
             profile_bin):
    from nanotraj import facets as fc
    from nanotraj import orientations as ori
    from nanotraj import sites
    from nanotraj import strain as st
    from nanotraj.elements import lattice as element_lattice
    from nanotraj.ptm import STRUCTURE_CODES, STRUCTURE_NAMES

    x = np.asarray(frame["coords"], dtype=np.float64)
    n = len(x)
    bonds = np.asarray(bd["bonds"])
    surface = np.asarray(su["surface"], dtype=bool)
    lat = element_lattice(element)
    structure = lat["structure"]
    nn_factor = lat["nn_distance"] / lat["a"]
    gamma = 1.0
    if structure == "hcp" and lat["c"]:
        gamma = (lat["c"] / lat["a"]) / math.sqrt(8.0 / 3.0)
    ptm = {k: pt[k] for k in ("structure", "orientation", "neighbours", "template_index")}
    supported = structure in st.FAMILY
    summary = {c: math.nan for c in LATTICE_SUMMARY_COLUMNS}

    # lattice constant and strain
    nan_n = np.full(n, np.nan)
    strain6, vol, rad, nn_fit = np.full((n, 6), np.nan), nan_n, nan_n.copy(), nan_n.copy()
    if not supported:
        lg(f"note: {element} is {structure}: lattice constant, strain, site classes and facet "
           "indices are computed for fcc, hcp, bcc and sc lattices only (empty values)")
        a_ref = math.nan
    else:
        codes = np.bincount(np.asarray(ptm["structure"], np.int64), minlength=6)
        family = st.FAMILY[structure]
        n_family = sum(int(codes[STRUCTURE_CODES[s]]) for s in family)
        crystal = {STRUCTURE_NAMES[c]: int(codes[c]) for c in (1, 2, 3, 5) if codes[c]}
        if sum(crystal.values()) > 2 * n_family:
            lg.warn(f"{frame['source']}: most crystalline atoms are "
                    f"{max(crystal, key=crystal.get)} ({crystal}), the element {element} is "
                    f"{structure}: the lattice uses the {'/'.join(family)} atoms only (is the "
                    "element right?)")
        fit = st.lattice_fit(x, ptm, structure, nn_factor=nn_factor, gamma=gamma)
        nn_fit = fit["nn_distance"]
        summary["lattice_constant"] = fit["lattice_constant"]
        summary["lattice_constant_err"] = fit["lattice_constant_err"]
        summary["lattice_n_atoms"] = fit["n_atoms"]
        if fit["n_atoms"]:
            lg(f"lattice constant {fit['lattice_constant']:.5f} +- "
               f"{fit['lattice_constant_err']:.5f} A from {fit['n_atoms']} "
               f"{'/'.join(family)} atoms (PTM); {element} table: {lat['a']:.5f} A")
        else:
            lg(f"note: no {'/'.join(family)} atoms (PTM): no lattice constant and no strain")
        a_ref, how = resolve_reference(reference, fit["lattice_constant"], lat["a"])
        summary["strain_reference"] = a_ref
        if fit["n_atoms"] and math.isfinite(a_ref):
            F = st.deformation_gradients(x, ptm, structure, a_ref * nn_factor, gamma=gamma)
            E = st.green_lagrange(F)
            strain6 = np.column_stack(list(st.voigt(E).values()))
            vol = st.volumetric(E)
            rad = st.radial(E, x)
            lg(f"strain of {fit['n_atoms']} atoms relative to a = {a_ref:.5f} A ({how})")
    # core: atoms with a strain and no bond to a surface atom; surface: with one
    near_surface = np.zeros(n, bool)
    if len(bonds):
        near_surface[bonds[surface[bonds[:, 1]], 0]] = True
        near_surface[bonds[surface[bonds[:, 0]], 1]] = True
    has = np.isfinite(vol)
    for key, sel in (("core", has & ~near_surface & ~surface), ("surface", has & near_surface)):
        summary[f"strain_volumetric_mean_{key}"] = float(vol[sel].mean()) if sel.any() \
            else math.nan

    # generalised coordination
    cn_max = sites.BULK_CN.get(structure, 12)
    gcn = sites.gcn(n, bonds, cn_max)
    cn = np.bincount(bonds.ravel(), minlength=n) if len(bonds) else np.zeros(n, np.int64)
    summary["gcn_mean_surface"] = float(gcn[surface].mean()) if surface.any() else math.nan

    # grains: orientations of the lattice's own structure (cubic frame for fcc)
    grain = np.full(n, -1, np.int64)
    q_grains = np.zeros((0, 4))
    if supported:
        own = np.asarray(ptm["structure"]) == STRUCTURE_CODES[structure]
        grain, q_grains = ori.grains(ptm["orientation"], own, structure)
        if len(q_grains):
            sizes = np.bincount(grain[grain >= 0])
            lg(f"{len(q_grains)} grain(s) of one orientation (within {ori.GRAIN_ANGLE:g} deg), "
               f"atoms {sizes.tolist()[:8]}{' ...' if len(sizes) > 8 else ''}")
        grain = ori.nearest_grain(x, grain, surface)
    rot = ori.rotation_matrices(q_grains) if len(q_grains) else np.zeros((0, 3, 3))

    # surface sites
    facets = np.asarray(su["facets"], dtype=np.int64).reshape(-1, 3)
    normals = np.asarray(su["normals"], dtype=np.float64).reshape(-1, 3)
    vn = fc.vertex_normals(n, x, facets, normals)
    m = np.full((n, 3), np.nan)
    framed = surface & (grain >= 0)
    if framed.any():
        m[framed] = np.einsum("nji,nj->ni", rot[grain[framed]], vn[framed])
    site = sites.site_classes(cn, surface, m, lattice=structure)
    summary.update(sites.site_fractions(site, surface))
    if structure != "fcc":
        lg(f"note: site classes are defined for fcc surfaces; {element} is {structure}: every "
           "surface atom is 'other'")
    elif surface.any() and not len(q_grains):
        lg("note: no crystalline atom gives the surface a crystal frame: terrace atoms are "
           "'other'")

    # facets
    if len(facets):
        g3 = grain[facets]
        tri_grain = np.where(g3[:, 1] == g3[:, 2], g3[:, 1], g3[:, 0])
    else:
        tri_grain = np.zeros(0, np.int64)
    planes = fc.facet_planes(x, facets, normals, tri_grain, rot,
                             cubic=structure in ("fcc", "bcc", "sc"))
    table = planes["table"]
    summary.update(fc.facet_fractions(table))
    write_columns(facets_csv, {c: table[c] for c in FACET_COLUMNS})
    lg(f"{len(table['area'])} surface planes, {summary['n_facets']} facets of >= "
       f"{fc.MIN_FACET_ATOMS} atoms; area fractions " + ", ".join(
           f"{{{f}}} {summary[f'facet_fraction_{f}']:.3f}" for f in fc.FAMILIES))

    # radial profile
    if profile_bin == "auto":
        d0 = a_ref * nn_factor if math.isfinite(a_ref) else lat["nn_distance"]
        width = float(d0)
    else:
        width = float(profile_bin)
    d = np.linalg.norm(x - x.mean(axis=0), axis=1)
    profile = st.radial_profile(d, rad, vol, width)
    write_columns(profile_csv, profile)
    summary["n_facets"] = int(summary["n_facets"])
    summary["lattice_n_atoms"] = int(summary["lattice_n_atoms"]) if math.isfinite(
        summary["lattice_n_atoms"]) else 0
    save(output, strain=strain6, strain_volumetric=vol, strain_radial=rad, nn_fit=nn_fit,
         gcn=gcn, site=site, grain=grain, grain_orientations=q_grains,
         summary_names=np.array(LATTICE_SUMMARY_COLUMNS),
         summary_values=np.array([float(summary[c]) for c in LATTICE_SUMMARY_COLUMNS]))
