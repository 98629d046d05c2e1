"""Work-arounds for costs of Snakemake: two grow with a series' length, the others are paid at
every run (building the DAG, reading its records, garbage collections, the exit).

**Input checks** (:func:`fast_input_checks`).

Before a job runs, Snakemake 9 (``snakemake.jobs.Job.prepare``) asks for every input file
whether it is a pipe or service output of one of the job's dependencies
(``Job.is_pipe_or_service_input``), and answers each question by scanning the job's
dependencies until one holds the file: O(inputs x dependencies) per job. The per-series jobs of
nanotraj read a file of every frame (``plot_series``: the series' summary and three files per
frame, ~600 inputs from ~600 jobs for 200 frames), so each such job costs O(F^2) in the
Snakemake process before it starts: measured 2.1 s of the scheduler's time for the 30 jobs of a
one-frame rerun of a 200-frame series, 25 times that for 1,000 frames.

nanotraj never declares ``pipe()`` or ``service()`` outputs. :func:`fast_input_checks` replaces
the method by one that first asks, once per job, whether any dependency has such an output at
all (a cached yes/no), and only then falls back to Snakemake's own scan: the answers are the
same, the cost O(dependencies) once per job. The Snakefile calls it at parse time; it does
nothing when the installed Snakemake has no such method (another version), and calling it twice
patches once.

**Output records** (:func:`fast_output_records`). When a job finishes, Snakemake 9
(``snakemake.persistence.PersistenceBase.finished``) writes a metadata record for each of its
outputs, and for each output it computes the checksum (sha256) of every input file of at most
``--max-checksum-file-size`` (1 MB) again: O(inputs x outputs) file reads per job, in the
Snakemake process, between jobs. ``plot_series`` has ~800 inputs and five outputs at 200 frames.
The patch keeps the checksums computed during ``finished`` calls in a cache of the process,
keyed by the file's path and its ``os.stat`` signature (inode, size, modification and change
times in ns): each input is read once per job, and a file that several jobs read (a frame's
``atoms.csv`` is an input of ``plot_series``, ``build_viewer`` and ``plot_frame``) once per
version of its content in the run; a rewritten file has another signature and is read again.
The records are the same.

**Exit** (:func:`daemon_reevaluation_timers`). Snakemake 9's job rate limit
(``--max-jobs-per-timespan``, default ``100/1s``) makes the scheduler start a
:class:`threading.Timer` after each of its rounds (``JobScheduler._schedule_reevalutation``):
after ``timespan`` (1 s) it wakes the scheduler up to look again. These timers are not daemon
threads, so when the workflow has finished Python's exit waits for the last one to fire: up to
1 s at the end of every run (``benchmarks/bench_incremental.py``, one frame of a 200-frame
series rerun: Snakemake after the last job 1.83-1.94 s without the patch, 0.97-1.12 s with
it). Each round starts another timer, so a
run keeps one wake-up per round pending, and every wake-up is a round (which checks the sizes
of every waiting job's inputs). The patch starts the timers as daemon threads, and starts none
while one that fires no later is pending: the scheduler still wakes up within ``timespan`` of
any round that asked for it, and nothing waits for a timer at exit.

**Garbage collection** (:func:`lean_gc`). Building the DAG creates many Python objects that
live to the end (jobs, file objects, wildcards, records), and CPython's cyclic garbage
collector, with its default threshold of 700 net allocations, traverses them again and again
while they are made, the oldest generation (every object) included. At the end, the
interpreter's teardown collects them all once more. :func:`lean_gc` raises the collector's
first threshold to 50,000 (the collector still runs, less often; garbage cycles live a little
longer) and, at exit, stops the collector and freezes the objects left (:func:`gc.freeze`):
the operating system frees the process's memory anyway. Objects are still freed when their last
reference goes (a file left open in a module's variable is flushed and closed at exit as
before); only objects kept alive by a reference cycle until the exit are no longer finalised
then, which Python does not promise either (nanotraj and Snakemake close their files in
``with`` blocks, and :mod:`logging` flushes its handlers in its own exit hook). It is called in
the Snakefile (the Snakemake process) and by the ``script:`` jobs
(:func:`nanotraj.stages.jobs.start_script_job`).
``benchmarks/bench_incremental.py --ab lean_gc`` measures it on and off side by side.

**Building the DAG** (:func:`fast_output_index`, :func:`fast_directory_check`). For every
input file of every job, Snakemake 9 looks up the rules that could produce it
(``snakemake.output_index.OutputIndex.match``): the rules whose output pattern starts with the
file's text up to the first wildcard and ends with the text after the last. nanotraj's outputs
all start with ``results/``, so the prefix look-up yields nearly every rule and the suffixes are
compared one by one, for thousands of files in a 200-frame series. :func:`fast_output_index` groups
the rules by the last path component of their suffix and compares only the group of the file's
own last component (plus rules whose suffix holds no ``/``): the same set of rules. After the
DAG is built, ``DAG.check_directory_outputs`` makes a :class:`pathlib.Path` of every output
file, sorts them and compares neighbours, to refuse an output inside another output (a
directory): :func:`fast_directory_check` first looks, with strings and a set, whether any
output lies inside another at all; only then (or for a path it cannot compare as text:
``..``, ``//``, ``.`` components, a trailing ``/``) does Snakemake's own check run, and it
raises the same error as before.

**Reading the records** (:func:`fast_record_reads`). To decide what to run, Snakemake 9's file
persistence (``snakemake.persistence.file.FilePersistence``) reads the metadata record of every
output file (one small JSON file each under ``.snakemake/metadata``): it builds the record's
path (base64 of the output's path) twice, asks whether the file exists, opens it as text and
parses it. The patch builds each path once per process (a dictionary), opens the file in binary
mode without asking first (a missing file is an empty record, as before) and parses the bytes
(the records are ASCII JSON, as ``json.dump`` writes them); any other outcome (a record that
does not parse, a permission error) goes to Snakemake's own method, which warns or raises as
before.

**Switching them off.** The environment variable ``NANOTRAJ_SMKSPEED_OFF`` names patches to
leave out, separated by commas (``fast_input_checks``, ``fast_output_records``,
``daemon_reevaluation_timers``, ``lean_gc``, ``fast_output_index``, ``fast_directory_check``,
``fast_record_reads``), or ``all``: to measure them, or to rule them out
when Snakemake behaves unexpectedly. Each function then returns False and changes nothing.
"""

