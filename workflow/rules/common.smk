# Configuration, frames sheet and input functions. Everything here runs once, when Snakemake
# parses the workflow: errors are start-up errors with one clear message. The parsing and checks
# live in the library (nanotraj.config, nanotraj.sheet, nanotraj.elements; unit-tested); paths
# come from nanotraj.layout, the one place the file layout is written.
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

import nanotraj
from nanotraj import layout
from nanotraj.chunking import chunk_name
from nanotraj.chunking import chunk_size as chunk_size_of
from nanotraj.chunking import frame_jobs as frame_jobs_of
from nanotraj.chunking import frame_outputs
from nanotraj.chunking import frame_stage_options
from nanotraj.chunking import split as split_chunks
from nanotraj.chunking import stage_options
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
#: The per-frame tables of outputs.table_format (atoms, bonds as CSV and/or Parquet), by the
#: write_frame_table output key, and the atoms table the later jobs read (the CSV unless only
#: Parquet is written; nanotraj.tables reads either).
TABLE_FILES = layout.frame_tables(config["outputs"]["table_format"])
ATOMS_TABLE = layout.table_name("atoms", config["outputs"]["table_format"])
FRAME_INDEX = {(r["series"], r["frame"]): r for r in FRAMES}
SERIES = sorted({r["series"] for r in FRAMES})
#: The frames of each series in time order, and the frame before each (computed once: input
#: functions run once per job, thousands of times for a long series).
SERIES_FRAMES = {
    s: sorted((r for r in FRAMES if r["series"] == s), key=lambda r: r["time"])
    for s in SERIES
}
PREVIOUS_FRAME = {
    (s, b["frame"]): a["frame"]
    for s, rows in SERIES_FRAMES.items()
    for a, b in zip(rows, rows[1:])
}
#: The chunks of the long series (nanotraj.chunking, config chunk_size): series -> {chunk name:
#: rows in time order}; a series not here has one job per stage and frame.
CHUNKS = {}
for _s, _rows in SERIES_FRAMES.items():
    _size = chunk_size_of(len(_rows), config["chunk_size"])
    if _size:
        CHUNKS[_s] = {
            chunk_name(k): part for k, part in enumerate(split_chunks(_rows, _size))
        }

#: Per series, its frames' figures and per-value PDB files (outputs.frame_figures and
#: per_value_pdb with auto resolved: not for a chunked series of more than 200 frames;
#: nanotraj.chunking.frame_outputs).
FRAME_OUTPUTS = {
    s: frame_outputs(config["outputs"], len(rows), chunked=s in CHUNKS)
    for s, rows in SERIES_FRAMES.items()
}
#: The chunked series whose chunks draw their frames' figures: rule run_chunk_figures, which
#: also hands them to the report; the other chunked series: rule run_chunk (chunks.smk).
FIGURE_CHUNK_SERIES = sorted(s for s in CHUNKS if FRAME_OUTPUTS[s]["frame_figures"])


#: The series planned with one job per frame (rule analyse_frame; config frame_jobs,
#: nanotraj.chunking.frame_jobs): never a chunked series.
FUSED_SERIES = sorted(
    s
    for s, rows in SERIES_FRAMES.items()
    if s not in CHUNKS and frame_jobs_of(len(rows), config["frame_jobs"]) == "one"
)


def series_constraint(names):
    """A `series` wildcard constraint matching exactly ``names`` ("(?!)": none). Both the
    per-stage rules and analyse_frame write a frame's stage files: the rule-level constraints
    FUSED_SERIES_RE / STAGE_SERIES_RE leave each file exactly one producer. On the series, never
    on the frames: an alternation of every frame name makes planning quadratic (Snakefile).
    """
    return "|".join(re.escape(s) for s in sorted(names)) or "(?!)"


