"""Interactive 3D view of every frame of a series: one self-contained HTML page.

``results/{series}/viewer.html`` (:func:`build_viewer`; the workflow's stage is
:func:`nanotraj.stages.figures.build_viewer`) shows the atoms of one frame at a time as spheres (a
plotly ``scatter3d`` scene, WebGL) and offers

- a slider over the frames in time order and a play/pause button, below the scene (nothing is
  drawn over the scene: title above, colour bar or legend to the right); the camera (rotation,
  zoom) is kept when the frame, the colour or the cut changes, and the axes are fixed for the
  whole series, so a shrinking particle is seen to shrink;
- a menu (``colour by``) of every per-atom column of the frames' ``atoms.csv``, discovered from
  their headers (a new column appears by itself), plus the atoms' fate when fate files are given:

  * *classes* (categorical; one legend entry per class with its count, a click on an entry hides
    that class): ``element`` (:func:`element_colours`), every ``structure_*`` column (conventional
    CNA ``structure_cna``, adaptive CNA ``structure_acna``, PTM ``structure_ptm``: codes
    :data:`STRUCTURE_NAMES`; BOO ``structure_boo``: names), ``crystalline``, ``surface``,
    ``new``, ``fate`` (:data:`FATE_NAMES`) and any text column of at most
    :data:`MAX_CATEGORIES` values. A structure has the same colour whatever the classifier
    (:data:`STRUCTURE_COLOURS`: OVITO's hues, fcc green, hcp red, bcc blue, ico yellow, sc
    purple, other/disordered grey);
  * *values* (continuous): every other numeric column, on one colour scale for the whole series
    (so colours compare between frames) with a colour bar naming the unit (:data:`COLUMN_INFO`;
    a column not listed there is shown under its own name);
- a cut: a slab (``|s - p| <= t/2``) or a clipping plane (keep ``s <= p`` or ``s >= p``), where
  ``s`` is the coordinate along x, y, z or along the view direction (``s = n . (r - c)``, ``n``
  the unit vector from the scene's centre ``c`` towards the camera; the plane follows the camera
  when the view turns), ``p`` the position slider (Å) and ``t`` the thickness slider (Å). It is
  computed in the page, on the data already there, and stays with the frame and the colour;
- hover text with the atom's index (0-based row of ``atoms.csv``, as in ``bonds.csv``), its
  position and all its values; the frame's time and summary numbers (atoms, diameter, fraction
  disordered) and the cut in the title; a rejected frame shows its reason and no atoms.

The page works offline: plotly.js is inlined (:func:`plotly_js_version` names the embedded
version in the page's footer), nothing is loaded from the network and no server is needed. The
drawn atoms of every frame are stored once in the page, column by column, as integers (a
column's values times ``10**decimals``; coordinates to 0.001 A as in PDB files, other values to
four significant digits of the column's largest magnitude, integer columns exactly, classes as
codes). A script written here switches frames, colours and cuts with ``Plotly.react``. The output
is deterministic: fixed element ids, no timestamps, a deterministic subsample; two builds of the
same inputs are byte-identical. Text from the tables (column names, classes) is HTML-escaped.

Speed: for a frame of 20,000 drawn atoms the page's own work for a new cut (selection and traces)
takes 0.1-5 ms; plotly's redraw dominates (headless Chromium with software WebGL on this VM:
about 1.2 s for all 20,000 atoms, as for the previous viewer's frame change, and 0.12 s for a
2.8 A slab of them); with a GPU it is faster. Changes while a redraw runs are merged into one.

Fates
-----
``fate.csv`` of frame t+1 (:func:`nanotraj.stages.tracking.track_pair`) holds, per atom of frame t
(its ``index`` = row of frame t's ``atoms.csv``), whether the atom is ``retained`` in frame t+1 or
``removed`` by then. So the fate file *of frame t* in :func:`build_viewer` is the file written in
the directory of the *next* frame; the last frame has none (its atoms are ``unknown``), and so has
a frame whose pair could not be matched (header-only ``fate.csv``: unknown). A fate file whose
rows do not match the frame's atoms (number or coordinates) is refused with a ValueError.

Large frames
------------
A frame with more than ``max_atoms`` atoms (:data:`MAX_ATOMS` = 20,000 by default) is drawn as a
deterministic random subsample of ``max_atoms`` atoms (a fixed seed; hover indices stay those of
``atoms.csv``) and its title says "showing m of n atoms". The per-frame limit is further lowered
to ``max_total_atoms // n_frames`` (:data:`MAX_TOTAL_ATOMS` = 1,000,000 drawn atoms per page) so a
long series of large frames stays a page a browser opens. A series of more than
:data:`MAX_FRAMES` frames (500) shows that many frames evenly spread over it
(:func:`shown_frames`; the fates still describe each shown frame's atoms against the next frame
of the series). Markers get smaller as the number of
drawn atoms grows (:func:`marker_size`). The page's data cost about 90 bytes per drawn atom with
the 22 columns of the current ``atoms.csv`` (measured: see ``workflow/report/viewer.rst``);
:func:`build_viewer` returns and logs the size of each frame's data and of the whole page.

plotly is imported lazily (only by :func:`build_viewer`), so importing this module costs numpy.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import re
import time as _time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nanotraj.tables import csv_fields as _columns
from nanotraj.tables import csv_lines as _atom_lines
from nanotraj.tables import numeric_fields as _numeric_columns
from nanotraj.tables import parse_floats as _parse
from nanotraj.tables import read_table

#: Above this many atoms a frame is drawn as a deterministic subsample of this many atoms.
MAX_ATOMS = 20000

#: At most this many atoms are drawn in the whole page (the per-frame limit is lowered to
#: ``MAX_TOTAL_ATOMS // n_frames`` for long series of large frames).
MAX_TOTAL_ATOMS = 1_000_000

#: A series of more frames than this shows this many frames evenly spread over it
#: (:func:`shown_frames`; a slider of 10,000 steps is no use, and the page would hold them all).
MAX_FRAMES = 500


def shown_frames(n_frames: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """The frames (0-based, in time order) the page shows of a series of ``n_frames``: all up to
    ``max_frames``; above, ``round(k (n_frames - 1) / (max_frames - 1))`` for
    k = 0 .. max_frames - 1 (the first and the last frame included)."""
    if n_frames <= max_frames:
        return list(range(n_frames))
    return sorted({round(k * (n_frames - 1) / (max_frames - 1)) for k in range(max_frames)})


#: Seed of the subsample of large frames (fixed: the page is deterministic).
SUBSAMPLE_SEED = 20240601

#: Milliseconds per frame when playing.
PLAY_INTERVAL_MS = 700

#: Names of the integer codes of the structure columns (conventional CNA, adaptive CNA, PTM:
#: 0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico, 5 sc). A code outside this list is shown as its number.
STRUCTURE_NAMES = ("other", "fcc", "hcp", "bcc", "ico", "sc")
CNA_NAMES = STRUCTURE_NAMES[:5]
BOO_CLASSES = ("fcc", "hcp", "bcc", "ico", "disordered")

#: Colours of structure classes, the same for every classifier (OVITO's hues, darker so that
#: they show on the light background; "other"/"disordered" grey, not white).
STRUCTURE_COLOURS = {
    "fcc": "#3cb043",
    "hcp": "#e8413c",
    "bcc": "#3b6fe0",
    "ico": "#f2b705",
    "sc": "#a03cd6",
    "other": "#a0a0a0",
    "disordered": "#a0a0a0",
}

#: Names and colours of the fate of an atom of frame t in frame t+1 (``fate.csv`` of frame t+1).
FATE_NAMES = ("removed", "retained", "unknown")
FATE_COLOURS = ("#d62728", "#9db4d6", "#606060")

#: Categorical 0/1 columns: the names of 0 and 1 and their colours.
BINARY_COLUMNS = {
    "crystalline": (("not crystalline", "crystalline"), ("#e8413c", "#9db4d6")),
    "surface": (("interior", "surface"), ("#9db4d6", "#ff7f0e")),
    "new": (("not new", "new"), ("#9db4d6", "#2ca02c")),
    "boundary": (("not at a boundary", "domain boundary"), ("#9db4d6", "#d62728")),
}

#: Integer columns shown as classes named ``<prefix> <value>`` (``none`` for -1): the frame's
#: crystalline domain (``atoms.csv``) and its track over the series (``domain_track``, from the
#: series' domains.csv; :func:`nanotraj.stages.figures.build_viewer`). Colours: :data:`PALETTE`
#: in numeric order (they repeat beyond 10), ``none`` light grey.
ID_CLASSES = {"domain": "domain", "domain_track": "track"}
NONE_NAME = "none"
NONE_COLOUR = "#d0d0d0"

#: Name and colour of a missing value of a class (an empty cell, a column absent in a frame).
MISSING = "n/a"
MISSING_COLOUR = "#505050"

#: Colours of other categorical quantities, in order of their sorted values.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

#: OVITO 3.17's default particle colours of elements (RGB 0-255, Jmol's table), read from
#: ``ovito.data.ParticleType.load_defaults``; :func:`element_colours` darkens the pale ones.
OVITO_ELEMENT_RGB = {
    "H": (255, 255, 255), "C": (144, 144, 144), "N": (48, 80, 248), "O": (255, 13, 13),
    "Al": (191, 166, 166), "Ti": (191, 194, 199), "Cr": (138, 153, 199),
    "Mn": (156, 122, 199), "Fe": (224, 102, 51), "Co": (240, 144, 160), "Ni": (80, 208, 80),
    "Cu": (200, 128, 51), "Zn": (125, 128, 176), "Mo": (84, 181, 181), "Ru": (36, 143, 143),
    "Rh": (10, 125, 140), "Pd": (0, 105, 133), "Ag": (224, 224, 255), "Sn": (102, 128, 128),
    "W": (33, 148, 214), "Re": (38, 125, 171), "Os": (38, 102, 150), "Ir": (23, 84, 135),
    "Pt": (230, 217, 173), "Au": (255, 209, 35), "Pb": (87, 89, 97),
}  # fmt: skip

#: Brightest colour of an element (0.2126 R + 0.7152 G + 0.0722 B, 0-1): paler ones are scaled
#: down to it, so that atoms show on the scene's light grey background (#f4f4f4).
ELEMENT_MAX_LUMA = 0.65

#: Two elements of a page whose colours are closer than this (RGB distance, 0-255) are told
#: apart: the later one (alphabetically) takes the first :data:`PALETTE` colour far from all.
ELEMENT_MIN_DISTANCE = 60.0

#: Label and unit (colour bar, hover) of the known columns of atoms.csv; other columns are shown
#: under their own name without a unit.
COLUMN_INFO = {
    "x": ("x", "Å"), "y": ("y", "Å"), "z": ("z", "Å"),
    "cn": ("CN (bonds)", "bonds per atom"),
    "cn_lattice": ("CN (lattice)", "neighbours < 1.2 × bulk NN distance"),
    "q4": ("q4", "dimensionless"), "q6": ("q6", "dimensionless"),
    "Q4": ("Q4", "dimensionless"), "Q6": ("Q6", "dimensionless"),
    "w4": ("w4", "dimensionless"), "w6": ("w6", "dimensionless"),
    "W4": ("W4", "dimensionless"), "W6": ("W6", "dimensionless"),
    "C6": ("C6 (crystallinity)", "dimensionless"),
    "d_center": ("distance to the centre", "Å"),
    "nn_distance": ("NN distance", "Å"),
    "element": ("element", ""),
    "structure_cna": ("structure (CNA)", ""),
    "structure_acna": ("structure (adaptive CNA)", ""),
    "structure_ptm": ("structure (PTM)", ""),
    "structure_boo": ("structure (BOO)", ""),
    "crystalline": ("crystalline (BOO)", ""),
    "surface": ("surface (alpha shape)", ""),
    "new": ("new atom", ""),
    "fate": ("fate in the next frame", ""),
    "strain_volumetric": ("volumetric strain", "tr(E)/3"),
    "strain_radial": ("radial strain", "along the direction from the centre"),
    "gcn": ("generalised coordination", "sum of the neighbours' CN / 12"),
    "site": ("surface site", ""),
    "domain": ("crystalline domain (this frame)", ""),
    "domain_track": ("domain track (series)", ""),
    "boundary": ("domain boundary", ""),
    "atom_id": ("atom id (series)", "persistent id"),
}  # fmt: skip

#: Menu order: these classes and values first (when present), then the other columns in the order
#: of the header, the coordinates last.
CLASS_ORDER = ("element", "structure_cna", "structure_acna", "structure_ptm", "structure_boo",
               "crystalline", "surface", "site", "fate", "new", "domain_track", "domain",
               "boundary")
VALUE_ORDER = ("cn", "Q6", "Q4", "C6", "nn_distance", "cn_lattice", "q6", "q4", "W6", "W4",
               "w6", "w4", "d_center")
COORDINATES = ("x", "y", "z")

#: A text column with more distinct values than this (over the drawn atoms) is not offered.
MAX_CATEGORIES = 10

#: Significant digits kept of a continuous column (relative to its largest magnitude).
SIGNIFICANT_DIGITS = 4

#: Coordinates are stored to 10**-COORD_DECIMALS A (as in PDB files).
COORD_DECIMALS = 3

#: Colour scale of continuous quantities (as in the static figures).
COLORSCALE = "Viridis"

#: Quantity coloured by when the page opens (the first of the menu when absent).
DEFAULT_QUANTITY = "cn"

#: Default slab thickness, in units of the median nearest-neighbour distance of the drawn atoms
#: (``nn_distance``; 2.77 A, Pt's bulk value, without it). Measured on sections through the
#: centre seen along their normal (x, y, z and 60 random directions; the ideal 586-atom truncated
#: octahedron, an fcc sphere of 2243 atoms with 0.1 A noise, the real 314-atom Pt stage 1):
#: at 1.0 x NN the section has no gaps (median fraction of the section farther than 0.6 NN from
#: every atom 0, at most 0.04-0.05) and 3-7 % of the slab's atoms are drawn behind another one
#: (within 0.5 NN on screen); 0.75 x NN leaves gaps (median 0.08-0.10, up to 0.23), 1.25 x NN
#: hides 20-24 %, 1.5 x NN 32-36 % and 2 x NN about half. Along a <100> axis of fcc it holds
#: one or two (002) layers (1.96 A apart), depending on the position.
SLAB_THICKNESS_NN = 1.0
DEFAULT_NN = 2.77


# ----------------------------------------------------------------------------------------------
# small helpers


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


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def element_colours(elements: Sequence[str]) -> list[str]:
    """Colours (``#rrggbb``) of the ``elements`` of a page, in the given order.

    An element known to :data:`OVITO_ELEMENT_RGB` gets OVITO's default colour, scaled down to a
    luma of :data:`ELEMENT_MAX_LUMA` where brighter (rounded down; Pt: (230, 217, 173) ->
    #b0a684); others get :data:`PALETTE` colours. Within the page, an element whose colour is
    closer than :data:`ELEMENT_MIN_DISTANCE` to an earlier one's (in sorted order; e.g. Ru and
    Rh) takes the first palette colour far from every colour taken, so that every element can be
    told apart.
    The result depends only on the set of elements (deterministic).
    """
    order = sorted(set(elements))
    taken: dict[str, np.ndarray] = {}
    for el in order:
        rgb = OVITO_ELEMENT_RGB.get(el.capitalize())
        cand = None
        if rgb is not None:
            cand = np.array(rgb, dtype=np.float64)
            luma = (0.2126 * cand[0] + 0.7152 * cand[1] + 0.0722 * cand[2]) / 255.0
            if luma > ELEMENT_MAX_LUMA:
                cand = np.floor(cand * ELEMENT_MAX_LUMA / luma)
        if cand is None or any(np.linalg.norm(cand - c) < ELEMENT_MIN_DISTANCE
                               for c in taken.values()):
            free = [p for p in PALETTE
                    if all(np.linalg.norm(_rgb(p) - c) >= ELEMENT_MIN_DISTANCE
                           for c in taken.values())]
            cand = _rgb(free[0] if free else PALETTE[len(taken) % len(PALETTE)])
        taken[el] = cand
    return [_hex(taken[el]) for el in elements]


def plotly_js_version(js: str | None = None) -> str:
    """Version of the plotly.js bundle that is inlined in the page (from its header comment,
    ``* plotly.js vX.Y.Z``; ``js``: the bundle's text, default plotly's ``get_plotlyjs()``)."""
    if js is None:
        from plotly.offline import get_plotlyjs

        js = get_plotlyjs()
    m = re.search(r"plotly\.js v(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)", js[:2000])
    if not m:
        m = re.search(r"\bversion\s*[:=]\s*[\"'](\d+\.\d+\.\d+)[\"']", js)
    return m.group(1) if m else "unknown"


def _float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


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


# ----------------------------------------------------------------------------------------------
# columns


def _read_fate(path, n: int, idx: np.ndarray, coords: Mapping[str, np.ndarray],
               atoms_path) -> np.ndarray:
    """Fate names of the drawn atoms ``idx`` of a frame of ``n`` atoms from its ``fate.csv``."""
    header, lines = _atom_lines(path)
    if "fate" not in header:
        raise ValueError(f"{path}: no 'fate' column (header {','.join(header)!r})")
    if not lines:  # no pair (first frame of a pair rejected, alignment failed): unknown
        return np.full(len(idx), "unknown", dtype=object)
    if len(lines) != n:
        raise ValueError(
            f"{path} describes {len(lines)} atoms but {atoms_path} has {n}: the fate file of "
            "frame t is the fate.csv of the frame after t (results/{series}/{next frame}/"
            "fate.csv)")
    drawn_lines = [lines[i] for i in idx]
    cols = _columns(header, drawn_lines, path)
    numbers = _numeric_columns(header, drawn_lines, cols)
    if "index" in cols:
        index = numbers["index"] if "index" in numbers else _parse(cols["index"])
        if index is None or not np.array_equal(index, idx):
            raise ValueError(f"{path}: its 'index' column is not 0..{n - 1} in order")
    for c in COORDINATES:
        if c in cols and len(idx):
            theirs = numbers[c] if c in numbers else _parse(cols[c])
            if theirs is None or not np.allclose(theirs, coords[c], atol=2e-3, equal_nan=True):
                raise ValueError(f"{path}: its atoms' {c} coordinates differ from those of "
                                 f"{atoms_path} (a fate file of another frame?)")
    fate = np.array([v.strip() for v in cols["fate"]], dtype=object)
    fate[~np.isin(fate, ("removed", "retained"))] = "unknown"
    return fate


def _order(present, canonical) -> list[str]:
    """``present`` names: those of ``canonical`` in its order, then the others sorted, n/a last."""
    known = [c for c in canonical if c in present]
    rest = sorted(p for p in present if p not in canonical and p != MISSING)
    return known + rest + ([MISSING] if MISSING in present else [])


def _names(key: str, raw) -> np.ndarray:
    """Class names (object array) of the raw values of a categorical column of one frame
    (``raw``: floats, NaN missing, or an array of strings)."""
    if isinstance(raw, np.ndarray) and raw.dtype != object:
        out = np.full(len(raw), MISSING, dtype=object)
        ok = np.isfinite(raw)
        uniq, inv = np.unique(raw[ok], return_inverse=True)
        names = []
        for u in uniq:
            if key.startswith("structure_") and u == int(u) and 0 <= u < len(STRUCTURE_NAMES):
                names.append(STRUCTURE_NAMES[int(u)])
            elif key in BINARY_COLUMNS and u in (0, 1):
                names.append(BINARY_COLUMNS[key][0][int(u)])
            elif key in ID_CLASSES and u == int(u):
                names.append(NONE_NAME if u < 0 else f"{ID_CLASSES[key]} {int(u)}")
            else:
                names.append(f"{u:g}")
        out[ok] = np.array(names, dtype=object)[inv] if len(uniq) else out[ok]
        return out
    # text from the file is shown by plotly as (a subset of) HTML: escaped (each distinct value
    # once: a column of a few classes over thousands of atoms)
    values = raw.tolist() if isinstance(raw, np.ndarray) else list(raw)
    distinct = dict.fromkeys(values)
    for v in distinct:
        name = html.escape(str(v).strip(), quote=False)
        distinct[v] = (name.lower() if key.startswith("structure_") else name) or MISSING
    out = np.empty(len(values), dtype=object)
    out[:] = [distinct[v] for v in values]
    return out


def _category_colours(key: str, names: Sequence[str], elements_ok: bool) -> list[str]:
    if key == "element" and elements_ok:
        colours = element_colours([n for n in names if n != MISSING])
        it = iter(colours)
        return [MISSING_COLOUR if n == MISSING else next(it) for n in names]
    fixed = {}
    if key.startswith("structure_"):
        fixed = STRUCTURE_COLOURS
    elif key in BINARY_COLUMNS:
        fixed = dict(zip(*BINARY_COLUMNS[key], strict=True))
    elif key == "fate":
        fixed = dict(zip(FATE_NAMES, FATE_COLOURS, strict=True))
    elif key in ID_CLASSES:
        fixed = {NONE_NAME: NONE_COLOUR}
    out, k = [], 0
    for n in names:
        if n == MISSING:
            out.append(MISSING_COLOUR)
        elif n in fixed:
            out.append(fixed[n])
        else:
            out.append(PALETTE[k % len(PALETTE)])
            k += 1
    return out


def _decimals(values: np.ndarray) -> int:
    """Decimals kept of a continuous column: integers exactly, else :data:`SIGNIFICANT_DIGITS`
    significant digits of the largest magnitude (0..12)."""
    finite = values[np.isfinite(values)]
    if not len(finite) or np.all(finite == np.rint(finite)):
        return 0
    big = float(np.max(np.abs(finite)))
    return int(min(12, max(0, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(big)))))


def _encode(values: np.ndarray, decimals: int) -> list:
    """Integers ``round(v * 10**decimals)`` (None for NaN) of a float column."""
    k = np.rint(values * 10.0 ** decimals)
    bad = ~np.isfinite(k)
    if np.all(np.abs(k[~bad]) < 2.0 ** 53):
        out = np.where(bad, 0, k).astype(np.int64).tolist()
    else:
        out = np.where(bad, 0.0, k).tolist()
    for i in np.flatnonzero(bad).tolist():
        out[i] = None
    return out


def _label(key: str) -> tuple[str, str]:
    """Label and unit of a column (an unknown column: its name, escaped, without unit)."""
    return COLUMN_INFO.get(key, (html.escape(key, quote=False), ""))


def _colorbar(label: str, unit: str, integer: bool, lo: float, hi: float) -> dict:
    """Colour bar of a continuous column; integer columns get integer ticks (at most ~8)."""
    title = f"{label}<br>({unit})" if unit else label
    bar = {"title": {"text": title}, "len": 0.75, "thickness": 18, "x": 1.0, "xanchor": "left"}
    if integer:
        bar.update(tickformat="d", tickmode="linear", tick0=0,
                   dtick=max(1, math.ceil((hi - lo) / 8)))
    return bar


def _discover(parsed: Sequence[Mapping[str, object]], order: Sequence[str], log) -> list[dict]:
    """Column specs of the colour menu from the frames' parsed columns (``order``: the column
    names in order of first appearance)."""
    specs = []
    for key in order:
        raws = [p[key] for p in parsed if key in p]
        numeric = all(isinstance(r, np.ndarray) and r.dtype != object for r in raws)
        label, unit = _label(key)
        categorical = (key == "element" or key.startswith("structure_") or key == "fate"
                       or key in BINARY_COLUMNS or key in ID_CLASSES or not numeric)
        if key in COORDINATES:
            categorical = False
        if categorical:
            names_per = [_names(key, r) for r in raws]
            present = set().union(*(set(n.tolist()) for n in names_per)) if names_per else set()
            if any(key not in p for p in parsed if p):  # a frame with atoms lacks it
                present.add(MISSING)
            real = present - {MISSING}
            if not numeric and key not in ("element", "fate") and not key.startswith(
                    "structure_") and len(real) > MAX_CATEGORIES:
                log(f"column {key!r} is not in the colour menu: {len(real)} distinct text "
                    f"values (at most {MAX_CATEGORIES})")
                continue
            canonical = ()
            if key.startswith("structure_"):
                canonical = (*STRUCTURE_NAMES, "disordered")
            elif key in BINARY_COLUMNS:
                canonical = BINARY_COLUMNS[key][0]
            elif key == "fate":
                canonical = FATE_NAMES
            elif key == "site":
                from nanotraj.contract import SITE_CLASSES

                canonical = SITE_CLASSES
            elif key in ID_CLASSES:  # numeric order, none first
                canonical = (NONE_NAME, *sorted((p for p in real if p != NONE_NAME),
                                                key=lambda p: int(p.rsplit(" ", 1)[-1])))
            names = _order(present, canonical)
            colours = _category_colours(key, names, True)
            specs.append({"key": key, "label": label, "unit": unit, "kind": "categorical",
                          "categories": names, "colours": colours})
        else:
            allv = np.concatenate(raws) if raws else np.zeros(0)
            d = COORD_DECIMALS if key in COORDINATES else _decimals(allv)
            finite = allv[np.isfinite(allv)]
            if len(finite):
                lo = float(np.rint(finite.min() * 10.0 ** d) / 10.0 ** d)
                hi = float(np.rint(finite.max() * 10.0 ** d) / 10.0 ** d)
            else:
                lo, hi = 0.0, 1.0
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            specs.append({"key": key, "label": label, "unit": unit, "kind": "continuous",
                          "decimals": d, "cmin": lo, "cmax": hi, "colorscale": COLORSCALE,
                          "colorbar": _colorbar(label, unit, d == 0 and key not in COORDINATES,
                                                lo, hi)})
    classes = [s for s in specs if s["kind"] == "categorical"]
    values = [s for s in specs if s["kind"] == "continuous"]

    def rank(first, last=()):
        def key(s):
            k = s["key"]
            if k in first:
                return (0, first.index(k))
            if k in last:
                return (2, last.index(k))
            return (1, 0)
        return key

    # sorted() is stable: columns not named in the orders keep the order of the header
    return sorted(classes, key=rank(CLASS_ORDER)) + sorted(values, key=rank(VALUE_ORDER,
                                                                            COORDINATES))


# ----------------------------------------------------------------------------------------------
# page


_SCRIPT = r"""
var gd = document.getElementById('{plot_id}');
var NT = __NT_DATA__;
var base = JSON.parse(JSON.stringify(gd.layout));
function el(id) { return document.getElementById(id); }
var ui = {colour: el('nt-colour'), axis: el('nt-cut-axis'), mode: el('nt-cut-mode'),
          pos: el('nt-cut-pos'), thick: el('nt-cut-thick'), posOut: el('nt-cut-pos-value'),
          thickOut: el('nt-cut-thick-value'), shown: el('nt-shown')};
