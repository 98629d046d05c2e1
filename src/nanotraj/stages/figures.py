"""File-level stages of the figures and the 3D viewer (rules ``plot_frame``, ``plot_series``,
``plot_tracking``, ``build_viewer``): read the frames' and series' tables, call the drawing
modules (:mod:`nanotraj.plots`, :mod:`nanotraj.trackplots`, :mod:`nanotraj.viewer`), write the
PNG and HTML files, log."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nanotraj import figstyle as fs
from nanotraj import trackplots
from nanotraj.figstyle import plain
from nanotraj.plots import (
    broadened,
    plot_cn_series,
    plot_order,
    plot_placeholder,
    plot_rdf,
    plot_rdf_series,
    plot_timeseries,
    reference_rdf,
)
from nanotraj.stages.jobs import OK, Log
from nanotraj.summary import as_float, is_ok
from nanotraj.tables import load_arrays, read_columns, read_rows, table_columns


def _frame_title(row: Mapping[str, str], time_unit: str) -> str:
    series, frame = row.get("series", ""), row.get("frame", "")
    t = as_float(row.get("time"))
    when = f", t = {t:g} {plain(time_unit)}".rstrip() if math.isfinite(t) else ""
    return f"{series} / {frame}{when}"


ORDER_COLUMNS = ("cn", "cn_lattice", "Q4", "Q6", "W6", "d_center")


def plot_frame(
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    *,
    element: str,
    time_unit: str = "s",
    reference: bool = True,
    order_limits=None,
    log=None,
) -> dict:
    """Rule ``plot_frame``: ``rdf.png`` and ``order.png`` of one frame from its outputs.

    ``inputs`` keys: ``rdf`` (rdf.csv), ``cutoff`` (the rdf stage's ``rdf.npz``: the cutoff used
    and how it was chosen), ``structure`` (the structure stage's ``structure.npz``: the noise
    estimate and nearest-neighbour peak, for the BOO classes' reference regions at the frame's
    own noise level), ``atoms`` (atoms.csv), ``summary`` (summary.csv: status, n_atoms,
    identity); ``outputs`` keys: ``rdf``, ``order`` (PNG). The atoms table may be CSV or
    Parquet (:func:`nanotraj.tables.read_columns`), as in every stage here. A rejected frame
    gets placeholders stating ``rejected: <reason>``. ``dr`` and ``r_max`` of the reference
    curve are those of the frame's rdf.csv; ``reference=False`` leaves the perfect cluster
    out; ``order_limits``: the fixed axis ranges of the order maps
    (:data:`nanotraj.plots.ORDER_LIMITS`).
    Returns the info dicts of :func:`plot_rdf` / :func:`plot_order`.
    """
    lg = Log(log)
    _, rows = read_rows(inputs["summary"])
    row = rows[0] if rows else {"status": "rejected: empty summary"}
    title = _frame_title(row, time_unit)
    status = str(row.get("status", "ok"))
    if not is_ok(row):
        plot_placeholder(outputs["rdf"], status, kind="rdf", title=title)
        plot_placeholder(outputs["order"], status, kind="order", title=title)
        lg(f"{status}: placeholder figures")
        lg.close(OK)
        return {"status": status}
    rd = read_columns(inputs["rdf"], ["r", "g"])
    r, g = rd["r"], rd["g"]
    used = load_arrays(inputs["cutoff"])
    cutoff = float(used["cutoff"])
    n_atoms = int(as_float(row.get("n_atoms")))
    st = load_arrays(inputs["structure"])
    sigma, peak = float(st["sigma_estimate"]), float(st["nn_peak"])
    ref, ref_label, ref_scaled = None, None, True
    if reference and r.size > 1:
        dr = round(float(r[1] - r[0]), 9)
        r_max = float(round(len(r) * dr, 6))
        ref_data = reference_rdf(element, n_atoms, dr=dr, r_max=r_max)
        if ref_data is not None:
            ref_label = (
                f"perfect {ref_data['structure'].upper()} {element} sphere, "
                f"{ref_data['n_atoms']} atoms"
            )
            if np.isfinite(sigma) and sigma > 0:
                # what the perfect cluster would look like measured with this frame's noise:
                # comparable peak for peak, without an arbitrary scale factor
                ref = (ref_data["r"], broadened(ref_data["r"], ref_data["g"], sigma))
                ref_label += f",\nbroadened by the frame's noise σ = {sigma:.3f} Å"
                ref_scaled = False
            else:
                ref = (ref_data["r"], ref_data["g"])
            lg("reference: " + ref_label.replace("\n", " "))
        else:
            lg(f"no perfect-cluster reference for {element}")
    info_rdf = plot_rdf(
        r,
        g,
        cutoff,
        outputs["rdf"],
        reference=ref,
        reference_label=ref_label,
        reference_scaled=ref_scaled,
        title=f"g(r): {title}",
        cutoff_auto=str(used["cutoff_method"]) == "auto",
    )
    header_cols = table_columns(inputs["atoms"])
    wanted = [c for c in ORDER_COLUMNS if c in header_cols]
    atoms = read_columns(inputs["atoms"], wanted)
    from nanotraj.boo_classes import reference_ellipses

    regions = reference_ellipses(sigma, peak, cutoff) if np.isfinite(sigma) else None
    note = (f"classes' regions at the frame's noise σ = {sigma:.3f} Å (1σ, dotted: 99 % core)"
            if regions else "no class regions: noise level outside the classifier's table")
    info_order = plot_order(atoms, outputs["order"], regions, limits=order_limits,
                            reference_note=note, title=f"Bond-orientational order: {title}")
    lg(f"{len(atoms['cn'])} atoms plotted; cutoff {cutoff:.4f} A")
    lg.close(OK)
    return {"status": status, "rdf": info_rdf, "order": info_order}


def plot_series(
    summaries,
    rdf_csvs: Sequence[str],
    atoms_csvs: Sequence[str],
    outputs: Mapping[str, str],
    *,
    profile_csvs: Sequence[str] = (),
    element: str | None = None,
    time_unit: str = "s",
    log=None,
) -> dict:
    """Rule ``plot_series``: ``timeseries.png``, ``rdf_series.png``, ``cn_series.png`` of a series,
    and ``strain_series.png`` and ``facets_series.png`` when ``outputs`` names them
    (:mod:`nanotraj.latticeplots`).

    ``summaries``: the frames' ``summary.csv`` files (a sequence, concatenated in time order
    as the series' summary is: :func:`nanotraj.stages.series.concatenate`; the rule passes
    these, so that it does not wait for the series' aggregates), or the series' ``summary.csv``
    (one path); one row per frame, with status. ``rdf_csvs``,
    ``atoms_csvs`` and ``profile_csvs`` are the frames' ``results/{series}/{frame}/rdf.csv`` /
    ``atoms.csv`` / ``strain_profile.csv`` (matched to summary rows by their folder name =
    frame). Only the ``cn`` column of atoms.csv is read. ``element``: the series' element (its
    table lattice constant is drawn in ``strain_series.png``).
    """
    from nanotraj import latticeplots

    lg = Log(log)
    if isinstance(summaries, (str, os.PathLike)):
        _, rows = read_rows(summaries)
    else:
        from nanotraj.stages.series import concatenate

        _, rows = concatenate(summaries)
    by_frame_rdf = {Path(p).parent.name: p for p in rdf_csvs}
    by_frame_atoms = {Path(p).parent.name: p for p in atoms_csvs}
    by_frame_profile = {Path(p).parent.name: p for p in profile_csvs}
    series = rows[0].get("series", "") if rows else ""
    ok_rows = [r for r in rows if is_ok(r)]
    n_bad = len(rows) - len(ok_rows)
    info = {}
    names = set(outputs.keys())  # a dict, or Snakemake's output (whose `in` tests values)
    lattice_figures = [k for k in ("strain_series", "facets_series") if k in names]
    if not ok_rows:
        msg = f"series {series}: no accepted frame ({len(rows)} rejected)"
        for key, kind in (
            ("timeseries", "timeseries"),
            ("rdf_series", "rdf_series"),
            ("cn_series", "cn_series"),
        ):
            plot_placeholder(outputs[key], msg, kind=kind)
        for key in lattice_figures:
            fs.placeholder(outputs[key], msg, latticeplots.FIGURE_SIZES[key])
        lg(msg)
        lg.close(OK)
        return {"status": msg}
    info["timeseries"] = plot_timeseries(
        rows, outputs["timeseries"], time_unit=time_unit, title=f"Series {series}"
    )
    curves = []
    for r in ok_rows:
        rd = read_columns(by_frame_rdf[r["frame"]], ["r", "g"])
        curves.append(
            {
                "time": as_float(r["time"]),
                "r": rd["r"],
                "g": rd["g"],
                "cutoff": as_float(r.get("cutoff")),
            }
        )
    info["rdf_series"] = plot_rdf_series(
        curves,
        outputs["rdf_series"],
        time_unit=time_unit,
        title=f"Series {series}: g(r) over time",
        n_rejected=n_bad,
    )
    frames = []
    for r in rows:
        cn = None
        if is_ok(r):
            cn = read_columns(by_frame_atoms[r["frame"]], ["cn"])["cn"]
        frames.append({"time": as_float(r["time"]), "cn": cn})
    info["cn_series"] = plot_cn_series(
        frames,
        outputs["cn_series"],
        time_unit=time_unit,
        title=f"Series {series}: coordination numbers",
    )
    if "strain_series" in names:
        element_a = None
        if element:
            from nanotraj.elements import lattice

            element_a = float(lattice(element)["a"])
        ok_sorted = sorted(ok_rows, key=lambda r: as_float(r.get("time")))
        profiles = []
        for r in ok_sorted:
            path = by_frame_profile.get(r["frame"])
            profiles.append(read_columns(path) if path else None)
        info["strain_series"] = latticeplots.plot_strain_series(
            rows, profiles, outputs["strain_series"], time_unit=time_unit,
            element=element or "", element_a=element_a,
            title=f"Series {series}: lattice constant and strain")
    if "facets_series" in names:
        info["facets_series"] = latticeplots.plot_facets_series(
            rows, outputs["facets_series"], time_unit=time_unit,
            title=f"Series {series}: facets and surface sites")
    lg(f"{len(rows)} frames ({n_bad} rejected)")
    lg.close(OK)
    return info


def plot_tracking(fate_csvs: Sequence[str], tracking_npzs: Sequence[str],
                  outputs: Mapping[str, str], *, frames: Sequence[str], times: Sequence[float],
                  time_unit: str = "s", series: str = "", log=None) -> dict:
    """Rule ``plot_tracking``: ``removal_cn.png`` and ``displacements.png`` of a series.

    ``fate_csvs``, ``tracking_npzs``, ``frames`` and ``times`` are per frame of the series in
    time order (the first frame's files carry no pair). Frames without a pair (first frame,
    rejected frame or predecessor) are left out and counted in the log; a series without any
    pair gets placeholder figures saying so.
    """
    if not (len(fate_csvs) == len(tracking_npzs) == len(frames) == len(times)):
        raise ValueError("fate_csvs, tracking_npzs, frames and times must have the same length")
    lg = Log(log)
    pairs, skipped, max_distance = [], [], None
    for fate_csv, npz, frame, t in zip(fate_csvs, tracking_npzs, frames, times, strict=True):
        tr = load_arrays(npz)
        if not bool(tr.get("has_pair", False)):
            skipped.append(f"{frame}: {tr.get('pair_status', 'no pair')}")
            continue
        fate = read_columns(fate_csv, ["cn", "partner", "displacement"])
        summary = dict(zip(tr["summary_names"].tolist(), tr["summary_values"].tolist(),
                           strict=True))
        removed = fate["partner"] < 0
        pairs.append({"frame": frame, "time": float(t), "cn": fate["cn"].astype(np.int64),
                      "removed": removed, "displacement": fate["displacement"][~removed],
                      "n_retained": int(summary["n_retained"]),
                      "n_removed": int(summary["n_removed"]),
                      "n_added": int(summary["n_added"])})
        max_distance = float(tr["max_distance"])
    for s in skipped:
        lg(f"no pair: {s}")
    if not pairs:
        msg = f"series {series}: no pair of consecutive accepted frames"
        fs.placeholder(outputs["removal_cn"], msg, trackplots.FIGURE_SIZES["removal_cn"])
        fs.placeholder(outputs["displacements"], msg,
                       trackplots.FIGURE_SIZES["displacements"])
        lg(msg)
        lg.close(OK)
        return {"status": msg}
    prefix = f"Series {series}: " if series else ""
    info = {
        "removal_cn": trackplots.plot_removal_cn(
            pairs, outputs["removal_cn"], time_unit=time_unit,
            title=f"{prefix}removal against coordination in frame t-1 ({len(pairs)} pairs)"),
        "displacements": trackplots.plot_displacements(
            pairs, outputs["displacements"], max_distance=max_distance, time_unit=time_unit,
            title=f"{prefix}displacements of retained atoms ({len(pairs)} pairs)"),
    }
    lg(f"{len(pairs)} pairs plotted, {len(skipped)} frames without pair")
    lg.close(OK)
    return info


def read_summary(path) -> dict[str, str]:
    """The one row of a frame's ``summary.csv``."""
    _, rows = read_rows(path)
    if len(rows) != 1:
        raise ValueError(f"{path}: expected one summary row, found {len(rows)}")
    return rows[0]


