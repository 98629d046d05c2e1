"""Interactive 3D view of every frame of a series: one self-contained HTML page.

``results/{series}/viewer.html`` (:func:`build_viewer`, :func:`viewer_from_files`) shows the atoms
of one frame at a time as spheres (a plotly ``scatter3d`` trace, WebGL) and offers

- a slider over the frames in time order and a play/pause button; the camera (rotation, zoom) is
  kept when the frame changes (``uirevision``), and the axes are fixed for the whole series, so a
  shrinking particle is seen to shrink;
- a menu to colour the atoms by :data:`QUANTITIES` (``cn``, ``Q6``, ``Q4``, ``C6``,
  ``crystalline``, ``nn_distance``, ``structure_cna``, ``structure_boo``) and by
  :data:`OPTIONAL_QUANTITIES` (``new``, ``fate``) where the frames' ``atoms.csv`` have them.
  Continuous quantities use one colour range for the whole series (so colours compare between
  frames) and a colour bar with units; classes use fixed colours (OVITO's convention: fcc green,
  hcp red, bcc blue, ico yellow, other grey) and a discrete colour bar naming them;
- hover text with the atom's index (0-based row of ``atoms.csv``, as in ``bonds.csv``), its
  position and its values;
- the frame's time and summary numbers (atoms, diameter, fraction disordered) in the title; a
  rejected frame shows its reason and no atoms.

The page works offline: plotly.js is inlined (``include_plotlyjs=True``, about 4.7 MB), nothing is
loaded from the network and no server is needed. The atoms of every frame are stored once in the
page (coordinates rounded to 0.001 A as in PDB files, values to 3 decimals) and a short script
written here switches frames and colours with ``Plotly.react``. The output is deterministic: a
fixed ``div_id``, no timestamps, a deterministic subsample; two builds are byte-identical.

Large frames
------------
A frame with more than ``max_atoms`` atoms (:data:`MAX_ATOMS` = 20,000 by default) is drawn as a
deterministic random subsample of ``max_atoms`` atoms (a fixed seed; hover indices stay those of
``atoms.csv``) and its title says "showing m of n atoms". The per-frame limit is further lowered
to ``max_total_atoms // n_frames`` (:data:`MAX_TOTAL_ATOMS` = 1,000,000 drawn atoms per page) so a
long series of large frames stays a page a browser opens. Markers get smaller as the number of
drawn atoms grows (:func:`marker_size`). The page's data cost about 70-80 bytes per drawn atom
(measured on the demo series: see ``workflow/report/viewer.rst``); :func:`build_viewer` returns
and logs the size of each frame's data and of the whole page.

plotly is imported lazily (only by :func:`build_viewer`), so importing this module costs numpy.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
import time as _time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: Above this many atoms a frame is drawn as a deterministic subsample of this many atoms.
MAX_ATOMS = 20000

#: At most this many atoms are drawn in the whole page (the per-frame limit is lowered to
#: ``MAX_TOTAL_ATOMS // n_frames`` for long series of large frames).
MAX_TOTAL_ATOMS = 1_000_000

#: Seed of the subsample of large frames (fixed: the page is deterministic).
SUBSAMPLE_SEED = 20240601

#: Milliseconds per frame when playing.
PLAY_INTERVAL_MS = 700

CNA_NAMES = ("other", "fcc", "hcp", "bcc", "ico")
BOO_CLASSES = ("fcc", "hcp", "bcc", "ico", "disordered")

#: Colours of structure classes (OVITO's convention; "other"/"disordered" grey, not white).
STRUCTURE_COLOURS = {
    "fcc": "#3cb043",
    "hcp": "#e8413c",
    "bcc": "#3b6fe0",
    "ico": "#f2b705",
    "other": "#a0a0a0",
    "disordered": "#a0a0a0",
}

#: Colours of other categorical quantities, in order of their sorted values.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

#: Colour scale of continuous quantities (as in the static figures).
COLORSCALE = "Viridis"


def _q(key, label, unit, kind="continuous", *, digits=3, categories=None, colours=None):
    return {"key": key, "label": label, "unit": unit, "kind": kind, "digits": digits,
            "categories": categories, "colours": colours}


#: Quantities of the colour menu, in menu order: key (atoms.csv column), menu label, unit / note
#: shown on the colour bar, kind, and for classes the categories and their colours.
QUANTITIES = (
    _q("cn", "CN (bonds)", "bonds per atom", digits=0),
    _q("Q6", "Q6", "dimensionless"),
    _q("Q4", "Q4", "dimensionless"),
    _q("C6", "C6 (crystallinity)", "dimensionless"),
    _q("crystalline", "crystalline", "class", "categorical",
       categories=("0", "1"), colours=("#e8413c", "#9db4d6")),
    _q("nn_distance", "NN distance", "Å"),
    _q("structure_cna", "structure (CNA)", "class", "categorical", categories=CNA_NAMES,
       colours=tuple(STRUCTURE_COLOURS[c] for c in CNA_NAMES)),
    _q("structure_boo", "structure (BOO)", "class", "categorical", categories=BOO_CLASSES,
       colours=tuple(STRUCTURE_COLOURS[c] for c in BOO_CLASSES)),
)

#: Columns coloured by when the frames' atoms.csv have them (later features: atom fates).
#: Categorical when the values are not numbers or take at most :data:`MAX_CATEGORIES` values.
OPTIONAL_QUANTITIES = (("new", "new atom"), ("fate", "fate"))
MAX_CATEGORIES = 10

#: Names shown for the classes of ``crystalline``.
CRYSTALLINE_NAMES = {"0": "not crystalline", "1": "crystalline"}

#: Quantity coloured by when the page opens.
DEFAULT_QUANTITY = "cn"


# ----------------------------------------------------------------------------------------------
# data


def marker_size(n_drawn: int) -> int:
    """Marker diameter (px) for a frame of ``n_drawn`` atoms: ~the spacing of atoms on screen.

    ``round(90 / n^(1/3))`` clipped to 2..12 px: 12 px for a few hundred atoms, 3 px at 20,000.
    """
    if n_drawn <= 0:
        return 8
    return int(min(12, max(2, round(90.0 / n_drawn ** (1.0 / 3.0)))))


def subsample(n: int, limit: int, seed: int = SUBSAMPLE_SEED) -> np.ndarray:
    """Indices (sorted) of the atoms drawn for a frame of ``n`` atoms: all of them up to
    ``limit``, else a deterministic random subset of ``limit`` (fixed ``seed``)."""
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _atom_lines(path) -> tuple[list[str], list[str]]:
    """The header of an ``atoms.csv`` and its data lines, not yet split into fields (the
    tables nanotraj writes hold one record per line)."""
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    header = next(csv.reader(lines[:1]), [])
    return header, lines[1:]


def _columns(header, lines) -> dict[str, list[str]]:
    """The columns (lists of strings) of CSV ``lines`` under ``header``."""
    rows = list(csv.reader(lines))
    cols = {h: [] for h in header}
    for h, values in zip(header, zip(*rows, strict=True) if rows else [() for _ in header],
                         strict=True):
        cols[h] = list(values)
    return cols


def _float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _round(value: float, digits: int):
    """A JSON-friendly rounded number (None for NaN/inf)."""
    if not math.isfinite(value):
        return None
    if digits <= 0:
        return int(round(value))
    r = round(value, digits)
    return 0.0 if r == 0 else r


def _rounded(texts: Sequence[str], digits: int) -> list:
    """``[_round(_float(t), digits) for t in texts]``, parsing the column in one numpy call."""
    try:
        values = np.array(texts, dtype=np.float64).tolist()
    except ValueError:  # an empty or malformed cell: parse one by one (it becomes NaN)
        values = [_float(t) for t in texts]
    isfinite = math.isfinite
    if digits <= 0:
        return [int(round(v)) if isfinite(v) else None for v in values]
    return [(round(v, digits) or 0.0) if isfinite(v) else None for v in values]  # -0.0 -> 0.0


def _is_number(text: str) -> bool:
    return math.isfinite(_float(text)) or text.strip().lower() == "nan"


def _optional_quantities(tables: Sequence[Mapping[str, list[str]]]) -> list[dict]:
    """Quantity entries for the optional columns present in at least one frame."""
    out = []
    for key, label in OPTIONAL_QUANTITIES:
        values = [v for t in tables for v in t.get(key, [])]
        if not any(key in t for t in tables):
            continue
        present = sorted({v for v in values if v != ""})
        numeric = all(_is_number(v) for v in present)
        if numeric and len(present) > MAX_CATEGORIES:
            out.append(_q(key, label, "value"))
            continue
        if numeric:
            present = sorted(present, key=_float)
        colours = tuple(PALETTE[i % len(PALETTE)] for i in range(len(present)))
        out.append(_q(key, label, "class", "categorical", categories=tuple(present),
                      colours=colours))
    return out


def _display(q: Mapping, text: str):
    """The value of quantity ``q`` shown in hover text and stored in the page."""
    if q["key"] == "structure_cna":
        try:
            return CNA_NAMES[int(float(text))]
        except (ValueError, IndexError):
            return text
    if q["kind"] == "categorical":
        return CRYSTALLINE_NAMES.get(text, text) if q["key"] == "crystalline" else text
    return _round(_float(text), q["digits"])


def _category_names(q: Mapping) -> list[str]:
    if q["key"] == "crystalline":
        return [CRYSTALLINE_NAMES[c] for c in q["categories"]]
    return list(q["categories"])


def _marker_spec(q: Mapping, values: Sequence[float]) -> dict:
    """Colour scale, range and colour bar of quantity ``q`` (``values``: all drawn values)."""
    title = f"{q['label']}<br>({q['unit']})" if q["unit"] != "class" else q["label"]
    bar = {"title": {"text": title}, "len": 0.75, "thickness": 18, "x": 1.0}
    if q["kind"] == "categorical":
        names = _category_names(q)
        k = max(len(names), 1)
        scale = []
        for i, colour in enumerate(q["colours"] or ("#a0a0a0",)):
            scale += [[i / k, colour], [(i + 1) / k, colour]]
        bar.update(tickmode="array", tickvals=list(range(len(names))), ticktext=names)
        return {"colorscale": scale, "cmin": -0.5, "cmax": k - 0.5, "colorbar": bar,
                "map": {n: i for i, n in enumerate(names)}}
    finite = [v for v in values if v is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    if q["digits"] == 0:
        bar.update(tickformat="d")
    return {"colorscale": COLORSCALE, "cmin": lo, "cmax": hi, "colorbar": bar, "map": None}


def _fmt(value, fmt: str, missing: str = "n/a") -> str:
    v = _float(value)
    return format(v, fmt) if math.isfinite(v) else missing


def frame_title(series, frame, time, time_unit, summary: Mapping | None, *, n_drawn=None) -> str:
    """Title of a frame: series, frame, time; atoms, diameter, fraction disordered; subsample."""
    s = summary or {}
    head = (f"<b>{html.escape(str(series))}</b> · frame {html.escape(str(frame))} · "
            f"t = {float(time):g} {html.escape(str(time_unit))}")
    status = str(s.get("status", "ok") or "ok")
    if status != "ok":
        return f"{head}<br><span style='color:#b22222'>{html.escape(status)}</span>"
    n_atoms = s.get("n_atoms", "")
    line = (f"{html.escape(str(n_atoms))} atoms · diameter {_fmt(s.get('diameter'), '.2f')} Å · "
            f"fraction disordered {_fmt(s.get('fraction_disordered'), '.3f')}")
    n = int(_float(n_atoms)) if math.isfinite(_float(n_atoms)) else None
    if n_drawn is not None and n is not None and n_drawn < n:
        line += f" · <i>showing {n_drawn} of {n} atoms (subsample)</i>"
    return f"{head}<br>{line}"


def _hovertemplate(quantities: Sequence[Mapping]) -> str:
    lines = ["<b>atom %{customdata[0]}</b>", "x %{x}, y %{y}, z %{z} Å"]
    for i, q in enumerate(quantities, start=1):
        unit = " Å" if q["unit"] == "Å" else ""
        lines.append(f"{q['key']}: %{{customdata[{i}]}}{unit}")
    return "<br>".join(lines) + "<extra></extra>"


# ----------------------------------------------------------------------------------------------
# page


_SCRIPT = r"""
var gd = document.getElementById('{plot_id}');
var NT = __NT_DATA__;
var base = JSON.parse(JSON.stringify(gd.layout));
var state = {k: 0, q: NT.defaultQuantity, timer: null};
function colours(fr, Q) {
  var out = new Array(fr.cd.length), c = Q.col;
  for (var i = 0; i < fr.cd.length; i++) {
    var v = fr.cd[i][c];
    if (Q.map) { v = Q.map[String(v)]; out[i] = (v === undefined) ? null : v; }
    else { out[i] = (typeof v === 'number') ? v : null; }
  }
  return out;
}
function render() {
  var fr = NT.frames[state.k], Q = NT.quantities[state.q];
  var trace = {
    type: 'scatter3d', mode: 'markers', name: fr.name,
    x: fr.x, y: fr.y, z: fr.z, customdata: fr.cd,
    hovertemplate: NT.hovertemplate,
    marker: {size: NT.markerSize, opacity: 1, color: colours(fr, Q), colorscale: Q.colorscale,
             cmin: Q.cmin, cmax: Q.cmax, showscale: true, colorbar: Q.colorbar,
             line: {width: 0}}
  };
  var layout = JSON.parse(JSON.stringify(base));
  layout.title.text = fr.title;
  layout.sliders[0].active = state.k;
  layout.updatemenus[0].active = state.q;
  return Plotly.react(gd, [trace], layout);
}
function show(k) {
  k = Math.max(0, Math.min(NT.frames.length - 1, k));
  state.k = k;
  return render();
}
function colourBy(q) {
  state.q = (typeof q === 'number') ? q : NT.keys.indexOf(q);
  return render();
}
function pause() { if (state.timer) { clearTimeout(state.timer); state.timer = null; } }
function play() {
  pause();
  if (state.k >= NT.frames.length - 1) { state.k = -1; }
  function step() {
    state.timer = null;
    show(state.k + 1).then(function () {
      if (state.k < NT.frames.length - 1) { state.timer = setTimeout(step, NT.interval); }
    });
  }
  step();
}
gd.on('plotly_sliderchange', function (ev) {
  var k = parseInt(ev.step.value, 10);
  if (ev.interaction) { pause(); }
  if (k !== state.k) { show(k); }
});
gd.on('plotly_buttonclicked', function (ev) {
  var what = ev.button.args[0];
  if (what === 'play') { play(); }
  else if (what === 'pause') { pause(); }
  else { colourBy(what); }
});
window.nanotrajViewer = {show: show, colourBy: colourBy, play: play, pause: pause,
                         state: state, data: NT};
