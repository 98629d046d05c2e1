"""File-level stages of the per-frame workflow: what each per-frame rule calls.

Each function reads the stage's input files, calls the science modules (:mod:`nanotraj.io`,
:mod:`nanotraj.rdf`, :mod:`nanotraj.bonds`, :mod:`nanotraj.order`, :mod:`nanotraj.coordination`,
:mod:`nanotraj.geometry`, :mod:`nanotraj.structure`), and writes the stage's outputs atomically
(:mod:`nanotraj.tables`).  Intermediate files are uncompressed ``.npz`` (fast to load, mapped
read-only by the next stage); user-facing files are CSV, PDB and mmCIF.  Rejections, logs and
saving: :mod:`nanotraj.stages.jobs`.  The element of a frame is passed by name; the element's
facts (nearest-neighbour distance, the automatic cutoff's lower limit) come from
:mod:`nanotraj.elements` here, not from the caller.

The science modules are imported inside the stage functions so that a job only pays for what it
uses (``order`` does not need ``scipy.spatial``, writing tables needs neither).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nanotraj import layout
from nanotraj.contract import (
    ATOM_COLUMNS,
    BOND_COLUMNS,
    DOMAIN_ATOM_COLUMNS,
    ELEMENT_COLUMNS,
    LATTICE_COLUMNS,
    PDB_QUANTITIES,
    SITE_CLASSES,
    STRUCTURE_COLUMNS,
)
from nanotraj.errors import FrameError
from nanotraj.stages.jobs import (
    OK,
    Log,
    frame_elements,
    guard,
    inputs_or_reject,
    reject_reason,
    remark_pdb,
    save,
    status_of,
    upstream_status,
)
from nanotraj.tables import load_arrays, write_columns, write_text


def parse_frame(source, output, *, log=None, on_bad_frame="fail", min_atoms=4, min_distance=0.5,
                max_bytes=None, frame_index=None, length_unit="A", type_map=None,
                index_cache=None):
    """Stage ``parse``: read a frame (PDB, mmCIF, XYZ, extended XYZ, LAMMPS dump; frame
    ``frame_index`` of a multi-frame file; :func:`nanotraj.trajectory.read_frame`) and its
    whole-particle geometry.

    ``length_unit``: the file's (``A`` or ``nm``; converted to Angstrom); ``type_map``: LAMMPS
    type -> element; ``index_cache``: folder of the multi-frame files' cached frame indexes
    (:func:`nanotraj.layout.frame_index_cache`).  Output ``.npz``: ``coords`` (N, 3) A,
    ``elements`` (N,), ``b_factors`` (N,), ``d_center`` (N,) A, ``diameter`` A (sphere of the
    convex hull's volume), ``source`` (the file, ``"<file> (frame k)"`` for a frame of a
    multi-frame file: the name later stages' messages use), ``file_time`` (the time the file
    gives, NaN if none), ``status``.
    """
    from nanotraj.geometry import check_3d, distance_to_centre, hull_diameter
    from nanotraj.io import MAX_FRAME_BYTES
    from nanotraj.trajectory import frame_label, read_frame

    lg = Log(log)
    label = frame_label(source, frame_index)

    def compute():
        frame = read_frame(source, frame_index=frame_index, length_unit=length_unit,
                           type_map=type_map, min_atoms=min_atoms, min_distance=min_distance,
                           max_bytes=max_bytes or MAX_FRAME_BYTES, cache_dir=index_cache)
        try:
            check_3d(frame.coords)
            diameter = hull_diameter(frame.coords)
        except FrameError as err:  # re-attach the frame's path to geometry errors
            raise type(err)(label, err.reason) from None
        unit = "" if length_unit == "A" else f" (converted from {length_unit})"
        lg(f"read {len(frame.coords)} atoms from {label}{unit}; diameter {diameter:.3f} A")
        for note in frame.notes:
            lg.warn(f"{label}: {note}")
        save(output, coords=frame.coords, elements=np.asarray(frame.elements, dtype=str),
             b_factors=frame.b_factors, d_center=distance_to_centre(frame.coords),
             diameter=np.array(diameter), source=np.array(label),
             file_time=np.array(frame.time))

    guard(lg, on_bad_frame, label, "parse", compute,
          lambda status: save(output, status, source=np.array(label)))


def compute_rdf(frame_npz, rdf_csv, rdf_npz, *, element="Pt", cutoff="auto", dr=0.02,
                r_max=15.0, max_centres=20000, threads=1, log=None, on_bad_frame="fail"):
    """Stage ``rdf``: g(r) (user-facing ``rdf.csv``: ``r,g``) and the bond cutoff of the frame.

    Up to ``max_centres`` atoms g(r) is exact; above, it is estimated from that many sampled
    centres (:func:`nanotraj.rdf.rdf`). ``cutoff="auto"`` takes the first minimum of g(r) after
    its first peak (:func:`nanotraj.rdf.first_minimum`) at or beyond the ``element``'s
    :func:`nanotraj.elements.auto_cutoff_min` (Angstrom: ``1.06 a`` for bcc metals, else 0); a
    number is used as given (Angstrom).
    Output ``.npz``: ``r``, ``g``, ``cutoff`` (A) and ``cutoff_method`` (``"auto"``: first
    minimum; ``"fixed"``: the configuration's number) -- the one record of the cutoff that
    every later stage and figure reads -- and ``status``. ``threads``: threads counting pairs
    (the job's; the result does not depend on it).
    """
    from nanotraj.elements import auto_cutoff_min
    from nanotraj.rdf import first_minimum, rdf

    lg = Log(log)
    frame = load_arrays(frame_npz)

    def reject(status):
        write_columns(rdf_csv, {"r": np.array([]), "g": np.array([])})
        save(rdf_npz, status)

    if (status := status_of(frame)) != OK:
        reject(status)
        lg.close(status)
        return

    def compute():
        r, g, counts = rdf(frame["coords"], dr=dr, r_max=r_max, max_centres=max_centres,
                           workers=threads, return_counts=True)
        if len(frame["coords"]) > max_centres:
            lg(f"g(r) estimated from {max_centres} sampled centres ({len(frame['coords'])} atoms)")
        if cutoff == "auto":
            r_min = auto_cutoff_min(element)
            try:
                value = first_minimum(r, g, r_min=r_min, counts=counts)
            except FrameError as err:
                reason = (f"g(r) has no first minimum, so cutoff: auto cannot choose a bond "
                          f"cutoff ({err.reason}); set a fixed cutoff")
                close = int(counts[r < 0.5].sum())
                if close:  # kept by min_distance below their distance: they make the first peak
                    reason += f" ({close} pair(s) of atoms closer than 0.5 A: duplicated atoms?)"
                raise type(err)(str(frame["source"]), reason) from None
            beyond = f" beyond {r_min:.4f} A (bcc: 1st and 2nd shells)" if r_min else ""
            lg(f"cutoff = first minimum of g(r){beyond} = {value:.4f} A")
        else:
            value = float(cutoff)
            lg(f"cutoff = {value:.4f} A (fixed in the configuration)")
        write_columns(rdf_csv, {"r": r, "g": g})
        save(rdf_npz, r=r, g=g, cutoff=np.array(value),
             cutoff_method=np.array("auto" if cutoff == "auto" else "fixed"))

    guard(lg, on_bad_frame, frame["source"], "g(r)", compute, reject)


def find_bonds(frame_npz, rdf_npz, output, *, threads=1, log=None, on_bad_frame="fail"):
    """Stage ``bonds``: every pair closer than the cutoff.

    Output ``.npz``: ``bonds`` (B, 2) with i < j, ``distances`` (B,) A (the cutoff stays in
    ``rdf.npz``). ``threads``: threads of the pair search (the result does not depend on it).
    """
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz, rdf_npz)) is None:
        return
    frame, rd = loaded

    def compute():
        from nanotraj.bonds import find_bonds as _find

        _check_density(frame, float(rd["cutoff"]))
        bonds, distances = _find(frame["coords"], float(rd["cutoff"]), workers=threads)
        lg(f"{len(bonds)} bonds within {float(rd['cutoff']):.4f} A")
        if len(bonds) == 0:
            lg.warn(f"{frame['source']}: no two atoms within the cutoff "
                    f"{float(rd['cutoff']):.4f} A: every atom has cn 0 and q, Q, w, W, C "
                    "equal to 0 (is the cutoff too small?)")
        save(output, bonds=bonds, distances=distances)

    guard(lg, on_bad_frame, frame["source"], "bonds", compute,
          lambda status: save(output, status))


#: More bonds per atom than this, on average, is not a metal particle (12-14 within a first-shell
#: cutoff, ~80 within 2.5 nearest-neighbour distances): the bond stage refuses the frame
#: instead of filling the memory (duplicated atoms with ``min_distance: 0``, a huge ``cutoff``).
MAX_BONDS_PER_ATOM = 128


def _check_density(frame, cutoff):
    """A FrameError when the frame would have more than :data:`MAX_BONDS_PER_ATOM` bonds per
    atom: estimated from the density inside the hull-equivalent sphere, counted exactly (no
    memory) only when the estimate comes near the limit."""
    coords = frame["coords"]
    n = len(coords)
    volume = np.pi / 6.0 * float(frame["diameter"]) ** 3
    expected = 0.5 * n * (n / volume) * 4.0 / 3.0 * np.pi * cutoff**3 if volume > 0 else np.inf
    limit = MAX_BONDS_PER_ATOM * n / 2
    if expected < limit / 4:
        return
    from scipy.spatial import cKDTree

    tree = cKDTree(coords)
    pairs = (int(tree.count_neighbors(tree, cutoff)) - n) // 2
    if pairs > limit:
        raise FrameError(str(frame["source"]), (
            f"{pairs} pairs of atoms within the cutoff {cutoff:.4f} A ({2 * pairs / n:.0f} per "
            f"atom; a metal has 12-14): duplicated atoms (min_distance: 0?), coordinates in "
            f"nm, or a cutoff far too large"))


def compute_boo(frame_npz, bonds_npz, output, *, threshold=0.8, ls=(4, 6), engine="auto",
                threads=1, log=None, on_bad_frame="fail"):
    """Stage ``boo``: q_l, w_l, Q_l, W_l per atom for l in ``ls``, C_6 per atom, s_6 per bond,
    crystalline atoms.

    ``engine``: see :func:`nanotraj.order.boo`. ``threads``: threads of the numpy and compiled
    engines (the result does not depend on it, bit for bit).
    """
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz, bonds_npz)) is None:
        return
    frame, bd = loaded

    def compute():
        from nanotraj.order import boo

        # the outputs use s_l and C_l of l = 6 only (bonds.csv, atoms.csv): the others are not
        # computed (at 10^6 atoms each s_l is 6e6 values to compute and store)
        res = boo(frame["coords"], bd["bonds"], ls=tuple(ls), threshold=threshold, engine=engine,
                  workers=threads, products=(6,))
        lg(f"bond-orientational order l={tuple(ls)} for {len(frame['coords'])} atoms, "
           f"engine {engine}")
        save(output, **{k: np.asarray(v) for k, v in res.items()})

    guard(lg, on_bad_frame, frame["source"], "bond-orientational order", compute,
          lambda status: save(output, status))


def compute_coordination(frame_npz, rdf_npz, bonds_npz, output, *, element="Pt", factor=1.2,
                         log=None, on_bad_frame="fail"):
    """Stage ``coordination``: ``cn`` (bonds per atom) and ``cn_lattice`` (neighbours closer than
    ``factor`` x the ``element``'s bulk nearest-neighbour distance,
    :func:`nanotraj.elements.nn_distance`, Angstrom)."""
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz, rdf_npz, bonds_npz)) is None:
        return
    frame, rd, bd = loaded

    def compute():
        from nanotraj.bonds import bond_counts
        from nanotraj.coordination import cn_lattice
        from nanotraj.elements import nn_distance

        bulk_nn = nn_distance(element)

        n = len(frame["coords"])
        cn = bond_counts(n, bd["bonds"])
        # the bonds hold every pair within the cutoff: cn_lattice reuses them when that covers
        # factor x bulk_nn (the usual case), and builds its own KD-tree otherwise
        cnl = cn_lattice(frame["coords"], bulk_nn, factor=factor, bonds=bd["bonds"],
                         distances=bd["distances"], bond_cutoff=float(rd["cutoff"]))
        lg(f"cn_lattice: neighbours closer than {factor} x {bulk_nn:.4f} A")
        lonely = np.flatnonzero(cn == 0)
        if len(lonely) and len(bd["bonds"]):
            far = int(lonely[np.argmax(frame["d_center"][lonely])])
            lg.warn(f"{frame['source']}: {len(lonely)} atom(s) without any bond within "
                    f"{float(rd['cutoff']):.4f} A (stray atoms or noise?), e.g. atom {far} at "
                    f"{float(frame['d_center'][far]):.2f} A from the centre; they count in the "
                    "convex-hull diameter and have q, Q, w, W, C = 0")
        save(output, cn=cn, cn_lattice=cnl)

    guard(lg, on_bad_frame, frame["source"], "coordination", compute,
          lambda status: save(output, status))


def compute_neighbour_distance(frame_npz, bonds_npz, output, *, log=None, on_bad_frame="fail"):
    """Stage ``neighbour_distance``: mean distance (A) to bonded neighbours, NaN without bonds."""
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz, bonds_npz)) is None:
        return
    frame, bd = loaded

    def compute():
        from nanotraj.coordination import mean_bond_distance

        nn = mean_bond_distance(len(frame["coords"]), bd["bonds"], bd["distances"])
        lg(f"{int(np.isnan(nn).sum())} atoms without bonds (nn_distance = nan)")
        save(output, nn_distance=nn)

    guard(lg, on_bad_frame, frame["source"], "neighbour distance", compute,
          lambda status: save(output, status))


def compute_structure(frame_npz, rdf_npz, bonds_npz, boo_npz, coordination_npz, output, *,
                      element="Pt", threads=1, log=None, on_bad_frame="fail"):
    """Stage ``structure``: conventional and adaptive CNA, BOO classes, close contacts
    (:func:`nanotraj.structure.classify` with the ``element``'s bulk nearest-neighbour
    distance). ``threads``: threads of the CNA (the result does not depend on it)."""
    lg = Log(log)
    paths = (frame_npz, rdf_npz, bonds_npz, boo_npz, coordination_npz)
    if (loaded := inputs_or_reject(lg, output, *paths)) is None:
        return
    frame, rd, bd, bo, co = loaded

    def compute():
        from nanotraj.elements import nn_distance
        from nanotraj.structure import BOO_CLASSES, classify

        res = classify(frame["coords"], bd["bonds"], bo, co["cn"], nn_distance(element),
                       workers=threads, distances=bd["distances"], cutoff=float(rd["cutoff"]))
        lg(f"noise estimate sigma = {res['sigma_estimate']:.4f} A (nearest-neighbour peak "
           f"{res['nn_peak']:.4f} A)")
        # per class, not np.unique: sorting 10^6 strings costs 0.1 s
        counts = {name: k for name in BOO_CLASSES
                  if (k := int((res["structure_boo"] == name).sum()))}
        lg(f"BOO classes {counts}; {res['n_close_contacts']} close contacts")
        save(output, structure_cna=res["structure_cna"], structure_acna=res["structure_acna"],
             structure_boo=res["structure_boo"], sigma_estimate=np.array(res["sigma_estimate"]),
             nn_peak=np.array(res["nn_peak"]), n_close_contacts=np.array(res["n_close_contacts"]))

    guard(lg, on_bad_frame, frame["source"], "local structure", compute,
          lambda status: save(output, status))


def compute_surface(frame_npz, output, *, element="Pt", probe_radius="auto", threads=1,
                    log=None, on_bad_frame="fail"):
    """Stage ``surface``: surface atoms, surface area and solid volume of the alpha shape
    (:func:`nanotraj.alphashape.alpha_shape`; Stukowski, JOM 66, 399 (2014)).

    ``probe_radius``: Angstrom, or ``"auto"``: :func:`nanotraj.alphashape.default_probe_radius`
    of the ``element`` (1.45 x its bulk nearest-neighbour distance; 4.01 A for Pt).
    Output ``.npz``: ``surface`` (N,) bool, ``area`` (A^2), ``volume`` (A^3), ``facets``
    (F, 3) and ``normals`` (F, 3) of the oriented boundary, ``probe_radius`` (A).
    """
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz)) is None:
        return
    (frame,) = loaded

    def compute():
        from nanotraj.alphashape import alpha_shape, default_probe_radius

        alpha = default_probe_radius(element) if probe_radius == "auto" else float(probe_radius)
        res = alpha_shape(frame["coords"], alpha, workers=threads)
        n_surface = int(res["surface"].sum())
        lg(f"alpha shape, probe radius {alpha:.4f} A ({res['method']} path): {n_surface} surface "
           f"atoms of {len(frame['coords'])}; area {res['area']:.6g} A^2, volume "
           f"{res['volume']:.6g} A^3")
        save(output, surface=res["surface"], area=np.array(res["area"]),
             volume=np.array(res["volume"]), facets=res["facets"], normals=res["normals"],
             probe_radius=np.array(alpha))

    guard(lg, on_bad_frame, frame["source"], "surface", compute,
          lambda status: save(output, status))


def compute_ptm(frame_npz, output, *, rmsd_cutoff=0.13, threads=1, log=None,
                on_bad_frame="fail"):
    """Stage ``ptm``: polyhedral template matching per atom (:func:`nanotraj.ptm.ptm`;
    Larsen, Schmidt & Schiotz, MSMSE 24, 055007 (2016)), OVITO's conventions.

    ``rmsd_cutoff``: 0 = none (OVITO's convention); the workflow's default 0.13 (measured:
    docs/methods.md). Output ``.npz``: ``structure`` (N,) int8 (0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico,
    5 sc), ``rmsd`` (N,), ``orientation`` (N, 4) quaternion (x, y, z, w), NaN rows where the
    atom is not classified, ``interatomic_distance`` (N,) A, ``neighbours`` (N, 14) and
    ``template_index`` (N,) (the correspondence, for lattice fits), ``rmsd_cutoff``.
    """
    lg = Log(log)
    if (loaded := inputs_or_reject(lg, output, frame_npz)) is None:
        return
    (frame,) = loaded

    def compute():
        from nanotraj.ptm import STRUCTURE_NAMES, ptm

        res = ptm(frame["coords"], rmsd_cutoff=float(rmsd_cutoff), workers=threads)
        orientation = res["orientation"].copy()
        orientation[res["structure"] == 0] = np.nan  # only classified atoms have one
        counts = np.bincount(res["structure"], minlength=len(STRUCTURE_NAMES))
        lg(f"PTM (RMSD cutoff {float(rmsd_cutoff):g}): " + ", ".join(
            f"{n} {name}" for name, n in zip(STRUCTURE_NAMES, counts, strict=True) if n))
        save(output, structure=res["structure"], rmsd=res["rmsd"], orientation=orientation,
             interatomic_distance=res["interatomic_distance"], neighbours=res["neighbours"],
             template_index=res["template_index"], rmsd_cutoff=np.array(float(rmsd_cutoff)))

    guard(lg, on_bad_frame, frame["source"], "PTM", compute, lambda status: save(output, status))


def _atom_table(frame, bo, co, nd, st, su, pt, la) -> dict[str, np.ndarray]:
    coords = frame["coords"]
    cols = {"x": coords[:, 0], "y": coords[:, 1], "z": coords[:, 2], "cn": co["cn"],
            "cn_lattice": co["cn_lattice"]}
    for key in ("q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6"):
        cols[key] = bo[key]
    cols["crystalline"] = bo["crystalline"].astype(bool)
    cols["d_center"] = frame["d_center"]
    cols["nn_distance"] = nd["nn_distance"]
    cols["structure_cna"] = st["structure_cna"].astype(np.int64)
    cols["structure_boo"] = st["structure_boo"].astype(str)
    cols["surface"] = su["surface"].astype(bool)
    cols["structure_acna"] = st["structure_acna"].astype(np.int64)
    cols["structure_ptm"] = pt["structure"].astype(np.int64)
    cols["ptm_rmsd"] = pt["rmsd"]
    for k, axis in enumerate("xyzw"):
        cols[f"orientation_{axis}"] = pt["orientation"][:, k]
    for k, name in enumerate(LATTICE_COLUMNS[:6]):
        cols[name] = la["strain"][:, k]
    for name in ("strain_volumetric", "strain_radial", "gcn"):
        cols[name] = la[name]
    cols["site"] = np.asarray(SITE_CLASSES)[la["site"].astype(np.int64)]
    return cols


def write_frame_table(inputs: Mapping[str, str], outputs: Mapping[str, str], *, series, frame,
                      time, element="Pt", threads=1, log=None, on_bad_frame="fail"):
    """Stage ``table``: ``atoms.csv``, ``bonds.csv`` and the one-row ``summary.csv`` of a frame,
    and (``outputs["extxyz"]``, optional) ``atoms.extxyz``: element, position and every
    ``atoms.csv`` column as typed extended XYZ (:func:`nanotraj.trajectory.write_extxyz`).

    ``inputs`` keys: ``frame, rdf, bonds, boo, coordination, neighbour_distance, structure,
    surface, ptm, lattice`` and optionally ``domains`` (.npz; adds the atoms' ``domain``,
    ``boundary`` and the summary's domain columns, :mod:`nanotraj.stages.domains`);
    ``outputs`` keys: ``summary`` (.csv) and the tables of the config's
    ``outputs.table_format`` (:func:`nanotraj.layout.frame_tables`): ``atoms, bonds`` (.csv)
    and/or ``atoms_parquet, bonds_parquet`` (:func:`nanotraj.tables.write_parquet`, the same
    columns and values). ``threads``: threads of the compiled table writer of large frames
    (:func:`nanotraj.tables.write_columns`; the bytes do not depend on it).
    """
    from nanotraj.summary import rejected_summary
    from nanotraj.tables import write_summary

    lg = Log(log)
    data = {k: load_arrays(inputs[k]) for k in
            ("frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance", "structure",
             "surface", "ptm", "lattice", "domains") if k in set(inputs.keys())}
    extra = DOMAIN_ATOM_COLUMNS if "domains" in data else ()

    def reject(status):
        empty = {c: np.array([]) for c in
                 ATOM_COLUMNS + STRUCTURE_COLUMNS + LATTICE_COLUMNS + extra}
        empty[ELEMENT_COLUMNS[0]] = np.array([], dtype=str)
        _write_table(outputs, "atoms", empty,
                     info={"series": series, "frame": frame, "time": float(time),
                           "status": status, "pbc": "F F F"})
        _write_table(outputs, "bonds", {c: np.array([]) for c in BOND_COLUMNS})
        write_summary(outputs["summary"], [rejected_summary(series=series, frame=frame, time=time,
                                                            reason=reject_reason(status))])

    if (status := upstream_status(*data.values())) != OK:
        reject(status)
        lg.close(status)
        return
    guard(lg, on_bad_frame, data["frame"]["source"], "tables",
          lambda: _write_tables(data, outputs, lg, series=series, frame=frame, time=time,
                                element=element, threads=threads), reject)


def _write_table(outputs, key, table, *, threads=1, info=None) -> None:
    """Write the frame's table ``key`` (``atoms``, ``bonds``) in the formats ``outputs`` asks
    for: ``outputs[key]`` (CSV) and/or ``outputs[key + "_parquet"]``; for ``atoms``, also
    ``outputs["extxyz"]`` (optional; the extended-XYZ comment line holds ``info``): every
    atoms.csv column, typed, each value the same text as in the CSV (its rows with spaces;
    without a CSV output a temporary CSV is written and removed)."""
    from nanotraj.tables import write_parquet

    csv_path, parquet_path = outputs.get(key), outputs.get(f"{key}_parquet")
    if not csv_path and not parquet_path:
        raise ValueError(f"no output for the table {key!r} (keys {sorted(outputs)})")
    if parquet_path:
        write_parquet(parquet_path, table)
    extxyz = outputs.get("extxyz") if key == "atoms" else None
    if not extxyz:
        if csv_path:
            write_columns(csv_path, table, workers=threads)
        return
    from nanotraj.trajectory import write_extxyz

    if csv_path:
        write_columns(csv_path, table, workers=threads)
        write_extxyz(extxyz, csv_path, table, info=info)
        return
    import os
    import tempfile

    Path(extxyz).parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".atoms.csv.", suffix=".tmp", dir=Path(extxyz).parent)
    os.close(fd)
    try:
        write_columns(tmp, table, workers=threads)
        write_extxyz(extxyz, tmp, table, info=info)
    finally:
        os.unlink(tmp)


def _write_tables(data, outputs, lg, *, series, frame, time, element, threads):
    from nanotraj.structure import structure_summary
    from nanotraj.summary import frame_summary
    from nanotraj.tables import write_summary

    atoms = _atom_table(data["frame"], data["boo"], data["coordination"],
                        data["neighbour_distance"], data["structure"], data["surface"],
                        data["ptm"], data["lattice"])
    if "domains" in data:
        from nanotraj.stages.domains import domain_columns

        atoms.update(domain_columns(data["domains"], len(atoms["x"])))
    symbols = frame_elements(data["frame"], element, lg, warn=True)
    table = atoms | {ELEMENT_COLUMNS[0]: np.full(len(atoms["x"]), symbols)
                     if isinstance(symbols, str) else symbols}
    _write_table(outputs, "atoms", table, threads=threads,
                 info={"series": series, "frame": frame, "time": float(time), "pbc": "F F F"})
    bonds = data["bonds"]["bonds"]
    _write_table(outputs, "bonds", {"i": bonds[:, 0], "j": bonds[:, 1],
                                    "distance": data["bonds"]["distances"],
                                    "s6": data["boo"]["s6"]}, threads=threads)
    row = frame_summary(series=series, frame=frame, time=time, n_atoms=len(atoms["x"]),
                        diameter=float(data["frame"]["diameter"]),
                        cutoff=float(data["rdf"]["cutoff"]), n_bonds=len(bonds), atoms=atoms,
                        s6=data["boo"]["s6"])
    row.update(structure_summary(atoms["cn"], atoms["Q6"], atoms["crystalline"],
                                 atoms["structure_cna"], atoms["structure_boo"], atoms["surface"],
                                 structure_acna=atoms["structure_acna"],
                                 structure_ptm=atoms["structure_ptm"]))
    row["n_close_contacts"] = int(data["structure"]["n_close_contacts"])
    if "domains" in data:
        from nanotraj.stages.domains import domain_summary

        row.update(domain_summary(data["domains"]))
    sigma = float(data["structure"]["sigma_estimate"])
    row["sigma_estimate"] = sigma
    from nanotraj.noise import classification_warning

    row["noise_warning"] = classification_warning(sigma, float(data["structure"]["nn_peak"]))
    if row["noise_warning"]:
        lg.warn(f"{data['frame']['source']}: {row['noise_warning']}")
    su = data["surface"]
    area, volume = float(su["area"]), float(su["volume"])
    row["surface_area"] = area
    row["volume"] = volume
    row["diameter_sv"] = 6.0 * volume / area if area > 0 else float("nan")
    la = data["lattice"]
    for name, value in zip(la["summary_names"].tolist(), la["summary_values"].tolist(),
                           strict=True):
        row[name] = int(value) if name in ("lattice_n_atoms", "n_facets") else value
    write_summary(outputs["summary"], [row])
    lg(f"{len(atoms['x'])} atoms, {len(bonds)} bonds, {row['n_disordered']} disordered")


#: ``outputs.per_value_pdb: auto`` writes the single-value PDB/mmCIF files up to this many atoms.
PER_VALUE_PDB_MAX_ATOMS = 100_000


def write_frame_pdbs(inputs: Mapping[str, str], outputs: Mapping[str, str], *, element, log=None,
                     on_bad_frame="fail", per_value_pdb="auto"):
    """Stage ``pdb``: for each quantity of :data:`PDB_QUANTITIES`, the frame's atoms with the value
    in the B-factor column, as PDB (``outputs[q]``) and as mmCIF (``outputs[q + "_cif"]``).

    The PDB format holds at most 99,999 atoms and coordinates within -999.999 .. 9999.999 A; a
    frame beyond that gets a PDB file holding only a REMARK that names the reason and the mmCIF
    file (which ChimeraX, PyMOL and OVITO read). A rejected frame gets files holding only the
    reason. ``per_value_pdb="auto"`` (the config's ``outputs.per_value_pdb``): a frame of more
    than :data:`PER_VALUE_PDB_MAX_ATOMS` atoms gets files holding only a remark pointing to
    ``atoms.extxyz`` (every value in one file); ``True``: always written.
    """
    lg = Log(log)
    data = {k: load_arrays(inputs[k]) for k in
            ("frame", "boo", "coordination", "neighbour_distance", "structure", "ptm", "lattice")}

    def reject(status):
        for q in PDB_QUANTITIES:
            write_text(outputs[q], remark_pdb(f"FRAME {status}"))
            write_text(outputs[f"{q}_cif"], f"data_rejected\n# nanotraj: frame {status}\n")

    if (status := upstream_status(*data.values())) != OK:
        reject(status)
        lg.close(status)
        return
    n = len(data["frame"]["coords"])
    if per_value_pdb == "auto" and n > PER_VALUE_PDB_MAX_ATOMS:
        note = (f"{n:,} atoms: per_value_pdb auto writes these files up to "
                f"{PER_VALUE_PDB_MAX_ATOMS:,} atoms; every value is in atoms.extxyz and atoms.csv "
                "(set outputs.per_value_pdb: true to write them)")
        for q in PDB_QUANTITIES:
            write_text(outputs[q], remark_pdb(note))
            write_text(outputs[f"{q}_cif"], f"data_not_written\n# nanotraj: {note}\n")
        lg(note)
        lg.close(OK)
        return
    guard(lg, on_bad_frame, data["frame"]["source"], "PDB/mmCIF files",
          lambda: _write_pdbs(data, outputs, lg, element=element), reject)


def _write_pdbs(data, outputs, lg, *, element):
    from nanotraj.io import pdb_limits, write_values_many

    values = {
        "Q6": data["boo"]["Q6"],
        "Q4": data["boo"]["Q4"],
        "cn": data["coordination"]["cn"],
        "C6": data["boo"]["C6"],
        "crystalline": data["boo"]["crystalline"].astype(np.float64),
        "nn_distance": data["neighbour_distance"]["nn_distance"],
        "structure_cna": data["structure"]["structure_cna"],
        "structure_ptm": data["ptm"]["structure"],
        "strain_volumetric": data["lattice"]["strain_volumetric"],
        "gcn": data["lattice"]["gcn"],
    }
    coords = data["frame"]["coords"]
    too_big = pdb_limits(coords)
    Path(outputs[PDB_QUANTITIES[0]]).parent.mkdir(parents=True, exist_ok=True)
    items = []  # the atoms' records are formatted once per format, the values per file
    for q in PDB_QUANTITIES:
        v = np.asarray(values[q], dtype=np.float64)
        items.append((outputs[f"{q}_cif"], v))
        if too_big:
            write_text(outputs[q], remark_pdb(f"{too_big}: the atoms are in {q}.cif"))
        else:
            items.append((outputs[q], v))
    write_values_many(items, coords, element=frame_elements(data["frame"], element, lg))
    if too_big:
        lg(f"PDB files hold only a REMARK: {too_big}; the atoms are in the .cif files")
    lg(f"wrote {len(PDB_QUANTITIES)} quantities of {len(coords)} atoms as PDB and mmCIF")


def frame_files(results, series, frame, table_format="csv"
                ) -> tuple[dict[str, Path], dict[str, Path]]:
    """The files of one frame under ``results`` (:mod:`nanotraj.layout`): (intermediate .npz by
    stage, user-facing files by key: ``rdf, summary, strain_profile, facets, domains,
    boundaries``, the tables of ``table_format`` (:func:`nanotraj.layout.frame_tables`:
    ``atoms, bonds`` and/or ``atoms_parquet, bonds_parquet``), ``extxyz``, each PDB quantity
    and ``{quantity}_cif``)."""
    where = {"series": series, "frame": frame, "root": str(results)}
    work = {s: layout.intermediate(s, **where) for s in layout.FRAME_STAGES}
    files = {k: layout.frame_file(f"{k}.csv", **where) for k in ("rdf", "summary",
                                                                  "strain_profile", "facets",
                                                                  "domains", "boundaries")}
    files.update({k: layout.frame_file(name, **where)
                  for k, name in layout.frame_tables(table_format).items()})
    files["extxyz"] = layout.frame_file("atoms.extxyz", **where)
    files.update({q: layout.frame_file(f"pdb/{q}.pdb", **where) for q in PDB_QUANTITIES})
    files.update({f"{q}_cif": layout.frame_file(f"pdb/{q}.cif", **where) for q in PDB_QUANTITIES})
    return ({k: Path(v) for k, v in work.items()}, {k: Path(v) for k, v in files.items()})


def run_frame(source, results, *, series, frame, time, element="Pt", cutoff="auto", dr=0.02,
              r_max=15.0, max_centres=20000, threshold=0.8, probe_radius="auto",
              ptm_rmsd_cutoff=0.13, lattice_reference="frame", profile_bin="auto",
              on_bad_frame="fail", pdbs=True, threads=1, domain_options=None,
              table_format="csv") -> dict[str, Path]:
    """Every per-frame stage in one call, writing the same files as the workflow's rules.

    For scripts, notebooks, tests and the benchmark that compares the workflow with a plain loop;
    the workflow itself runs each stage as its own job. ``threads`` is used by the g(r), bond,
    BOO and structure stages (the results do not depend on it). ``domain_options``: keyword
    arguments of :func:`nanotraj.stages.domains.find_domains` (``method``,
    ``max_misorientation``, ...; its defaults when None). ``table_format``: the formats of
    the atoms and bonds tables (:data:`nanotraj.layout.TABLE_FORMATS`). Returns the
    user-facing paths.
    """
    w, f = frame_files(results, series, frame, table_format)
    parse_frame(source, w["frame"], on_bad_frame=on_bad_frame)
    compute_rdf(w["frame"], f["rdf"], w["rdf"], element=element, cutoff=cutoff, dr=dr,
                r_max=r_max, max_centres=max_centres, threads=threads, on_bad_frame=on_bad_frame)
    mode = {"on_bad_frame": on_bad_frame}
    find_bonds(w["frame"], w["rdf"], w["bonds"], threads=threads, **mode)
    compute_boo(w["frame"], w["bonds"], w["boo"], threshold=threshold, threads=threads, **mode)
    compute_coordination(w["frame"], w["rdf"], w["bonds"], w["coordination"], element=element,
                         **mode)
    compute_neighbour_distance(w["frame"], w["bonds"], w["neighbour_distance"], **mode)
    compute_structure(w["frame"], w["rdf"], w["bonds"], w["boo"], w["coordination"],
                      w["structure"], element=element, threads=threads, **mode)
    compute_surface(w["frame"], w["surface"], element=element, probe_radius=probe_radius,
                    threads=threads, **mode)
    compute_ptm(w["frame"], w["ptm"], rmsd_cutoff=ptm_rmsd_cutoff, threads=threads, **mode)
    from nanotraj.stages.lattice import compute_lattice

    compute_lattice(w["frame"], w["bonds"], w["surface"], w["ptm"], w["lattice"],
                    f["strain_profile"], f["facets"], element=element,
                    reference=lattice_reference, profile_bin=profile_bin, **mode)
    from nanotraj.stages.domains import find_domains

    find_domains(w["frame"], w["bonds"], w["boo"], w["ptm"], w["domains"], f["domains"],
                 f["boundaries"], **(domain_options or {}), **mode)
    write_frame_table(w, f, series=series, frame=frame, time=time, element=element,
                      threads=threads, **mode)
    if pdbs:
        write_frame_pdbs(w, f, element=element, **mode)
    return f
