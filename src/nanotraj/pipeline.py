"""File-level stages of the per-frame workflow.

Each function here is what one Snakemake rule calls: it reads the stage's input files, calls the
science modules (:mod:`nanotraj.io`, :mod:`nanotraj.rdf`, :mod:`nanotraj.bonds`,
:mod:`nanotraj.order`, :mod:`nanotraj.coordination`, :mod:`nanotraj.geometry`), and writes the
stage's outputs atomically.
Intermediate files are uncompressed ``.npz`` (fast to load); user-facing files are CSV and PDB.

Bad frames
----------
With ``on_bad_frame="fail"`` a :class:`~nanotraj.errors.FrameError` propagates: the job fails with
a one-line ``"<file>: <reason>"`` message (also written to the job's log) and Snakemake removes the
job's outputs. With ``on_bad_frame="skip"`` the stage writes its outputs with
``status = "rejected: <reason>"`` and no data; every later stage passes the rejection on, and the
frame's summary row carries the status with empty values.

Imports of the science modules happen inside the stage functions so that a job only pays for what
it uses (``order`` does not need ``scipy.spatial``, writing tables needs neither).
"""

from __future__ import annotations

import sys
import time as _time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .contract import (
    ATOM_COLUMNS,
    BOND_COLUMNS,
    ELEMENT_COLUMNS,
    PDB_QUANTITIES,
    STRUCTURE_COLUMNS,
)
from .errors import FrameError
from .tables import load_arrays, save_arrays, write_columns, write_text

OK = "ok"


# ----------------------------------------------------------------------------------------------
# helpers


class _Log:
    """A job log: lines are collected and written atomically at the end (or on error)."""

    def __init__(self, path):
        self.path = path
        self.lines: list[str] = []
        self.t0 = _time.perf_counter()

    def __call__(self, msg: str) -> None:
        self.lines.append(msg)

    def warn(self, msg: str) -> None:
        """A line of the log that is also printed on stderr (the terminal of the run)."""
        self.lines.append(f"warning: {msg}")
        print(f"nanotraj warning: {msg}", file=sys.stderr, flush=True)

    def close(self, status: str) -> None:
        if self.path:
            elapsed = _time.perf_counter() - self.t0
            self.lines.append(f"{status} in {elapsed:.3f} s")
            write_text(self.path, "\n".join(self.lines) + "\n")


def _status(arrays: Mapping[str, np.ndarray]) -> str:
    return str(arrays["status"]) if "status" in arrays else OK


def _upstream_status(*arrays: Mapping[str, np.ndarray]) -> str:
    for a in arrays:
        s = _status(a)
        if s != OK:
            return s
    return OK


def _reject_reason(status: str) -> str:
    return status.split(":", 1)[1].strip() if ":" in status else status


def _save(path, status=OK, **arrays):
    save_arrays(path, status=np.array(status), **arrays)


def _handle(log: _Log, err: FrameError, on_bad_frame: str) -> str:
    """Log a frame error; re-raise in fail mode, return the rejected status in skip mode."""
    log(f"error: {err}")
    if on_bad_frame != "skip":
        log.close("failed")
        # A short report: the one-line message without the reader's internal call stack.
        raise err.with_traceback(None) from None
    log("on_bad_frame=skip: the frame is recorded as rejected")
    return f"rejected: {err.reason}"


def _inputs_or_reject(lg: _Log, output, *paths):
    """Load the stage's input ``.npz`` files; when one carries a rejection, write ``output`` with
    that status, close the log and return None (the stage has nothing to compute)."""
    arrays = [load_arrays(p) for p in paths]
    status = _upstream_status(*arrays)
    if status == OK:
        return arrays
    _save(output, status)
    lg.close(status)
    return None


# ----------------------------------------------------------------------------------------------
# stages


