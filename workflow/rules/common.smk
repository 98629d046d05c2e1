# Configuration, frames sheet and input functions. Everything here runs once, when Snakemake
# parses the workflow: errors are start-up errors with one clear message.
import csv
import math
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

import nanotraj
from nanotraj.contract import PDB_QUANTITIES
from nanotraj.elements import auto_cutoff_min, nn_distance as element_nn_distance
from nanotraj.errors import ConfigError

min_version("9.0")

WORKFLOW_DIR = Path(workflow.basedir)
SCHEMAS = WORKFLOW_DIR / "workflow" / "schemas"
# All rules take the library's version as a param: Snakemake does not watch imported modules,
# so a new release of nanotraj reruns what it may change (rerun trigger "params").
VERSION = nanotraj.__version__


def typed_scalars(cfg):
    """Numbers and booleans inside nested keys, typed: `--config "rdf={dr: 0.05}"` reaches the
    workflow as the string '0.05' (Snakemake reads such values with YAML's BaseLoader), which
    the schema would reject although the user wrote a number."""
    for key, value in cfg.items():
        if isinstance(value, dict):
            typed_scalars(value)
        elif isinstance(value, str) and key not in ("frames", "element", "time_unit"):
            text = value.strip()
            if text.lower() in ("true", "false"):
                cfg[key] = text.lower() == "true"
                continue
            for kind in (int, float):
                try:
                    cfg[key] = kind(text)
                    break
                except ValueError:
                    pass
    return cfg


def non_finite_keys(cfg, prefix=""):
    """Keys holding nan or +-inf: JSON-schema bounds compare false with nan, so it would pass
    validation (`--config cutoff=nan`) and break a job later, or switch a check off."""
    bad = []
    for key, value in cfg.items():
        if isinstance(value, dict):
            bad += non_finite_keys(value, f"{prefix}{key}.")
        elif isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{prefix}{key}")
    return bad


typed_scalars(config)
_non_finite = non_finite_keys(config)
if _non_finite:
    raise WorkflowError(f"config: {', '.join(_non_finite)} must be a finite number")
validate(config, str(SCHEMAS / "config.schema.yaml"))

RESULTS = "results"


def resolve_path(path):
    """User paths are relative to the working directory; shipped resources (the demo sheet and
    its frames) are found relative to the workflow when the working directory lacks them.
    """
    p = Path(path)
    if p.is_absolute() or p.exists():
        return str(p)
    shipped = WORKFLOW_DIR / p
    return str(shipped) if shipped.exists() else str(p)


def fail(message):
    raise WorkflowError(message)


# Suffixes of the workflow's own files, which sit next to the series' and frames' folders
# (results/{series}/summary.csv beside results/{series}/{frame}/; the folder names
# intermediate, logs and benchmarks are reserved by the sheet's schema).
OWN_FILE_SUFFIXES = (
    ".csv",
    ".png",
    ".html",
    ".zip",
    ".log",
    ".tsv",
    ".npz",
    ".pdb",
    ".cif",
)


def reserved_name(series, frame):
    """Why a series or frame name would collide with the workflow's own files, or None."""
    for kind, name in (("series", series), ("frame", frame)):
        if name.lower().endswith(OWN_FILE_SUFFIXES):
            return (
                f"{kind} name {name!r} ends like a file the workflow writes "
                f"({', '.join(OWN_FILE_SUFFIXES)}): drop the suffix"
            )
    return None


SHEET_COLUMNS = ("series", "frame", "time", "path", "element")


