"""Long series in chunks: how many frames one job analyses (config ``chunk_size``).

Planning a workflow of one job per stage and frame costs Snakemake ~40 ms per frame (~16 jobs per
frame; measured: 4.9 s for 100 frames of one extended-XYZ trajectory, 12 s for 300, 42 s for
1,000; ``benchmarks/bench_long_series.py``), so a series of 10,000 frames would plan for minutes.
A *chunked* series is analysed by one job per chunk of consecutive frames (rule ``run_chunk``),
which runs every per-frame stage of its frames in one process and writes the same per-frame
files, without the per-stage ``.npz`` files between jobs (:mod:`nanotraj.stages.chunk`).

``chunk_size``: ``auto`` keeps one job per stage and frame for series of up to
:data:`AUTO_MAX_FRAMES` frames, and above cuts a series into chunks of the smallest size of
:data:`AUTO_SIZES` that makes at most :data:`AUTO_CHUNKS` chunks (200 frames: 4 chunks of 50;
10,000 frames: 100 chunks of 100; 5,000 frames: 50 chunks of 100). A ladder of sizes, not
``n / 100``: a frame appended to a series leaves its chunks as they were (only the last one and
the aggregates rerun) except where the series crosses a step (5,000, 10,000, 20,000 frames,
...);
``0``: never chunked; an integer ``k >= 1``: chunks of ``k`` frames for every series of more than
one frame. A chunk rerun analyses again only the frames that changed
(:mod:`nanotraj.stages.chunk`, *Reruns*), so a chunked series reruns one edited frame in a few
seconds, where a series planned per stage pays Snakemake's planning of every job first (200
frames: a dry run of ~5 s; docs/performance.md).

``outputs.frame_figures`` and ``outputs.per_value_pdb`` (:func:`frame_outputs`): ``auto`` draws
the frames' figures and writes their per-value PDB files for every series of up to
:data:`AUTO_FRAME_FILES_MAX_FRAMES` frames and every series that is not chunked; a chunked series
longer than that gets neither (2 figures and 20 PDB/mmCIF files per frame: at 10,000 frames ~1 h
of drawing alone).

``frame_jobs`` (:func:`frame_jobs`): how a series that is not chunked is planned. ``stages``:
one job per stage and frame (~16 jobs per frame); ``one``: one job per frame (rule
``analyse_frame``) runs every per-frame stage of its frame in order, writing the same files
(the stages' ``.npz`` files included), plus the frame's pairs, domain links and figures (~4 jobs
per frame); ``auto``: ``stages`` up to :data:`AUTO_STAGES_MAX_FRAMES` frames, ``one`` above
(with ``chunk_size: auto`` such a series is chunked: ``one`` is for ``chunk_size: 0``).

Plain Python, no import beyond the standard library: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import math

__all__ = ["AUTO_MAX_FRAMES", "AUTO_CHUNKS", "AUTO_FRAME_FILES_MAX_FRAMES", "AUTO_SIZES",
           "AUTO_STAGES_MAX_FRAMES", "FRAME_JOBS", "FRAME_STAGE_KEYS", "chunk_size",
           "chunk_name", "frame_jobs", "frame_outputs", "frame_stage_options", "split",
           "stage_options"]

#: ``chunk_size: auto`` keeps one job per stage and frame for series up to this many frames
#: (the demo, the tests: a stage's option reruns that stage only, each job has its log); above,
#: chunks (a 200-frame series: a dry run after one edited frame 1.6 s instead of 5.9 s, its rerun
#: 11.3 s instead of 18.9 s, the whole run 135 s instead of 333 s, on one machine;
#: benchmarks/bench_incremental.py, docs/performance.md, release 0.8's fourth round).
AUTO_MAX_FRAMES = 50
#: ``outputs.frame_figures`` / ``per_value_pdb: auto`` write the frames' figures and per-value
#: PDB files of a chunked series only up to this many frames (:func:`frame_outputs`).
AUTO_FRAME_FILES_MAX_FRAMES = 200
#: ``auto`` above :data:`AUTO_MAX_FRAMES`: at most this many chunks per series (up to
#: 10^6 frames).
AUTO_CHUNKS = 100
#: ``auto``: the sizes a chunk may have, the smallest first (at least 50 frames: a chunk job's
#: start-up, ~1-2 s of imports and compiled kernels, is then a few percent of its work).
AUTO_SIZES = (50, 100, 200, 500, 1000, 2000, 5000, 10000)
AUTO_MIN_CHUNK = AUTO_SIZES[0]

#: The values of the config's ``frame_jobs``.
FRAME_JOBS = ("auto", "stages", "one")
#: ``frame_jobs: auto`` keeps one job per stage and frame for series up to this many frames (the
#: tests and the demo: each stage a job of its own, rerun on its own options); above, one job per
#: frame (planning ~16 jobs per frame costs Snakemake ~40 ms per frame, ~4 jobs ~10 ms).
AUTO_STAGES_MAX_FRAMES = 50


def chunk_size(n_frames: int, setting="auto") -> int:
    """Frames per chunk of a series of ``n_frames`` frames; 0: not chunked (one job per stage
    and frame). ``setting``: the config's ``chunk_size`` (``"auto"`` or an integer >= 0).
    A series of one frame is never chunked."""
    if n_frames <= 1:
        return 0
    if setting == "auto":
        if n_frames <= AUTO_MAX_FRAMES:
            return 0
        for size in AUTO_SIZES:
            if math.ceil(n_frames / size) <= AUTO_CHUNKS:
                return size
        return math.ceil(n_frames / AUTO_CHUNKS)
    size = int(setting)
    if size < 0:
        raise ValueError(f"chunk_size {setting!r}: expected auto, 0 or a positive integer")
    return size


def frame_jobs(n_frames: int, setting="auto") -> str:
    """How a series of ``n_frames`` frames that is not chunked (:func:`chunk_size` 0) is
    planned: ``"stages"`` (one job per stage and frame) or ``"one"`` (one job per frame, rule
    ``analyse_frame``). ``setting``: the config's ``frame_jobs`` (:data:`FRAME_JOBS`)."""
    if setting == "auto":
        return "stages" if n_frames <= AUTO_STAGES_MAX_FRAMES else "one"
    if setting not in FRAME_JOBS:
        raise ValueError(f"frame_jobs {setting!r}: expected one of {', '.join(FRAME_JOBS)}")
    return setting