def parse_frame(source, output, *, log=None, on_bad_frame="fail", min_atoms=4, min_distance=0.5):
    """Stage ``parse``: read a PDB/mmCIF frame and its whole-particle geometry.

    Output ``.npz``: ``coords`` (N, 3) A, ``elements`` (N,), ``b_factors`` (N,),
    ``d_center`` (N,) A, ``diameter`` A (sphere of the convex hull's volume), ``source``,
    ``status``.
    """
    from .geometry import distance_to_centre, hull_diameter
    from .io import read_frame

    lg = _Log(log)
    try:
        frame = read_frame(source, min_atoms=min_atoms, min_distance=min_distance)
        try:
            diameter = hull_diameter(frame.coords)
        except FrameError as err:  # re-attach the frame's path to geometry errors
            raise type(err)(source, err.reason) from None
    except FrameError as err:
        status = _handle(lg, err, on_bad_frame)
        _save(output, status, source=np.array(str(source)))
        lg.close(status)
        return
    lg(f"read {len(frame.coords)} atoms from {source}; diameter {diameter:.3f} A")
    for note in frame.notes:
        lg.warn(f"{source}: {note}")
    _save(
        output,
        coords=frame.coords,
        elements=np.asarray(frame.elements, dtype=str),
        b_factors=frame.b_factors,
        d_center=distance_to_centre(frame.coords),
        diameter=np.array(diameter),
        source=np.array(str(source)),
    )
    lg.close(OK)


def compute_rdf(frame_npz, rdf_csv, rdf_npz, *, cutoff="auto", dr=0.02, r_max=15.0,
                max_centres=20000, threads=1, log=None, on_bad_frame="fail", r_min=0.0):
    """Stage ``rdf``: g(r) (user-facing ``rdf.csv``: ``r,g``) and the bond cutoff.

    Up to ``max_centres`` atoms g(r) is exact; above, it is estimated from that many sampled
    centres (:func:`nanotraj.rdf.rdf`). ``cutoff="auto"`` takes the first minimum of g(r) after
    its first peak (:func:`nanotraj.rdf.first_minimum`) at or beyond ``r_min`` (Angstrom; the
    element's :func:`nanotraj.elements.auto_cutoff_min`: ``a`` for bcc metals, else 0); a number
    is used as given (Angstrom).
    Output ``.npz``: ``r``, ``g``, ``cutoff``, ``cutoff_auto`` (bool), ``status``. ``threads``:
    threads counting pairs (the job's; the result does not depend on it).
    """
    from .rdf import first_minimum, rdf

    lg = _Log(log)
    frame = load_arrays(frame_npz)
    status = _status(frame)
    if status == OK:
        r, g, counts = rdf(frame["coords"], dr=dr, r_max=r_max, max_centres=max_centres,
                           workers=threads, return_counts=True)
        if len(frame["coords"]) > max_centres:
            lg(f"g(r) estimated from {max_centres} sampled centres ({len(frame['coords'])} atoms)")
        try:
            if cutoff == "auto":
                value = first_minimum(r, g, r_min=r_min, counts=counts)
                beyond = f" beyond {r_min:.4f} A (bcc: 1st and 2nd shells)" if r_min else ""
                lg(f"cutoff = first minimum of g(r){beyond} = {value:.4f} A")
            else:
                value = float(cutoff)
                lg(f"cutoff = {value:.4f} A (fixed in the configuration)")
        except FrameError as err:
            reason = (f"g(r) has no first minimum, so cutoff: auto cannot choose a bond cutoff "
                      f"({err.reason}); set a fixed cutoff")
            close = int(counts[r < 0.5].sum())
            if close:  # kept by min_distance below their distance: they make the first peak
                reason += f" ({close} pair(s) of atoms closer than 0.5 A: duplicated atoms?)"
            status = _handle(lg, type(err)(str(frame["source"]), reason), on_bad_frame)
    if status != OK:
        write_columns(rdf_csv, {"r": np.array([]), "g": np.array([])})
        _save(rdf_npz, status)
        lg.close(status)
        return
    write_columns(rdf_csv, {"r": r, "g": g})
    _save(rdf_npz, r=r, g=g, cutoff=np.array(value), cutoff_auto=np.array(cutoff == "auto"))
    lg.close(OK)


