# Configuration, frames sheet and input functions. Everything here runs once, when Snakemake
# parses the workflow: errors are start-up errors with one clear message. The parsing and checks
# live in the library (nanotraj.config, nanotraj.sheet, nanotraj.elements; unit-tested); paths
# come from nanotraj.layout, the one place the file layout is written.
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

import nanotraj
from nanotraj import layout
from nanotraj.config import check as check_config
from nanotraj.config import prepare as prepare_config
from nanotraj.config import schema_message
from nanotraj.contract import PDB_QUANTITIES
from nanotraj.elements import check_elements
from nanotraj.errors import ConfigError
from nanotraj.sheet import SheetError, read_frames

min_version("9.0")

WORKFLOW_DIR = Path(workflow.basedir)
SCHEMAS = WORKFLOW_DIR / "workflow" / "schemas"
# All rules take the library's version as a param: Snakemake does not watch imported modules,
# so a new release of nanotraj reruns what it may change (rerun trigger "params").
VERSION = nanotraj.__version__


def startup_error(message):
    """Stop before anything runs with one line on stderr, ``Error: <file>: <reason>``, and exit
    status 1: a WorkflowError would add Snakemake's "in file ..., line ..." and traceback lines
    pointing into the workflow, which say nothing about the user's input."""
    raise SystemExit(f"Error: {message}")


try:
    prepare_config(config)
    validate(config, str(SCHEMAS / "config.schema.yaml"))  # also fills in the defaults
    check_config(config)
except ConfigError as err:
    startup_error(err)
except WorkflowError as err:  # the schema's: one line, not the schema excerpt
    startup_error(schema_message(err, "configuration (config file and --config)"))

try:
    FRAMES = read_frames(
        config["frames"],
        schema=SCHEMAS / "frames.schema.yaml",
        workflow_dir=WORKFLOW_DIR,
        results=layout.RESULTS,
    )
    # unknown elements are start-up errors, not per-frame failures
    check_elements(
        {config["element"]} | {r["element"] for r in FRAMES if "element" in r}
    )
except (SheetError, ConfigError) as err:
    startup_error(err)
FRAME_INDEX = {(r["series"], r["frame"]): r for r in FRAMES}
SERIES = sorted({r["series"] for r in FRAMES})


def frames_option():
    """The --config part naming this run's sheet (empty for the default sheet)."""
    default = "config/frames.tsv"
    return "" if config["frames"] == default else f"--config frames={config['frames']}"


def frames_of(series):
    """The frames of a series, ordered by time."""
    return sorted((r for r in FRAMES if r["series"] == series), key=lambda r: r["time"])


def frame_row(wildcards):
    try:
        return FRAME_INDEX[(wildcards.series, wildcards.frame)]
    except KeyError:
        raise WorkflowError(
            f"frame {wildcards.series}/{wildcards.frame} is not in the frames sheet"
        ) from None


def get_frame_path(wildcards):
    return frame_row(wildcards)["path"]


def get_element(wildcards):
    return frame_row(wildcards).get("element", config["element"]).capitalize()


def get_frame_reading(wildcards):
    """How parse_frame reads the frame's file: its 0-based ``frame_index`` in a multi-frame file
    (None: the file is one frame), ``length_unit`` and LAMMPS ``type_map`` (the sheet row's, else
    the config's), and the folder of the cached frame indexes."""
    row = frame_row(wildcards)
    type_map = row.get("type_map") or ",".join(
        f"{k}:{v}"
        for k, v in sorted(config["type_map"].items(), key=lambda kv: int(kv[0]))
    )
    return {
        "frame_index": row.get("frame_index"),
        "length_unit": row.get("length_unit", config["length_unit"]),
        "type_map": type_map,
        "index_cache": layout.frame_index_cache(),
    }


#: Rows naming each multi-frame file, and the largest frame_index named (for the threads).
_FRAMES_PER_FILE = {}
for _r in FRAMES:
    if "frame_index" in _r:
        _FRAMES_PER_FILE[_r["path"]] = max(
            _FRAMES_PER_FILE.get(_r["path"], 0), _r["frame_index"] + 1
        )


#: Frames whose file is larger than this get config["large_frame_threads"] threads in the heavy
#: per-frame jobs (a PDB line is 81 bytes: ~25,000 atoms).
LARGE_FRAME_BYTES = 2_000_000


def get_frame_threads(wildcards):
    """Threads of a heavy per-frame job: more for a large frame, 1 for a small one (small
    frames gain nothing from threads and run side by side instead)."""
    path = get_frame_path(wildcards)
    try:
        size = os.path.getsize(path)
    except OSError:
        return 1
    # a frame of a trajectory: the file's bytes per frame (at least as many frames as named)
    size /= _FRAMES_PER_FILE.get(path, 1)
    return config["large_frame_threads"] if size > LARGE_FRAME_BYTES else 1


def get_time(wildcards):
    return frame_row(wildcards)["time"]


def stage_files(*stages):
    """Named intermediate files of a frame, for rules that combine several stages."""
    return {s: layout.intermediate(s) for s in stages}


def is_snapshot(series):
    """A series of one frame (the usual atomic electron tomography case): one summary figure
    (snapshot.png) instead of time panels, no tracking figures."""
    return len(frames_of(series)) == 1


