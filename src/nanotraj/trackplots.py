"""Figures of frame-to-frame tracking, per series (PNG), for the rule ``plot_tracking``.

- ``removal_cn.png`` (:func:`plot_removal_cn`): fraction of the atoms of frame t-1 removed by
  frame t, against their coordination number (bonds) in frame t-1, pooled over every pair of the
  series; each bar is labelled ``removed/total``; dots are single pairs.
- ``displacements.png`` (:func:`plot_displacements`): distribution of the displacement lengths
  of the retained atoms of each pair against time (box plots, or percentile bands for more than
  :data:`MAX_BOXES` pairs) with the matching limit, and the numbers of retained, removed and
  added atoms per pair.

Same rules as :mod:`nanotraj.plots`: matplotlib object API only (no ``pyplot``), fixed size and
dpi, no PNG metadata (byte-identical reruns), atomic writes, drawing under
:data:`nanotraj.figstyle.DRAW_LOCK`. The data come from the pairs' ``fate.csv`` and ``tracking.npz``
(:mod:`nanotraj.tracking`); a pair is placed at the time of its later frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nanotraj import figstyle as fs

#: Size (width, height) in inches of the figures.
FIGURE_SIZES = {"removal_cn": (10.0, 5.5), "displacements": (10.0, 8.0)}

#: Up to this many pairs the displacement distributions are box plots, above percentile bands.
MAX_BOXES = 40

#: A single pair's removal fraction at one CN is drawn only with at least this many atoms.
MIN_ATOMS_PER_DOT = 5


def _new_figure(kind: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGURE_SIZES[kind], dpi=fs.DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig



def removal_by_cn(pairs: Sequence[Mapping]) -> dict[str, np.ndarray]:
    """Pooled counts per coordination number: ``cn`` (0..max), ``total``, ``removed``,
    ``fraction`` (removed / total, NaN where total = 0)."""
    cns = [np.asarray(p["cn"], dtype=np.int64) for p in pairs]
    rem = [np.asarray(p["removed"], dtype=bool) for p in pairs]
    cn = np.concatenate(cns) if cns else np.zeros(0, dtype=np.int64)
    removed = np.concatenate(rem) if rem else np.zeros(0, dtype=bool)
    n = int(cn.max()) + 1 if cn.size else 1
    total = np.bincount(cn, minlength=n)
    k = np.bincount(cn[removed], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, k / np.maximum(total, 1), np.nan)
    return {"cn": np.arange(n), "total": total, "removed": k, "fraction": frac}


def plot_removal_cn(pairs: Sequence[Mapping], out_png, *, time_unit: str = "s",
                    title: str | None = None) -> dict:
    """Removal probability against the coordination number of frame t-1.

    Parameters
    ----------
    pairs : one mapping per pair with ``time`` (of frame t), ``cn`` (N_prev,) bond counts of frame
        t-1 and ``removed`` (N_prev,) bool.

    Bars: ``removed / total`` per CN pooled over the pairs; both counts are printed under each
    CN on the x axis. Dashed
    line: the pooled fraction of all atoms (a bar above it = that CN is removed preferentially).
    Dots: single pairs where they have at least :data:`MIN_ATOMS_PER_DOT` atoms of that CN,
    coloured by time. Returns the pooled counts of :func:`removal_by_cn`.
    """
    stats = removal_by_cn(pairs)
    cn, total, k, frac = stats["cn"], stats["total"], stats["removed"], stats["fraction"]
    overall = k.sum() / total.sum() if total.sum() else math.nan
    font = fs.FONT
    with fs.DRAW_LOCK:
        from matplotlib.colors import Normalize

        fig = _new_figure("removal_cn")
        ax = fig.add_subplot()
        has = total > 0
        ax.bar(cn[has], frac[has], width=0.8, color="tab:red", alpha=0.55, edgecolor="firebrick",
               label="all pairs pooled", zorder=2)
        if math.isfinite(overall):
            ax.axhline(overall, color="0.3", ls="--", lw=1.2, zorder=3,
                       label=f"all atoms: {overall:.1%} removed")
        times = np.array([float(p["time"]) for p in pairs])
        if len(pairs) > 1:
            norm = Normalize(vmin=float(times.min()), vmax=float(times.max()))
            offsets = np.linspace(-0.3, 0.3, len(pairs))
            xs, ys, cs = [], [], []  # one scatter for every pair: 1 artist instead of 1 per pair
            for p, off in zip(pairs, offsets, strict=True):
                s = removal_by_cn([p])
                ok = s["total"] >= MIN_ATOMS_PER_DOT
                xs.append(s["cn"][ok] + off)
                ys.append(s["fraction"][ok])
                cs.append(np.full(int(ok.sum()), float(p["time"])))
            if sum(len(x) for x in xs):
                ax.scatter(np.concatenate(xs), np.concatenate(ys), s=22, c=np.concatenate(cs),
                           cmap=fs.cmap(), norm=norm, edgecolors="k", linewidths=0.4,
                           zorder=5, label=f"single pairs (≥{MIN_ATOMS_PER_DOT} atoms)")
            from matplotlib.cm import ScalarMappable

            sm = ScalarMappable(norm=norm, cmap=fs.cmap())
            cb = fig.colorbar(sm, ax=ax, pad=0.01)
            cb.set_label(fs.time_label(time_unit, "time of frame t"), fontsize=font["label"])
            fs.time_ticks(cb.ax.yaxis, times)
        lo = int(cn[has].min()) if has.any() else 0
        shown = cn[lo:]
        ax.set_xlim(lo - 0.7, float(cn.max()) + 0.7)
        ax.set_ylim(0.0, 1.15)
        ax.set_xticks(shown, [f"{c}\n{k[c]}/{total[c]}" for c in shown])
        n_atoms = int(total.sum())
        fs.style(ax, xlabel="coordination number in frame t-1 (bonds); below it: "
                                 "removed / atoms, all pairs",
                      ylabel="fraction removed by frame t",
                      title=title or f"Removal against coordination ({len(pairs)} pairs, "
                                     f"{n_atoms} atoms)")
        ax.legend(fontsize=font["legend"], loc="upper right")
        fs.save_png(fig, out_png)
    return {**stats, "overall": overall}


def plot_displacements(pairs: Sequence[Mapping], out_png, *, max_distance: float | None = None,
                       time_unit: str = "s", title: str | None = None) -> dict:
    """Displacement distributions of the retained atoms over time, and the counts per pair.

    Parameters
    ----------
    pairs : one mapping per pair with ``time`` (of frame t), ``displacement`` (lengths of the
        retained atoms, A), ``n_retained``, ``n_removed``, ``n_added``.
    max_distance : the matching limit (A), drawn as a dashed line (no displacement exceeds it).

    Top: box plots (box 25-75 %, line median, whiskers 5-95 %, no outliers; white dot = mean) at
    each pair's time; above :data:`MAX_BOXES` pairs, bands of the 5-95 % and 25-75 % ranges and
    the median line. Bottom: atoms retained, removed (from frame t-1) and added (in frame t).
    Returns the per-pair percentiles.
    """
    font = fs.FONT
    times = np.array([float(p["time"]) for p in pairs])
    data = [np.asarray(p["displacement"], dtype=np.float64) for p in pairs]
    q = np.array([np.percentile(d, [5, 25, 50, 75, 95]) if d.size else [np.nan] * 5
                  for d in data]).reshape(len(pairs), 5)
    with fs.DRAW_LOCK:
        fig = _new_figure("displacements")
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        has = np.array([d.size > 0 for d in data])
        if len(pairs) <= MAX_BOXES:
            span = float(np.ptp(times)) if len(times) > 1 else 1.0
            gaps = np.diff(np.sort(times))
            width = 0.5 * float(gaps.min()) if gaps.size else 0.5
            width = width if width > 0 else 0.05 * span
            if has.any():
                ax.boxplot([d for d, h in zip(data, has, strict=True) if h], positions=times[has],
                           widths=width, whis=(5, 95), showfliers=False, manage_ticks=False,
                           patch_artist=True, showmeans=True,
                           boxprops={"facecolor": "tab:blue", "alpha": 0.5},
                           medianprops={"color": "k"},
                           meanprops={"marker": "o", "markerfacecolor": "white",
                                      "markeredgecolor": "k", "markersize": 5})
            ax.set_xlim(float(times.min()) - width, float(times.max()) + width)
        else:
            ax.fill_between(times, q[:, 0], q[:, 4], color="tab:blue", alpha=0.2, lw=0,
                            label="5–95 %")
            ax.fill_between(times, q[:, 1], q[:, 3], color="tab:blue", alpha=0.4, lw=0,
                            label="25–75 %")
            ax.plot(times, q[:, 2], color="k", lw=1.2, label="median")
        if max_distance is not None and math.isfinite(max_distance):
            ax.axhline(max_distance, color="firebrick", ls="--", lw=1.2,
                       label=f"matching limit {max_distance:.2f} Å")
        ax.set_ylim(0.0, max(float(np.nanmax(q[:, 4], initial=0.0)),
                             max_distance or 0.0) * 1.1 or 1.0)
        fs.style(ax, ylabel="displacement of retained atoms (Å)",
                      title=title or f"Displacements between consecutive frames "
                                     f"({len(pairs)} pairs)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=font["legend"], loc="upper left")
        for key, colour, marker, label in (
            ("n_retained", "tab:blue", "o", "retained"),
            ("n_removed", "tab:red", "v", "removed (from frame t-1)"),
            ("n_added", "tab:green", "^", "added (in frame t)"),
        ):
            ax2.plot(times, [p[key] for p in pairs], color=colour, marker=marker, lw=1.2,
                     label=label)
        ax2.set_ylim(bottom=0)
        fs.time_ticks(ax2.xaxis, times)  # shared with the displacements' axis
        fs.style(ax2, xlabel=fs.time_label(time_unit, "time of frame t"), ylabel="atoms")
        ax2.legend(fontsize=font["legend"], loc="best")
        fs.save_png(fig, out_png)
    return {"times": times, "percentiles": q}
