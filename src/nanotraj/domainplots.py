"""Figures of domains and atom identities over a series (PNG), for the rule ``plot_domains``.

- ``domains_series.png`` (:func:`plot_domain_series`): the size of every domain against time,
  one line per track (:mod:`nanotraj.domaintrack`), with its events marked (appear, vanish,
  merge, split; thin lines join a merged or split domain to its predecessors), and below it the
  number of domains per frame.
- ``survival.png`` (:func:`plot_survival`): the fraction of the first frame's atoms still present
  (:func:`nanotraj.identities.survival`) and the stable core, and below it the atoms of each
  frame split into survivors of the first frame and later arrivals.
- ``rmsd_matrix.png`` (:func:`plot_rmsd_matrix`): the frame-by-frame RMSD on shared atoms after
  rigid superposition (:func:`nanotraj.identities.rmsd_matrix`) as a heat map.

Same rules as :mod:`nanotraj.plots`: matplotlib object API only, fixed size and dpi, no PNG
metadata (byte-identical reruns), atomic writes, drawing under
:data:`nanotraj.figstyle.DRAW_LOCK`.  The inputs are the rows of the series' CSV tables (strings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nanotraj import figstyle as fs

#: Size (width, height) in inches of the figures.
FIGURE_SIZES = {"domains_series": (10.0, 7.5), "survival": (10.0, 7.0), "rmsd_matrix": (8.5, 7.0)}

#: Colours of the tracks (cycled by track id).
TRACK_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")

#: Marker, colour and label of the events drawn on ``domains_series.png``.
EVENT_MARKERS = {
    "appear": ("^", "#2ca02c", "appear"),
    "vanish": ("X", "#d62728", "vanish (size before)"),
    "merge": ("D", "#6a3d9a", "merge"),
    "split": ("v", "#ff7f0e", "split"),
}

#: Above this many tracks the figure has no legend of tracks.
MAX_TRACK_LEGEND = 12


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan



def plot_domain_series(domains: Sequence[Mapping], events: Sequence[Mapping], out_png, *,
                       frames: Sequence[tuple[str, float]] | None = None,
                       time_unit: str = "s", title: str | None = None) -> dict:
    """Domain sizes against time by track, events marked.

    Parameters
    ----------
    domains : rows of the series' ``domains.csv`` (``frame, time, track, n_atoms``).
    events : rows of ``domain_events.csv`` (``time, event, track, tracks_before, tracks_after,
        n_atoms, n_atoms_before, previous_frame``).
    frames : ``(frame, time)`` of every frame (for the count of domains, 0 where none); by
        default the frames that have domains.

    Top: one line per track (colour by track id), a marker per frame; events: appear (at the
    new domain), vanish (at the time it is gone, at the size it had), merge and split (at the
    domain after the event), with thin lines from each domain before the event to each after.
    Bottom: domains per frame.  Returns ``{"n_tracks", "n_events"}``.
    """
    by_track: dict[int, list[tuple[float, float]]] = {}
    size_at: dict[tuple[int, str], tuple[float, float]] = {}
    for r in domains:
        tr, t, n = int(r["track"]), _f(r["time"]), _f(r["n_atoms"])
        by_track.setdefault(tr, []).append((t, n))
        size_at[(tr, r["frame"])] = (t, n)
    if frames is None:
        seen = {}
        for r in domains:
            seen.setdefault(r["frame"], _f(r["time"]))
        frames = sorted(seen.items(), key=lambda x: x[1])
    counts = {f: 0 for f, _ in frames}
    for r in domains:
        counts[r["frame"]] = counts.get(r["frame"], 0) + 1
    font = fs.FONT
    with fs.DRAW_LOCK:
        fig = fs.new_figure(FIGURE_SIZES["domains_series"])
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        for tr in sorted(by_track):
            pts = sorted(by_track[tr])
            colour = TRACK_COLOURS[tr % len(TRACK_COLOURS)]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", color=colour, lw=1.4, ms=4,
                    label=f"track {tr}" if len(by_track) <= MAX_TRACK_LEGEND else None, zorder=3)
        drawn = set()
        for e in events:
            kind = e["event"]
            if kind not in EVENT_MARKERS:
                continue
            t = _f(e["time"])
            marker, colour, label = EVENT_MARKERS[kind]
            y = _f(e["n_atoms_before"]) if kind == "vanish" else _f(e["n_atoms"])
            after = [int(x) for x in str(e.get("tracks_after", "")).split(";") if x]
            before = [int(x) for x in str(e.get("tracks_before", "")).split(";") if x]
            if kind == "split" and before and (before[0], e["frame"]) in size_at:
                y = size_at[(before[0], e["frame"])][1]
            if kind in ("merge", "split"):
                for tb in before:
                    p = size_at.get((tb, e.get("previous_frame", "")))
                    for ta in after:
                        q = size_at.get((ta, e["frame"]))
                        if p and q:
                            ax.plot([p[0], q[0]], [p[1], q[1]], ":", color=colour, lw=1.0,
                                    zorder=2)
            ax.scatter([t], [y], marker=marker, s=70, color=colour, edgecolors="k",
                       linewidths=0.6, zorder=5, label=None if kind in drawn else label)
            drawn.add(kind)
        if not by_track:
            ax.text(0.5, 0.5, "no domain in any frame", ha="center", va="center",
                    transform=ax.transAxes, fontsize=font["title"], color="0.4")
        ax.set_ylim(bottom=0)
        fs.style(ax, ylabel="atoms in the domain",
                 title=title or f"Domain sizes against time ({len(by_track)} tracks)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=font["legend"], loc="upper left", ncols=2)
        if len(by_track) > MAX_TRACK_LEGEND:
            ax.text(0.99, 0.98, f"{len(by_track)} tracks (colours repeat)", ha="right", va="top",
                    transform=ax.transAxes, fontsize=font["note"])
        ts = [t for _, t in frames]
        ax2.plot(ts, [counts.get(f, 0) for f, _ in frames], "-s", color="0.25", ms=4)
        ax2.set_ylim(bottom=0)
        ax2.yaxis.get_major_locator().set_params(integer=True)
        fs.time_ticks(ax2.xaxis, ts)  # shared with the sizes' axis
        fs.style(ax2, xlabel=fs.time_label(time_unit), ylabel="domains")
        fs.save_png(fig, out_png)
    return {"n_tracks": len(by_track), "n_events": len(events)}


def plot_survival(rows: Sequence[Mapping], out_png, *, time_unit: str = "s",
                  title: str | None = None) -> dict:
    """Survival of the first frame's atoms and the stable core.

    ``rows``: the series' ``survival.csv`` (``time, n_atoms, n_survivors, survival, n_core,
    n_new, tracked``).  Top: ``survival`` (fraction of the reference frame's atoms present),
    and ``n_core / n_atoms(reference)`` dashed (atoms present in every frame); frames without an
    unbroken chain of pairs are left out (gaps).  Bottom: atoms per frame (black), survivors of
    the reference frame (blue) and later arrivals (green).  Returns the plotted survival values.
    """
    t = np.array([_f(r["time"]) for r in rows])
    s = np.array([_f(r["survival"]) for r in rows])
    n = np.array([_f(r["n_atoms"]) for r in rows])
    surv = np.array([_f(r["n_survivors"]) for r in rows])
    new = np.array([_f(r["n_new"]) for r in rows])
    core = _f(rows[0]["n_core"]) if rows else math.nan
    ref = np.flatnonzero(n > 0)
    n_ref = float(n[ref[0]]) if len(ref) else math.nan
    font = fs.FONT
    with fs.DRAW_LOCK:
        fig = fs.new_figure(FIGURE_SIZES["survival"])
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        ax.plot(t, s, "-o", color="tab:blue", lw=1.6, ms=4, label="survival: atoms of the first "
                "frame still present")
        if math.isfinite(core) and n_ref > 0:
            ax.axhline(core / n_ref, color="0.3", ls="--", lw=1.2,
                       label=f"stable core: {int(core)} atoms in every frame")
        ax.set_ylim(0.0, 1.05)
        fs.style(ax, ylabel="fraction of the first frame's atoms",
                 title=title or "Survival of the first frame's atoms")
        ax.legend(fontsize=font["legend"], loc="lower left")
        ax2.plot(t, n, "-s", color="k", ms=4, lw=1.2, label="atoms")
        ax2.plot(t, surv, "-o", color="tab:blue", ms=4, lw=1.2, label="from the first frame")
        ax2.plot(t, new, "-^", color="tab:green", ms=4, lw=1.2, label="arrived later")
        ax2.set_ylim(bottom=0)
        fs.time_ticks(ax2.xaxis, t)
        fs.style(ax2, xlabel=fs.time_label(time_unit), ylabel="atoms")
        ax2.legend(fontsize=font["legend"], loc="best")
        fs.save_png(fig, out_png)
    return {"time": t, "survival": s}


def plot_rmsd_matrix(rows: Sequence[Mapping], out_png, *, time_unit: str = "s",
                     title: str | None = None) -> dict:
    """Heat map of the RMSD (after rigid superposition) between every two frames.

    ``rows``: the series' ``rmsd_matrix.csv`` (``time_a, time_b, rmsd``; every ordered pair),
    as its rows or as its columns (a mapping of name -> (F^2,) array, e.g.
    :func:`nanotraj.tables.read_columns`: a 1,000-frame series has 10^6 rows).
    Cells without enough shared atoms are grey.  Axes: the frames' times in order (tick labels
    thinned to ~10).  Returns the matrix.
    """
    if isinstance(rows, Mapping):
        ta, tb, value = (np.asarray(rows[c], dtype=np.float64) for c in ("time_a", "time_b",
                                                                          "rmsd"))
    else:
        ta, tb, value = (np.array([_f(r[c]) for r in rows], dtype=np.float64)
                         for c in ("time_a", "time_b", "rmsd"))
    times = sorted(set(ta.tolist()))
    f = len(times)
    ia, ib = np.searchsorted(times, ta), np.searchsorted(times, tb)
    if f and (np.any(ib >= f) or not np.array_equal(np.asarray(times)[np.minimum(ib, f - 1)],
                                                    tb)):
        raise KeyError("time_b values that are not among time_a's")
    m = np.full((f, f), np.nan)
    m[ia, ib] = value
    font = fs.FONT
    with fs.DRAW_LOCK:
        fig = fs.new_figure(FIGURE_SIZES["rmsd_matrix"])
        ax = fig.add_subplot()
        cm = fs.cmap().with_extremes(bad="0.8")
        finite = m[np.isfinite(m)]
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        im = ax.imshow(np.ma.masked_invalid(m), cmap=cm, vmin=0.0, vmax=vmax, origin="lower",
                       interpolation="nearest")
        step = max(1, int(math.ceil(f / 10)))
        ticks = list(range(0, f, step))
        ax.set_xticks(ticks, [f"{times[k]:g}" for k in ticks])
        ax.set_yticks(ticks, [f"{times[k]:g}" for k in ticks])
        cb = fig.colorbar(im, ax=ax, pad=0.02)
        cb.set_label("RMSD after superposition (Å)", fontsize=font["label"])
        fs.style(ax, xlabel=fs.time_label(time_unit), ylabel=fs.time_label(time_unit),
                 title=title or "RMSD between frames on their shared atoms")
        fs.save_png(fig, out_png)
    return {"times": times, "rmsd": m}