#: Series of rule analyse_frame, and of the per-stage rules (every other series; a chunked
#: series' frame files are run_chunk's, undeclared, and no rule asks for them).
FUSED_SERIES_RE = series_constraint(FUSED_SERIES)
STAGE_SERIES_RE = series_constraint(set(SERIES) - set(FUSED_SERIES))
FIGURE_CHUNK_SERIES_RE = series_constraint(FIGURE_CHUNK_SERIES)
PLAIN_CHUNK_SERIES_RE = series_constraint(set(CHUNKS) - set(FIGURE_CHUNK_SERIES))


def frames_option():
    """The --config part naming this run's sheet (empty for the default sheet)."""
    default = "config/frames.tsv"
    return "" if config["frames"] == default else f"--config frames={config['frames']}"


def frames_of(series):
    """The frames of a series, ordered by time."""
    return SERIES_FRAMES[series]


def is_fused(series):
    """Whether the frames of the series are analysed by one job each (rule analyse_frame)
    instead of one job per stage and frame."""
    return series in FUSED_SERIES


def is_chunked(series):
    """Whether the series is analysed in chunks of frames (rule run_chunk) instead of one job
    per stage and frame (nanotraj.chunking)."""
    return series in CHUNKS


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


def row_reading(row):
    """How a sheet row's frame is read: its 0-based ``frame_index`` in a multi-frame file
    (None: the file is one frame), ``length_unit`` and LAMMPS ``type_map`` (the sheet row's,
    else the config's)."""
    type_map = row.get("type_map") or ",".join(
        f"{k}:{v}"
        for k, v in sorted(config["type_map"].items(), key=lambda kv: int(kv[0]))
    )
    return {
        "frame_index": row.get("frame_index"),
        "length_unit": row.get("length_unit", config["length_unit"]),
        "type_map": type_map,
    }


