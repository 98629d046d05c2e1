"""File-level stages of frame-to-frame tracking (rules ``track_pair`` and
``aggregate_tracking``): the matching itself is :mod:`nanotraj.tracking`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nanotraj.io import pdb_limits, write_values_many
from nanotraj.stages.jobs import (
    OK,
    Log,
    frame_elements,
    remark_pdb,
    save,
    status_of,
    upstream_status,
)
from nanotraj.tables import load_arrays, write_columns, write_rows, write_text
from nanotraj.tracking import (
    ALIGN_WARN,
    FATE_COLUMNS,
    FIRST_FRAME,
    NEW_COLUMNS,
    PAIR_SUMMARY_COLUMNS,
    SERIES_COLUMNS,
    AlignmentError,
    angle,
    match,
    pair_summary,
    resolve_max_distance,
    summary_row,
)


def _empty(columns) -> dict[str, np.ndarray]:
    return {c: np.array([]) for c in columns}


def _pdb_remark(path, message: str) -> None:

    write_text(path, remark_pdb(f"TRACKING {message.upper()}"))


def _write_fate_structure(outputs, coords, removed, element) -> None:
    """``fate.cif`` (when asked for) and ``fate.pdb``: frame t-1's atoms with 1 = removed in the
    B-factor column; a frame the PDB format cannot hold (:func:`nanotraj.io.pdb_limits`) gets a
    ``fate.pdb`` with only a REMARK naming the reason (and ``fate.cif``), as the frame's own
    PDB files do."""

    items = [(outputs["cif"], removed)] if outputs.get("cif") else []
    too_big = pdb_limits(coords)
    if too_big:
        where = "the atoms are in fate.cif" if outputs.get("cif") else "no PDB file written"
        write_text(outputs["pdb"], remark_pdb(f"{too_big}: {where}"))
    else:
        items.append((outputs["pdb"], removed))
    write_values_many(items, coords, element=element)


def track_pair(inputs: Mapping[str, str], outputs: Mapping[str, str], *, max_distance="auto",
               align: bool = False, element: str = "Pt", previous_frame: str | None = None,
               max_iter: int = 50, log=None) -> dict:
    """Rule ``track_pair``: match frame t-1 to frame t and write the pair's files.

    Parameters
    ----------
    inputs : mapping with ``frame`` (frame t's ``frame.npz``), optionally ``rdf`` (frame t's
        ``rdf.npz``: a frame rejected by its g(r) is rejected here too) and, unless frame t is
        the first of its series, ``prev_frame``, ``prev_boo``, ``prev_coordination``,
        ``prev_surface`` (frame t-1's intermediate ``.npz``). Missing or empty ``prev_*`` keys
        = first frame.
    outputs : mapping with ``tracking`` (``.npz``), ``fate`` (``fate.csv``), ``pdb``
        (``fate.pdb``) and optionally ``cif`` (``fate.cif``, the same atoms as mmCIF, which holds
        any number of atoms and any coordinates) and ``new`` (``new.csv``,
        :data:`NEW_COLUMNS`; header only without a pair).
    max_distance : A (see :func:`match`), or ``"auto"``: half the bulk nearest-neighbour
        distance of ``element`` (:func:`nanotraj.tracking.resolve_max_distance`);
        align, max_iter : see :func:`match`.
    element : frame t-1's element symbol (the atoms of ``fate.pdb`` and ``fate.cif``; each
        atom's own for a file with several elements: :func:`nanotraj.elements.atom_elements`).
    previous_frame : name of frame t-1 (recorded in the summary).

    ``tracking.npz`` holds ``status`` (frame t's own status, so that later stages of frame t pass a
    rejection on as for every stage), ``pair_status`` (``ok``, the first-frame note, or
    ``previous frame rejected: <reason>``), ``previous_frame``, ``has_pair``, ``new`` ((N_t,) int8;
    empty without pair), ``previous`` ((N_t,) int64: each atom's index in frame t-1, -1 if new;
    only with a pair: the atom identities and domain links chain it),
    ``summary_names``/``summary_values`` (:data:`PAIR_SUMMARY_COLUMNS`), ``max_distance``,
    ``align``, ``rotation``, ``translation``, ``converged``, ``n_iter``.
    Returns the pair summary dict (empty without pair).
    """

    lg = Log(log)
    max_distance = resolve_max_distance(max_distance, element)
    nxt = load_arrays(inputs["frame"])
    prev_keys = ("prev_frame", "prev_boo", "prev_coordination", "prev_surface")
    has_prev = all(inputs.get(k) for k in prev_keys)
    common = {"previous_frame": np.array(previous_frame or ""),
              "max_distance": np.array(max_distance), "align": np.array(bool(align))}

    def no_pair(status: str, pair_status: str) -> dict:
        save(outputs["tracking"], status, pair_status=np.array(pair_status),
              has_pair=np.array(False), new=np.zeros(0, dtype=np.int8), **common)
        write_columns(outputs["fate"], _empty(FATE_COLUMNS))
        if outputs.get("new"):
            write_columns(outputs["new"], _empty(NEW_COLUMNS))
        _pdb_remark(outputs["pdb"], pair_status)
        if outputs.get("cif"):
            write_text(outputs["cif"], f"data_fate\n# nanotraj tracking: {pair_status}\n")
        lg(f"no pair: {pair_status}")
        lg.close(status)
        return {}

    status = status_of(nxt)
    if status == OK and inputs.get("rdf"):
        status = status_of(load_arrays(inputs["rdf"]))
    if status != OK:
        return no_pair(status, status)
    if not has_prev:
        return no_pair(OK, FIRST_FRAME)
    prev = {k: load_arrays(inputs[k]) for k in prev_keys}
    prev_status = upstream_status(*prev.values())
    if prev_status != OK:
        return no_pair(OK, f"previous frame {prev_status}")

    p = prev["prev_frame"]["coords"]
    x = nxt["coords"]
    try:
        res = match(p, x, max_distance=max_distance, align=align, max_iter=max_iter)
    except AlignmentError as err:  # no pair, the series goes on
        lg.warn(f"{previous_frame} -> {nxt['source']}: {err}")
        return no_pair(OK, f"alignment failed: {err}")
    cn = prev["prev_coordination"]["cn"]
    q6 = prev["prev_boo"]["Q6"]
    surf = prev["prev_surface"]["surface"].astype(bool)
    cryst = prev["prev_boo"]["crystalline"].astype(bool)
    summary = pair_summary(res, cn=cn, Q6=q6, surface=surf, crystalline=cryst)
    names = np.array(PAIR_SUMMARY_COLUMNS)
    values = np.array([summary[k] for k in PAIR_SUMMARY_COLUMNS], dtype=np.float64)
    save(outputs["tracking"], OK, pair_status=np.array(OK), has_pair=np.array(True),
          new=res.new.astype(np.int8), previous=res.previous, summary_names=names,
          summary_values=values,
          rotation=res.rotation, translation=res.translation,
          converged=np.array(res.converged), n_iter=np.array(res.n_iter), **common)
    fate = np.where(res.retained, "retained", "removed")
    write_columns(outputs["fate"], {
        "index": np.arange(len(p), dtype=np.int64), "partner": res.partner, "fate": fate,
        "dx": res.displacement[:, 0], "dy": res.displacement[:, 1], "dz": res.displacement[:, 2],
        "displacement": res.distance, "x": p[:, 0], "y": p[:, 1], "z": p[:, 2],
        "cn": np.asarray(cn, dtype=np.int64), "Q6": q6, "surface": surf, "crystalline": cryst,
    })
    _write_fate_structure(outputs, p, res.removed.astype(np.float64),
                          frame_elements(prev["prev_frame"], element))
    if outputs.get("new"):
        write_columns(outputs["new"], {"index": np.arange(len(x), dtype=np.int64),
                                       "new": res.new, "previous": res.previous})
    lg(f"{len(p)} -> {len(x)} atoms within {max_distance:.4f} A: {summary['n_retained']} "
       f"retained, {summary['n_removed']} removed, {summary['n_added']} added; mean displacement "
       f"{summary['displacement_mean']:.4f} A, p95 {summary['displacement_p95']:.4f} A")
    if align:
        lg(f"rigid alignment: rotation {angle(res.rotation):.4f} deg, translation "
           f"{np.array2string(res.translation, precision=4)} A, {res.n_iter} fits, "
           f"{'converged' if res.converged else 'NOT converged'}")
        if res.n_retained < ALIGN_WARN * min(len(p), len(x)):
            hint = ("" if align == "search" else
                    " (misoriented by more than ~10 degrees? tracking.align: search)")
            lg.warn(f"{previous_frame} -> {nxt['source']}: the rigid alignment matches only "
                    f"{res.n_retained} of {min(len(p), len(x))} atoms within "
                    f"{max_distance:.3f} A{hint}; the frames may differ too much to be tracked")
    lg.close(OK)
    return summary


def aggregate_tracking(tracking_npzs, output, *, series: str, frames, times, html=None,
                       log=None) -> list:
    """Rule ``aggregate_tracking``: ``results/{series}/tracking.csv``, one row per frame.

    ``tracking_npzs``, ``frames`` and ``times`` are per frame of the series in time order.
    Columns :data:`SERIES_COLUMNS`: identity, ``previous_frame``, ``pair_status`` (``ok``, the
    first-frame note, ``previous frame rejected: ...`` or the frame's own rejection) and the pair's
    values (empty without a pair). ``html``: also as an HTML page for the report
    (:func:`nanotraj.htmltable.write_html`). Returns the rows.
    """

    if not (len(tracking_npzs) == len(frames) == len(times)):
        raise ValueError("tracking_npzs, frames and times must have the same length")
    lg = Log(log)
    rows = []
    for npz, frame, t in zip(tracking_npzs, frames, times, strict=True):
        tr = load_arrays(npz)
        row = {"series": series, "frame": frame, "time": float(t),
               "pair_status": str(tr.get("pair_status", ""))}
        row.update(summary_row(tr))
        rows.append(row)
    write_rows(output, SERIES_COLUMNS, rows)
    if html:
        from nanotraj.htmltable import write_html

        write_html(output, html, title=f"Series {series}: tracking, one row per frame")
    n_pairs = sum(1 for r in rows if r["pair_status"] == OK)
    lg(f"{len(rows)} frames, {n_pairs} tracked pairs")
    lg.close(OK)
    return rows