def get_final_outputs():
    outs = [layout.run_file("summary.csv"), layout.run_file("rejected.csv")]
    per_value_pdb = config["outputs"]["per_value_pdb"] is not False
    for r in FRAMES:
        where = {"series": r["series"], "frame": r["frame"]}
        outs += [
            layout.frame_file(name, **where)
            for name in (
                "atoms.csv",
                "atoms.extxyz",
                "bonds.csv",
                "rdf.csv",
                "rdf.png",
                "order.png",
                "strain_profile.csv",
                "facets.csv",
            )
        ]
        if per_value_pdb:
            outs += [
                layout.frame_file(f"pdb/{q}.{ext}", **where)
                for q in PDB_QUANTITIES
                for ext in ("pdb", "cif")
            ]
    for s in SERIES:
        if is_snapshot(s):
            figures = ("snapshot.png",)
        else:
            figures = (
                "timeseries.png",
                "rdf_series.png",
                "cn_series.png",
                "strain_series.png",
                "facets_series.png",
            )
        outs += [
            layout.series_file(name, series=s)
            for name in ("summary.csv", *figures, "viewer.html", "trajectory.extxyz")
        ]
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
            layout.frame_file(name, series=wildcards.series, frame=r["frame"])
            for r in frames_of(wildcards.series)
        ]

    return files


def get_series_element(wildcards):
    """Element of a series' first frame (the lattice constant drawn in strain_series.png)."""
    row = frames_of(wildcards.series)[0]
    return row.get("element", config["element"]).capitalize()


def get_series_intermediate(stage):
    """The frames' intermediate <stage>.npz files of a series, in time order."""

    def files(wildcards):
        return [
            layout.intermediate(stage, series=wildcards.series, frame=r["frame"])
            for r in frames_of(wildcards.series)
        ]

    return files


TRACK_STAGES = ("frame", "boo", "coordination", "surface")


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
    inputs = {
        s: layout.intermediate(s, series=wildcards.series, frame=wildcards.frame)
        for s in ("frame", "rdf")
    }
    prev = get_previous_frame(wildcards)
    if prev:
        for stage in TRACK_STAGES:
            inputs[f"prev_{stage}"] = layout.intermediate(
                stage, series=wildcards.series, frame=prev
            )
    return inputs


def get_series_times(wildcards):
    return [r["time"] for r in frames_of(wildcards.series)]


def get_series_frame_names(wildcards):
    return [r["frame"] for r in frames_of(wildcards.series)]


def get_tracking_outputs():
    """Every tracking file of the run (default targets): the fate files of the frames with a
    predecessor and the series figures."""
    outs = []
    for s in SERIES:
        for r in frames_of(s)[1:]:
            outs += [
                layout.frame_file(n, series=s, frame=r["frame"])
                for n in ("fate.csv", "fate.pdb", "fate.cif", "new.csv")
            ]
        figures = () if is_snapshot(s) else ("removal_cn.png", "displacements.png")
        outs += [layout.series_file(n, series=s) for n in ("tracking.csv", *figures)]
    return outs


def get_series_next_fate_files(wildcards):
    """The fate of each frame's atoms but the last, for the viewer: frame k's atoms are described
    by results/{series}/{frame k+1}/fate.csv (whether each is retained in frame k+1 or removed),
    so this lists the fate.csv of frames 2..n in time order, one fewer than the frames; the
    script appends None for the last frame (nanotraj.stages.figures.build_viewer, fates=).
    """
    return [
        layout.frame_file("fate.csv", series=wildcards.series, frame=r["frame"])
        for r in frames_of(wildcards.series)[1:]
    ]


def get_link_inputs(wildcards):
    """Inputs of link_domains for frame t: its domains.npz and the pair's tracking.npz and,
    unless t is the first frame of its series, frame t-1's domains.npz (issue 21)."""
    where = {"series": wildcards.series, "frame": wildcards.frame}
    inputs = {
        "domains": layout.intermediate("domains", **where),
        "tracking": layout.intermediate("tracking", **where),
    }
    prev = get_previous_frame(wildcards)
    if prev:
        inputs["prev_domains"] = layout.intermediate(
            "domains", series=wildcards.series, frame=prev
        )
    return inputs


def get_domain_options():
    """The keys of config["domains"] that find_domains uses (a change of the link thresholds
    reruns only the links)."""
    keys = (
        "method",
        "max_misorientation",
        "min_atoms",
        "order_threshold",
        "twin_tolerance",
    )
    return {k: config["domains"][k] for k in keys}


def get_domain_outputs():
    """Every domain and atom-identity file of the run (default targets): the frames' domains.csv
    and boundaries.csv, the series' tables and figures (issue 21; a snapshot gets no figures)."""
    outs = []
    for s in SERIES:
        for r in frames_of(s):
            outs += [
                layout.frame_file(n, series=s, frame=r["frame"])
                for n in ("domains.csv", "boundaries.csv")
            ]
        outs += [
            layout.series_file(n, series=s)
            for n in (
                "domains.csv",
                "domain_events.csv",
                "atom_ids.csv",
                "lifetimes.csv",
                "survival.csv",
                "rmsd_matrix.csv",
            )
        ]
        if not is_snapshot(s):  # one frame: no one-dot time figures (snapshot.png instead)
            outs += [
                layout.series_file(n, series=s)
                for n in ("domains_series.png", "survival.png", "rmsd_matrix.png")
            ]
    return outs