def get_frame_reading(wildcards):
    """How parse_frame reads the frame's file (row_reading) and the folder of the cached frame
    indexes."""
    return {
        **row_reading(frame_row(wildcards)),
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
    for r in FRAMES:
        # run_chunk writes a chunked series' frame files (get_chunk_outputs)
        if is_chunked(r["series"]):
            continue
        frame_figures = FRAME_OUTPUTS[r["series"]]["frame_figures"]
        per_value_pdb = FRAME_OUTPUTS[r["series"]]["per_value_pdb"] is not False
        where = {"series": r["series"], "frame": r["frame"]}
        outs += [
            layout.frame_file(name, **where)
            for name in (
                *TABLE_FILES.values(),
                "atoms.extxyz",
                "rdf.csv",
                "strain_profile.csv",
                "facets.csv",
            )
        ]
        if frame_figures:
            outs += [layout.frame_file(n, **where) for n in ("rdf.png", "order.png")]
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
    return outs + get_chunk_outputs() + get_chunk_figure_folders()


def get_chunk_outputs(series=None):
    """The chunks' frames.npz of the chunked series (of ``series`` only when given)."""
    return [
        layout.chunk_file(layout.CHUNK_BUNDLE, series=s, chunk=c)
        for s in ([series] if series else CHUNKS)
        for c in CHUNKS.get(s, ())
    ]


def get_chunk_figure_folders():
    """The folders of the frames' figures of the chunks that draw them (rule
    run_chunk_figures: links to results/{series}/{frame}/*.png, for the report)."""
    return [
        layout.chunk_file(name, series=s, chunk=c)
        for s in FIGURE_CHUNK_SERIES
        for c in CHUNKS[s]
        for name in layout.CHUNK_FIGURES.values()
    ]


def frame_report_labels(figure):
    """Report labels of a per-frame figure: frame, time (with the config's unit) and figure name."""

    def labels(wildcards):
        return {
            "frame": wildcards.frame,
            "time": f"{get_time(wildcards):g} {config['time_unit']}",
            "figure": figure,
        }

    return labels


def series_frame_paths(series, name):
    """The frames' results/{series}/{frame}/<name> files of a series, in time order."""
    return [
        layout.frame_file(name, series=series, frame=r["frame"])
        for r in frames_of(series)
    ]


def get_series_frame_files(name):
    """Input function: the frames' results/{series}/{frame}/<name> files of a series, in time
    order; for a chunked series its chunks' frames.npz (run_chunk writes the frames' files
    without declaring them: the rule reads them by series_frame_paths or get_frame_paths).
    """

    def files(wildcards):
        if is_chunked(wildcards.series):
            return get_chunk_outputs(wildcards.series)
        return series_frame_paths(wildcards.series, name)

    return files


def get_frame_paths(*names):
    """Params function: {name: the frames' files} of a series (series_frame_paths), for the
    script jobs, which read a chunked series' frame files by name."""

    def paths(wildcards):
        return {n: series_frame_paths(wildcards.series, n) for n in names}

    return paths


def get_series_element(wildcards):
    """Element of a series' first frame (the lattice constant drawn in strain_series.png)."""
    row = frames_of(wildcards.series)[0]
    return row.get("element", config["element"]).capitalize()


def get_series_intermediate(stage):
    """The frames' intermediate <stage>.npz files of a series, in time order."""

    def files(wildcards):
        # a chunked series: the frames' arrays are in its chunks' frames.npz
        if is_chunked(wildcards.series):
            return get_chunk_outputs(wildcards.series)
        return [
            layout.intermediate(stage, series=wildcards.series, frame=r["frame"])
            for r in frames_of(wildcards.series)
        ]

    return files


TRACK_STAGES = ("frame", "boo", "coordination", "surface")


def get_previous_frame(wildcards):
    """Name of the frame before {frame} in its series (time order); '' for the first frame."""
    return PREVIOUS_FRAME.get((wildcards.series, wildcards.frame), "")


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
        for r in [] if is_chunked(s) else frames_of(s)[1:]:
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
    if is_chunked(wildcards.series):
        return get_chunk_outputs(wildcards.series)
    return [
        layout.frame_file("fate.csv", series=wildcards.series, frame=r["frame"])
        for r in frames_of(wildcards.series)[1:]
    ]


def get_viewer_fates(wildcards):
    """Params function: the fate.csv describing each frame's atoms (frame k+1's; None for the
    last frame), for build_viewer."""
    return [
        *[
            layout.frame_file("fate.csv", series=wildcards.series, frame=r["frame"])
            for r in frames_of(wildcards.series)[1:]
        ],
        None,
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
    and boundaries.csv, the series' tables and figures (issue 21; a snapshot gets no figures).
    """
    outs = []
    for s in SERIES:
        for r in [] if is_chunked(s) else frames_of(s):
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
        # one frame: no one-dot time figures (snapshot.png instead)
        if not is_snapshot(s):
            outs += [
                layout.series_file(n, series=s)
                for n in ("domains_series.png", "survival.png", "rmsd_matrix.png")
            ]
    return outs


# ----------------------------------------------------------------------------------------------
# chunks of long series (rule run_chunk; nanotraj.chunking)


def chunk_of(wildcards):
    try:
        return CHUNKS[wildcards.series][wildcards.chunk]
    except KeyError:
        raise WorkflowError(
            f"chunk {wildcards.series}/{wildcards.chunk} is not a chunk of the frames sheet"
        ) from None


def _chunk_previous_row(wildcards):
    """The row of the frame before the chunk's first (None for the series' first chunk)."""
    first = chunk_of(wildcards)[0]["frame"]
    prev = PREVIOUS_FRAME.get((wildcards.series, first))
    return FRAME_INDEX[(wildcards.series, prev)] if prev else None


def get_chunk_inputs(wildcards):
    """The files of the chunk's frames and of the frame before it, when each is a file of its
    own; a frame of a multi-frame file is followed by the digest of its bytes instead
    (get_chunk_frames), so that editing one frame of a trajectory reruns only its chunk.
    """
    rows = [*chunk_of(wildcards), _chunk_previous_row(wildcards)]
    return sorted({r["path"] for r in rows if r is not None and "frame_index" not in r})


_DIGESTS = {}


def frame_digests(path):
    """Per frame of a multi-frame file, a digest of its bytes (blake2b, 8 bytes, hex); a file
    read whole (compressed, mmCIF, ...): the whole file's digest for every frame. Once per file
    and planning (~0.2 s for 10,000 frames of 300 atoms)."""
    if path not in _DIGESTS:
        import hashlib
        import mmap

        from nanotraj.trajectory import frame_index

        idx = frame_index(path, cache_dir=layout.frame_index_cache())
        with (
            open(path, "rb") as fh,
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm,
        ):
            if idx.whole:
                whole = hashlib.blake2b(mm, digest_size=8).hexdigest()
                _DIGESTS[path] = [whole] * len(idx)
            else:
                _DIGESTS[path] = [
                    hashlib.blake2b(mm[a:b], digest_size=8).hexdigest()
                    for a, b in zip(idx.starts.tolist(), idx.ends.tolist())
                ]
    return _DIGESTS[path]


def chunk_row(row):
    """What run_chunk reads of a sheet row: name, time, file, how it is read (row_reading),
    its element (None: the config's) and, for a frame of a multi-frame file, its bytes' digest
    (a params rerun trigger: an edited frame reruns its chunk)."""
    out = {
        "frame": row["frame"],
        "time": row["time"],
        "path": row["path"],
        "element": row.get("element", config["element"]).capitalize(),
        **row_reading(row),
    }
    if "frame_index" in row:
        digests = frame_digests(row["path"])
        k = row["frame_index"]
        out["digest"] = digests[k] if k < len(digests) else ""
    return out


def get_chunk_frames(wildcards):
    return [chunk_row(r) for r in chunk_of(wildcards)]


def get_chunk_previous(wildcards):
    row = _chunk_previous_row(wildcards)
    return chunk_row(row) if row is not None else None


_CHUNK_OPTIONS = {}


def get_chunk_options(wildcards):
    """The configuration's values that run_chunk passes to the stages (the same as the
    per-frame rules'; nanotraj.chunking.stage_options), the frames' figures and per-value PDB
    files as FRAME_OUTPUTS has them for the series. Once per series."""
    s = wildcards.series
    if s not in _CHUNK_OPTIONS:
        _CHUNK_OPTIONS[s] = stage_options(
            config,
            domain_options=get_domain_options(),
            index_cache=layout.frame_index_cache(),
            n_frames=len(frames_of(s)),
        )
    return _CHUNK_OPTIONS[s]


# ----------------------------------------------------------------------------------------------
# one job per frame (rule analyse_frame; config frame_jobs)


def get_fused_row(wildcards):
    """What analyse_frame reads of the frame's sheet row: name, time, file, how it is read
    (row_reading) and its element, as the per-stage rules take them."""
    row = frame_row(wildcards)
    return {
        "frame": row["frame"],
        "time": row["time"],
        "path": row["path"],
        "element": get_element(wildcards),
        **row_reading(row),
    }


def get_fused_options():
    """The configuration's values that the per-frame stages read (a change reruns
    analyse_frame; the options of the pairs, links and figures do not: their own rules').
    """
    return frame_stage_options(
        config,
        domain_options=get_domain_options(),
        index_cache=layout.frame_index_cache(),
    )


def get_fused_outputs():
    """analyse_frame's files: every stage's .npz and the frame's files of the per-stage rules
    (the per-value PDB files unless outputs.per_value_pdb is false)."""
    outs = {s: layout.intermediate(s) for s in layout.FRAME_STAGES}
    outs.update({key: layout.frame_file(name) for key, name in TABLE_FILES.items()})
    for name in ("summary", "rdf", "strain_profile", "facets", "domains", "boundaries"):
        outs[f"{name}_csv"] = layout.frame_file(f"{name}.csv")
    outs["extxyz"] = layout.frame_file("atoms.extxyz")
    if config["outputs"]["per_value_pdb"] is not False:
        for q in PDB_QUANTITIES:
            outs[f"{q}_pdb"] = layout.frame_file(f"pdb/{q}.pdb")
            outs[f"{q}_cif"] = layout.frame_file(f"pdb/{q}.cif")
    return outs
