"""File-level stage of the crystal lattice per atom (rule ``compute_lattice``): lattice constant,
elastic strain, generalised coordination, surface sites and facets of one frame.

Reads the frame (``frame.npz``), its bonds, its alpha-shape surface and its PTM result; calls
:func:`nanotraj.crystal.analyse` (:mod:`nanotraj.strain`, :mod:`nanotraj.orientations`,
:mod:`nanotraj.sites`, :mod:`nanotraj.facets`); writes ``lattice.npz`` (per-atom values and the
frame's summary values, read by the table and PDB stages) and the user-facing
``strain_profile.csv`` and ``facets.csv``.
The element's facts (structure, lattice constants) come from :mod:`nanotraj.elements` here.
"""

from __future__ import annotations

import numpy as np

from nanotraj.contract import FACET_COLUMNS, LATTICE_SUMMARY_COLUMNS, STRAIN_PROFILE_COLUMNS
from nanotraj.stages.jobs import OK, Log, guard, save, upstream_status
from nanotraj.tables import load_arrays, write_columns

__all__ = ["compute_lattice"]


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
    from nanotraj.crystal import analyse
    from nanotraj.elements import lattice

    lat = lattice(element)
    res = analyse(frame["coords"], bd["bonds"], su["surface"], su["facets"], su["normals"], pt,
                  structure=lat["structure"], a=lat["a"], nn_distance=lat["nn_distance"],
                  c=lat["c"], reference=reference, profile_bin=profile_bin)
    for kind, text in res["notes"]:
        if kind == "warning":
            lg.warn(f"{frame['source']}: {text}")
        else:
            lg(f"note: {text}" if kind == "note" else text)
    write_columns(profile_csv, res["profile"])
    write_columns(facets_csv, {c: res["facets"][c] for c in FACET_COLUMNS})
    summary = res["summary"]
    save(output, **{k: res[k] for k in ("strain", "strain_volumetric", "strain_radial", "nn_fit",
                                        "gcn", "site", "grain", "grain_orientations")},
         summary_names=np.array(LATTICE_SUMMARY_COLUMNS),
         summary_values=np.array([float(summary[c]) for c in LATTICE_SUMMARY_COLUMNS]))