def build_viewer(atoms_csvs: Sequence, summaries: Sequence, out_html, *, series: str,
                 fates: Sequence | None = None, time_unit: str = "s",
                 max_atoms: int | None = None, max_total_atoms: int | None = None,
                 atom_ids=None, domains=None, cache_dir=None, log=None) -> dict:
    """Rule ``build_viewer``: :func:`nanotraj.viewer.build_viewer` from the frames'
    ``atoms.csv`` and ``summary.csv`` files (same order; frame names and times are read from the
    summaries). ``max_atoms``, ``max_total_atoms``: the viewer's limits (None: its defaults).
    A series of more than :data:`nanotraj.viewer.MAX_FRAMES` frames shows that many, evenly
    spread (:func:`nanotraj.viewer.shown_frames`); the others' files are not read.

    ``fates`` (optional): one entry per frame, aligned with ``atoms_csvs``: the ``fate.csv`` that
    describes frame k's atoms, which is the one written for the *next* frame in time,
    ``results/{series}/{frame k+1}/fate.csv`` (it holds, per atom of frame k, whether it is
    retained in frame k+1 or removed), or ``None`` where there is none (the last frame, always).
    The page then offers colouring by fate (removed / retained / unknown).

    ``atom_ids`` (optional): the series' ``atom_ids.csv``; ``domains`` (optional): the series'
    ``domains.csv``. They add ``atom_id`` (persistent over the series) and ``domain_track``
    (the track of the atom's domain, the same colour in every frame) to the colour menu: both
    depend on every earlier frame, so they are not in the frames' atoms.csv
    (:mod:`nanotraj.stages.domains`).

    ``cache_dir`` (optional): the folder of the frames' parsed tables kept for the next run
    (:class:`nanotraj.viewer.ParseCache`; the rule passes :func:`nanotraj.layout.viewer_cache`):
    a rerun parses only the frames whose files changed; entries this page did not use are
    removed."""
    from nanotraj import viewer

    if len(atoms_csvs) != len(summaries):
        raise ValueError("one summary.csv per atoms.csv is needed")
    if fates is None:
        fates = [None] * len(atoms_csvs)
    if len(fates) != len(atoms_csvs):
        raise ValueError(f"{len(fates)} fate files for {len(atoms_csvs)} frames: give one per "
                         "frame (None where absent; the last frame has none)")
    lg = Log(log)
    frames = []
    shown = viewer.shown_frames(len(atoms_csvs))  # a long series: MAX_FRAMES frames
    if len(shown) < len(atoms_csvs):
        lg(f"{len(shown)} of the {len(atoms_csvs)} frames shown, evenly spread "
           f"(nanotraj.viewer.MAX_FRAMES)")
    atoms_csvs = [atoms_csvs[k] for k in shown]
    summaries = [summaries[k] for k in shown]
    fates = [fates[k] for k in shown]
    for atoms, summary, fate in zip(atoms_csvs, summaries, fates, strict=True):
        row = read_summary(summary)
        frames.append((row["frame"], float(row["time"]), str(atoms), row,
                       None if fate is None else str(fate)))
    limits = {k: v for k, v in (("max_atoms", max_atoms), ("max_total_atoms", max_total_atoms))
              if v is not None}
    extra = series_columns(frames, atom_ids=atom_ids, domains=domains)
    cache = viewer.ParseCache(cache_dir) if cache_dir is not None else None
    info = viewer.build_viewer(series, frames, out_html, time_unit=time_unit, log=lg,
                               extra_columns=extra, cache=cache, **limits)
    if cache is not None:
        removed = cache.prune()
        lg(f"{cache.hits} of {len(frames)} frames' tables read as parsed in an earlier run "
           f"({cache.folder}); {removed} unused entries removed")
    lg.close(OK)
    return info