def chunk_name(k: int) -> str:
    """The name of the ``k``-th chunk of a series (0-based): ``c0000``, ``c0001``, ..."""
    return f"c{k:04d}"


def split(items, size: int) -> list[list]:
    """``items`` (a series' frames in time order) in consecutive chunks of ``size`` (the last
    one shorter)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    items = list(items)
    return [items[k:k + size] for k in range(0, len(items), size)]


def frame_outputs(outputs: dict, n_frames: int, *, chunked: bool) -> dict:
    """What a series of ``n_frames`` frames gets of ``outputs.frame_figures`` (True or False)
    and ``outputs.per_value_pdb`` (True, False or ``"auto"``: up to 100,000 atoms, as
    ``write_frame_pdbs`` takes it), with ``auto`` resolved: written unless the series is
    ``chunked`` and longer than :data:`AUTO_FRAME_FILES_MAX_FRAMES` frames. ``outputs``: the
    configuration's ``outputs`` (validated)."""
    long = chunked and n_frames > AUTO_FRAME_FILES_MAX_FRAMES
    figures, pdb = outputs["frame_figures"], outputs["per_value_pdb"]
    return {
        "frame_figures": figures is True or (figures == "auto" and not long),
        "per_value_pdb": False if pdb == "auto" and long else pdb,
    }


def stage_options(config: dict, *, domain_options: dict, index_cache=None,
                  n_frames: int | None = None) -> dict:
    """The options of :func:`nanotraj.stages.chunk.run_chunk` from the workflow's configuration
    (validated: every default filled in): the values the per-frame rules pass to the same stage
    functions. ``domain_options``: the ``domains`` keys of ``find_domains`` (common.smk
    ``get_domain_options``). ``n_frames``: the frames of the chunked series, for the per-value
    PDB files and the frames' figures (:func:`frame_outputs`; None: a series too long for
    ``auto`` to write them)."""
    files = frame_outputs(config["outputs"],
                          AUTO_FRAME_FILES_MAX_FRAMES + 1 if n_frames is None else n_frames,
                          chunked=True)
    return {
        "on_bad_frame": config["on_bad_frame"],
        "min_distance": config["min_distance"],
        "max_bytes": config["max_frame_bytes"],
        "index_cache": index_cache,
        "cutoff": config["cutoff"],
        "dr": config["rdf"]["dr"],
        "r_max": config["rdf"]["r_max"],
        "max_centres": config["rdf"]["max_centres"],
        "threshold": config["boo"]["crystal_bond_threshold"],
        "probe_radius": config["surface"]["probe_radius"],
        "ptm_rmsd_cutoff": config["structure"]["ptm_rmsd_cutoff"],
        "lattice_reference": config["lattice"]["reference"],
        "profile_bin": config["lattice"]["profile_bin"],
        "domains": dict(domain_options),
        "link_fraction": config["domains"]["link_fraction"],
        "size_change": config["domains"]["size_change"],
        "max_distance": config["tracking"]["max_distance"],
        "align": config["tracking"]["align"],
        "per_value_pdb": files["per_value_pdb"],
        "frame_figures": files["frame_figures"],
        "time_unit": config["time_unit"],
        "order_limits": config["figures"]["order_limits"],
        "element": str(config["element"]).capitalize(),
        "table_format": config["outputs"]["table_format"],
    }


#: The options of :func:`stage_options` that the per-frame stages read (rule ``analyse_frame``,
#: :func:`nanotraj.stages.chunk.analyse`): not those of the pairs, the links or the figures,
#: whose own jobs rerun when they change.
FRAME_STAGE_KEYS = (
    "on_bad_frame", "min_distance", "max_bytes", "index_cache", "cutoff", "dr", "r_max",
    "max_centres", "threshold", "probe_radius", "ptm_rmsd_cutoff", "lattice_reference",
    "profile_bin", "domains", "per_value_pdb", "table_format",
)


def frame_stage_options(config: dict, *, domain_options: dict, index_cache=None) -> dict:
    """The options of rule ``analyse_frame`` (one job per frame, ``frame_jobs: one``): those of
    :func:`stage_options` that the per-frame stages read (:data:`FRAME_STAGE_KEYS`), with
    ``per_value_pdb`` as the configuration says it (``true``, ``false`` or ``auto``, as rule
    ``write_frame_pdbs`` has it)."""
    options = stage_options(config, domain_options=domain_options, index_cache=index_cache)
    options = {k: options[k] for k in FRAME_STAGE_KEYS}
    options["per_value_pdb"] = config["outputs"]["per_value_pdb"]
    return options
