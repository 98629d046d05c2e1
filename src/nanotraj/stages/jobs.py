"""Job plumbing shared by every file-level stage: the log, the status a stage passes on, saving.

Bad frames
----------
With ``on_bad_frame="fail"`` a :class:`~nanotraj.errors.FrameError` propagates: the job fails with
a one-line ``"<file>: <reason>"`` message (also written to the job's log) and Snakemake removes the
job's outputs. With ``on_bad_frame="skip"`` the stage writes its outputs with
``status = "rejected: <reason>"`` and no data; every later stage passes the rejection on
(:func:`inputs_or_reject`), and the frame's summary row carries the status with empty values.
"""

from __future__ import annotations

import sys
import time as _time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nanotraj.errors import FrameError
from nanotraj.tables import load_arrays, save_arrays

__all__ = ["OK", "Log", "end_with_snakemake", "status_of", "upstream_status", "reject_reason",
           "save", "handle", "guard", "inputs_or_reject", "remark_pdb", "frame_elements"]

#: The status of a frame (and of every stage's file) that was analysed.
OK = "ok"


class Log:
    """A job's log, streamed: every line is written and flushed at once, so that a job that
    crashes or is killed leaves what it did so far (``path=None``: no file).

    ``log(msg)`` adds a line; :meth:`warn` also prints it on stderr as ``nanotraj warning:``;
    :meth:`close` ends the log with the status and the job's wall time.
    """

    def __init__(self, path):
        self.path = path
        self.t0 = _time.perf_counter()
        self._fh = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115

    def __call__(self, msg: str) -> None:
        if self._fh is not None:
            self._fh.write(f"{msg}\n")
            self._fh.flush()

    def warn(self, msg: str) -> None:
        """A line of the log that is also printed on stderr (the terminal of the run)."""
        self(f"warning: {msg}")
        print(f"nanotraj warning: {msg}", file=sys.stderr, flush=True)

    def close(self, status: str = OK) -> None:
        if self._fh is not None:
            self(f"{status} in {_time.perf_counter() - self.t0:.3f} s")
            self._fh.close()
            self._fh = None


def status_of(arrays: Mapping[str, np.ndarray]) -> str:
    """The ``status`` a stage's ``.npz`` carries (``ok`` when absent)."""
    return str(arrays["status"]) if "status" in arrays else OK


def upstream_status(*arrays: Mapping[str, np.ndarray]) -> str:
    """The first status of ``arrays`` that is not ``ok``, else ``ok``."""
    for a in arrays:
        s = status_of(a)
        if s != OK:
            return s
    return OK


def reject_reason(status: str) -> str:
    """``"rejected: <reason>"`` -> ``"<reason>"``."""
    return status.split(":", 1)[1].strip() if ":" in status else status


def save(path, status=OK, **arrays) -> None:
    """A stage's ``.npz``: its arrays and its ``status``."""
    save_arrays(path, status=np.array(status), **arrays)


def handle(log: Log, err: FrameError, on_bad_frame: str) -> str:
    """Log a frame error; re-raise in fail mode, return the rejected status in skip mode."""
    log(f"error: {err}")
    if on_bad_frame != "skip":
        log.close("failed")
        # A short report: the one-line message without the reader's internal call stack.
        raise err.with_traceback(None) from None
    log("on_bad_frame=skip: the frame is recorded as rejected")
    return f"rejected: {err.reason}"


def guard(log: Log, on_bad_frame: str, source, stage: str, compute, reject) -> str:
    """Run a stage's ``compute()`` (which writes the stage's outputs) under the frame's policy.

    Any failure is a bad frame: a :class:`FrameError` as it is, anything else (a MemoryError on
    absurd input, a ValueError the checks did not foresee) as ``"<source>: <stage> failed:
    <type>: <message>"`` with its traceback in the log. In fail mode the job fails with that one
    line; in skip mode ``reject(status)`` writes the stage's outputs as rejected, so the frame is
    recorded as ``rejected: <reason>`` and never ``ok`` beside a missing output. Closes the log
    and returns the status.
    """
    try:
        compute()
    except Exception as exc:  # noqa: BLE001 - every failure of a frame's job is recorded
        if isinstance(exc, FrameError):
            err = exc
        else:
            import traceback

            log("".join(traceback.format_exception(exc)).rstrip())
            text = str(exc).strip().splitlines()
            reason = f"{stage} failed: {type(exc).__name__}" + (f": {text[0]}" if text else "")
            err = FrameError(str(source), reason)
        status = handle(log, err, on_bad_frame)
        reject(status)
        log.close(status)
        return status
    log.close(OK)
    return OK