def plot_snapshot(summary_csv, rdf_csv, atoms_csv, out_png, *, time_unit: str = "s",
                  log=None) -> dict:
    """Rule ``plot_snapshot``: ``snapshot.png`` of a series of one frame
    (:func:`nanotraj.snapshotplot.plot_snapshot`) from the series' ``summary.csv`` (one row),
    the frame's ``rdf.csv`` and ``atoms.csv`` (columns ``cn`` and ``surface``). A rejected frame
    gets a placeholder stating why."""
    from nanotraj.snapshotplot import plot_snapshot as draw

    lg = Log(log)
    _, rows = read_rows(summary_csv)
    row = rows[0] if rows else {"status": "rejected: empty summary"}
    if len(rows) > 1:
        raise ValueError(f"{summary_csv}: a snapshot has one frame, found {len(rows)} rows")
    title = _frame_title(row, time_unit)
    if not is_ok(row):
        # the placeholder of the time series has the snapshot's size (SIZE)
        plot_placeholder(out_png, str(row.get("status")), kind="timeseries", title=title)
        lg(f"{row.get('status')}: placeholder figure")
        lg.close(OK)
        return {"status": row.get("status")}
    rd = read_columns(rdf_csv, ["r", "g"])
    header = table_columns(atoms_csv)
    atoms = read_columns(atoms_csv, [c for c in ("cn", "surface") if c in header])
    info = draw(row, rd["r"], rd["g"], atoms["cn"], atoms.get("surface"), out_png,
                time_unit=time_unit, title=f"Snapshot: {title}")
    lg(f"{len(atoms['cn'])} atoms; one frame: summary figure instead of time series")
    lg.close(OK)
    return info