var state = {k: 0, q: NT.defaultQuantity, timer: null, busy: null, again: false,
             cut: {axis: 'off', mode: 'slab', thick: NT.cut.thickness,
                   pos: Math.round(5 * (NT.cut.ranges.x[0] + NT.cut.ranges.x[1])) / 10}};
var cache = [];
function decode(k) {
  for (var c = 0; c < cache.length; c++) { if (cache[c].k === k) { return cache[c]; } }
  var fr = NT.frames[k], m = fr.x.length, s = Math.pow(10, NT.coordDecimals);
  var D = {k: k, m: m, x: new Array(m), y: new Array(m), z: new Array(m), cols: [], rows: []};
  for (var i = 0; i < m; i++) {
    D.x[i] = fr.x[i] === null ? null : fr.x[i] / s;
    D.y[i] = fr.y[i] === null ? null : fr.y[i] / s;
    D.z[i] = fr.z[i] === null ? null : fr.z[i] / s;
  }
  NT.columns.forEach(function (C, j) {
    var raw = fr.v[j], col = null;
    if (C.coord >= 0) { col = [D.x, D.y, D.z][C.coord]; }
    else if (C.kind === 'categorical') { col = raw; }
    else if (raw !== null) {
      var d = Math.pow(10, C.decimals);
      col = new Array(m);
      for (var i = 0; i < m; i++) { col[i] = raw[i] === null ? null : raw[i] / d; }
    }
    D.cols.push(col);
  });
  for (var i = 0; i < m; i++) {
    var row = [fr.idx ? fr.idx[i] : i];
    for (var h = 0; h < NT.hover.columns.length; h++) {
      var j = NT.hover.columns[h], C = NT.columns[j], col = D.cols[j];
      if (C.kind === 'categorical') { row.push(C.categories[col[i]]); }
      else { row.push(col === null || col[i] === null ? 'n/a' : col[i]); }
    }
    D.rows.push(row);
  }
  cache.unshift(D);
  if (cache.length > 3) { cache.pop(); }
  return D;
}
function camera() {
  var sc = gd._fullLayout && gd._fullLayout.scene;
  try { if (sc && sc._scene && sc._scene.getCamera) { return sc._scene.getCamera(); } }
  catch (e) { /* the layout's camera below */ }
  return (sc && sc.camera) || base.scene.camera;
}
function normal() {
  var c = state.cut.axis;
  if (c === 'x') { return [1, 0, 0, 0]; }
  if (c === 'y') { return [0, 1, 0, 0]; }
  if (c === 'z') { return [0, 0, 1, 0]; }
  var cam = camera(), e = cam.eye, o = cam.center || {x: 0, y: 0, z: 0};
  var n = [e.x - o.x, e.y - o.y, e.z - o.z];
  var len = Math.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) || 1;
  n = [n[0] / len, n[1] / len, n[2] / len];
  var cc = NT.cut.centre;
  return [n[0], n[1], n[2], n[0] * cc[0] + n[1] * cc[1] + n[2] * cc[2]];
}
function kept(D) {
  var c = state.cut, keep = [], i;
  if (c.axis === 'off') { for (i = 0; i < D.m; i++) { keep.push(i); } return keep; }
  var n = normal(), lo = -Infinity, hi = Infinity;
  if (c.mode === 'slab') { lo = c.pos - c.thick / 2; hi = c.pos + c.thick / 2; }
  else if (c.mode === 'below') { hi = c.pos; }
  else { lo = c.pos; }
  for (i = 0; i < D.m; i++) {
    if (D.x[i] === null || D.y[i] === null || D.z[i] === null) { continue; }
    var s = n[0] * D.x[i] + n[1] * D.y[i] + n[2] * D.z[i] - n[3];
    if (s >= lo && s <= hi) { keep.push(i); }
  }
  return keep;
}
function pick(a, keep) {
  var out = new Array(keep.length);
  for (var i = 0; i < keep.length; i++) { out[i] = a[keep[i]]; }
  return out;
}
function hovertemplate(q) {
  var H = NT.hover, lines = [H.head, H.pos], rest = [];
  if (H.items[q]) { lines.push('<b>' + H.items[q] + '</b>'); }
  H.order.forEach(function (j) { if (j !== q) { rest.push(H.items[j]); } });
  for (var i = 0; i < rest.length; i += 3) { lines.push(rest.slice(i, i + 3).join(' · ')); }
  return lines.join('<br>') + '<extra></extra>';
}
function traces(D, keep) {
  var C = NT.columns[state.q], col = D.cols[state.q], ht = hovertemplate(state.q);
  var base3d = {type: 'scatter3d', mode: 'markers', hovertemplate: ht};
  function trace(uid, name, sel, marker) {
    var t = Object.assign({uid: uid, name: name, x: pick(D.x, sel), y: pick(D.y, sel),
                           z: pick(D.z, sel), customdata: pick(D.rows, sel)}, base3d);
    t.marker = Object.assign({size: NT.markerSize, opacity: 1, line: {width: 0}}, marker);
    return t;
  }
  if (C.kind === 'categorical') {
    var groups = C.categories.map(function () { return []; });
    keep.forEach(function (i) { groups[col[i]].push(i); });
    return C.categories.map(function (name, c) {
      var t = trace('nt' + state.q + '-' + c, name + ' (' + groups[c].length + ')', groups[c],
                    {color: C.colours[c]});
      t.showlegend = true;
      return t;
    });
  }
  var colour = col === null ? keep.map(function () { return null; }) : pick(col, keep);
  var t = trace('nt' + state.q, C.label, keep, {
    color: colour, colorscale: C.colorscale, cmin: C.cmin, cmax: C.cmax, showscale: true,
    colorbar: C.colorbar});
  t.showlegend = false;
  return [t];
}
function placeSlider(layout) {
  // the slider starts right of the play buttons (px) with room for half its first label
  // (plotly itself shows every n-th label when they would not fit)
  var sl = layout.sliders[0], fl = gd._fullLayout, chars = 1;
  sl.steps.forEach(function (st) { chars = Math.max(chars, st.label.length); });
  var plotW = Math.max(fl && fl._size ? fl._size.w : 800, 200);
  sl.x = Math.min(0.5, (NT.buttonsPx + chars * NT.labelCharPx / 2) / plotW);
  sl.len = 1 - sl.x - 0.01;
}
function cutText(shown, m) {
  var c = state.cut;
  if (c.axis === 'off' || m === 0) { return ''; }
  var s = c.axis === 'view' ? 's (view)' : c.axis, p = c.pos.toFixed(1);
  var what = c.mode === 'slab' ? '|' + s + ' − ' + p + '| ≤ ' + (c.thick / 2).toFixed(2) + ' Å'
           : (s + (c.mode === 'below' ? ' ≤ ' : ' ≥ ') + p + ' Å');
  return 'cut ' + what + ': ' + shown + ' of ' + m + ' drawn atoms shown';
}
function render() {
  if (state.busy) { state.again = true; return state.busy; }
  var fr = NT.frames[state.k], D = decode(state.k), keep = kept(D), C = NT.columns[state.q];
  var layout = JSON.parse(JSON.stringify(base)), note = cutText(keep.length, D.m);
  layout.title.text = fr.title + (note ? '<br><span style="font-size:12px">' + note +
                                         '</span>' : '');
  layout.sliders[0].active = state.k;
  if (gd._fullLayout && gd._fullLayout.scene) {  // the camera as it is now, however it was set
    var cam = camera();
    layout.scene.camera = {eye: cam.eye, center: cam.center, up: cam.up};
  }
  placeSlider(layout);
  layout.showlegend = C.kind === 'categorical';
  layout.legend.title.text = C.label;
  layout.legend.uirevision = C.key;
  ui.shown.textContent = note ? keep.length + ' of ' + D.m + ' atoms shown' : '';
  state.busy = Plotly.react(gd, traces(D, keep), layout).then(function () {
    state.busy = null;
    if (state.again) { state.again = false; return render(); }
  });
  return state.busy;
}
function show(k) {
  state.k = Math.max(0, Math.min(NT.frames.length - 1, k));
  return render();
}
function colourBy(q) {
  state.q = (typeof q === 'number') ? q : NT.keys.indexOf(q);
  if (state.q < 0) { state.q = NT.defaultQuantity; }
  ui.colour.value = String(state.q);
  return render();
}
function syncCut() {
  var c = state.cut, off = c.axis === 'off', r = NT.cut.ranges[off ? 'x' : c.axis];
  ui.axis.value = c.axis; ui.mode.value = c.mode;
  ui.pos.min = r[0]; ui.pos.max = r[1]; ui.pos.value = c.pos; ui.thick.value = c.thick;
  ui.posOut.textContent = c.pos.toFixed(1) + ' Å';
  ui.thickOut.textContent = c.thick.toFixed(1) + ' Å';
  ui.pos.disabled = off; ui.mode.disabled = off; ui.thick.disabled = off || c.mode !== 'slab';
}
function setCut(opts) {
  var c = state.cut, o = opts || {};
  if (o.axis !== undefined && o.axis !== c.axis) {
    c.axis = o.axis;
    var r = NT.cut.ranges[c.axis === 'off' ? 'x' : c.axis];
    c.pos = Math.round(5 * (r[0] + r[1])) / 10;
  }
  if (o.mode !== undefined) { c.mode = o.mode; }
  if (o.pos !== undefined) { c.pos = Number(o.pos); }
  if (o.thickness !== undefined) { c.thick = Number(o.thickness); }
  syncCut();
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
  if (what === 'play') { play(); } else if (what === 'pause') { pause(); }
});
var lastEye = null;
gd.on('plotly_relayout', function (ev) {
  if (state.cut.axis !== 'view' || !ev) { return; }
  var keys = Object.keys(ev).filter(function (k) { return k.indexOf('scene.camera') === 0; });
  if (!keys.length) { return; }
  var e = JSON.stringify(camera());
  if (e !== lastEye) { lastEye = e; render(); }
});
ui.colour.addEventListener('change', function () { colourBy(parseInt(ui.colour.value, 10)); });
ui.axis.addEventListener('change', function () { setCut({axis: ui.axis.value}); });
ui.mode.addEventListener('change', function () { setCut({mode: ui.mode.value}); });
ui.pos.addEventListener('input', function () { setCut({pos: ui.pos.value}); });
ui.thick.addEventListener('input', function () { setCut({thickness: ui.thick.value}); });
var resizeTimer = null;
window.addEventListener('resize', function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(render, 150);
});
window.nanotrajViewer = {show: show, colourBy: colourBy, setCut: setCut, play: play,
                         pause: pause, state: state, data: NT, decode: decode, kept: kept,
                         traces: traces, render: render};