from __future__ import annotations

import contextvars
import os

__all__ = ["fast_input_checks", "fast_output_records", "daemon_reevaluation_timers", "lean_gc",
           "fast_output_index", "fast_directory_check", "fast_record_reads", "switched_off",
           "OFF_ENV", "GC_THRESHOLD"]

#: Environment variable naming the patches to leave out (module docstring).
OFF_ENV = "NANOTRAJ_SMKSPEED_OFF"
#: First threshold of the garbage collector under :func:`lean_gc` (CPython's default: 700).
GC_THRESHOLD = 50_000

_MARK = "_nanotraj_fast_input_checks"
_RECORDS_MARK = "_nanotraj_fast_output_records"
_TIMERS_MARK = "_nanotraj_daemon_timers"
_INDEX_MARK = "_nanotraj_fast_output_index"
_DIRCHECK_MARK = "_nanotraj_fast_directory_check"
_READS_MARK = "_nanotraj_fast_record_reads"
#: True during a ``Persistence.finished`` call (the checksums are then cached).
_IN_FINISHED: contextvars.ContextVar = contextvars.ContextVar("nanotraj_in_finished",
                                                              default=False)
#: Checksums computed during ``finished`` calls: (path, threshold, force, algorithm) ->
#: (stat signature, checksum).
_CHECKSUM_CACHE: dict = {}


_GC_STATE: dict = {}  # "at_exit": the exit hook of lean_gc, once registered


def switched_off(name: str) -> bool:
    """Whether :data:`OFF_ENV` names the patch ``name`` (or ``all``)."""
    names = {part.strip() for part in os.environ.get(OFF_ENV, "").split(",")}
    return name in names or "all" in names


