"""The figures' shared style and matplotlib plumbing (every PNG of nanotraj goes through here).

- Only the object API: :class:`matplotlib.figure.Figure` with a
  :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` canvas. ``pyplot`` is never imported
  (no global figure manager, no GUI backend): plot jobs run as threads inside the Snakemake
  process (``--force-use-threads``). Drawing is serialised by :data:`DRAW_LOCK`, since
  matplotlib does not promise thread safety.
- matplotlib is imported inside the functions (~0.7 s); importing this module costs nothing.
  No global ``rcParams`` are changed: font sizes are passed explicitly (:data:`FONT`).
- Fixed size and dpi (no ``bbox_inches="tight"``), so every image of a kind has the same pixel
  size; PNG metadata are emptied (no ``Software`` version, no timestamp) so two runs write
  byte-identical files (:func:`save_png`, atomic).
"""

from __future__ import annotations

import threading

__all__ = ["DPI", "FONT", "CMAP", "DRAW_LOCK", "new_figure", "save_png", "style", "cmap",
           "padded", "plain", "Lines"]

#: Resolution of every figure (dots per inch).
DPI = 100

#: Font sizes (points). At 100 dpi a 10 pt label is 14 px high: legible at 100 % zoom.
FONT = {"title": 13, "label": 12, "tick": 10, "legend": 10, "note": 10}

#: Colour map of distances from the centre and of time.
CMAP = "viridis"

#: Held while a figure is drawn and saved.
DRAW_LOCK = threading.RLock()


def new_figure(size: tuple[float, float]):
    """A new Figure of ``size`` (width, height) inches with an Agg canvas and constrained
    layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, out_png) -> None:
    """Write ``fig`` to ``out_png`` (PNG, fixed dpi, no metadata) atomically."""
    from nanotraj.tables import atomic_path

    with atomic_path(out_png) as tmp:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")


class Lines:
    """Many lines of one axes, as ``ax.plot(x, y, **props)`` would draw them one by one, made
    faster: the first through ``ax.plot`` (which also asks for the axes' autoscaling), the others
    as :class:`matplotlib.lines.Line2D` added with ``ax.add_line``, without ``plot``'s parsing
    of its arguments (a series of 1,000 frames draws 2,000 lines of g(r)). ``props`` are
    Line2D's keywords (``color``, ``lw``, ``ls``, ``marker``, ``ms``, ``mew``, ...; no format
    string); the lines keep their order, so the image is the same as with ``ax.plot``."""

    def __init__(self, ax):
        self.ax = ax
        self.first = True

    def add(self, x, y, **props) -> None:
        import numpy as np

        if self.first:
            self.ax.plot(x, y, **props)
            self.first = False
            return
        from matplotlib.lines import Line2D

        self.ax.add_line(Line2D(np.atleast_1d(np.asarray(x)), np.atleast_1d(np.asarray(y)),
                                **props))


def placeholder(out_png, message: str, size: tuple[float, float]) -> None:
    """A figure of ``size`` inches that only states ``message`` (in red, centred): the figure of
    a series without accepted frames, so that every figure the rules promise exists."""
    with DRAW_LOCK:
        fig = new_figure(size)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT["title"] + 2,
                color="firebrick", transform=ax.transAxes, wrap=True)
        save_png(fig, out_png)


def style(ax, *, xlabel=None, ylabel=None, title=None) -> None:
    """Axis labels, title and tick labels in the sizes of :data:`FONT`."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT["label"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT["label"])
    if title is not None:
        ax.set_title(title, fontsize=FONT["title"])
    ax.tick_params(labelsize=FONT["tick"])


def cmap():
    """The colour map :data:`CMAP`."""
    from matplotlib import colormaps

    return colormaps[CMAP]


def padded(lo: float, hi: float, frac: float = 0.06, min_span: float = 1e-3):
    """Axis limits around [lo, hi] with a margin of ``frac`` of the span (at least ``min_span``)."""
    span = max(hi - lo, min_span)
    return lo - frac * span, hi + frac * span


def plain(text: str) -> str:
    """User text (a time unit, a name) as literal figure text: a ``$`` would start matplotlib's
    mathtext and a bad expression fails the whole figure."""
    return str(text).replace("$", r"\$")


def time_label(time_unit: str, what: str = "time") -> str:
    """Axis label of a time axis, ``time (<unit>)`` (the unit as literal text)."""
    return f"{what} ({plain(time_unit)})" if time_unit else what


def time_ticks(axis, times) -> None:
    """Ticks of a time ``axis`` (a matplotlib XAxis/YAxis, e.g. ``ax.xaxis`` or a colour bar's
    ``cb.ax.yaxis``) only at whole numbers when every frame's time is one: stages 1-4 read
    1, 2, 3, 4, not 1.5, 2.5. Other times keep matplotlib's ticks."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    t = np.asarray(times, dtype=np.float64)
    t = t[np.isfinite(t)]
    if t.size and np.all(t == np.round(t)):
        axis.set_major_locator(MaxNLocator(integer=True))