syncCut();
ui.colour.value = String(state.q);
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
#nt-bar {{ display: flex; flex-wrap: wrap; align-items: center; gap: 0.35em 1.1em;
          font-size: 13px; margin: 0.2em 0 0.3em 0; }}
#nt-bar label {{ display: inline-flex; align-items: center; gap: 0.35em; }}
#nt-bar input[type=range] {{ width: 11em; }}
#nt-bar output {{ display: inline-block; min-width: 4.2em; font-variant-numeric: tabular-nums; }}
#nt-bar .group {{ display: inline-flex; flex-wrap: wrap; align-items: center; gap: 0.35em 0.9em; }}
#nt-shown {{ color: #555; }}
</style>
</head>
<body>
<div id="nt-bar">
<label>colour by <select id="nt-colour">{options}</select></label>
<span class="group"><label>cut <select id="nt-cut-axis">
<option value="off">none</option><option value="x">⊥ x</option><option value="y">⊥ y</option>
<option value="z">⊥ z</option><option value="view">⊥ view direction</option></select></label>
<select id="nt-cut-mode" title="slab: |s − position| ≤ thickness/2; clip: one side of the plane">
<option value="slab">slab</option><option value="below">clip: keep ≤ position</option>
<option value="above">clip: keep ≥ position</option></select>
<label>position <input type="range" id="nt-cut-pos" min="{pos_min}" max="{pos_max}" step="0.1"
value="{pos}"><output id="nt-cut-pos-value"></output></label>
<label>thickness <input type="range" id="nt-cut-thick" min="{thick_min}" max="{thick_max}"
step="0.1" value="{thick}"><output id="nt-cut-thick-value"></output></label>
<output id="nt-shown"></output></span>
</div>
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


