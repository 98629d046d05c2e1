"""File-level stages of a series and of the whole run: the aggregated summaries and the list of
rejected frames."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from nanotraj.contract import SUMMARY_COLUMNS
from nanotraj.stages.jobs import OK, Log, reject_reason
from nanotraj.tables import read_rows, write_rows, write_summary


def _time_key(row: Mapping[str, str]):
    try:
        t = float(row.get("time", "nan"))
    except ValueError:
        t = math.nan
    return (math.isnan(t), t, row.get("frame", ""))


def aggregate(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *, sort_by_series=False
):
    """Concatenate one-row (or many-row) summary CSVs into ``output``, ordered by time
    (:func:`concatenate`). Returns the rows."""
    header, rows = concatenate(inputs, sort_by_series=sort_by_series)
    write_rows(output, header, rows)
    return rows


def concatenate(inputs: Sequence[str | os.PathLike], *, sort_by_series=False
                ) -> tuple[list[str], list[dict[str, str]]]:
    """The rows of one-row (or many-row) summary CSVs, ordered by time, and their header.

    Rows are ordered by ``time`` then ``frame`` (and by ``series`` first when
    ``sort_by_series``), so the result does not depend on the order of ``inputs``. Columns: the
    union of the inputs' columns, contract columns first; a column missing in one input is an
    empty cell there (absent from that row's mapping).
    """
    rows: list[dict[str, str]] = []
    header: list[str] = list(SUMMARY_COLUMNS)
    for path in inputs:
        cols, file_rows = read_rows(path)
        for c in cols:
            if c not in header:
                header.append(c)
        rows.extend(file_rows)
    if sort_by_series:
        rows.sort(key=lambda r: (r.get("series", ""), *_time_key(r)))
    else:
        rows.sort(key=_time_key)
    return header, rows


def aggregate_summaries(inputs, output, *, sort_by_series=False, tracking=None, html=None,
                        title="Summary", log=None):
    """Stage ``aggregate``: concatenate per-frame summaries, ordered by time (and series).

    ``html``: also write the table as an HTML page titled ``title`` for the report
    (:func:`nanotraj.htmltable.write_html`).

    ``tracking``: the series' ``tracking.csv``
    (:func:`nanotraj.stages.tracking.aggregate_tracking`); its pair columns are added to each
    accepted frame's row (a rejected frame's stay empty), and so is ``scale_change``
    (:func:`nanotraj.summary.scale_changes`), with a warning where it exceeds
    :data:`nanotraj.summary.SCALE_CHANGE_WARN`.
    """
    lg = Log(log)
    rows = aggregate(list(inputs), output, sort_by_series=sort_by_series)
    if tracking:
        from nanotraj.summary import SCALE_CHANGE_WARN, scale_changes
        from nanotraj.tracking import SUMMARY_COLUMNS as TRACKING_COLUMNS

        by_frame = {(r["series"], r["frame"]): r for r in read_rows(tracking)[1]}
        for row, change in zip(rows, scale_changes(rows), strict=True):
            if row.get("status", "ok") != "ok":
                continue
            row["scale_change"] = change
            if change is not None and abs(change) > SCALE_CHANGE_WARN:
                lg.warn(f"series {row.get('series')}, frame {row.get('frame')}: the mean "
                        f"nearest-neighbour distance changed by {100 * change:+.1f} % from the "
                        "previous frame: do the reconstructions share one length scale?")
            pair = by_frame.get((row.get("series"), row.get("frame")), {})
            row.update({c: pair.get(c, "") for c in TRACKING_COLUMNS})
        write_summary(output, rows)
    if html:
        from nanotraj.htmltable import write_html

        write_html(output, html, title=title)
    n_rej = sum(1 for r in rows if r.get("status", "ok") != "ok")
    lg(f"{len(rows)} frames, {n_rej} rejected")
    lg.close(OK)


def list_rejected(summary_csv, output, *, html=None, log=None):
    """Stage ``rejected``: the run's rejected frames (``series, frame, time, reason``), one row
    each, from the run's summary (only the header when every frame was analysed); ``html``:
    also as an HTML page for the report."""

    lg = Log(log)
    _, rows = read_rows(summary_csv)
    rejected = [
        {"series": r["series"], "frame": r["frame"], "time": r["time"],
         "reason": reject_reason(r["status"])}
        for r in rows if r.get("status", OK) != OK
    ]
    write_rows(output, ("series", "frame", "time", "reason"), rejected)
    if html:
        from nanotraj.htmltable import write_html

        write_html(output, html, title="Rejected frames")
    lg(f"{len(rejected)} rejected frame(s) of {len(rows)}")
    lg.close(OK)


def write_trajectory(extxyz_files: Sequence[str | os.PathLike], output, *, log=None) -> int:
    """Rule ``write_trajectory``: the series' ``trajectory.extxyz``, its frames' ``atoms.extxyz``
    one after the other (``extxyz_files`` in time order), for playback in OVITO or ASE; the atom
    count may change from frame to frame.  Rejected frames (0 atoms) are left out and counted
    in the log.  Written atomically; returns the number of frames written."""
    from nanotraj.tables import atomic_path
    from nanotraj.trajectory import append_extxyz

    lg = Log(log)
    written, left_out = 0, []
    with atomic_path(output) as tmp, open(tmp, "wb") as out:
        for path in extxyz_files:
            if append_extxyz(out, path):
                written += 1
            else:
                left_out.append(os.path.basename(os.path.dirname(os.fspath(path))))
    lg(f"{written} frames written" + (f"; rejected, left out: {', '.join(left_out)}"
                                      if left_out else ""))
    lg.close(OK)
    return written
