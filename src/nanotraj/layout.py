"""The workflow's file layout: every path of an output, written once.

The rules (``workflow/rules/*.smk``) take their ``output:``/``log:``/``benchmark:`` paths from
here, and so do the library's loop over the stages (:func:`nanotraj.stages.frame.run_frame`),
the benchmarks and the tests.  Paths are templates with Snakemake's wildcards ``{series}`` and
``{frame}``; pass ``series=``/``frame=`` (and ``root=``) to get a concrete path.  Everything lives
under ``results/`` of the working directory:

* ``results/{series}/{frame}/``: the frame's user-facing files (:func:`frame_file`);
* ``results/{series}/``: the series' files (:func:`series_file`), ``results/``: the run's
  (:func:`run_file`);
* ``results/intermediate/{series}/{frame}/{stage}.npz``: the stages' arrays
  (:func:`intermediate`);
* ``results/intermediate/{series}/chunks/{chunk}/``: the files of a chunk of frames of a long
  series (:func:`chunk_file`; :mod:`nanotraj.chunking`);
* ``results/logs/...`` and ``results/benchmarks/...``: a log and a benchmark table per job
  (:func:`log`, :func:`benchmark`).

Plain Python, no import beyond the standard library: the Snakefile imports it at parse time.
"""

from __future__ import annotations

__all__ = [
    "RESULTS",
    "viewer_cache",
    "FRAME_STAGES",
    "intermediate",
    "frame_file",
    "series_file",
    "run_file",
    "log",
    "benchmark",
    "frame_index_cache",
    "chunk_file",
    "CHUNK_BUNDLE",
    "CHUNK_FIGURES",
    "TABLE_FORMATS",
    "frame_tables",
    "table_name",
]

#: The folder of every output, relative to the working directory.
RESULTS = "results"

#: The per-frame stages whose arrays are kept as ``{stage}.npz`` between jobs, in DAG order.
FRAME_STAGES = ("frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance",
                "structure", "surface", "ptm", "lattice", "domains")


def intermediate(stage: str, *, series="{series}", frame="{frame}", root=RESULTS) -> str:
    """``results/intermediate/{series}/{frame}/{stage}.npz`` (pairs too: ``tracking``,
    ``domainlinks``)."""
    return f"{root}/intermediate/{series}/{frame}/{stage}.npz"


def frame_index_cache(*, root=RESULTS) -> str:
    """The folder of the cached frame indexes of multi-frame input files
    (:func:`nanotraj.trajectory.frame_index`), ``results/intermediate/_index``: no series can be
    named ``_index`` (series names start with a letter or digit)."""
    return f"{root}/intermediate/_index"


#: The file of a chunk that holds the arrays the series' aggregates read, for every frame of
#: the chunk (:func:`nanotraj.tables.save_frame_arrays`).
CHUNK_BUNDLE = "frames.npz"
#: The folders of a chunk that hold its frames' figures for the Snakemake report, by figure:
#: ``{frame}/rdf.png`` / ``{frame}/order.png``, each a hard link to (or, where links fail, a
#: copy of) the frame's own ``results/{series}/{frame}/rdf.png`` / ``order.png`` (rule
#: ``run_chunk_figures``).
CHUNK_FIGURES = {"rdf": "rdf_figures", "order": "order_figures"}


def chunk_file(name: str, *, series="{series}", chunk="{chunk}", root=RESULTS) -> str:
    """A file of a chunk of frames, ``results/intermediate/{series}/chunks/{chunk}/{name}``
    (``frames.npz``: :data:`CHUNK_BUNDLE`; ``frames.tsv``: the frames' files it wrote)."""
    return f"{root}/intermediate/{series}/chunks/{chunk}/{name}"


def chunk_frame_cache(*, series: str, frame: str, root=RESULTS) -> str:
    """The folder in which a chunk keeps a frame's arrays between runs,
    ``results/intermediate/{series}/chunks/_frames/{frame}`` (no chunk is named ``_frames``;
    :mod:`nanotraj.stages.chunk`, *Reruns*)."""
    return f"{root}/intermediate/{series}/chunks/_frames/{frame}"


def viewer_cache(*, series: str, root=RESULTS) -> str:
    """The folder in which rule ``build_viewer`` keeps its frames' parsed tables between runs,
    ``results/intermediate/{series}/viewer`` (:class:`nanotraj.viewer.ParseCache`)."""
    return f"{root}/intermediate/{series}/viewer"


def frame_file(name: str, *, series="{series}", frame="{frame}", root=RESULTS) -> str:
    """A user-facing file of a frame, ``results/{series}/{frame}/{name}``."""
    return f"{root}/{series}/{frame}/{name}"


#: The formats of the per-frame tables ``atoms`` and ``bonds`` (config ``outputs.table_format``):
#: ``csv`` (``atoms.csv``, ``bonds.csv``), ``parquet`` (``atoms.parquet``, ``bonds.parquet``
#: instead), ``both``.
TABLE_FORMATS = ("csv", "parquet", "both")

#: The per-frame tables whose format ``outputs.table_format`` chooses.
FRAME_TABLES = ("atoms", "bonds")


def frame_tables(table_format: str = "csv") -> dict[str, str]:
    """The files of a frame's tables in ``table_format`` (:data:`TABLE_FORMATS`), by output key:
    ``atoms``, ``bonds`` (the CSV files) and ``atoms_parquet``, ``bonds_parquet``."""
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"table format {table_format!r}: one of {', '.join(TABLE_FORMATS)}")
    out = {}
    if table_format in ("csv", "both"):
        out.update({t: f"{t}.csv" for t in FRAME_TABLES})
    if table_format in ("parquet", "both"):
        out.update({f"{t}_parquet": f"{t}.parquet" for t in FRAME_TABLES})
    return out


def table_name(table: str, table_format: str = "csv") -> str:
    """The file of a frame's table (``atoms``, ``bonds``) that the workflow's later jobs read:
    the Parquet table when one is written (``table_format`` ``parquet`` or ``both``: the same
    values, read 15-20x faster than the CSV at 10^6 atoms), else the CSV."""
    files = frame_tables(table_format)
    return files.get(f"{table}_parquet") or files[table]


def series_file(name: str, *, series="{series}", root=RESULTS) -> str:
    """A file of a series, ``results/{series}/{name}``."""
    return f"{root}/{series}/{name}"


def run_file(name: str, *, root=RESULTS) -> str:
    """A file of the whole run, ``results/{name}``."""
    return f"{root}/{name}"


def log(job: str, *, per="frame", series="{series}", frame="{frame}", root=RESULTS) -> str:
    """The log of a job: per ``"frame"``, ``"series"``, ``"run"`` or ``"chunk"`` (``frame``
    is then the chunk: ``results/logs/{series}/chunks/{chunk}/{job}.log``)."""
    return _job_file("logs", job, "log", per, series, frame, root)


def benchmark(job: str, *, per="frame", series="{series}", frame="{frame}", root=RESULTS) -> str:
    """The benchmark table (``benchmark:`` directive) of a job: per frame, series, run or
    chunk."""
    return _job_file("benchmarks", job, "tsv", per, series, frame, root)


def _job_file(kind, job, ext, per, series, frame, root):
    where = {"frame": f"{series}/{frame}/", "series": f"{series}/", "run": "",
             "chunk": f"{series}/chunks/{frame}/"}[per]
    return f"{root}/{kind}/{where}{job}.{ext}"