def find_bonds(frame_npz, rdf_npz, output, *, threads=1, log=None):
    """Stage ``bonds``: every pair closer than the cutoff.

    Output ``.npz``: ``bonds`` (B, 2) with i < j, ``distances`` (B,) A, ``cutoff`` A.
    ``threads``: threads of the pair search (the result does not depend on it).
    """
    lg = _Log(log)
    if (loaded := _inputs_or_reject(lg, output, frame_npz, rdf_npz)) is None:
        return
    frame, rd = loaded
    from .bonds import find_bonds as _find

    bonds, distances = _find(frame["coords"], float(rd["cutoff"]), workers=threads)
    lg(f"{len(bonds)} bonds within {float(rd['cutoff']):.4f} A")
    if len(bonds) == 0:
        lg.warn(f"{frame['source']}: no two atoms within the cutoff {float(rd['cutoff']):.4f} A: "
                "every atom has cn 0 and q, Q, w, W, C equal to 0 (is the cutoff too small?)")
    _save(output, bonds=bonds, distances=distances, cutoff=np.array(float(rd["cutoff"])))
    lg.close(OK)


def compute_boo(frame_npz, bonds_npz, output, *, threshold=0.8, ls=(4, 6), engine="native",
                threads=1, log=None):
    """Stage ``boo``: q_l, w_l, Q_l, W_l per atom for l in ``ls``, C_6 per atom, s_6 per bond,
    crystalline atoms.

    ``threads``: threads of the native engine (the result does not depend on it, bit for bit).
    """
    lg = _Log(log)
    if (loaded := _inputs_or_reject(lg, output, frame_npz, bonds_npz)) is None:
        return
    frame, bd = loaded
    from .order import boo

    # the outputs use s_l and C_l of l = 6 only (bonds.csv, atoms.csv): the others are not
    # computed (at 10^6 atoms each s_l is 6e6 values to compute and store)
    res = boo(frame["coords"], bd["bonds"], ls=tuple(ls), threshold=threshold, engine=engine,
              workers=threads, products=(6,))
    lg(f"bond-orientational order l={tuple(ls)} for {len(frame['coords'])} atoms, engine {engine}")
    _save(output, **{k: np.asarray(v) for k, v in res.items()})
    lg.close(OK)


def compute_coordination(frame_npz, bonds_npz, output, *, nn_distance, factor=1.2, log=None):
    """Stage ``coordination``: ``cn`` (bonds per atom) and ``cn_lattice`` (neighbours closer than
    ``factor`` x the element's nearest-neighbour distance ``nn_distance``, Angstrom)."""
    lg = _Log(log)
    if (loaded := _inputs_or_reject(lg, output, frame_npz, bonds_npz)) is None:
        return
    frame, bd = loaded
    from .bonds import bond_counts
    from .coordination import cn_lattice

    n = len(frame["coords"])
    cn = bond_counts(n, bd["bonds"])
    # the bonds hold every pair within the cutoff: cn_lattice reuses them when that covers
    # factor x nn_distance (the usual case), and builds its own KD-tree otherwise
    cnl = cn_lattice(frame["coords"], nn_distance, factor=factor, bonds=bd["bonds"],
                     distances=bd["distances"], bond_cutoff=float(bd["cutoff"]))
    lg(f"cn_lattice: neighbours closer than {factor} x {nn_distance:.4f} A")
    lonely = np.flatnonzero(cn == 0)
    if len(lonely) and len(bd["bonds"]):
        far = int(lonely[np.argmax(frame["d_center"][lonely])])
        lg.warn(f"{frame['source']}: {len(lonely)} atom(s) without any bond within "
                f"{float(bd['cutoff']):.4f} A (stray atoms or noise?), e.g. atom {far} at "
                f"{float(frame['d_center'][far]):.2f} A from the centre; they count in the "
                "convex-hull diameter and have q, Q, w, W, C = 0")
    _save(output, cn=cn, cn_lattice=cnl)
    lg.close(OK)


def compute_neighbour_distance(frame_npz, bonds_npz, output, *, log=None):
    """Stage ``neighbour_distance``: mean distance (A) to bonded neighbours, NaN without bonds."""
    lg = _Log(log)
    if (loaded := _inputs_or_reject(lg, output, frame_npz, bonds_npz)) is None:
        return
    frame, bd = loaded
    from .coordination import mean_bond_distance

    nn = mean_bond_distance(len(frame["coords"]), bd["bonds"], bd["distances"])
    lg(f"{int(np.isnan(nn).sum())} atoms without bonds (nn_distance = nan)")
    _save(output, nn_distance=nn)
    lg.close(OK)