def _options(specs) -> str:
    out = []
    for group, kind in (("classes", "categorical"), ("values", "continuous")):
        items = [f'<option value="{j}" title="column {html.escape(s["key"])}">'
                 f'{s["label"]}</option>'
                 for j, s in enumerate(specs) if s["kind"] == kind]
        if items:
            out.append(f'<optgroup label="{group}">' + "".join(items) + "</optgroup>")
    return "\n".join(out)


def _parse_frame(path, fate_path, *, ok: bool, limit: int, with_fates: bool) -> dict:
    """The drawn rows of one frame's table (``cols``: numbers as float arrays, text as object
    arrays; none for a frame without atoms), its atom count ``n`` and, when the page has fates,
    the drawn atoms' ``fate`` (:func:`_read_fate`; ``unknown`` without a file)."""

    def atoms_of(n_rows, header):
        return n_rows if ok and all(c in header for c in COORDINATES) else 0

    header, n_rows, cols = read_table(
        path, rows=lambda n_rows, header: subsample(atoms_of(n_rows, header), limit))
    n = atoms_of(n_rows, header)
    idx = subsample(n, limit)
    table = {}
    for key, values in (cols.items() if n else ()):
        if values.dtype == object and key in COORDINATES:
            raise ValueError(f"{path}: column {key!r} holds values that are not numbers")
        table[key] = values
    fate = None
    if with_fates and n:
        fate = (np.full(len(idx), "unknown", dtype=object) if fate_path is None
                else _read_fate(fate_path, n, idx, table, path))
    return {"n": n, "cols": table, "fate": fate}


