"""The one-page summary figure of a single snapshot (a series of one frame), ``snapshot.png``.

A series of one frame -- the usual atomic-electron-tomography case -- has nothing to plot
against time: instead of eight one-dot time panels, a g(r) and two empty tracking figures, it
gets one page (:func:`plot_snapshot`):

* g(r) with the bond cutoff;
* the coordination-number histogram, surface and interior atoms stacked;
* the structure fractions by the four classifiers side by side (CNA, adaptive CNA, PTM and the
  BOO classes; the BOO classes' ``disordered`` is drawn as ``other``);
* the frame's numbers: atoms, diameters, cutoff, bonds, mean CN and Q6, surface fraction, the
  noise estimate and its warning.

Drawing rules: :mod:`nanotraj.figstyle` (object API, fixed size, byte-identical PNGs).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np

from nanotraj import figstyle as fs
from nanotraj.figstyle import DRAW_LOCK, FONT, save_png
from nanotraj.summary import as_float

__all__ = ["SIZE", "CLASSIFIERS", "STRUCTURES", "plot_snapshot"]

#: Size (width, height) in inches.
SIZE = (15.0, 9.0)

#: The classifiers of the structure panel: (summary column suffix, name).
CLASSIFIERS = (("", "CNA"), ("_acna", "adaptive CNA"), ("_ptm", "PTM"), ("_boo", "BOO classes"))
#: Structures of the panel, in order, with their colours (those of the other figures).
STRUCTURES = {"fcc": "#1f77b4", "hcp": "#ff7f0e", "bcc": "#2ca02c", "ico": "#d62728",
              "sc": "#9467bd", "other": "#7f7f7f"}

#: The numbers of the table: (summary column, label, format).
NUMBERS = (
    ("n_atoms", "atoms", "{:.0f}"),
    ("diameter", "diameter, convex hull (Å)", "{:.2f}"),
    ("diameter_sv", "diameter, 6V/A of the alpha shape (Å)", "{:.2f}"),
    ("cutoff", "bond cutoff (Å)", "{:.3f}"),
    ("n_bonds", "bonds", "{:.0f}"),
    ("cn_mean", "mean CN (bonds)", "{:.2f}"),
    ("nn_distance_mean", "mean NN distance (Å)", "{:.3f}"),
    ("Q6_mean", "mean Q6", "{:.3f}"),
    ("fraction_surface", "surface atoms (fraction)", "{:.3f}"),
    ("fraction_disordered", "not crystalline (fraction)", "{:.3f}"),
    ("sigma_estimate", "noise estimate σ (Å)", "{:.3f}"),
)


def _fractions(row: Mapping[str, str], suffix: str) -> dict[str, float]:
    out = {}
    for struct in STRUCTURES:
        name = "disordered" if (suffix == "_boo" and struct == "other") else struct
        out[struct] = as_float(row.get(f"fraction_{name}{suffix}"))
    return out


def plot_snapshot(row: Mapping[str, str], r, g, cn, surface, out_png, *, time_unit: str = "s",
                  title: str | None = None) -> dict:
    """Draw ``snapshot.png``: the one-page summary of a frame.

    Parameters
    ----------
    row : the frame's summary row (``summary.csv``, strings): cutoff, fractions, numbers.
    r, g : (M,) g(r) of the frame (Angstrom; :mod:`nanotraj.rdf`).
    cn : (N,) bonds per atom; surface : (N,) 0/1 surface flag (alpha shape), or None.
    time_unit : the time's unit, in the title.

    Returns a dict of what was drawn: ``classifiers`` (name -> structure -> fraction, NaN where
    the summary has no value), ``cn_counts`` ((core, surface) counts per CN 0..max),
    ``numbers`` (label -> text).
    """
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    cn = np.asarray(cn, dtype=np.int64)
    surf = (np.zeros(len(cn), bool) if surface is None
            else np.asarray(surface, dtype=np.float64) > 0.5)
    cutoff = as_float(row.get("cutoff"))
    info = {"classifiers": {}, "numbers": {}}
    with DRAW_LOCK:
        fig = fs.new_figure(SIZE)
        grid = fig.add_gridspec(2, 2)
        # g(r)
        ax = fig.add_subplot(grid[0, 0])
        ax.plot(r, g, color="tab:blue", lw=1.5, label="g(r)")
        if math.isfinite(cutoff):
            ax.axvline(cutoff, color="firebrick", ls="--", lw=1.2,
                       label=f"bond cutoff = {cutoff:.2f} Å")
        ax.axhline(1.0, color="0.4", ls=":", lw=0.9)
        nz = np.flatnonzero(g > 0)
        if nz.size:
            ax.set_xlim(max(0.0, float(r[nz[0]]) - 0.5), float(r[nz[-1]]) * 1.02 + 0.1)
        ax.set_ylim(0.0, float(np.nanmax(g, initial=1.0)) * 1.08 or 1.0)
        ax.legend(fontsize=FONT["legend"], loc="upper right")
        fs.style(ax, xlabel="r (Å)", ylabel="g(r)", title="Radial distribution function")
        # CN histogram
        ax = fig.add_subplot(grid[0, 1])
        top = int(cn.max(initial=0))
        core_counts = np.bincount(cn[~surf], minlength=top + 1)
        surf_counts = np.bincount(cn[surf], minlength=top + 1)
        k = np.arange(top + 1)
        ax.bar(k, core_counts, color="tab:blue", label="interior")
        ax.bar(k, surf_counts, bottom=core_counts, color="tab:orange", label="surface")
        ax.set_xticks(k[:: max(1, (top + 1) // 16)])
        ax.set_ylim(0.0, 1.12 * max(1, int((core_counts + surf_counts).max(initial=1))))
        ax.legend(fontsize=FONT["legend"], loc="upper left")
        fs.style(ax, xlabel="coordination number (bonds)", ylabel="atoms",
                 title="Coordination numbers")
        info["cn_counts"] = (core_counts, surf_counts)
        # structure fractions
        ax = fig.add_subplot(grid[1, 0])
        width = 0.8 / len(STRUCTURES)
        for j, (suffix, name) in enumerate(CLASSIFIERS):
            fr = _fractions(row, suffix)
            info["classifiers"][name] = fr
            for i, (struct, colour) in enumerate(STRUCTURES.items()):
                v = fr[struct]
                if math.isfinite(v):
                    ax.bar(j - 0.4 + (i + 0.5) * width, v, width, color=colour,
                           label=struct if j == 0 else None)
        ax.set_xticks(range(len(CLASSIFIERS)), [name for _, name in CLASSIFIERS])
        ax.set_ylim(0.0, 1.05)
        ax.legend(fontsize=FONT["legend"], ncol=3, loc="upper right",
                  title="BOO classes: other = disordered", title_fontsize=FONT["legend"] - 1)
        fs.style(ax, ylabel="fraction of atoms", title="Local structure, four classifiers")
        # numbers
        ax = fig.add_subplot(grid[1, 1])
        ax.set_axis_off()
        lines = []
        for col, label, fmt in NUMBERS:
            v = as_float(row.get(col))
            text = fmt.format(v) if math.isfinite(v) else "–"
            info["numbers"][label] = text
            lines.append((label, text))
        y = 0.97
        for label, text in lines:
            ax.text(0.02, y, label, fontsize=FONT["label"], va="top", transform=ax.transAxes)
            ax.text(0.98, y, text, fontsize=FONT["label"], va="top", ha="right",
                    transform=ax.transAxes, family="monospace")
            y -= 0.075
        warning = str(row.get("noise_warning", "") or "").strip()
        if warning:
            ax.text(0.02, y - 0.02, "\n".join(textwrap.wrap(warning, 70)), fontsize=FONT["note"],
                    va="top", color="firebrick", transform=ax.transAxes)
        ax.set_title("The frame's numbers", fontsize=FONT["title"])
        t = as_float(row.get("time"))
        when = f", t = {t:g} {fs.plain(time_unit)}" if math.isfinite(t) else ""
        fig.suptitle(title or f"{row.get('series', '')} / {row.get('frame', '')}{when}",
                     fontsize=FONT["title"] + 1)
        save_png(fig, out_png)
    return info