def compute_structure(frame_npz, bonds_npz, boo_npz, coordination_npz, output, *, nn_distance,
                      threads=1, log=None):
    """Stage ``structure``: CNA and BOO classes, surface atoms, close contacts
    (:func:`nanotraj.structure.classify`; ``nn_distance`` is the element's, Angstrom).
    ``threads``: threads of the CNA (the result does not depend on it)."""
    lg = _Log(log)
    paths = (frame_npz, bonds_npz, boo_npz, coordination_npz)
    if (loaded := _inputs_or_reject(lg, output, *paths)) is None:
        return
    frame, bd, bo, co = loaded
    from .structure import BOO_CLASSES, classify

    res = classify(frame["coords"], bd["bonds"], bo, co["cn"], nn_distance, workers=threads,
                   distances=bd["distances"], cutoff=float(bd["cutoff"]))
    # per class, not np.unique: sorting 10^6 strings costs 0.1 s
    counts = {name: k for name in BOO_CLASSES if (k := int((res["structure_boo"] == name).sum()))}
    lg(f"BOO classes {counts}; {int(res['surface'].sum())} surface atoms; "
       f"{res['n_close_contacts']} close contacts")
    _save(output, structure_cna=res["structure_cna"], structure_boo=res["structure_boo"],
          surface=res["surface"], n_close_contacts=np.array(res["n_close_contacts"]))
    lg.close(OK)


def _frame_elements(frame, element, lg: _Log | None = None, *, warn=False):
    """Each atom's element for the output files (:func:`nanotraj.elements.atom_elements`); the
    warning about the file's elements goes to the log (and stderr when ``warn``)."""
    from .elements import atom_elements

    n = len(frame["coords"])
    file_elements = frame["elements"] if "elements" in frame else np.full(n, "")
    symbols, note = atom_elements(file_elements, element)
    if note and lg is not None:
        msg = f"{frame['source']}: {note}" if "source" in frame else note
        if warn:
            lg.warn(msg)
        else:
            lg(f"note: {msg}")
    return symbols


def _atom_table(frame, bo, co, nd, st) -> dict[str, np.ndarray]:
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
    cols["surface"] = st["surface"].astype(bool)
    return cols


def write_frame_table(inputs: Mapping[str, str], outputs: Mapping[str, str], *, series, frame,
                      time, element="Pt", log=None):
    """Stage ``table``: ``atoms.csv``, ``bonds.csv`` and the one-row ``summary.csv`` of a frame.

    ``inputs`` keys: ``frame, rdf, bonds, boo, coordination, neighbour_distance, structure``
    (.npz);
    ``outputs`` keys: ``atoms, bonds, summary`` (.csv).
    """
    from .structure import structure_summary
    from .summary import frame_summary, rejected_summary, write_summary

    lg = _Log(log)
    data = {k: load_arrays(inputs[k]) for k in
            ("frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance", "structure")}
    status = _upstream_status(*data.values())
    if status != OK:
        write_columns(outputs["atoms"],
                      {c: np.array([]) for c in ATOM_COLUMNS + STRUCTURE_COLUMNS + ELEMENT_COLUMNS})
        write_columns(outputs["bonds"], {c: np.array([]) for c in BOND_COLUMNS})
        write_summary(outputs["summary"], [rejected_summary(series=series, frame=frame, time=time,
                                                            reason=_reject_reason(status))])
        lg.close(status)
        return
    atoms = _atom_table(data["frame"], data["boo"], data["coordination"],
                        data["neighbour_distance"], data["structure"])
    symbols = _frame_elements(data["frame"], element, lg, warn=True)
    write_columns(outputs["atoms"], atoms | {
        ELEMENT_COLUMNS[0]: np.full(len(atoms["x"]), symbols) if isinstance(symbols, str)
        else symbols})
    bonds = data["bonds"]["bonds"]
    write_columns(outputs["bonds"], {"i": bonds[:, 0], "j": bonds[:, 1],
                                     "distance": data["bonds"]["distances"],
                                     "s6": data["boo"]["s6"]})
    row = frame_summary(series=series, frame=frame, time=time, n_atoms=len(atoms["x"]),
                        diameter=float(data["frame"]["diameter"]),
                        cutoff=float(data["rdf"]["cutoff"]), n_bonds=len(bonds), atoms=atoms,
                        s6=data["boo"]["s6"])
    row.update(structure_summary(atoms["cn"], atoms["Q6"], atoms["crystalline"],
                                 atoms["structure_cna"], atoms["structure_boo"], atoms["surface"]))
    row["n_close_contacts"] = int(data["structure"]["n_close_contacts"])
    write_summary(outputs["summary"], [row])
    lg(f"{len(atoms['x'])} atoms, {len(bonds)} bonds, {row['n_disordered']} disordered")
    lg.close(OK)