def series_columns(frames, *, atom_ids=None, domains=None) -> dict[str, dict[str, np.ndarray]]:
    """Per frame name, the per-atom columns that come from the series' tables: ``atom_id``
    (``atom_ids.csv``, rows of a frame found by its time, placed by ``index``) and
    ``domain_track`` (the ``track`` of the atom's ``domain`` in the series' ``domains.csv``;
    -1 for atoms of no domain). ``frames``: ``(frame, time, atoms_csv, ...)`` tuples."""
    out: dict[str, dict[str, np.ndarray]] = {}
    if atom_ids is not None:
        ids = read_columns(atom_ids, ["time", "index", "atom_id"])
        # the rows of each time by binary search in the sorted times (a long series has
        # frames x atoms rows: comparing all of them per frame is quadratic)
        order = np.argsort(ids["time"], kind="stable")
        sorted_times = ids["time"][order]
        for name, t, *_ in frames:
            t = float(t)
            sel = order[np.searchsorted(sorted_times, t, "left"):
                        np.searchsorted(sorted_times, t, "right")] if t == t else order[:0]
            if len(sel):
                col = np.full(int(ids["index"][sel].max()) + 1, np.nan)
                col[ids["index"][sel].astype(np.int64)] = ids["atom_id"][sel]
                out.setdefault(str(name), {})["atom_id"] = col
    if domains is not None:
        _, rows = read_rows(domains)
        tracks: dict[str, dict[int, int]] = {}  # frame -> domain -> track
        for r in rows:
            tracks.setdefault(r["frame"], {})[int(r["domain"])] = int(r["track"])
        for name, _t, path, *_ in frames:
            if "domain" not in table_columns(path):
                continue
            dom = read_columns(path, ["domain"])["domain"].astype(np.int64)
            if not len(dom):
                continue
            mapped = np.full(len(dom), -1.0)  # a domain not listed (e.g. -1, none): -1
            known = tracks.get(str(name))
            if known:
                ids = np.array(sorted(known), dtype=np.int64)
                pos = np.minimum(np.searchsorted(ids, dom), len(ids) - 1)
                found = ids[pos] == dom
                mapped[found] = np.array([known[k] for k in ids.tolist()], dtype=float)[pos[found]]
            out.setdefault(str(name), {})["domain_track"] = mapped
    return out