return render();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 0.4em 1em; color: #222; }}
p.note {{ font-size: 13px; max-width: 75em; margin: 0.3em 0; }}
</style>
</head>
<body>
{plot}
<p class="note" id="nanotraj-viewer-note">{note}</p>
</body>
</html>
"""


def _div_id(series: str) -> str:
    return "nanotraj-viewer-" + (re.sub(r"[^A-Za-z0-9_-]", "_", str(series)) or "series")


def _js_json(obj) -> str:
    """JSON for inclusion in a <script>: no NaN, no '</' (cannot close the script element)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def build_viewer(series: str, frames: Sequence[tuple], out_html, *, time_unit: str = "s",
                 max_atoms: int = MAX_ATOMS, max_total_atoms: int = MAX_TOTAL_ATOMS,
                 log=None) -> dict:
    """Write the interactive 3D page of a series to ``out_html`` (atomically).

    Parameters
    ----------
    series : name of the series (title, page name).
    frames : ``(frame, time, atoms_csv, summary_row)`` per frame; drawn in time order.
        ``summary_row`` is the frame's summary (a mapping with at least ``n_atoms``, ``diameter``,
        ``fraction_disordered``, ``status``; ``None`` for none). A rejected frame (``status`` not
        ``ok``, or an empty ``atoms.csv``) is kept on the slider with its reason and no atoms.
    time_unit : unit of ``time`` (title, slider).
    max_atoms, max_total_atoms : drawing limits (see the module's *Large frames*).
    log : a callable taking a line of text (e.g. the job log), or ``None``.

    Returns
    -------
    dict: ``bytes_total`` (page), ``bytes_plotlyjs`` (inlined plotly.js), ``bytes_per_frame``
    (frame -> bytes of its data in the page), ``bytes_per_atom`` (data / drawn atoms), ``drawn``
    (frame -> atoms drawn), ``n_atoms`` (frame -> atoms in atoms.csv), ``subsampled`` (frames
    drawn as a subsample), ``limit`` (atoms drawn at most per frame), ``marker_size`` (px),
    ``quantities`` (colour menu keys), ``seconds``.
    """
    t0 = _time.perf_counter()
    say = log or (lambda _msg: None)
    frames = sorted(frames, key=lambda f: float(f[1]))
    if not frames:
        raise ValueError(f"series {series!r}: no frames to view")
    limit = int(max(1, min(max_atoms, max_total_atoms // len(frames))))
    # only the drawn rows of each table are split into fields (a 1e6-atom atoms.csv would be
    # 25 million strings); the classes of optional columns are those of the drawn atoms
    tables, counts, drawn = [], [], []
    for _frame, _t, path, summary in frames:
        header, lines = _atom_lines(path)
        n = len(lines) if "x" in header else 0
        if dict(summary or {}).get("status", "ok") not in ("", "ok"):
            n = 0  # a rejected frame: no atoms, whatever its table holds
        idx = subsample(n, limit)
        tables.append(_columns(header, [lines[i] for i in idx]))
        counts.append(n)
        drawn.append(idx)
        del lines
    quantities = [dict(q) for q in QUANTITIES] + _optional_quantities(tables)
    keys = [q["key"] for q in quantities]

    page_frames, info_drawn, info_n, subsampled = [], {}, {}, []
    values_of = {k: [] for k in keys}
    for (name, time, _path, summary), table, n, idx in zip(frames, tables, counts, drawn,
                                                            strict=True):
        summary = dict(summary or {})
        info_n[name], info_drawn[name] = n, len(idx)
        if len(idx) < n:
            subsampled.append(name)
        xyz = [_rounded(table[c], 3) for c in ("x", "y", "z")]
        cols = []
        for q in quantities:
            col = table.get(q["key"])
            if col is None:
                vals = [None] * len(idx)
            elif q["kind"] == "categorical" or q["key"] == "structure_cna":
                vals = [_display(q, v) for v in col]
            else:
                vals = _rounded(col, q["digits"])
            cols.append(vals)
            if q["kind"] != "categorical":
                values_of[q["key"]] += vals
        # hover shows "n/a" for a missing value (e.g. nn_distance of an atom without bonds); the
        # page's script colours it dark grey (no value on the colour scale)
        cd = [[int(i), *("n/a" if v is None else v for v in row)]
              for i, row in zip(idx.tolist(), zip(*cols, strict=True), strict=True)]
        page_frames.append({
            "name": str(name), "time": float(time),
            "title": frame_title(series, name, time, time_unit, summary, n_drawn=len(idx)),
            "x": xyz[0], "y": xyz[1], "z": xyz[2], "cd": cd,
        })

    size = marker_size(max(info_drawn.values()))
    qspecs = []
    for i, q in enumerate(quantities, start=1):
        spec = _marker_spec(q, values_of[q["key"]])
        qspecs.append({"key": q["key"], "col": i, **spec})

    # Fixed cubic axes around every frame's atoms (the camera and scale stay put over time).
    centre, half = [0.0, 0.0, 0.0], 1.0
    for j, c in enumerate(("x", "y", "z")):
        vals = [v for f in page_frames for v in f[c] if v is not None]
        if vals:
            centre[j] = 0.5 * (min(vals) + max(vals))
            half = max(half, 0.5 * (max(vals) - min(vals)))
    half = round(half * 1.05 + 1.5, 2)  # room for the markers at the edges

    default = keys.index(DEFAULT_QUANTITY)
    layout = _layout(series, page_frames, quantities, default, centre, half, time_unit)

    frame_bytes = {f["name"]: len(_js_json(f).encode("utf-8")) for f in page_frames}
    n_drawn_total = sum(info_drawn.values())
    data_bytes = sum(frame_bytes.values())
    per_atom = data_bytes / n_drawn_total if n_drawn_total else float("nan")
    nt = {"frames": page_frames, "quantities": qspecs, "keys": keys, "defaultQuantity": default,
          "markerSize": size, "interval": PLAY_INTERVAL_MS,
          "hovertemplate": _hovertemplate(quantities)}

    import plotly
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    layout = go.Layout(layout).to_plotly_json()  # validated by plotly
    trace = {"type": "scatter3d", "mode": "markers", "x": [], "y": [], "z": [],
             "marker": {"size": size}}
    script = _SCRIPT.replace("__NT_DATA__", _js_json(nt))
    div = pio.to_html({"data": [trace], "layout": layout}, config=_config(series),
                      include_plotlyjs=True, full_html=False, div_id=_div_id(series),
                      post_script=script, auto_play=False, validate=False,
                      default_width="100%", default_height="86vh")
    js_bytes = len(get_plotlyjs().encode("utf-8"))

    def page(total_bytes):
        note = _note(series, page_frames, limit, subsampled, size, data_bytes, per_atom,
                     js_bytes, total_bytes, plotly.__version__)
        return _PAGE.format(title=html.escape(f"nanotraj · {series} · 3D view of every frame"),
                            plot=div, note=note)

    text = page(0)
    for _ in range(3):  # the note states the page's own size: settle it
        total = len(text.encode("utf-8"))
        text = page(total)
    from .tables import write_text

    write_text(out_html, text)
    total = Path(out_html).stat().st_size
    for f in page_frames:
        say(f"frame {f['name']}: {info_n[f['name']]} atoms, {len(f['x'])} drawn, "
            f"{frame_bytes[f['name']] / 1024:.1f} KiB of data")
    say(f"{len(page_frames)} frames, {n_drawn_total} atoms drawn (at most {limit} per frame; "
        f"{len(subsampled)} subsampled), marker {size} px, {per_atom:.1f} bytes per atom")
    say(f"page {total / 1e6:.2f} MB: plotly.js {js_bytes / 1e6:.2f} MB, "
        f"data {data_bytes / 1e6:.3f} MB ({data_bytes / len(page_frames) / 1024:.1f} KiB "
        f"per frame on average); colour menu: {', '.join(keys)}")
    return {"bytes_total": total, "bytes_plotlyjs": js_bytes, "bytes_per_frame": frame_bytes,
            "bytes_per_atom": per_atom, "drawn": info_drawn, "n_atoms": info_n,
            "subsampled": subsampled, "limit": limit, "marker_size": size, "quantities": keys,
            "seconds": _time.perf_counter() - t0}


def _config(series) -> dict:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(series))
    return {"displaylogo": False, "responsive": True, "scrollZoom": True,
            "toImageButtonOptions": {"format": "png", "filename": f"nanotraj_{name}_3d",
                                     "scale": 2}}


def _layout(series, page_frames, quantities, default, centre, half, time_unit) -> dict:
    axes = {}
    for j, c in enumerate(("x", "y", "z")):
        axes[f"{c}axis"] = {
            "title": {"text": f"{c} (Å)"},
            "range": [round(centre[j] - half, 2), round(centre[j] + half, 2)],
            "autorange": False, "backgroundcolor": "#f4f4f4", "showbackground": True,
        }
    steps = [{"label": f"{f['time']:g}", "value": str(k), "method": "skip", "args": [k]}
             for k, f in enumerate(page_frames)]
    colour_buttons = [{"label": q["label"], "method": "skip", "args": [q["key"]]}
                      for q in quantities]
    return {
        "title": {"text": page_frames[0]["title"], "x": 0.01, "xanchor": "left",
                  "font": {"size": 15}},
        "uirevision": f"nanotraj-{series}",
        "scene": {**axes, "aspectmode": "cube", "uirevision": "camera",
                  "camera": {"eye": {"x": 1.5, "y": 1.5, "z": 1.1}}},
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
        "paper_bgcolor": "white",
        "showlegend": False,
        "hoverlabel": {"align": "left"},
        "updatemenus": [
            {"name": "colour", "type": "dropdown", "direction": "down", "active": default,
             "buttons": colour_buttons, "x": 0.01, "xanchor": "left", "y": 0.9,
             "yanchor": "top", "showactive": True, "pad": {"t": 0, "r": 0}},
            {"name": "play", "type": "buttons", "direction": "left", "showactive": False,
             "buttons": [{"label": "▶ play", "method": "skip", "args": ["play"]},
                         {"label": "❚❚ pause", "method": "skip", "args": ["pause"]}],
             "x": 0.01, "xanchor": "left", "y": 0.02, "yanchor": "bottom",
             "pad": {"t": 0, "r": 10}},
        ],
        "annotations": [{"text": "colour by", "showarrow": False, "x": 0.01, "xanchor": "left",
                         "y": 0.93, "yanchor": "bottom", "xref": "paper", "yref": "paper",
                         "font": {"size": 12}}],
        "sliders": [{"active": 0, "steps": steps, "x": 0.2, "len": 0.78, "xanchor": "left",
                     "y": 0.02, "yanchor": "bottom", "pad": {"t": 10, "b": 0},
                     "currentvalue": {"prefix": f"time ({time_unit}): ", "visible": True,
                                      "xanchor": "left"},
                     "transition": {"duration": 0}}],
    }


def _note(series, page_frames, limit, subsampled, size, data_bytes, per_atom, js_bytes, total,
          version) -> str:
    n = len(page_frames)
    parts = [
        f"<b>{html.escape(str(series))}</b>: {n} frame{'s' if n != 1 else ''} in time order. "
        "Drag to rotate, scroll to zoom, hover over an atom for its index (0-based row of "
        "the frame's <code>atoms.csv</code>) and values; the slider and ▶ play change the frame "
        "and keep the view. Continuous colours use one range for the whole series; classes "
        "use fixed colours (fcc green, hcp red, bcc blue, ico yellow, other/disordered grey).",
        f"Frames with more than {limit:,} atoms are drawn as a fixed random subsample of "
        f"{limit:,} atoms (their title says so); markers are {size} px."
        + (f" Subsampled here: {len(subsampled)} frame(s)." if subsampled
           else " No frame is subsampled here."),
        f"Page {total / 1e6:.2f} MB, of which plotly.js {version} {js_bytes / 1e6:.2f} MB and "
        f"the atoms {data_bytes / 1e3:.1f} kB ({data_bytes / n / 1e3:.1f} kB per frame, "
        f"{per_atom:.0f} bytes per atom drawn). Works offline: nothing is loaded from the "
        "network." if math.isfinite(per_atom) else
        f"Page {total / 1e6:.2f} MB, of which plotly.js {version} {js_bytes / 1e6:.2f} MB.",
    ]
    return "<br>".join(parts)