def _signature(path):
    """The file's (inode, size, mtime ns, ctime ns), or None when it cannot be read."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _install(owner, name: str, new, mark: str) -> None:
    """Put ``new`` in place of ``owner.name``: marked as a patch (``mark``), with the original's
    docstring and the original as ``__wrapped__``."""
    old = getattr(owner, name)
    setattr(new, mark, True)
    new.__doc__ = old.__doc__
    new.__wrapped__ = old
    setattr(owner, name, new)


def fast_input_checks() -> bool:
    """Patch ``snakemake.jobs.Job.is_pipe_or_service_input`` (module docstring); True if the
    patch is (now or already) in place, False where this Snakemake has no such method."""
    if switched_off("fast_input_checks"):
        return False
    try:
        from snakemake.jobs import Job
    except ImportError:
        return False
    original = getattr(Job, "is_pipe_or_service_input", None)
    if original is None:
        return False
    if getattr(original, _MARK, False):
        return True
    has_pipes: dict = {}  # job -> whether any dependency has a pipe or service output

    def is_pipe_or_service_input(self, path) -> bool:
        try:
            known = has_pipes[self]
        except KeyError:
            known = has_pipes[self] = any(
                dep.pipe_or_service_output for dep in self.dag.dependencies[self])
        return original(self, path) if known else False

    _install(Job, "is_pipe_or_service_input", is_pipe_or_service_input, _MARK)
    return True


def fast_output_records() -> bool:
    """Patch ``snakemake.persistence.PersistenceBase.finished`` and
    ``snakemake.io._IOFile.checksum`` (module docstring, *Output records*); True if the patch is
    (now or already) in place, False where this Snakemake has neither method."""
    if switched_off("fast_output_records"):
        return False
    try:
        from snakemake import persistence
        from snakemake.io import _IOFile
    except ImportError:
        return False
    # Snakemake 9: PersistenceBase (file and database back ends); 8: Persistence
    Persistence = getattr(persistence, "PersistenceBase", None) or getattr(  # noqa: N806
        persistence, "Persistence", None)
    original_finished = getattr(Persistence, "finished", None)
    original_checksum = getattr(_IOFile, "checksum", None)
    if original_finished is None or original_checksum is None:
        return False
    if getattr(original_finished, _RECORDS_MARK, False):
        return True

    async def checksum(self, threshold=None, force=False, algorithm=None):
        if not _IN_FINISHED.get():
            return await original_checksum(self, threshold, force, algorithm)
        key = (str(self), threshold, force, algorithm)
        before = _signature(self.file)
        hit = _CHECKSUM_CACHE.get(key)
        if before is not None and hit is not None and hit[0] == before:
            return hit[1]
        value = await original_checksum(self, threshold, force, algorithm)
        if before is not None and _signature(self.file) == before:  # not changed while read
            _CHECKSUM_CACHE[key] = (before, value)
        return value

    async def finished(self, job):
        token = _IN_FINISHED.set(True)
        try:
            return await original_finished(self, job)
        finally:
            _IN_FINISHED.reset(token)

    _install(_IOFile, "checksum", checksum, _RECORDS_MARK)
    _install(Persistence, "finished", finished, _RECORDS_MARK)
    return True


def daemon_reevaluation_timers() -> bool:
    """Patch ``snakemake.scheduling.job_scheduler.JobScheduler._schedule_reevalutation``
    (module docstring, *Exit*) to start its timer as a daemon thread; True if the patch is (now
    or already) in place, False where this Snakemake has no such method."""
    if switched_off("daemon_reevaluation_timers"):
        return False
    import threading
    import time

    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    original = getattr(JobScheduler, "_schedule_reevalutation", None)
    if original is None:
        return False
    if getattr(original, _TIMERS_MARK, False):
        return True
    lock = threading.Lock()

    def _schedule_reevalutation(self, delay) -> None:
        now = time.monotonic()
        due = now + delay
        with lock:
            # when this scheduler's pending timers fire
            pending = [t for t in self.__dict__.get(_TIMERS_MARK, ()) if t > now]
            if any(t <= due for t in pending):
                return  # a wake-up no later than this one is on its way
            self.__dict__[_TIMERS_MARK] = [*pending, due]
        timer = threading.Timer(delay, lambda: self._open_jobs.release())
        timer.daemon = True
        timer.start()

    _install(JobScheduler, "_schedule_reevalutation", _schedule_reevalutation, _TIMERS_MARK)
    return True


def _freeze_at_exit() -> None:
    import gc

    gc.disable()
    gc.freeze()  # the teardown then frees the objects without collecting them once more


def lean_gc(threshold: int = GC_THRESHOLD) -> bool:
    """Fewer garbage collections in this process (module docstring, *Garbage collection*):
    the collector's first threshold raised to at least ``threshold`` (the others kept), and at
    exit the collector stopped and the remaining objects frozen. True if in place (now or
    already; the exit hook is registered once per process), False when switched off
    (:data:`OFF_ENV`). Nothing else changes: every object is still freed when no longer
    referenced, and garbage cycles are still collected while the process runs."""
    import atexit
    import gc

    if switched_off("lean_gc"):
        return False
    first, *rest = gc.get_threshold()
    gc.set_threshold(max(int(first), int(threshold)), *rest)
    if "at_exit" not in _GC_STATE:
        _GC_STATE["at_exit"] = _freeze_at_exit
        atexit.register(_freeze_at_exit)
    return True


def fast_output_index() -> bool:
    """Patch ``snakemake.output_index.OutputIndex.match`` (module docstring, *Building the
    DAG*); True if the patch is (now or already) in place, False where this Snakemake has no
    such index (or not the private layout it reads: ``_lookup._entries``, a sorted list of
    ``(prefix, [(rule, suffix), ...])``) or when switched off."""
    if switched_off("fast_output_index"):
        return False
    try:
        from snakemake.output_index import OutputIndex
    except ImportError:
        return False
    original = getattr(OutputIndex, "match", None)
    if original is None:
        return False
    if getattr(original, _INDEX_MARK, False):
        return True

    def groups(self):
        """(rules by the last path component of their suffix, rules whose suffix has no /)."""
        built = self.__dict__.get(_INDEX_MARK)
        if built is None:
            by_name: dict[str, list] = {}
            scan: list = []
            for prefix, values in self._lookup._entries:
                for rule, suffix in values:
                    entry = (prefix, suffix, rule)
                    if "/" in suffix:
                        by_name.setdefault(suffix.rsplit("/", 1)[1], []).append(entry)
                    else:
                        scan.append(entry)
            built = self.__dict__[_INDEX_MARK] = (by_name, scan)
        return built

    def match(self, targetfile):
        try:
            by_name, scan = groups(self)
        except (AttributeError, TypeError, ValueError):
            return original(self, targetfile)
        name = targetfile.rsplit("/", 1)[-1]
        found = set()
        for entries in (by_name.get(name, ()), scan):
            for prefix, suffix, rule in entries:
                if targetfile.endswith(suffix) and targetfile.startswith(prefix):
                    found.add(rule)
        return found

    _install(OutputIndex, "match", match, _INDEX_MARK)
    return True


def _plain_paths(files, cwd: str):
    """The absolute paths of ``files`` as strings, equal to ``str(Path(f).absolute())``, or
    None when a path is not plain (``..``, ``.`` or empty components, a trailing ``/``)."""
    out = []
    for f in files:
        f = str(f)
        parts = f.split("/")
        body = parts[1:] if f.startswith("/") else parts
        if not body or any(p in ("", ".", "..") for p in body):
            return None
        out.append(f if f.startswith("/") else (cwd.rstrip("/") + "/" + f))
    return out


def fast_directory_check() -> bool:
    """Patch ``snakemake.dag.DAG.check_directory_outputs`` (module docstring, *Building the
    DAG*): Snakemake's own check runs only when an output lies inside another one (or a path is
    not plain); True if the patch is (now or already) in place, False where this Snakemake has
    no such method or when switched off."""
    if switched_off("fast_directory_check"):
        return False
    try:
        import snakemake.api  # noqa: F401 (snakemake.dag imported first is a circular import)
        from snakemake.dag import DAG
    except ImportError:
        return False
    original = getattr(DAG, "check_directory_outputs", None)
    if original is None:
        return False
    if getattr(original, _DIRCHECK_MARK, False):
        return True

    def check_directory_outputs(self):
        paths = _plain_paths((f for job in self.jobs for f in job.output), os.getcwd())
        if paths is None:
            return original(self)
        known = set(paths)
        for p in known:
            cut = p.rfind("/")
            while cut > 0:
                if p[:cut] in known:  # an output inside another: Snakemake decides
                    return original(self)
                cut = p.rfind("/", 0, cut)
        return None

    _install(DAG, "check_directory_outputs", check_directory_outputs, _DIRCHECK_MARK)
    return True


def fast_record_reads() -> bool:
    """Patch ``snakemake.persistence.file.FilePersistence._record_path`` and ``._io_read``
    (module docstring, *Reading the records*); True if the patch is (now or already) in place,
    False where this Snakemake has no such methods or when switched off."""
    import json

    if switched_off("fast_record_reads"):
        return False
    try:
        import snakemake.api  # noqa: F401 (the import order of snakemake's modules)
        from snakemake.persistence.file import FilePersistence
    except ImportError:
        return False
    original_path = getattr(FilePersistence, "_record_path", None)
    original_read = getattr(FilePersistence, "_io_read", None)
    if original_path is None or original_read is None:
        return False
    if getattr(original_read, _READS_MARK, False):
        return True

    def _record_path(self, subject, id):  # noqa: A002 (Snakemake's name)
        cache = self.__dict__.setdefault(_READS_MARK, {})
        key = (subject, id)
        try:
            return cache[key]
        except KeyError:
            path = cache[key] = original_path(self, subject, id)
            return path

    def _io_read(self, subject, id):  # noqa: A002
        path = self._record_path(subject, id)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return dict()
        except OSError:
            return original_read(self, subject, id)
        try:
            return json.loads(data)
        except ValueError:  # not JSON, not UTF-8: Snakemake warns (or raises) as before
            return original_read(self, subject, id)

    _install(FilePersistence, "_record_path", _record_path, _READS_MARK)
    _install(FilePersistence, "_io_read", _io_read, _READS_MARK)
    return True