#: Part of every :class:`ParseCache` key: bump it when the parse of a frame changes.
PARSE_CACHE_VERSION = 1


@functools.lru_cache(maxsize=1)
def _parser_digest() -> str:
    """A digest of this module's and :mod:`nanotraj.tables`' source (part of every
    :class:`ParseCache` key: an edited parser never reads an older parse), once per process."""
    import hashlib

    from nanotraj import tables

    h = hashlib.blake2b(digest_size=8)
    for mod in (__file__, tables.__file__):
        with open(mod, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


class ParseCache:
    """The frames' parsed tables of the page (:func:`build_viewer`), kept between runs in
    ``folder``, one ``{key}.npz`` per frame: a rerun after one changed frame parses that frame
    only (parsing is most of a long series' page: its ``atoms.csv`` and ``fate.csv`` as text).

    The key (:meth:`key`) is a digest of the files' bytes and of everything else the parse
    depends on (the drawing limit, whether the frame is accepted, whether the page has fates,
    nanotraj's version, the source of the parsing modules, :data:`PARSE_CACHE_VERSION`), so an
    entry can only be the same parse;
    a damaged entry is parsed again. Text columns are kept as text (no pickle). :meth:`prune`
    removes the entries a page did not use.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.used: set[str] = set()
        self.hits = 0

    @staticmethod
    def key(paths: Sequence, **params) -> str:
        import hashlib

        from nanotraj import __version__

        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps([PARSE_CACHE_VERSION, __version__, _parser_digest(), params],
                            sort_keys=True).encode())
        for p in paths:
            h.update(b"\0file" if p is not None else b"\0none")
            if p is not None:
                with open(p, "rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(block)
        return h.hexdigest()

    def get(self, key: str) -> dict | None:
        """The parse kept under ``key`` (``{"n", "cols", "fate"}``), or None."""
        self.used.add(key)
        try:
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as z:
                order = [str(c) for c in z["order"]]
                kinds = z["kinds"]  # per column of order: 0 number, 1 text
                numbers, texts = z["numbers"], z["texts"]
                fate = z["fate"].astype(object) if "fate" in z.files else None
                n = int(z["n"])
            if len(kinds) != len(order) or len(numbers) + len(texts) != len(order):
                return None
            cols, i_num, i_txt = {}, 0, 0
            for c, kind in zip(order, kinds.tolist(), strict=True):
                if kind:
                    cols[c] = texts[i_txt].astype(object)
                    i_txt += 1
                else:
                    cols[c] = numbers[i_num]
                    i_num += 1
        except (OSError, KeyError, ValueError, EOFError, IndexError):
            return None
        self.hits += 1
        return {"n": n, "cols": cols, "fate": fate}

    def put(self, key: str, entry: Mapping) -> None:
        """Keep ``entry`` under ``key`` (atomically); an entry with a text value that is not a
        string is not kept, nor one the folder refuses (full disk, no permission: the page
        does not depend on it)."""
        # few members (each costs a header to parse): the numbers as one (columns, atoms)
        # float array, the texts as one array of strings, in the columns' order
        cols = entry["cols"]
        kinds = [int(v.dtype == object) for v in cols.values()]
        numbers = [v for v in cols.values() if v.dtype != object]
        texts = [v.tolist() for v in cols.values() if v.dtype == object]
        if not all(isinstance(x, str) for t in texts for x in t):
            return
        m = len(next(iter(cols.values()))) if cols else 0
        arrays = {"n": np.asarray(entry["n"]), "order": np.array(list(cols), dtype=str),
                  "kinds": np.array(kinds, dtype=np.int8),
                  "numbers": (np.array(numbers, dtype=np.float64) if numbers
                              else np.zeros((0, m))),
                  "texts": np.array(texts, dtype=str) if texts else np.zeros((0, m), dtype=str)}
        if entry.get("fate") is not None:
            arrays["fate"] = np.array(entry["fate"].tolist(), dtype=str)
        tmp = self.folder / f"{key}.part.npz"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, **arrays)
            os.replace(tmp, self.folder / f"{key}.npz")
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return
        self.used.add(key)

    def prune(self) -> int:
        """Remove the entries not used since this object was made; returns how many."""
        removed = 0
        for p in self.folder.glob("*.npz") if self.folder.is_dir() else ():
            # an interrupted write leaves {key}.part.npz
            if p.name.endswith(".part.npz") or p.name[:-len(".npz")] not in self.used:
                p.unlink(missing_ok=True)
                removed += 1
        return removed


def build_viewer(series: str, frames: Sequence[tuple], out_html, *, time_unit: str = "s",
                 max_atoms: int = MAX_ATOMS, max_total_atoms: int = MAX_TOTAL_ATOMS,
                 extra_columns: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 cache: ParseCache | None = None, log=None) -> dict:
    """Write the interactive 3D page of a series to ``out_html`` (atomically).

    Parameters
    ----------
    series : name of the series (title, page name).
    frames : ``(frame, time, atoms_csv, summary_row)`` or ``(frame, time, atoms_csv,
        summary_row, fate_csv)`` per frame, in any order (drawn in time order). ``summary_row``
        is the frame's summary (a mapping with at least ``n_atoms``, ``diameter``,
        ``fraction_disordered``, ``status``; ``None`` for none). A rejected frame (``status`` not
        ``ok``, or an ``atoms.csv`` without atoms) is kept on the slider with its reason and no
        atoms. ``fate_csv`` (optional, ``None`` for none): the ``fate.csv`` that describes this
        frame's atoms, i.e. the one of the *next* frame (module docstring, *Fates*); the colour
        menu has ``fate`` when at least one frame has such a file, and it replaces a ``fate``
        column of atoms.csv.
    time_unit : unit of ``time`` (title, slider).
    max_atoms, max_total_atoms : drawing limits (see the module's *Large frames*), >= 1.
    extra_columns : per frame name, more per-atom columns (name -> (N,) numeric array in the
        order of its atoms.csv) that are not in atoms.csv because they depend on the whole series
        (``atom_id``, ``domain_track``); a frame without them shows ``n/a``.
    cache : a :class:`ParseCache`: frames whose files it holds are not parsed again (the page
        is the same, byte for byte); None: every frame is parsed.
    log : a callable taking a line of text (e.g. the job log), or ``None``.

    Returns
    -------
    dict: ``bytes_total`` (page), ``bytes_plotlyjs`` (inlined plotly.js), ``plotlyjs_version``,
    ``bytes_per_frame`` (frame -> bytes of its data in the page), ``bytes_per_atom`` (data /
    drawn atoms), ``drawn`` (frame -> atoms drawn), ``n_atoms`` (frame -> atoms in atoms.csv),
    ``subsampled`` (frames drawn as a subsample), ``limit`` (atoms drawn at most per frame),
    ``marker_size`` (px), ``quantities`` (colour menu keys, in menu order), ``seconds``.

    Raises ValueError for no frames, limits below 1, a malformed table (a row with another
    number of fields than its header) or a fate file that does not describe its frame.
    """
    t0 = _time.perf_counter()
    say = log or (lambda _msg: None)
    if int(max_atoms) < 1 or int(max_total_atoms) < 1:
        raise ValueError(f"max_atoms ({max_atoms}) and max_total_atoms ({max_total_atoms}) "
                         "must be at least 1")
    frames = [tuple(f) for f in frames]
    if any(len(f) not in (4, 5) for f in frames):
        raise ValueError("each frame is (frame, time, atoms_csv, summary_row[, fate_csv])")
    frames = [f + (None,) * (5 - len(f)) for f in frames]
    frames = sorted(frames, key=lambda f: float(f[1]))
    if not frames:
        raise ValueError(f"series {series!r}: no frames to view")
    limit = int(max(1, min(max_atoms, max_total_atoms // len(frames))))
    with_fates = any(f[4] is not None for f in frames)

    # Parse only the drawn rows of each table, frame by frame (a 1e6-atom atoms.csv would be 25
    # million strings): numeric columns become float arrays, text columns object arrays; a
    # table may be CSV or Parquet (nanotraj.tables.read_table: the same values).
    parsed, counts, drawn, order = [], [], [], []
    for _frame, _t, path, summary, fate_path in frames:
        ok = dict(summary or {}).get("status", "ok") in ("", "ok")  # rejected: no atoms
        entry, entry_key = None, None
        if cache is not None:
            entry_key = cache.key([path, fate_path if with_fates else None], limit=limit,
                                  ok=ok, with_fates=with_fates)
            entry = cache.get(entry_key)
        if entry is None:
            entry = _parse_frame(path, fate_path, ok=ok, limit=limit, with_fates=with_fates)
            if cache is not None:
                cache.put(entry_key, entry)
        n = entry["n"]
        idx = subsample(n, limit)
        table = dict(entry["cols"])
        for key, values in ((extra_columns or {}).get(str(_frame)) or {}).items():
            values = np.asarray(values, dtype=np.float64)
            if n and len(values) != n:
                raise ValueError(f"column {key!r} of frame {_frame}: {len(values)} values for "
                                 f"the {n} atoms of {path}")
            if n:
                table[key] = values[idx]
        if with_fates and n:
            table["fate"] = entry["fate"]
        for key in table:
            if key not in order:
                order.append(key)
        parsed.append(table)
        counts.append(n)
        drawn.append(idx)
    if with_fates and "fate" not in order:
        order.append("fate")
    if not all(c in order for c in COORDINATES):
        order = list(COORDINATES) + order  # no frame has atoms: an empty but working page
    specs = _discover(parsed, order, say)
    keys = [s["key"] for s in specs]
    coord_of = {c: j for j, c in enumerate(COORDINATES)}

    page_frames, info_drawn, info_n, subsampled = [], {}, {}, []
    for (name, time, _path, summary, _fate), table, n, idx in zip(frames, parsed, counts, drawn,
                                                                   strict=True):
        summary = dict(summary or {})
        info_n[name], info_drawn[name] = n, len(idx)
        if len(idx) < n:
            subsampled.append(name)
        m = len(idx)
        xyz = [_encode(table[c], COORD_DECIMALS) if c in table else [] for c in COORDINATES]
        v = []
        for s in specs:
            key = s["key"]
            if key in coord_of:
                v.append(None)
            elif s["kind"] == "categorical":
                names = (_names(key, table[key]) if key in table
                         else np.full(m, MISSING, dtype=object))
                lookup = {c: i for i, c in enumerate(s["categories"])}
                v.append([lookup[c] for c in names.tolist()])
            else:
                v.append(_encode(table[key], s["decimals"]) if key in table else None)
        page_frames.append({
            "name": str(name), "time": float(time), "n": n,
            "title": frame_title(series, name, time, time_unit, summary, n_drawn=m),
            "idx": None if m == n else idx.tolist(), "x": xyz[0], "y": xyz[1], "z": xyz[2],
            "v": v,
        })
    for j, s in enumerate(specs):
        s["coord"] = coord_of.get(s["key"], -1)
        s["col"] = j

    size = marker_size(max(info_drawn.values()))
    # Fixed cubic axes around every frame's atoms (the camera and scale stay put over time).
    centre, half, ranges = [0.0, 0.0, 0.0], 1.0, {}
    lows, highs = np.full(3, np.inf), np.full(3, -np.inf)
    for table in parsed:
        for j, c in enumerate(COORDINATES):
            vals = table.get(c)
            if vals is not None and np.isfinite(vals).any():
                lows[j] = min(lows[j], np.nanmin(vals))
                highs[j] = max(highs[j], np.nanmax(vals))
    radius = 1.0
    if np.all(np.isfinite(lows)):
        centre = (0.5 * (lows + highs)).tolist()
        half = max(half, float(0.5 * np.max(highs - lows)))
        for table in parsed:
            if all(c in table for c in COORDINATES) and len(table["x"]):
                r = np.stack([table[c] for c in COORDINATES], axis=1) - centre
                radius = max(radius, float(np.nanmax(np.linalg.norm(r, axis=1))))
    for j, c in enumerate(COORDINATES):
        lo = math.floor((lows[j] if np.isfinite(lows[j]) else -1.0) * 10) / 10 - 0.1
        hi = math.ceil((highs[j] if np.isfinite(highs[j]) else 1.0) * 10) / 10 + 0.1
        ranges[c] = [round(lo, 1), round(hi, 1)]
    ranges["view"] = [-math.ceil(radius * 10 + 1) / 10, math.ceil(radius * 10 + 1) / 10]
    ranges["off"] = ranges["x"]
    half = round(half * 1.05 + 1.5, 2)  # room for the markers at the edges
    nn = [t["nn_distance"] for t in parsed
          if isinstance(t.get("nn_distance"), np.ndarray) and t["nn_distance"].dtype != object]
    nn = np.concatenate(nn) if nn else np.zeros(0)
    nn = float(np.nanmedian(nn)) if np.isfinite(nn).any() else DEFAULT_NN
    thickness = round(SLAB_THICKNESS_NN * nn, 1)
    thick_max = round(math.ceil(2 * radius + 1), 1)
    cut = {"centre": [round(c, 4) for c in centre], "ranges": ranges, "thickness": thickness,
           "thicknessRange": [0.2, thick_max]}

    default = keys.index(DEFAULT_QUANTITY) if DEFAULT_QUANTITY in keys else 0
    layout = _layout(series, page_frames, centre, half)
    hover_cols = [j for j, s in enumerate(specs) if s["coord"] < 0]
    items = []
    for j, s in enumerate(specs):
        if s["coord"] >= 0:
            items.append(None)
            continue
        unit = " Å" if s["unit"] == "Å" else ""
        items.append(f"{html.escape(s['key'])} %{{customdata[{hover_cols.index(j) + 1}]}}"
                     f"{unit}")
    hover = {"head": "<b>atom %{customdata[0]}</b>", "pos": "x %{x}, y %{y}, z %{z} Å",
             "columns": hover_cols, "items": items, "order": hover_cols}

    frame_json = [_js_json(f) for f in page_frames]  # encoded once: sizes and page
    frame_bytes = {f["name"]: len(j.encode("utf-8"))
                   for f, j in zip(page_frames, frame_json, strict=True)}
    n_drawn_total = sum(info_drawn.values())
    data_bytes = sum(frame_bytes.values())
    per_atom = data_bytes / n_drawn_total if n_drawn_total else float("nan")
    nt = {"frames": [], "columns": specs, "keys": keys, "defaultQuantity": default,
          "coordDecimals": COORD_DECIMALS, "markerSize": size, "interval": PLAY_INTERVAL_MS,
          "hover": hover, "cut": cut, "labelCharPx": 8, "buttonsPx": 160}

    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    layout = go.Layout(layout).to_plotly_json()  # validated by plotly
    trace = {"type": "scatter3d", "mode": "markers", "x": [], "y": [], "z": [],
             "marker": {"size": size}, "showlegend": False}
    nt_json = _js_json(nt)  # "frames" first: the frames' JSON goes in between the brackets
    head = '{"frames":['
    if not nt_json.startswith(head + "]"):
        raise AssertionError("the page's data must start with its frames")
    nt_json = head + ",".join(frame_json) + nt_json[len(head):]
    script = _SCRIPT.replace("__NT_DATA__", nt_json)
    div = pio.to_html({"data": [trace], "layout": layout}, config=_config(series),
                      include_plotlyjs=True, full_html=False, div_id=_div_id(series),
                      post_script=script, auto_play=False, validate=False,
                      default_width="100%", default_height="80vh")
    js = get_plotlyjs()
    js_bytes = len(js.encode("utf-8"))
    js_version = plotly_js_version(js)
    centre_pos = round(0.5 * (ranges["x"][0] + ranges["x"][1]), 1)

    def note(total_bytes):
        return _note(series, page_frames, limit, subsampled, size, data_bytes, per_atom,
                     js_bytes, total_bytes, js_version, thickness)

    # The page around its note, formatted once (a long series' page is tens of MB); the note
    # states the page's own size: settled on the note alone, as if the whole page were
    # formatted and measured again each time.
    slot = "\x00note\x00"
    around = _PAGE.format(title=html.escape(f"nanotraj · {series} · 3D view of every frame"),
                          plot=div, note=slot, options=_options(specs),
                          pos_min=ranges["x"][0], pos_max=ranges["x"][1], pos=centre_pos,
                          thick_min=0.2, thick_max=thick_max,
                          thick=thickness).split(slot)
    if len(around) != 2:
        raise AssertionError("the page must hold its note once")
    rest = sum(len(part.encode("utf-8")) for part in around)
    text_note = note(0)
    for _ in range(3):
        text_note = note(rest + len(text_note.encode("utf-8")))
    text = around[0] + text_note + around[1]
    del around
    from .tables import write_text

    write_text(out_html, text)
    total = Path(out_html).stat().st_size
    for f in page_frames:
        say(f"frame {f['name']}: {info_n[f['name']]} atoms, {len(f['x'])} drawn, "
            f"{frame_bytes[f['name']] / 1024:.1f} KiB of data")
    say(f"{len(page_frames)} frames, {n_drawn_total} atoms drawn (at most {limit} per frame; "
        f"{len(subsampled)} subsampled), marker {size} px, {per_atom:.1f} bytes per atom")
    say(f"page {total / 1e6:.2f} MB: plotly.js {js_version} {js_bytes / 1e6:.2f} MB, "
        f"data {data_bytes / 1e6:.3f} MB ({data_bytes / len(page_frames) / 1024:.1f} KiB "
        f"per frame on average); colour menu: {', '.join(keys)}")
    return {"bytes_total": total, "bytes_plotlyjs": js_bytes, "plotlyjs_version": js_version,
            "bytes_per_frame": frame_bytes, "bytes_per_atom": per_atom, "drawn": info_drawn,
            "n_atoms": info_n, "subsampled": subsampled, "limit": limit, "marker_size": size,
            "quantities": keys, "seconds": _time.perf_counter() - t0}


def _config(series) -> dict:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(series))
    return {"displaylogo": False, "responsive": True, "scrollZoom": True,
            "toImageButtonOptions": {"format": "png", "filename": f"nanotraj_{name}_3d",
                                     "scale": 2}}


def _layout(series, page_frames, centre, half) -> dict:
    """The figure's layout. The scene fills the plot area; the title is in the top margin, the
    frame slider and play buttons in the bottom margin, the colour bar or legend at the right:
    nothing is drawn over the scene."""
    axes = {}
    for j, c in enumerate(COORDINATES):
        axes[f"{c}axis"] = {
            "title": {"text": f"{c} (Å)"},
            "range": [round(centre[j] - half, 2), round(centre[j] + half, 2)],
            "autorange": False, "backgroundcolor": "#f4f4f4", "showbackground": True,
        }
    steps = [{"label": f"{f['time']:g}", "value": str(k), "method": "skip", "args": [k]}
             for k, f in enumerate(page_frames)]
    return {
        "title": {"text": page_frames[0]["title"], "x": 0.01, "xanchor": "left",
                  "y": 1.0, "yanchor": "top", "yref": "container", "pad": {"t": 14},
                  "font": {"size": 15}},
        "uirevision": f"nanotraj-{series}",
        "scene": {**axes, "aspectmode": "cube", "uirevision": "camera",
                  "domain": {"x": [0, 1], "y": [0, 1]},
                  "camera": {"eye": {"x": 1.5, "y": 1.5, "z": 1.1}}},
        "margin": {"l": 10, "r": 10, "t": 78, "b": 78},
        "paper_bgcolor": "white",
        "showlegend": False,
        "legend": {"title": {"text": ""}, "x": 1.0, "xanchor": "left", "y": 0.95,
                   "yanchor": "top", "itemsizing": "constant", "bgcolor": "rgba(255,255,255,0.8)",
                   "uirevision": "legend"},
        "hoverlabel": {"align": "left"},
        "updatemenus": [
            {"name": "play", "type": "buttons", "direction": "left", "showactive": False,
             "buttons": [{"label": "▶ play", "method": "skip", "args": ["play"]},
                         {"label": "❚❚ pause", "method": "skip", "args": ["pause"]}],
             "x": 0.0, "xanchor": "left", "y": -0.005, "yanchor": "top",
             "pad": {"t": 22, "r": 0, "l": 0, "b": 0}},
        ],
        "sliders": [{"active": 0, "steps": steps, "x": 0.17, "len": 0.81, "xanchor": "left",
                     "y": 0.0, "yanchor": "top", "pad": {"t": 12, "b": 0, "l": 10, "r": 10},
                     "currentvalue": {"visible": False},
                     "transition": {"duration": 0}}],
    }


def _note(series, page_frames, limit, subsampled, size, data_bytes, per_atom, js_bytes, total,
          version, thickness) -> str:
    n = len(page_frames)
    parts = [
        f"<b>{html.escape(str(series))}</b>: {n} frame{'s' if n != 1 else ''} in time order "
        "(slider: time). Drag to rotate, scroll to zoom, hover over an atom for its index (0-based "
        "row of the frame's <code>atoms.csv</code>) and values; the slider and ▶ play change the "
        "frame and keep the view, the colour and the cut. Classes use fixed colours (fcc green, "
        "hcp red, bcc blue, ico yellow, sc purple, other/disordered grey, whatever the "
        "classifier); click a class in the legend to hide it. Continuous colours use one range "
        "for the whole series; atoms without a value are dark grey (hover: n/a).",
        "<b>Cut</b>: a slab |s − position| ≤ thickness/2 or one side of a plane, s along x, y, z "
        "or the view direction (it follows the camera), to see inside the particle; default "
        f"thickness {thickness:.1f} Å ({SLAB_THICKNESS_NN:g} × the median nearest-neighbour "
        "distance: a section without gaps, few atoms behind others). Fate: removed in the next "
        "frame, retained, or unknown (last frame, no tracking).",
        f"Frames with more than {limit:,} atoms are drawn as a fixed random subsample of "
        f"{limit:,} atoms (their title says so); markers are {size} px."
        + (f" Subsampled here: {len(subsampled)} frame(s)." if subsampled
           else " No frame is subsampled here."),
        f"Page {total / 1e6:.2f} MB, of which plotly.js "
        f"<span id=\"nt-plotlyjs-version\">{html.escape(version)}</span> "
        f"{js_bytes / 1e6:.2f} MB"
        + (f" and the atoms {data_bytes / 1e3:.1f} kB ({data_bytes / n / 1e3:.1f} kB per frame, "
           f"{per_atom:.0f} bytes per atom drawn)" if math.isfinite(per_atom) else "")
        + ". Works offline: nothing is loaded from the network.",
    ]
    return "<br>".join(parts)