def inputs_or_reject(log: Log, output, *paths):
    """Load the stage's input ``.npz`` files; when one carries a rejection, write ``output`` with
    that status, close the log and return None (the stage has nothing to compute)."""
    arrays = [load_arrays(p) for p in paths]
    status = upstream_status(*arrays)
    if status == OK:
        return arrays
    save(output, status)
    log.close(status)
    return None


def remark_pdb(text: str) -> str:
    """A PDB file with no atoms: the text as REMARK 1 lines (80 columns) and END."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > 58:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    body = "".join(f"REMARK   1 NANOTRAJ: {ln}".ljust(80) + "\n" for ln in lines)
    return body + "END".ljust(80) + "\n"


def frame_elements(frame, element, log: Log | None = None, *, warn=False):
    """Each atom's element for the output files (:func:`nanotraj.elements.atom_elements`); the
    note about the file's elements goes to the log (and stderr when ``warn``)."""
    from nanotraj.elements import atom_elements

    n = len(frame["coords"])
    file_elements = frame["elements"] if "elements" in frame else np.full(n, "")
    symbols, note = atom_elements(file_elements, element)
    if note and log is not None:
        msg = f"{frame['source']}: {note}" if "source" in frame else note
        if warn:
            log.warn(msg)
        else:
            log(f"note: {msg}")
    return symbols


def _ancestor_running(name: str) -> int | None:
    """PID of the nearest ancestor process that runs the program ``name`` (an argument whose
    file name is ``name``, as ``.venv/bin/snakemake``, or ``-m name``; Linux /proc), or None."""
    import os

    pid = os.getppid()
    for _ in range(8):  # the script's shell, Snakemake, ...
        if pid <= 1:
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().decode("utf-8", "replace").split("\0")[:3]
            if any(os.path.basename(a) == name for a in argv) or name in argv[1:3]:
                return pid
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


def end_with_snakemake(interval: float = 0.5) -> bool:
    """End this process when the Snakemake process that started it is gone.

    A ``script:`` job runs in a process of its own under a shell; when Snakemake is killed
    (``kill -9``, a closed terminal) that process would go on writing outputs of a run that no
    longer exists. A daemon thread checks every ``interval`` seconds whether the nearest
    ancestor named ``snakemake`` is alive, and ends this process (exit status 1) when it is not:
    an atomically written output is then either complete or absent. Returns whether an ancestor
    was found (False off Linux or outside Snakemake: nothing is watched).
    """
    import os
    import threading

    pid = _ancestor_running("snakemake")
    if pid is None:
        return False

    def alive() -> bool:
        try:  # a killed process stays a zombie until its own parent reaps it
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    def watch():
        import time

        while alive():
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-snakemake", daemon=True).start()
    return True


def start_script_job() -> None:
    """The first call of every ``script:`` job (``workflow/scripts``; a process of its own):
    :func:`end_with_snakemake` (a killed run does not leave the job writing) and
    :func:`nanotraj.smkspeed.lean_gc` (fewer garbage collections, none at the exit of a process
    that holds a few figures' worth of matplotlib objects)."""
    from nanotraj.smkspeed import lean_gc

    end_with_snakemake()
    lean_gc()
    profile_job()


#: Set to a folder: every ``script:`` job writes its cProfile statistics there (a developer's
#: tool, docs/development.md).
PROFILE_ENV = "NANOTRAJ_PROFILE_DIR"


def profile_job(name: str | None = None) -> str | None:
    """With :data:`PROFILE_ENV` set, profile the rest of this process with :mod:`cProfile` and
    write the statistics at its exit to ``{folder}/{name}.{pid}.prof`` (``name``: default the
    script's; read them with ``python -m pstats``). Returns that path, or None when the
    variable is unset or empty."""
    import os

    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        return None
    import atexit
    import cProfile

    os.makedirs(folder, exist_ok=True)
    # Snakemake runs .snakemake/scripts/tmpXXXX.{script}.py
    parts = Path(sys.argv[0] if sys.argv and sys.argv[0] else "job").name.split(".")
    script = name or (parts[-2] if len(parts) >= 2 else parts[0])
    path = os.path.join(folder, f"{script}.{os.getpid()}.prof")
    prof = cProfile.Profile()
    atexit.register(lambda: (prof.disable(), prof.dump_stats(path)))
    prof.enable()
    return path