def write_frame_pdbs(inputs: Mapping[str, str], outputs: Mapping[str, str], *, element, log=None):
    """Stage ``pdb``: for each quantity of :data:`PDB_QUANTITIES`, the frame's atoms with the value
    in the B-factor column, as PDB (``outputs[q]``) and as mmCIF (``outputs[q + "_cif"]``).

    The PDB format holds at most 99,999 atoms and coordinates within -999.999 .. 9999.999 A; a
    frame beyond that gets a PDB file holding only a REMARK that names the reason and the mmCIF
    file (which ChimeraX, PyMOL and OVITO read). A rejected frame gets files holding only the
    reason.
    """
    lg = _Log(log)
    data = {k: load_arrays(inputs[k]) for k in
            ("frame", "boo", "coordination", "neighbour_distance", "structure")}
    status = _upstream_status(*data.values())
    if status != OK:
        for q in PDB_QUANTITIES:
            write_text(outputs[q], _remark_pdb(f"FRAME {status}"))
            write_text(outputs[f"{q}_cif"], f"data_rejected\n# nanotraj: frame {status}\n")
        lg.close(status)
        return
    from .io import pdb_limits, write_values_many

    values = {
        "Q6": data["boo"]["Q6"],
        "Q4": data["boo"]["Q4"],
        "cn": data["coordination"]["cn"],
        "C6": data["boo"]["C6"],
        "crystalline": data["boo"]["crystalline"].astype(np.float64),
        "nn_distance": data["neighbour_distance"]["nn_distance"],
        "structure_cna": data["structure"]["structure_cna"],
    }
    coords = data["frame"]["coords"]
    too_big = pdb_limits(coords)
    Path(outputs[PDB_QUANTITIES[0]]).parent.mkdir(parents=True, exist_ok=True)
    items = []  # the atoms' records are formatted once per format, the values per file
    for q in PDB_QUANTITIES:
        v = np.asarray(values[q], dtype=np.float64)
        items.append((outputs[f"{q}_cif"], v))
        if too_big:
            write_text(outputs[q], _remark_pdb(f"{too_big}: the atoms are in {q}.cif"))
        else:
            items.append((outputs[q], v))
    write_values_many(items, coords, element=_frame_elements(data["frame"], element, lg))
    if too_big:
        lg(f"PDB files hold only a REMARK: {too_big}; the atoms are in the .cif files")
    lg(f"wrote {len(PDB_QUANTITIES)} quantities of {len(coords)} atoms as PDB and mmCIF")
    lg.close(OK)


