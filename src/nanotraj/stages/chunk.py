"""File-level stage of a chunk of frames of a long series (rule ``run_chunk``;
:mod:`nanotraj.chunking` says when a series is chunked).

One call analyses consecutive frames of a series: for each frame, in time order, every per-frame
stage of :mod:`nanotraj.stages.frame`, :mod:`nanotraj.stages.lattice` and
:mod:`nanotraj.stages.domains` (the same functions, with the same arguments, as the per-frame
rules), then the pair with the frame before (:func:`nanotraj.stages.tracking.track_pair`) and
the links of the domains (:func:`nanotraj.stages.domains.link_domains`).  It writes the same
per-frame user-facing files as the per-frame rules (``atoms.csv``, ``bonds.csv`` and/or their
Parquet copies, as ``outputs.table_format`` says, ``rdf.csv``,
``summary.csv``, ``atoms.extxyz``, ``strain_profile.csv``, ``facets.csv``, ``domains.csv``,
``boundaries.csv``, ``fate.csv``, ``fate.pdb``, ``fate.cif``, ``new.csv``; the per-value PDB
files and the per-frame figures when asked for), byte for byte.  The stages' ``.npz`` files
live in a temporary folder only while the chunk runs; what the series' aggregates read of each
frame (the pair, the domains and their links, the positions) goes into one file per chunk,
``frames.npz`` (:func:`nanotraj.tables.save_frame_arrays`), read back by
:func:`frame_arrays`.

The pair of the chunk's first frame needs the frame before it, the last frame of the previous
chunk: the chunk analyses that frame again itself (its atoms, g(r), bonds, BOO, coordination,
surface, PTM and domains: what the pair and the links read; about one frame in a hundred more
work), so that chunks never wait for one another and a chunk depends only on its own frames'
files and on that one frame's.

**Reruns.** Snakemake reruns a whole chunk when one of its frames changes. The chunk then
analyses again only what changed: after each frame it keeps, in
``results/intermediate/{series}/chunks/_frames/{frame}/`` (:func:`nanotraj.layout
.chunk_frame_cache`), the arrays its pairs and the bundle read (:data:`KEPT_STAGES`, ~120 kB
for a frame of 300 atoms) and ``state.json``: the frame's key (:func:`frame_key`: a digest of
the sheet row, the bytes of the frame, the options but ``threads``, and nanotraj's version),
the key of the frame before it (its pair), and the size and modification time of every file the
frame wrote. A frame whose key, previous key and files are unchanged is reused as it is (no
stage runs, its files stay byte for byte); a frame whose own key is unchanged but whose
predecessor changed only gets its pair and domain links again; any other frame is analysed
(its ``state.json`` is removed first and written last, so an interrupted chunk never leaves a
frame that looks complete). A file of the frame rewritten by anything else (the per-frame
rules, a user) changes its size or time, and the frame is analysed again. The previous chunk's
last frame, needed for the first pair only when that pair is made again, is not analysed again
either when its kept state carries its current key: its kept arrays are read (the arrays of a
key are always the same; a state is written only after the arrays it names, so a previous
chunk running side by side never shows a half-kept frame).

**Figures.** Where the chunk draws its frames' figures (rule ``run_chunk_figures``) and it
analyses only a few frames (a rerun: :data:`FIGURE_PROCESS_MAX_FRAMES`), a second process
draws them (:class:`FigureProcess`) when the chunk may run on two CPUs or more
(:data:`FIGURE_PROCESS_ENV` decides otherwise): that process imports matplotlib while the
first frame is analysed. A frame's state is written once its figures are (their sizes and
times are in it).

:func:`analyse` (every per-frame stage of one frame) is shared with rule ``analyse_frame`` (one
job per frame, config ``frame_jobs: one``; :func:`analyse_frame`), which writes the stages'
``.npz`` files at their usual paths (:func:`nanotraj.layout.intermediate`) for the frame's
pairs, links, figures and the series' aggregates, jobs of their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nanotraj import layout
from nanotraj.stages.jobs import OK, Log

__all__ = ["run_chunk", "analyse", "analyse_frame", "StageLogs", "frame_arrays",
           "BUNDLE_STAGES", "KEPT_STAGES", "frame_key", "FigureProcess", "figure_worker",
           "FIGURE_PROCESS_ENV", "FIGURE_PROCESS_MAX_FRAMES", "usable_cpus"]

#: The stages whose arrays ``frames.npz`` keeps, per frame: what the series' aggregates read
#: (``aggregate_tracking``, ``plot_tracking``, ``aggregate_domains``, ``aggregate_atom_ids``).
BUNDLE_STAGES = ("frame", "tracking", "domains", "domainlinks")
#: The stages' arrays a chunk keeps per frame between runs (module docstring, *Reruns*): what
#: the frame's pair and links read of it (``frame``, ``rdf``, ``domains``), what the next
#: frame's pair reads (``boo``, ``coordination``, ``surface``) and the bundle's stages.
KEPT_STAGES = ("frame", "rdf", "boo", "coordination", "surface", "domains", "tracking",
               "domainlinks")
#: The state of a kept frame, in its folder (written last, removed first).
STATE = "state.json"
#: The arrays of ``frame.npz`` kept (the positions, for the atom identities' RMSD).
_FRAME_KEYS = ("coords", "source", "status")

#: ``0``: a chunk draws its frames' figures itself; ``1``: in a :class:`FigureProcess`; unset:
#: in a :class:`FigureProcess` when the chunk may run on two CPUs or more and analyses at most
#: :data:`FIGURE_PROCESS_MAX_FRAMES` frames.
FIGURE_PROCESS_ENV = "NANOTRAJ_FIGURE_PROCESS"
#: A chunk that analyses at most this many frames (a rerun) draws their figures in a
#: :class:`FigureProcess` (unset :data:`FIGURE_PROCESS_ENV`, two CPUs or more). One that
#: analyses more draws them itself: drawing is most of a chunk's work (~0.7 s of CPU per frame
#: of 300 atoms, its analysis ~0.2 s), so a second process per chunk only pays where CPUs are
#: idle, while the second process itself costs ~1 s of CPU (imports); a first run on a
#: workstation already keeps every core busy with chunks side by side.
FIGURE_PROCESS_MAX_FRAMES = 5

#: Default options of :func:`run_chunk` (the config schema's defaults; the workflow passes all).
DEFAULTS = {
    "on_bad_frame": "fail", "min_distance": 0.5, "max_bytes": None, "index_cache": None,
    "cutoff": "auto", "dr": 0.02, "r_max": 15.0, "max_centres": 20000, "threshold": 0.8,
    "probe_radius": "auto", "ptm_rmsd_cutoff": 0.13, "lattice_reference": "frame",
    "profile_bin": "auto", "domains": None, "link_fraction": 0.2, "size_change": 0.1,
    "max_distance": "auto", "align": False, "per_value_pdb": False, "frame_figures": False,
    "time_unit": "s", "order_limits": None, "element": "Pt", "table_format": "csv",
    "threads": 1,
}


def frame_arrays(paths: Sequence, stage: str) -> list:
    """Per frame, what a series' aggregate reads of ``stage``: the paths as they are for the
    per-frame files (``{stage}.npz`` of the per-frame rules), and for a chunk's ``frames.npz``
    (:data:`nanotraj.layout.CHUNK_BUNDLE`) one mapping of arrays per frame of the chunk, in
    order. The aggregates accept both (:func:`nanotraj.stages.jobs.arrays`)."""
    from nanotraj.tables import load_frame_arrays

    out = []
    for p in paths:
        if os.path.basename(os.fspath(p)) == layout.CHUNK_BUNDLE:
            out.extend(load_frame_arrays(p, stage))
        else:
            out.append(p)
    return out


def _work(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    stages = (*layout.FRAME_STAGES, "tracking", "domainlinks")
    return {s: str(folder / f"{s}.npz") for s in stages}


class StageLogs:
    """The stages' logs of one frame, in a temporary folder, appended to the job's log (a
    chunk's or a frame's): ``logs(name)`` is the path of stage ``name``'s log, :meth:`flush`
    appends the logs written so far, each line marked with the frame."""

    def __init__(self, folder: Path, chunk_log: Log):
        self.folder = folder
        self.chunk_log = chunk_log
        self.names: list[str] = []

    def __call__(self, name: str) -> str:
        self.names.append(name)
        return str(self.folder / f"{name}.log")

    def flush(self, frame: str) -> None:
        for name in self.names:
            path = self.folder / f"{name}.log"
            if path.exists():
                text = path.read_text(encoding="utf-8").rstrip("\n")
                self.chunk_log(f"[{frame}] {name}: " + text.replace("\n", f"\n[{frame}]   "))
                path.unlink()
        self.names = []


def analyse(row: Mapping, w: Mapping[str, str], f: Mapping[str, str], o: Mapping, logs,
            *, series: str, full: bool = True) -> None:
    """Every per-frame stage of one frame, in order, with the arguments of the per-stage rules
    (``full=False``: only what the next frame's pair and links read: atoms, g(r), bonds, BOO,
    coordination, surface, PTM, domains). ``row``: the sheet row (``frame``, ``time``,
    ``path``, ``length_unit``, optional ``frame_index``, ``type_map``, ``element``); ``w``:
    the stages' ``.npz`` paths; ``f``: the user-facing files (``nanotraj.stages.frame
    .frame_files`` and the figures' keys); ``o``: the options (:data:`DEFAULTS`; ``threads``
    as the rules' ``threads``: the results do not depend on it); ``logs``: :class:`StageLogs`.
    The per-value PDB files are written unless ``per_value_pdb`` is False, the frame's figures
    when ``frame_figures`` is true."""
    from nanotraj.stages import frame as st
    from nanotraj.stages.domains import find_domains
    from nanotraj.stages.lattice import compute_lattice

    element = row.get("element") or o["element"]
    mode = {"on_bad_frame": o["on_bad_frame"]}
    th = {"threads": o.get("threads", 1)}
    st.parse_frame(row["path"], w["frame"], log=logs("parse_frame"),
                   min_distance=o["min_distance"], max_bytes=o["max_bytes"],
                   frame_index=row.get("frame_index"), length_unit=row["length_unit"],
                   type_map=row.get("type_map"), index_cache=o["index_cache"], **mode)
    st.compute_rdf(w["frame"], f["rdf"], w["rdf"], element=element, cutoff=o["cutoff"],
                   dr=o["dr"], r_max=o["r_max"], max_centres=o["max_centres"],
                   log=logs("compute_rdf"), **th, **mode)
    st.find_bonds(w["frame"], w["rdf"], w["bonds"], log=logs("find_bonds"), **th, **mode)
    st.compute_boo(w["frame"], w["bonds"], w["boo"], threshold=o["threshold"],
                   log=logs("compute_boo"), **th, **mode)
    st.compute_coordination(w["frame"], w["rdf"], w["bonds"], w["coordination"],
                            element=element, log=logs("compute_coordination"), **mode)
    if full:
        st.compute_neighbour_distance(w["frame"], w["bonds"], w["neighbour_distance"],
                                      log=logs("compute_neighbour_distance"), **mode)
        st.compute_structure(w["frame"], w["rdf"], w["bonds"], w["boo"], w["coordination"],
                             w["structure"], element=element, log=logs("compute_structure"),
                             **th, **mode)
    st.compute_surface(w["frame"], w["surface"], element=element,
                       probe_radius=o["probe_radius"], log=logs("compute_surface"), **th,
                       **mode)
    st.compute_ptm(w["frame"], w["ptm"], rmsd_cutoff=o["ptm_rmsd_cutoff"],
                   log=logs("compute_ptm"), **th, **mode)
    if full:
        compute_lattice(w["frame"], w["bonds"], w["surface"], w["ptm"], w["lattice"],
                        f["strain_profile"], f["facets"], element=element,
                        reference=o["lattice_reference"], profile_bin=o["profile_bin"],
                        log=logs("compute_lattice"), **mode)
    find_domains(w["frame"], w["bonds"], w["boo"], w["ptm"], w["domains"], f["domains"],
                 f["boundaries"], **(o["domains"] or {}), log=logs("find_domains"), **mode)
    if not full:
        return
    table_inputs = {k: w[k] for k in layout.FRAME_STAGES}
    keys = ("summary", "extxyz", *layout.frame_tables(o["table_format"]))
    st.write_frame_table(table_inputs, {k: f[k] for k in keys},
                         series=series, frame=row["frame"], time=row["time"], element=element,
                         log=logs("write_frame_table"), **th, **mode)
    if o["per_value_pdb"] is not False:
        st.write_frame_pdbs(table_inputs, f, element=element, log=logs("write_frame_pdbs"),
                            per_value_pdb=o["per_value_pdb"], **mode)
    if o["frame_figures"]:
        from nanotraj.stages import figures

        figures.plot_frame(**_figure_job(row, w, f, o, logs("plot_frame")))


def _figure_job(row: Mapping, w: Mapping[str, str], f: Mapping[str, str], o: Mapping,
                log: str) -> dict:
    """The keyword arguments of :func:`nanotraj.stages.figures.plot_frame` for one frame, as
    rule ``plot_frame`` passes them (JSON-serialisable: :class:`FigureProcess` sends them)."""
    return {"inputs": {"rdf": f["rdf"], "cutoff": w["rdf"], "structure": w["structure"],
                       "atoms": f.get("atoms_parquet") or f["atoms"], "summary": f["summary"]},
            "outputs": {"rdf": f["rdf_png"], "order": f["order_png"]},
            "element": row.get("element") or o["element"], "time_unit": o["time_unit"],
            "order_limits": o["order_limits"], "log": log}


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which batch systems set), else
    ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class FigureProcess:
    """A second process that draws a chunk's frame figures (:func:`figure_worker`) while the
    chunk analyses the next frames.

    Drawing a frame's two figures is pure Python under the GIL (matplotlib; ~0.6 s of import
    before the first), and in a chunk it used to wait for the frame's analysis and hold up the
    next one. Here the worker imports matplotlib on another core while the first frame is
    analysed, then draws each frame as it is handed over; the figures are the same, byte for
    byte (the same :func:`nanotraj.stages.figures.plot_frame`, with the same inputs).

    :meth:`submit` sends one frame's :func:`_figure_job` and a callback; :meth:`collect` runs
    the callbacks of the figures drawn so far (in order; ``block=True``: of all). A figure that
    fails raises :class:`RuntimeError` with the worker's message, and so does a worker that
    died. :meth:`close` ends the worker (after :meth:`collect`, or at once on an error).
    """

    def __init__(self):
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from nanotraj.stages.chunk import figure_worker; "
             "figure_worker()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._pending: list[tuple[int, str, object]] = []  # (id, frame, callback), in order
        self._buffer = b""
        self._next = 0

    def submit(self, frame: str, job: Mapping, done) -> None:
        import json

        line = json.dumps({"id": self._next, "job": dict(job)}) + "\n"
        try:
            self._proc.stdin.write(line.encode("utf-8"))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died(frame)
        self._pending.append((self._next, frame, done))
        self._next += 1

    def collect(self, block: bool = False) -> None:
        import json
        import select

        fd = self._proc.stdout.fileno()
        while self._pending:
            if b"\n" not in self._buffer:
                if not block and not select.select([fd], [], [], 0)[0]:
                    return
                data = os.read(fd, 1 << 16)
                if not data:
                    self._died(self._pending[0][1])
                self._buffer += data
                continue
            line, self._buffer = self._buffer.split(b"\n", 1)
            reply = json.loads(line)
            ident, frame, done = self._pending.pop(0)
            if reply.get("id") != ident:
                raise RuntimeError(f"figure process: reply {reply.get('id')} for job {ident}")
            if "error" in reply:
                raise RuntimeError(f"frame {frame}: plot_frame failed in the figure process: "
                                   f"{reply['error']}")
            done()

    def _died(self, frame: str):
        code = self._proc.poll()
        raise RuntimeError(f"frame {frame}: the figure process ended (exit status {code}) "
                           "before drawing the frame's figures")

    def close(self, *, kill: bool = False) -> None:
        if kill:
            self._proc.kill()
        try:
            self._proc.stdin.close()  # the worker's end of input: it returns
        except OSError:
            pass
        self._proc.wait()
        self._proc.stdout.close()


def figure_worker() -> None:
    """The process of :class:`FigureProcess`: imports matplotlib, then for each JSON line on
    stdin (``{"id", "job"}``) calls :func:`nanotraj.stages.figures.plot_frame` (``**job``) and
    answers a JSON line ``{"id"}`` on stdout (``{"id", "error"}`` with the error's one-line
    message; the traceback goes to stderr). Ends at the end of stdin, or with Snakemake."""
    import json
    import sys
    import traceback

    from nanotraj.smkspeed import lean_gc
    from nanotraj.stages.jobs import end_with_snakemake, profile_job

    end_with_snakemake()
    lean_gc()
    profile_job("figure_worker")
    # the answers keep the real stdout; anything else printed (by a library too) goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # warm up while the chunk analyses the first frame: the imports (matplotlib; scipy.spatial,
    # for the reference g(r)) and the fonts of a first drawing
    import io

    import scipy.spatial  # noqa: F401

    from nanotraj import figstyle
    from nanotraj.stages import figures

    fig = figstyle.new_figure((1.0, 1.0))
    fig.add_subplot().set_title("Å σ")
    fig.savefig(io.BytesIO(), format="png")

    for line in sys.stdin.buffer:
        msg = json.loads(line)
        reply = {"id": msg["id"]}
        try:
            figures.plot_frame(**msg["job"])
        except Exception as exc:  # answered; the chunk raises it
            traceback.print_exc(file=sys.stderr)
            reply["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        out.write(json.dumps(reply).encode("utf-8") + b"\n")
        out.flush()


def _pair(row, prev_row, w, prev_w, f, o, logs) -> None:
    """The pair (previous frame, frame) and the links of their domains, as the rules
    ``track_pair`` and ``link_domains`` make them."""
    from nanotraj.stages.domains import link_domains
    from nanotraj.stages.tracking import track_pair

    inputs = {"frame": w["frame"], "rdf": w["rdf"]}
    if prev_row is not None:
        inputs.update({f"prev_{s}": prev_w[s] for s in ("frame", "boo", "coordination",
                                                        "surface")})
    element = (prev_row or row).get("element") or o["element"]
    previous = prev_row["frame"] if prev_row is not None else ""
    track_pair(inputs, {"tracking": w["tracking"], "fate": f["fate"], "pdb": f["fate_pdb"],
                        "cif": f["fate_cif"], "new": f["new"]},
               max_distance=o["max_distance"], align=o["align"], element=element,
               previous_frame=previous, log=logs("track_pair"))
    links = {"domains": w["domains"], "tracking": w["tracking"]}
    if prev_row is not None:
        links["prev_domains"] = prev_w["domains"]
    link_domains(links, w["domainlinks"], link_fraction=o["link_fraction"],
                 size_change=o["size_change"], previous_frame=previous,
                 log=logs("link_domains"))


def _files(results, series, frame, table_format) -> dict[str, str]:
    from nanotraj.stages.frame import frame_files

    _, f = frame_files(results, series, frame, table_format)
    f = {k: str(v) for k, v in f.items()}
    where = {"series": series, "frame": frame, "root": str(results)}
    for key, name in (("fate", "fate.csv"), ("fate_pdb", "fate.pdb"), ("fate_cif", "fate.cif"),
                      ("new", "new.csv"), ("rdf_png", "rdf.png"), ("order_png", "order.png")):
        f[key] = layout.frame_file(name, **where)
    return f


def _loaded(path, keys=None) -> dict[str, np.ndarray]:
    from nanotraj.tables import load_arrays

    arrays = load_arrays(path)
    return {k: np.asarray(arrays[k]) for k in arrays if keys is None or k in keys}


def frame_key(row: Mapping, options: Mapping) -> str:
    """What a frame's files depend on, as a digest (blake2b, 16 bytes, hex): nanotraj's version,
    the sheet ``row`` (a frame of a multi-frame file carries the digest of its bytes), the
    ``options`` but ``threads`` (results do not depend on it) and, for a row without a digest,
    the bytes of its file (a file that cannot be read counts as such: the analysis says why)."""
    import hashlib
    import json

    from nanotraj import __version__

    h = hashlib.blake2b(digest_size=16)
    opts = {k: v for k, v in options.items() if k != "threads"}
    h.update(json.dumps([__version__, dict(row), opts], sort_keys=True, default=str).encode())
    if not row.get("digest"):
        try:
            with open(row["path"], "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except (OSError, TypeError, KeyError):
            h.update(b"\0unreadable")
    return h.hexdigest()


def _signatures(paths) -> dict[str, list[int]]:
    """Size and modification time (ns) of each of ``paths`` that exists."""
    out = {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out[str(p)] = [st.st_size, st.st_mtime_ns]
    return out


class _Kept:
    """The kept arrays and state of one frame (module docstring, *Reruns*)."""

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.w = {s: str(self.folder / f"{s}.npz") for s in KEPT_STAGES}

    def state(self) -> dict | None:
        import json

        try:
            state = json.loads((self.folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not all(os.path.exists(p) for p in self.w.values()):
            return None
        files = state.get("files")
        if not isinstance(files, dict) or _signatures(files) != files:
            return None  # a file of the frame is gone or was rewritten since
        return state

    def forget(self) -> None:
        try:
            (self.folder / STATE).unlink()
        except FileNotFoundError:
            pass

    def keep(self, w: Mapping[str, str]) -> None:
        """Copy the arrays of ``w`` here (unless ``w`` is already here)."""
        import shutil

        self.folder.mkdir(parents=True, exist_ok=True)
        for s in KEPT_STAGES:
            if os.path.abspath(w[s]) != os.path.abspath(self.w[s]):
                tmp = self.w[s] + ".part"
                shutil.copyfile(w[s], tmp)
                os.replace(tmp, self.w[s])

    def record(self, key: str, previous_key: str | None, files) -> None:
        import json

        state = {"frame": key, "previous": previous_key, "files": _signatures(files)}
        tmp = self.folder / (STATE + ".part")
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.folder / STATE)


def _link(src: str, dst: Path) -> None:
    """``dst``: a hard link to ``src`` (a copy where the file system has none)."""
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def run_chunk(frames: Sequence[Mapping], bundle, *, series: str, previous: Mapping | None = None,
              options: Mapping | None = None, figures: Mapping[str, str] | None = None,
              results=layout.RESULTS, figure_process: bool | None = None, log=None) -> int:
    """Rule ``run_chunk``: analyse the ``frames`` of a chunk of ``series`` and write every
    per-frame file and the chunk's ``bundle`` (``frames.npz``, :data:`BUNDLE_STAGES`).

    ``frames``: sheet rows in time order (``frame``, ``time``, ``path`` and, optional,
    ``frame_index``, ``element``, ``length_unit`` (default ``A``), ``type_map``);
    ``previous``: the row of the frame before the first (None for the first chunk of a
    series), analysed again here for the first pair unless it is kept (module docstring,
    *Reruns*); ``options``: the configuration's values (:data:`DEFAULTS`); ``figures``:
    ``{"rdf": folder, "order": folder}`` (rule ``run_chunk_figures``), folders that get, for
    every frame of the chunk whose figures exist, ``{frame}/rdf.png`` / ``{frame}/order.png``:
    a hard link to the frame's own (a copy where links fail), for the Snakemake report;
    ``results``: the results folder; ``figure_process``: draw the frames' figures in a second
    process while the next frames are analysed (:class:`FigureProcess`; None: as
    :data:`FIGURE_PROCESS_ENV` says, else when this process may run on two CPUs or more and
    analyses at most :data:`FIGURE_PROCESS_MAX_FRAMES` frames). In
    ``on_bad_frame: fail`` a bad frame stops the chunk with its one-line message (frames written
    before it stay, with their states: the rerun keeps them and analyses the bad frame again;
    module docstring, *Reruns*). Returns the number of frames of the chunk.
    """
    o = {**DEFAULTS, **(options or {})}
    lg = Log(log)
    collected: dict[str, list] = {s: [] for s in BUNDLE_STAGES}
    norm = [{"length_unit": "A", **r} for r in frames]
    prev_row = {"length_unit": "A", **previous} if previous is not None else None
    keys = [frame_key(r, o) for r in norm]
    prev_key = frame_key(prev_row, o) if prev_row is not None else None
    counts = {"reused": 0, "paired": 0, "analysed": 0}
    folders = {k: Path(v) for k, v in (figures or {}).items()}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    if figure_process is None and o["frame_figures"]:
        env = os.environ.get(FIGURE_PROCESS_ENV, "").strip()
        if env:
            figure_process = env != "0"
        else:  # how many frames this run analyses (their states, as the loop reads them)
            todo = sum(1 for r, key in zip(norm, keys, strict=True)
                       if (_Kept(layout.chunk_frame_cache(series=series, frame=r["frame"],
                                                          root=results)).state() or {}
                           ).get("frame") != key)
            figure_process = usable_cpus() >= 2 and todo <= FIGURE_PROCESS_MAX_FRAMES
    # drawn by a FigureProcess (POSIX only: it polls the worker's pipe with select)
    aside = bool(o["frame_figures"] and figure_process and os.name == "posix")
    o_analyse = {**o, "frame_figures": False} if aside else o
    helper: FigureProcess | None = None

    def link(frame: str, f: Mapping[str, str]) -> None:
        for kind, folder in folders.items():
            if os.path.exists(f[f"{kind}_png"]):
                _link(f[f"{kind}_png"], folder / frame / f"{kind}.png")

    def finish(frame, f, kept, key, previous_key, log_path=None):
        def done():
            if log_path is not None and os.path.exists(log_path):
                text = Path(log_path).read_text(encoding="utf-8").rstrip("\n")
                lg(f"[{frame}] plot_frame: " + text.replace("\n", f"\n[{frame}]   "))
            kept.record(key, previous_key, f.values())  # after the figures: their sizes, times
            link(frame, f)
        return done

    with tempfile.TemporaryDirectory(prefix="nanotraj-chunk-") as tmp:
        tmp = Path(tmp)
        logs = StageLogs(tmp, lg)
        prev_w = None

        def previous_arrays():  # the previous chunk's last frame: kept, or analysed again
            kept = _Kept(layout.chunk_frame_cache(series=series, frame=prev_row["frame"],
                                                  root=results))
            state = kept.state()
            if state is not None and state.get("frame") == prev_key:
                lg(f"[{prev_row['frame']}] (previous chunk's last frame, for the pair) "
                   "unchanged since the last run: its kept arrays")
                return kept.w
            w = _work(tmp / "previous")
            scratch = {k: str(tmp / "previous" / f"{k}.out") for k in
                       ("rdf", "domains", "boundaries")}
            analyse(prev_row, w, scratch, o, logs, series=series, full=False)
            logs.flush(f"{prev_row['frame']} (previous chunk's last frame, for the pair)")
            return w

        try:
            for k, row in enumerate(norm):
                f = _files(results, series, row["frame"], o["table_format"])
                kept = _Kept(layout.chunk_frame_cache(series=series, frame=row["frame"],
                                                      root=results))
                state = kept.state()
                same_frame = state is not None and state.get("frame") == keys[k]
                same_pair = same_frame and state.get("previous") == prev_key
                drawn = None
                if same_pair:
                    w = kept.w
                    counts["reused"] += 1
                    lg(f"[{row['frame']}] unchanged since the last run: its files kept")
                else:
                    kept.forget()
                    if same_frame:
                        w = {**_work(tmp / f"f{k % 2}"), **kept.w}  # its arrays, a new pair
                        counts["paired"] += 1
                        lg(f"[{row['frame']}] unchanged, the frame before it changed: pair and "
                           "domain links again")
                    else:
                        if aside and helper is None:  # its imports overlap this analysis
                            helper = FigureProcess()
                            lg("the frames' figures are drawn in a second process")
                        w = _work(tmp / f"f{k % 2}")
                        analyse(row, w, f, o_analyse, logs, series=series)
                        counts["analysed"] += 1
                        if aside:  # what the figures read, out of the scratch arrays' way
                            drawn = tmp / "figures" / f"{k}"
                            drawn.mkdir(parents=True)
                            for s in ("rdf", "structure"):
                                os.replace(w[s], drawn / f"{s}.npz")
                            w = {**w, "rdf": str(drawn / "rdf.npz")}
                    if prev_row is not None and prev_w is None:
                        prev_w = previous_arrays()
                    _pair(row, prev_row, w, prev_w, f, o, logs)
                    logs.flush(row["frame"])
                    kept.keep(w)
                    w = {**w, **kept.w}
                done = finish(row["frame"], f, kept, keys[k], prev_key,
                              None if drawn is None else str(drawn / "plot_frame.log"))
                if drawn is not None:
                    job = _figure_job(row, {"rdf": str(drawn / "rdf.npz"),
                                            "structure": str(drawn / "structure.npz")}, f, o,
                                      str(drawn / "plot_frame.log"))
                    helper.submit(row["frame"], job, done)
                elif same_pair:
                    link(row["frame"], f)
                else:
                    done()
                if helper is not None:
                    helper.collect()
                collected["frame"].append(_loaded(w["frame"], _FRAME_KEYS))
                for s in ("tracking", "domains", "domainlinks"):
                    collected[s].append(_loaded(w[s]))
                prev_row, prev_w, prev_key = row, w, keys[k]
            if helper is not None:
                helper.collect(block=True)
                helper.close()
                helper = None
        finally:
            if helper is not None:  # an error: the frames drawn so far keep their states
                try:
                    helper.collect(block=True)
                except Exception:  # noqa: BLE001 (the first error is the one raised)
                    pass
                helper.close(kill=True)
    from nanotraj.tables import save_frame_arrays

    save_frame_arrays(bundle, collected)
    n_ok = sum(1 for fr in collected["frame"] if str(fr.get("status", OK)) == OK)
    lg(f"chunk of {len(norm)} frames of series {series}: {n_ok} accepted, "
       f"{len(norm) - n_ok} rejected; {counts['analysed']} analysed, {counts['paired']} paired "
       f"again, {counts['reused']} unchanged since the last run")
    lg.close(OK)
    return len(norm)


def analyse_frame(row: Mapping, *, series: str, options: Mapping | None = None, threads: int = 1,
                  results=layout.RESULTS, log=None) -> None:
    """Rule ``analyse_frame`` (config ``frame_jobs: one``): every per-frame stage of one frame
    (:func:`analyse`), writing the stages' ``.npz`` files at their usual paths
    (:func:`nanotraj.layout.intermediate`) and the frame's user-facing files under ``results``,
    as the per-stage rules write them, byte for byte; the frame's figures are rule
    ``plot_frame``'s. ``row``: the sheet row as in :func:`run_chunk`; ``options``: the
    configuration's values (:func:`nanotraj.chunking.frame_stage_options`); ``log``: one log
    holding every stage's log, each line marked with the frame. A bad frame in
    ``on_bad_frame: fail`` raises with its one-line message (the log keeps the stages' logs)."""
    o = {**DEFAULTS, **(options or {}), "frame_figures": False, "threads": threads}
    row = {"length_unit": "A", **row}
    w = {s: layout.intermediate(s, series=series, frame=row["frame"], root=str(results))
         for s in layout.FRAME_STAGES}
    f = _files(results, series, row["frame"], o["table_format"])
    lg = Log(log)
    with tempfile.TemporaryDirectory(prefix="nanotraj-frame-") as tmp:
        logs = StageLogs(Path(tmp), lg)
        try:
            analyse(row, w, f, o, logs, series=series)
        except BaseException:
            logs.flush(row["frame"])
            lg.close("failed")
            raise
        logs.flush(row["frame"])
    lg.close(OK)
