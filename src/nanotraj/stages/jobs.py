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

__all__ = ["OK", "Log", "status_of", "upstream_status", "reject_reason", "save", "handle",
           "inputs_or_reject", "remark_pdb", "frame_elements"]

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