def _remark_pdb(text: str) -> str:
    """A PDB file with no atoms: the text as REMARK 1 lines (80 columns) and END."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > 58:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    body = "".join(f"REMARK   1 NANOTRAJ: {ln}".ljust(80) + "\n" for ln in lines)
    return body + "END".ljust(80) + "\n"


def aggregate_summaries(inputs, output, *, sort_by_series=False, tracking=None, log=None):
    """Stage ``aggregate``: concatenate per-frame summaries, ordered by time (and series).

    ``tracking``: the series' ``tracking.csv`` (:func:`nanotraj.tracking.aggregate_tracking`);
    its pair columns are added to each accepted frame's row (a rejected frame's stay empty).
    """
    from .summary import aggregate, write_summary

    lg = _Log(log)
    rows = aggregate(list(inputs), output, sort_by_series=sort_by_series)
    if tracking:
        from .tables import read_rows
        from .tracking import SUMMARY_COLUMNS as TRACKING_COLUMNS

        by_frame = {(r["series"], r["frame"]): r for r in read_rows(tracking)[1]}
        for row in rows:
            if row.get("status", "ok") != "ok":
                continue
            pair = by_frame.get((row.get("series"), row.get("frame")), {})
            row.update({c: pair.get(c, "") for c in TRACKING_COLUMNS})
        write_summary(output, rows)
    n_rej = sum(1 for r in rows if r.get("status", "ok") != "ok")
    lg(f"{len(rows)} frames, {n_rej} rejected")
    lg.close(OK)


def list_rejected(summary_csv, output, *, log=None):
    """Stage ``rejected``: the run's rejected frames (``series, frame, time, reason``), one row
    each, from the run's summary (only the header when every frame was analysed)."""
    from .tables import read_rows, write_rows

    lg = _Log(log)
    _, rows = read_rows(summary_csv)
    rejected = [
        {"series": r["series"], "frame": r["frame"], "time": r["time"],
         "reason": _reject_reason(r["status"])}
        for r in rows if r.get("status", OK) != OK
    ]
    write_rows(output, ("series", "frame", "time", "reason"), rejected)
    lg(f"{len(rejected)} rejected frame(s) of {len(rows)}")
    lg.close(OK)


def frame_paths(results, series, frame) -> tuple[dict[str, Path], dict[str, Path]]:
    """The workflow's file layout of one frame: (intermediate .npz by stage, user-facing files)."""
    results = Path(results)
    work = results / "intermediate" / series / frame
    out = results / series / frame
    stages = ("frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance", "structure")
    files = {"atoms": out / "atoms.csv", "bonds": out / "bonds.csv", "rdf": out / "rdf.csv",
             "summary": out / "summary.csv"}
    files.update({q: out / "pdb" / f"{q}.pdb" for q in PDB_QUANTITIES})
    files.update({f"{q}_cif": out / "pdb" / f"{q}.cif" for q in PDB_QUANTITIES})
    return {s: work / f"{s}.npz" for s in stages}, files


def run_frame(source, results, *, series, frame, time, element="Pt", nn_distance=None,
              cutoff="auto", dr=0.02, r_max=15.0, max_centres=20000, threshold=0.8,
              on_bad_frame="fail", pdbs=True, threads=1) -> dict[str, Path]:
    """Every per-frame stage in one call, writing the same files as the workflow's rules.

    For scripts, notebooks, tests and the benchmark that compares the workflow with a plain loop;
    the workflow itself runs each stage as its own job. ``threads`` is used by the g(r), bond,
    BOO and structure stages (the results do not depend on it). Returns the user-facing paths.
    """
    from .elements import auto_cutoff_min

    if nn_distance is None:
        from .elements import nn_distance as _nn

        nn_distance = _nn(element)
    w, f = frame_paths(results, series, frame)
    parse_frame(source, w["frame"], on_bad_frame=on_bad_frame)
    compute_rdf(w["frame"], f["rdf"], w["rdf"], cutoff=cutoff, dr=dr, r_max=r_max,
                max_centres=max_centres, threads=threads, on_bad_frame=on_bad_frame,
                r_min=auto_cutoff_min(element))
    find_bonds(w["frame"], w["rdf"], w["bonds"], threads=threads)
    compute_boo(w["frame"], w["bonds"], w["boo"], threshold=threshold, threads=threads)
    compute_coordination(w["frame"], w["bonds"], w["coordination"], nn_distance=nn_distance)
    compute_neighbour_distance(w["frame"], w["bonds"], w["neighbour_distance"])
    compute_structure(w["frame"], w["bonds"], w["boo"], w["coordination"], w["structure"],
                      nn_distance=nn_distance, threads=threads)
    write_frame_table(w, f, series=series, frame=frame, time=time, element=element)
    if pdbs:
        write_frame_pdbs(w, f, element=element)
    return f