def load_frames(sheet_path):
    """Read and check the frames sheet: a list of dict rows with typed values."""
    sheet = resolve_path(sheet_path)
    if not os.path.isfile(sheet):
        fail(f"{sheet_path}: frames sheet not found (config key 'frames')")
    with open(sheet, newline="", encoding="utf-8-sig") as fh:
        numbered = [
            (k, ln)
            for k, ln in enumerate(fh, start=1)
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
    reader = csv.DictReader([ln for _, ln in numbered], delimiter="\t")
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing_cols = [c for c in ("series", "frame", "time", "path") if c not in header]
    if missing_cols:
        hint = ""
        if len(header) == 1 and ("," in header[0] or ";" in header[0]):
            hint = "; the header has no tab: is the sheet comma-separated?"
        elif {h.lower() for h in header} >= set(missing_cols):
            hint = "; column names are lower case"
        fail(
            f"{sheet}: missing column(s) {', '.join(missing_cols)} "
            f"(tab-separated header: series, frame, time, path[, element]){hint}"
        )
    for h in header:  # `Element` would be an extra column, ignored: say so
        if h not in SHEET_COLUMNS and h.lower() in SHEET_COLUMNS:
            fail(f"{sheet}: column {h!r}: column names are lower case ({h.lower()!r})")
    rows = []
    for raw in reader:
        # the line in the file, comment and blank lines counted
        lineno = numbered[reader.line_num - 1][0]
        if None in raw:
            fail(
                f"{sheet}: line {lineno} has {len(header) + len(raw[None])} fields, the "
                f"header {len(header)} (a tab inside a name or path?)"
            )
        row = {k.strip(): (v or "").strip() for k, v in raw.items()}
        if not row.get("element"):
            row.pop("element", None)
        try:
            row["time"] = float(row["time"])
        except ValueError:
            fail(f"{sheet}: line {lineno}: time {row['time']!r} is not a number")
        if not math.isfinite(row["time"]):
            fail(f"{sheet}: line {lineno}: time {row['time']!r} is not finite")
        rows.append((lineno, row))
    if not rows:
        fail(f"{sheet}: the frames sheet has no frames")
    schema = str(SCHEMAS / "frames.schema.yaml")
    try:  # the whole sheet in one call: the schema is loaded once, not once per row
        validate({"rows": [r for _, r in rows]}, schema)
    except WorkflowError:
        for lineno, row in rows:  # name the first invalid row
            try:
                validate({"rows": [row]}, schema)
            except WorkflowError as err:
                bad = {
                    k: row.get(k)
                    for k in ("series", "frame", "path", "element")
                    if k in row
                }
                cause = err.__context__  # jsonschema's ValidationError: the reason
                why = getattr(cause, "message", None) or str(err).splitlines()[0]
                fail(f"{sheet}: line {lineno} is invalid {bad}: {why}")
        raise
    for lineno, row in rows:
        clash = reserved_name(row["series"], row["frame"])
        if clash:
            fail(f"{sheet}: line {lineno}: {clash}")
    rows = [r for _, r in rows]
    for row in rows:
        row["path"] = resolve_path(row["path"])
    seen, dups, times = set(), [], {}
    for row in rows:
        key = (row["series"], row["frame"])
        if key in seen:
            dups.append("/".join(key))
        seen.add(key)
        times.setdefault(row["series"], []).append(row["time"])
    if dups:
        fail(
            f"{sheet}: duplicate frame(s) within a series: {', '.join(sorted(set(dups)))}"
        )
    for series, ts in times.items():
        if len(set(ts)) != len(ts):
            fail(
                f"{sheet}: series {series} has several frames at the same time; times order the frames"
            )
    missing = [r["path"] for r in rows if not os.path.exists(r["path"])]
    if missing:
        fail(
            f"{sheet}: {len(missing)} frame file(s) do not exist: {', '.join(missing)}"
        )
    return rows


FRAMES = load_frames(config["frames"])
FRAME_INDEX = {(r["series"], r["frame"]): r for r in FRAMES}
SERIES = sorted({r["series"] for r in FRAMES})

# Unknown elements are start-up errors, not per-frame failures.
_nn, _rmin = {}, {}
for _el in sorted(
    {config["element"]} | {r["element"] for r in FRAMES if "element" in r}
):
    try:
        _nn[_el.capitalize()] = element_nn_distance(_el)
        _rmin[_el.capitalize()] = auto_cutoff_min(_el)
    except ConfigError as err:
        fail(str(err))
NN_DISTANCE = _nn
AUTO_CUTOFF_MIN = _rmin  # bcc: the automatic cutoff keeps the 2nd shell (elements.py)


def frames_of(series):
    """The frames of a series, ordered by time."""
    return sorted((r for r in FRAMES if r["series"] == series), key=lambda r: r["time"])


def frame_row(wildcards):
    try:
        return FRAME_INDEX[(wildcards.series, wildcards.frame)]
    except KeyError:
        fail(f"frame {wildcards.series}/{wildcards.frame} is not in the frames sheet")


def get_frame_path(wildcards):
    return frame_row(wildcards)["path"]


def get_element(wildcards):
    return frame_row(wildcards).get("element", config["element"]).capitalize()


def get_nn_distance(wildcards):
    return NN_DISTANCE[get_element(wildcards)]


def get_auto_cutoff_min(wildcards):
    return AUTO_CUTOFF_MIN[get_element(wildcards)]


#: Frames whose file is larger than this get config["large_frame_threads"] threads in the heavy
#: per-frame jobs (a PDB line is 81 bytes: ~25,000 atoms).
LARGE_FRAME_BYTES = 2_000_000


def get_frame_threads(wildcards):
    """Threads of a heavy per-frame job: more for a large frame, 1 for a small one (small
    frames gain nothing from threads and run side by side instead)."""
    try:
        size = os.path.getsize(get_frame_path(wildcards))
    except OSError:
        return 1
    return config["large_frame_threads"] if size > LARGE_FRAME_BYTES else 1


def get_time(wildcards):
    return frame_row(wildcards)["time"]


def get_series_summaries(wildcards):
    return [
        f"{RESULTS}/{wildcards.series}/{r['frame']}/summary.csv"
        for r in frames_of(wildcards.series)
    ]


def get_stage_inputs(*stages):
    """Named intermediate files of a frame, for rules that combine several stages."""
    return {s: f"results/intermediate/{{series}}/{{frame}}/{s}.npz" for s in stages}


def get_final_outputs():
    outs = [f"{RESULTS}/summary.csv", f"{RESULTS}/rejected.csv"]
    for r in FRAMES:
        base = f"{RESULTS}/{r['series']}/{r['frame']}"
        outs += [f"{base}/atoms.csv", f"{base}/bonds.csv", f"{base}/rdf.csv"]
        outs += [
            f"{base}/pdb/{q}.{ext}" for q in PDB_QUANTITIES for ext in ("pdb", "cif")
        ]
    outs += [f"{RESULTS}/{s}/summary.csv" for s in SERIES]
    outs += get_plot_outputs()
    outs += [f"{RESULTS}/{s}/viewer.html" for s in SERIES]
    return outs


def frame_report_labels(figure):
    """Report labels of a per-frame figure: frame, time (with the config's unit) and figure name."""

    def labels(wildcards):
        return {
            "frame": wildcards.frame,
            "time": f"{get_time(wildcards):g} {config['time_unit']}",
            "figure": figure,
        }

    return labels


def get_series_frame_files(name):
    """The frames' results/{series}/{frame}/<name> files of a series, in time order."""

    def files(wildcards):
        return [
            f"{RESULTS}/{wildcards.series}/{r['frame']}/{name}"
            for r in frames_of(wildcards.series)
        ]

    return files


def get_plot_outputs():
    """Every figure of the run (part of the default target)."""
    outs = []
    for r in FRAMES:
        base = f"{RESULTS}/{r['series']}/{r['frame']}"
        outs += [f"{base}/rdf.png", f"{base}/order.png"]
    for s in SERIES:
        outs += [
            f"{RESULTS}/{s}/{name}.png"
            for name in ("timeseries", "rdf_series", "cn_series")
        ]
    return outs


TRACKING = {"max_distance": "auto", "align": False, **config.get("tracking", {})}
TRACK_STAGES = ("frame", "boo", "coordination", "structure")


def get_previous_frame(wildcards):
    """Name of the frame before {frame} in its series (time order); '' for the first frame."""
    names = [r["frame"] for r in frames_of(wildcards.series)]
    k = names.index(wildcards.frame)
    return names[k - 1] if k > 0 else ""


def get_previous_element(wildcards):
    """Element of the frame before {frame} (the atoms of fate.pdb/.cif); its own if first."""
    prev = get_previous_frame(wildcards)
    row = FRAME_INDEX[(wildcards.series, prev)] if prev else frame_row(wildcards)
    return row.get("element", config["element"]).capitalize()


def get_track_inputs(wildcards):
    """Frame t's frame.npz and rdf.npz (the stages that can reject a frame) and, unless it
    is the first frame, frame t-1's stage .npz files."""
    base = f"results/intermediate/{wildcards.series}/{wildcards.frame}"
    inputs = {"frame": f"{base}/frame.npz", "rdf": f"{base}/rdf.npz"}
    prev = get_previous_frame(wildcards)
    if prev:
        for stage in TRACK_STAGES:
            inputs[f"prev_{stage}"] = (
                f"results/intermediate/{wildcards.series}/{prev}/{stage}.npz"
            )
    return inputs


def get_track_max_distance(wildcards):
    """Matching limit in Angstrom: the configured value, or 0.5 x the nearest-neighbour distance."""
    value = TRACKING["max_distance"]
    if value == "auto":
        return 0.5 * get_nn_distance(wildcards)
    return float(value)


def get_series_times(wildcards):
    return [r["time"] for r in frames_of(wildcards.series)]


def get_series_frame_names(wildcards):
    return [r["frame"] for r in frames_of(wildcards.series)]


def get_series_tracking(wildcards):
    return [
        f"results/intermediate/{wildcards.series}/{r['frame']}/tracking.npz"
        for r in frames_of(wildcards.series)
    ]


def get_tracking_outputs():
    """Every tracking file of the run (default targets): the fate files of the frames with a
    predecessor and the series figures."""
    outs = []
    for s in SERIES:
        rows = frames_of(s)
        for r in rows[1:]:
            base = f"results/{s}/{r['frame']}"
            outs += [
                f"{base}/{n}" for n in ("fate.csv", "fate.pdb", "fate.cif", "new.csv")
            ]
        outs += [
            f"results/{s}/{name}"
            for name in ("tracking.csv", "removal_cn.png", "displacements.png")
        ]
    return outs
