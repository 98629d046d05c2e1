"""Frames of any input file: XYZ, extended XYZ, LAMMPS text dumps, (multi-model) PDB and mmCIF;
one frame of a multi-frame file read by its index; extended XYZ written.

Reading (:func:`read_frame`)
----------------------------
The format is told by content, not by extension (after decompression: gzip, bzip2, xz; a UTF-8
or UTF-16 byte-order mark removed), from the first non-blank line:

* ``data_...`` -> mmCIF, read by :mod:`nanotraj.io` (gemmi);
* ``ITEM: ...`` -> LAMMPS text dump (``dump atom``/``dump custom``);
* a whole number -> XYZ: the atom count, a comment line, one line per atom.  When the comment
  has a ``Properties=`` key it is *extended* XYZ (the convention of ASE, OVITO and QUIP:
  ``Properties=species:S:1:pos:R:3:...`` names the per-atom columns; ``Lattice=``, ``pbc=`` and
  other keys may follow; ``time=`` gives the frame's time);
* anything else -> PDB, read by :mod:`nanotraj.io` (gemmi and a strict fixed-column reader).

Every file may hold several frames: XYZ and LAMMPS files one after the other, PDB as
``MODEL``/``ENDMDL`` blocks, mmCIF as ``_atom_site.pdbx_PDB_model_num``.  A frame is named by its
0-based ``frame_index``; a file of several frames read without one is an error.

Frame index (:func:`frame_index`)
---------------------------------
A 10,000-frame trajectory is read one frame per job: the byte range of every frame is found once
(one pass over the file, reading 16 MiB blocks and only the header lines of each frame; atom
lines are skipped by counting line ends with numpy) and cached -- in memory for the process, and
as ``.npz`` in ``cache_dir`` for other processes (keyed by the file's path, size, modification
time and inode; a changed file is indexed again).  Reading frame k then reads only its bytes
(``os.pread``).  Compressed, UTF-16 and CR-only files and mmCIF are decoded whole (bounded by
``max_bytes``) for each frame: fine for a few frames, slow for thousands (decompress those).

The index is structural: the frames it lists are complete (header counts match the lines).  A
file whose end is broken (a trajectory still being written, a truncated copy) lists the complete
frames before it and records the problem; reading a frame at or after it raises that problem.

Why an own parser for XYZ and LAMMPS
------------------------------------
Measured (``benchmarks/bench_formats.py``, docs/inputs.md): one frame costs about the same as
with ASE 3.29 (300 atoms: 0.5-0.9 ms either way; 10^5 atoms: extended XYZ 0.21 s here, 0.28 s
ASE; LAMMPS 0.20 s here, 0.12 s ASE), but ASE's ``read(path, index=k)`` scans the file from its
start for every frame (0.26-0.29 s per frame of a 10,000-frame file, against 0.6 ms through the
index here), its LAMMPS reader reads the whole file into memory and maps LAMMPS types to
elements by atomic number (type 1 -> hydrogen), and Python's ``float()`` behind it takes
``1_000`` and non-ASCII digits; its errors do not name the line.  ASE is the test oracle
instead (files written by ASE are read here; the ``atoms.extxyz`` written here is read back by
ASE and by OVITO).

Numbers are read strictly, as in :mod:`nanotraj.io`: ASCII decimal numbers (``nan``/``inf``
are read and then refused as non-finite by the geometry check); anything else names its line.

Writing (:func:`extxyz_header`)
-------------------------------
``atoms.extxyz`` is the frame's ``atoms.csv`` with spaces instead of commas under an extended
XYZ header whose ``Properties`` types every column (``pos:R:3`` for x, y, z; ``species:S:1``
for the element; ``I`` for integer and 0/1 columns, ``R`` for reals, ``S`` for labels), so every
value is the same text in both files.

All lengths are in Angstrom after reading (``length_unit`` ``"nm"``: x 10).

References
----------
Extended XYZ: https://github.com/libAtoms/extxyz (format specification); A. Hjorth Larsen et
al., The atomic simulation environment, J. Phys.: Condens. Matter 29, 273002 (2017).
LAMMPS ``dump`` command documentation (text dump layout, scaled and unwrapped coordinates,
triclinic box bounds): https://docs.lammps.org/dump.html and Howto_triclinic.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from nanotraj.errors import FrameError
from nanotraj.io import (
    _MAGIC,
    MAX_FRAME_BYTES,
    Frame,
    _check_geometry,
    _decode,
    _read_bytes,
    _size_text,
    frame_from_text,
    length_scale,
    os_error,
)
from nanotraj.io import read_frame as _read_pdb_or_cif

__all__ = ["FrameIndex", "frame_index", "read_frame", "frame_label", "parse_type_map",
           "extxyz_header", "extxyz_type", "write_extxyz", "append_extxyz", "FORMATS"]

#: Formats told apart by :func:`sniff`.
FORMATS = ("pdb", "mmcif", "xyz", "lammps")

_BLOCK = 1 << 24  # bytes read per block while indexing
_HEAD = 1 << 16  # bytes looked at to tell the format


def frame_label(path, index) -> str:
    """How messages name a frame: ``path``, or ``path (frame k)`` for a frame of a file read
    by index."""
    return str(path) if index is None else f"{path} (frame {int(index)})"


# --------------------------------------------------------------------------------------------
# the file: regular, plain or decoded whole
# --------------------------------------------------------------------------------------------


def _stat(path: str) -> os.stat_result:
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        raise os_error(path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a pipe, socket or device"
        raise FrameError(path, f"is {kind}, not a regular file")
    return st


def _open(path: str):
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the callers
    except OSError as exc:
        raise os_error(path, exc) from None


def _needs_whole(head: bytes) -> bool:
    """Whether the file must be decoded whole (compressed, UTF-16, zip, CR-only line ends)
    rather than read by byte ranges."""
    if any(head.startswith(m) for m, _ in _MAGIC) or head[:4] == b"PK\x03\x04":
        return True
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return b"\r" in head.replace(b"\r\n", b"")


def _whole(path: str, max_bytes: int) -> bytes:
    """The decoded text of the whole file as UTF-8 bytes with LF line ends."""
    return _decode(path, _read_bytes(path, max_bytes)).encode("utf-8")


def _first_line(head: bytes) -> bytes:
    for line in head.split(b"\n"):
        s = line.strip()
        if s:
            return s
    return b""


def sniff(head: bytes) -> str:
    """The format (:data:`FORMATS`) of a text from its first bytes (decoded)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first = _first_line(head)
    if first.lower().startswith(b"data_"):
        return "mmcif"
    if first.startswith(b"ITEM:"):
        return "lammps"
    if first.isdigit():
        return "xyz"
    if first.startswith(b"#"):  # a comment line: mmCIF's, or nothing known
        for line in head.split(b"\n"):
            s = line.strip()
            if s and not s.startswith(b"#"):
                return "mmcif" if s.lower().startswith(b"data_") else "pdb"
    return "pdb"


# --------------------------------------------------------------------------------------------
# a line cursor that skips lines fast
# --------------------------------------------------------------------------------------------


class _Lines:
    """Lines of a binary file from offset ``start``: :meth:`readline` and :meth:`skip`.

    The positions of the line ends of each 16 MiB block are found once with numpy, so skipping
    the atom lines of a frame costs no Python per line.  ``offset`` is the file offset of the
    next unread byte; ``lineno`` the number of lines read so far (from ``start``).
    """

    def __init__(self, fh, start=0, base_line=0):
        self.fh = fh
        fh.seek(start)
        self.buf = b""
        self.base = start
        self.pos = 0
        self.nl = np.empty(0, np.int64)
        self.k = 0
        self.eof = False
        self.lineno = base_line
        self.last_unterminated = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _more(self) -> bool:
        if self.eof:
            return False
        new = self.fh.read(_BLOCK)
        if not new:
            self.eof = True
            return False
        tail = self.buf[self.pos:]
        self.base += self.pos
        self.buf = tail + new
        self.pos = 0
        self.nl = np.flatnonzero(np.frombuffer(self.buf, np.uint8) == 10)
        self.k = 0
        return True

    def readline(self) -> bytes | None:
        """The next line without its line end (None at the end of the file)."""
        while self.k >= len(self.nl):
            if not self._more():
                if self.pos < len(self.buf):  # a last line without a line end
                    line = self.buf[self.pos:]
                    self.pos = len(self.buf)
                    self.lineno += 1
                    self.last_unterminated = True
                    return line
                return None
        end = int(self.nl[self.k])
        line = self.buf[self.pos:end]
        self.pos = end + 1
        self.k += 1
        self.lineno += 1
        return line

    def skip(self, n: int) -> int:
        """Skip ``n`` lines; the number skipped (fewer at the end of the file; a last line
        without a line end counts, and sets ``last_unterminated``)."""
        done = 0
        while done < n:
            avail = len(self.nl) - self.k
            if avail >= n - done:
                self.k += n - done
                self.pos = int(self.nl[self.k - 1]) + 1
                self.lineno += n - done
                return n
            done += avail
            self.lineno += avail
            self.k = len(self.nl)
            if avail:
                self.pos = int(self.nl[-1]) + 1
            if not self._more():
                if self.pos < len(self.buf):
                    self.pos = len(self.buf)
                    self.lineno += 1
                    self.last_unterminated = True
                    done += 1
                return done
        return done

    def rest_is_blank(self) -> bool:
        """Whether everything after the cursor is white space (and then consumes it)."""
        while True:
            if self.buf[self.pos:].strip():
                return False
            self.pos = len(self.buf)
            self.k = len(self.nl)
            if not self._more():
                return True


# --------------------------------------------------------------------------------------------
# the index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameIndex:
    """Where each complete frame of a file is.

    Attributes
    ----------
    format : str
        One of :data:`FORMATS`.
    starts, ends : ndarray, shape (F,), int64
        Byte range of each frame (of the decoded text when ``whole``, else of the file).
    lines : ndarray, shape (F,), int64
        1-based line number of each frame's first line.
    n_atoms : ndarray, shape (F,), int64
        Atom count each frame's header gives (-1 for PDB and mmCIF).
    times : ndarray, shape (F,), float64
        Each frame's time from the file (extended XYZ ``time=``, LAMMPS ``ITEM: TIME``, else
        ``ITEM: TIMESTEP``); NaN where none is given.
    problem : str
        Why the file's frames end before the file does (``""`` when they do not): frame ``F``
        and later cannot be read and raise this.
    whole : bool
        The file is decoded whole to be read (compressed, UTF-16, CR line ends, mmCIF).
    """

    format: str
    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    n_atoms: np.ndarray
    times: np.ndarray
    problem: str = ""
    whole: bool = False

    def __len__(self) -> int:
        return len(self.starts)


_CACHE: dict[tuple, FrameIndex] = {}
_CACHE_LOCK = threading.Lock()
_PATH_LOCKS: dict[str, threading.Lock] = {}
_CACHE_VERSION = 1


def _key(path: str, st: os.stat_result) -> tuple:
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino, _CACHE_VERSION)


def _cache_file(cache_dir, key) -> str:
    digest = hashlib.sha256(repr(key[0]).encode()).hexdigest()[:24]
    return os.path.join(os.fspath(cache_dir), f"{digest}.npz")


def _load_cached(cache_dir, key) -> FrameIndex | None:
    if not cache_dir:
        return None
    path = _cache_file(cache_dir, key)
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != repr(key):
                return None
            return FrameIndex(str(z["format"]), z["starts"], z["ends"], z["lines"],
                              z["n_atoms"], z["times"], str(z["problem"]), bool(z["whole"]))
    except (OSError, KeyError, ValueError):
        return None


def _save_cached(cache_dir, key, idx: FrameIndex) -> None:
    if not cache_dir:
        return
    import secrets

    path = _cache_file(cache_dir, key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{secrets.token_hex(6)}.tmp.npz"
        np.savez(tmp, key=np.array(repr(key)), format=np.array(idx.format), starts=idx.starts,
                 ends=idx.ends, lines=idx.lines, n_atoms=idx.n_atoms, times=idx.times,
                 problem=np.array(idx.problem), whole=np.array(idx.whole))
        os.replace(tmp, path)
    except OSError:  # a read-only results folder: the index is only not kept
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def frame_index(path, *, max_bytes: int = MAX_FRAME_BYTES, cache_dir=None) -> FrameIndex:
    """The :class:`FrameIndex` of a file: found once per file version, then cached in memory
    and (``cache_dir``, optional) on disk.

    One pass over the file (16 MiB blocks); per frame only the header lines are parsed, atom
    lines are counted with numpy (measured: docs/inputs.md, ``benchmarks/bench_formats.py``).
    Raises
    :class:`~nanotraj.errors.FrameError` for a file that cannot be read at all (missing, not a
    regular file, empty, binary, its first frame's header broken); a file whose later frames
    are broken gets an index of the complete ones and ``problem``.
    """
    path = os.fspath(path)
    st = _stat(path)
    key = _key(path, st)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        lock = _PATH_LOCKS.setdefault(key[0], threading.Lock())
    if hit is not None:
        return hit
    with lock:  # one thread indexes a file, the others wait for its index
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None:
            return hit
        idx = _load_cached(cache_dir, key)
        if idx is None:
            idx = _build_index(path, st, max_bytes)
            _save_cached(cache_dir, key, idx)
        with _CACHE_LOCK:
            if len(_CACHE) > 256:
                _CACHE.clear()
            _CACHE[key] = idx
    return idx


def _build_index(path: str, st, max_bytes: int) -> FrameIndex:
    import io as _io

    with _open(path) as fh:
        try:
            head = fh.read(_HEAD)
        except OSError as exc:
            raise FrameError(path, f"cannot read: {exc.strerror or exc}") from None
        whole = _needs_whole(head)
        if whole:
            data = _whole(path, max_bytes)
            return _index_text(path, _io.BytesIO(data), data[:_HEAD], 0, whole=True,
                               size=len(data))
        if not head.strip():
            raise FrameError(path, "empty file (no atoms)")
        if b"\x00" in head:
            raise FrameError(path, "binary content: not a PDB, mmCIF, XYZ or LAMMPS text file")
        start = 0
        while head[start:start + 3] == b"\xef\xbb\xbf":
            start += 3
        return _index_text(path, fh, head[start:], start, whole=False, size=st.st_size)


def _index_text(path, fh, head, start, *, whole, size) -> FrameIndex:
    fmt = sniff(head)
    if fmt == "xyz":
        return _index_xyz(path, _Lines(fh, start), whole)
    if fmt == "lammps":
        return _index_lammps(path, _Lines(fh, start), whole)
    if fmt == "pdb":
        return _index_pdb(path, fh, start, size, whole)
    return _index_mmcif(path, fh, start)


def _index_mmcif(path, fh, start) -> FrameIndex:
    """mmCIF: one frame per distinct ``_atom_site.pdbx_PDB_model_num`` (the file is read whole
    to count them; each frame is read by :func:`nanotraj.io.read_frame` with ``model=``)."""
    import gemmi

    fh.seek(start)
    text = fh.read().decode("utf-8", "replace")
    try:
        doc = gemmi.cif.read_string(text)
    except Exception as exc:  # noqa: BLE001 - gemmi's parse errors
        raise FrameError(path, f"not a valid mmCIF file: {str(exc).splitlines()[0]}") from None
    models = 1
    for block in doc:
        t = block.find("_atom_site.", ["pdbx_PDB_model_num"])
        if len(t):
            models = len(dict.fromkeys(t.column(0)))
            break
    return _finish("mmcif", [start] * models, [-1] * models, [1] * models, [-1] * models,
                   [np.nan] * models, "", True)


def _finish(fmt, starts, ends, lines, counts, times, problem, whole) -> FrameIndex:
    return FrameIndex(fmt, np.array(starts, np.int64), np.array(ends, np.int64),
                      np.array(lines, np.int64), np.array(counts, np.int64),
                      np.array(times, np.float64), problem, whole)


def _text(line: bytes, limit=60) -> str:
    s = line.decode("utf-8", "replace").strip()
    return repr(s if len(s) <= limit else s[:limit] + "...")


_TIME_KEY = re.compile(rb"(?:^|\s)time=(\"?)([^\s\"]+)\1", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)",
                        re.IGNORECASE)


def _comment_time(comment: bytes) -> float:
    m = _TIME_KEY.search(comment)
    if not m:
        return float("nan")
    text = m.group(2).decode("ascii", "replace")
    return float(text) if _NUMBER_RE.fullmatch(text) else float("nan")


def _index_xyz(path, cur: _Lines, whole) -> FrameIndex:
    starts, ends, lines, counts, times = [], [], [], [], []
    problem = ""
    while True:
        offset, line0 = cur.offset, cur.lineno + 1
        count_line = cur.readline()
        if count_line is None:
            break
        if not count_line.strip():  # blank lines after the last frame only
            if cur.rest_is_blank():
                break
            problem = f"line {line0}: blank line between frames"
            break
        k = len(starts)
        token = count_line.strip()
        if not token.isdigit():
            if k:
                prev = counts[-1]
                problem = (f"line {line0}: expected the atom count of frame {k}, found "
                           f"{_text(count_line)}: the XYZ header of frame {k - 1} (line "
                           f"{lines[-1]}) says {prev} atoms, the file has more coordinate "
                           "lines?")
            else:
                problem = (f"line {line0}: the first line of an XYZ file is the atom count, "
                           f"found {_text(count_line)}")
            break
        n = int(token)
        comment = cur.readline()
        if comment is None:
            problem = (f"line {line0}: XYZ header says {n} atoms, the file ends before the "
                       "comment line: truncated file?")
            break
        got = cur.skip(n)
        if got < n or (cur.last_unterminated and n):
            last = "" if got < n else ", the last one without a line end"
            problem = (f"XYZ header says {n} atoms, file has {got} coordinate lines{last} "
                       f"(header at line {line0}): truncated file?")
            break
        starts.append(offset)
        ends.append(cur.offset)
        lines.append(line0)
        counts.append(n)
        times.append(_comment_time(comment))
    if not starts and problem:
        raise FrameError(path, problem)
    if not starts:
        raise FrameError(path, "empty file (no atoms)")
    return _finish("xyz", starts, ends, lines, counts, times, problem, whole)


_LAMMPS_ONE_LINE = {b"TIMESTEP", b"TIME", b"NUMBER OF ATOMS", b"UNITS"}


def _lammps_item(line: bytes) -> bytes | None:
    s = line.strip()
    return s[5:].strip() if s.startswith(b"ITEM:") else None


def _index_lammps(path, cur: _Lines, whole) -> FrameIndex:
    starts, ends, lines, counts, times = [], [], [], [], []
    problem = ""
    while True:
        offset, line0 = cur.offset, cur.lineno + 1
        line = cur.readline()
        if line is None:
            break
        k = len(starts)
        if not line.strip():
            if cur.rest_is_blank():
                break
            problem = f"line {line0}: blank line between frames"
            break
        n = step = None
        t = float("nan")
        item = _lammps_item(line)
        while item is not None and not item.startswith(b"ATOMS"):
            name = item.split(b" ")[0] if item.startswith(b"BOX") else item
            value = cur.readline()
            if value is None:
                problem = f"line {cur.lineno}: the file ends inside ITEM: {item.decode()}"
                break
            if item.startswith(b"BOX BOUNDS"):
                cur.skip(2)
            elif name == b"TIMESTEP":
                step = value.strip()
            elif name == b"TIME":
                t = _float_or_nan(value)
            elif name == b"NUMBER OF ATOMS":
                if not value.strip().isdigit():
                    problem = (f"line {cur.lineno}: ITEM: NUMBER OF ATOMS is not a whole number: "
                               f"{_text(value)}")
                    break
                n = int(value.strip())
            elif name not in _LAMMPS_ONE_LINE:
                problem = (f"line {cur.lineno - 1}: unknown section ITEM: {item.decode()} "
                           "(a LAMMPS text dump has TIMESTEP, NUMBER OF ATOMS, BOX BOUNDS, ATOMS)")
                break
            nxt = cur.readline()
            if nxt is None:
                problem = f"line {cur.lineno}: the file ends before ITEM: ATOMS: truncated file?"
                break
            item = _lammps_item(nxt)
            if item is None:
                problem = f"line {cur.lineno}: expected an ITEM: line, found {_text(nxt)}"
                break
        if problem:
            break
        if item is None:
            if k:
                problem = (f"line {line0}: expected ITEM: TIMESTEP of frame {k}, found "
                           f"{_text(line)}: frame {k - 1} (line {lines[-1]}) has more atom lines "
                           f"than its ITEM: NUMBER OF ATOMS ({counts[-1]})?")
            else:
                problem = f"line {line0}: expected an ITEM: line, found {_text(line)}"
            break
        if n is None:
            problem = f"line {cur.lineno}: ITEM: ATOMS before ITEM: NUMBER OF ATOMS"
            break
        got = cur.skip(n)
        if got < n or (cur.last_unterminated and n):
            last = "" if got < n else ", the last one without a line end"
            problem = (f"LAMMPS dump says {n} atoms (ITEM: NUMBER OF ATOMS, frame at line "
                       f"{line0}), the file has {got} atom lines{last}: truncated file?")
            break
        if np.isnan(t) and step is not None:
            t = _float_or_nan(step)
        starts.append(offset)
        ends.append(cur.offset)
        lines.append(line0)
        counts.append(n)
        times.append(t)
    if not starts and problem:
        raise FrameError(path, problem)
    if not starts:
        raise FrameError(path, "empty file (no atoms)")
    return _finish("lammps", starts, ends, lines, counts, times, problem, whole)


def _float_or_nan(value: bytes) -> float:
    text = value.strip().decode("ascii", "replace")
    return float(text) if _NUMBER_RE.fullmatch(text) else float("nan")


_MODEL_LINE = re.compile(rb"^MODEL\b", re.MULTILINE)


def _index_pdb(path, fh, start, size, whole) -> FrameIndex:
    """``MODEL`` records' offsets (one frame, the whole file, without them)."""
    fh.seek(start)
    starts, lines = [], []
    base, nline, tail = start, 1, b""
    while True:
        block = fh.read(_BLOCK)
        if not block:
            break
        buf = tail + block
        cut = buf.rfind(b"\n") + 1  # whole lines only; the rest waits for the next block
        if cut == 0:
            tail = buf
            continue
        body = buf[:cut]
        for m in _MODEL_LINE.finditer(body):
            starts.append(base + m.start())
            lines.append(nline + body.count(b"\n", 0, m.start()))
        nline += body.count(b"\n")
        base += cut
        tail = buf[cut:]
    if tail.startswith(b"MODEL"):
        starts.append(base)
        lines.append(nline)
    if not starts:
        return _finish("pdb", [start], [size], [1], [-1], [np.nan], "", whole)
    ends = [*starts[1:], size]
    return _finish("pdb", starts, ends, lines, [-1] * len(starts), [np.nan] * len(starts), "",
                   whole)


# --------------------------------------------------------------------------------------------
# reading one frame
# --------------------------------------------------------------------------------------------


def read_frame(path, *, frame_index=None, length_unit: str = "A", type_map=None,
               min_atoms: int = 4, min_distance: float = 0.5, max_bytes: int = MAX_FRAME_BYTES,
               cache_dir=None) -> Frame:
    """Read one frame of a PDB, mmCIF, XYZ, extended XYZ or LAMMPS dump file.

    Parameters
    ----------
    path : str or os.PathLike
        The file (format by content, see the module's docstring; gzip, bzip2, xz by magic
        bytes).
    frame_index : int, optional
        0-based frame of a multi-frame file (XYZ/LAMMPS frames, PDB ``MODEL`` blocks, mmCIF
        models).  ``None``: the file must hold exactly one frame.
    length_unit : {"A", "nm"}
        The file's length unit; coordinates are returned in Angstrom.
    type_map : dict or str, optional
        LAMMPS atom type -> element (``{1: "Pt", 2: "Ni"}`` or ``"1:Pt,2:Ni"``,
        :func:`parse_type_map`); a dump with an ``element`` column does not need it.
    min_atoms, min_distance, max_bytes
        As :func:`nanotraj.io.read_frame` (``max_bytes`` bounds one frame's bytes; a compressed
        file is decompressed whole within it).
    cache_dir : str, optional
        Where the frame index of multi-frame files is kept between processes.

    Returns
    -------
    Frame
        ``coords`` (N, 3) float64 Angstrom in the file's atom order (LAMMPS: sorted by ``id``),
        ``elements`` (N,) str (``""`` where the file names none), ``b_factors`` (NaN for
        XYZ/LAMMPS), ``notes``, ``time`` (from the file, NaN where it has none).

    Raises
    ------
    FrameError
        One line ``"<path>: <reason>"`` (``"<path> (frame k): <reason>"`` with ``frame_index``):
        everything :func:`nanotraj.io.read_frame` refuses, and for XYZ: a header count that does
        not match the coordinate lines (``XYZ header says 300 atoms, file has 298 coordinate
        lines``), a line with another number of fields than ``Properties`` gives, a
        ``Properties`` key without ``pos:R:3``, a field that is not a number; for LAMMPS: an
        ``ITEM: NUMBER OF ATOMS`` that does not match, no complete set of coordinates, a
        duplicated atom id, a type missing from ``type_map``; for any file: ``frame_index``
        beyond its frames, several frames without ``frame_index``.
    """
    path = os.fspath(path)
    label = frame_label(path, frame_index)
    scale = length_scale(label, length_unit)
    if frame_index is not None:
        try:
            frame_index = int(frame_index)
        except (TypeError, ValueError):
            raise FrameError(path, f"frame_index {frame_index!r} is not a whole number") from None
        if frame_index < 0:
            raise FrameError(path, f"frame_index {frame_index} is negative")
    _stat(path)
    with _open(path) as fh:
        try:
            head = fh.read(_HEAD)
        except OSError as exc:
            raise FrameError(path, f"cannot read: {exc.strerror or exc}") from None
    fmt = "pdb" if _needs_whole(head) else sniff(head)
    if fmt in ("pdb", "mmcif") and (_needs_whole(head) or fmt == "mmcif" or frame_index is None):
        # PDB/mmCIF read whole (and every compressed file, told apart once decoded)
        if _needs_whole(head):
            text = _whole(path, max_bytes)
            fmt = sniff(text[:_HEAD])
            if fmt in ("xyz", "lammps"):
                return _read_indexed(path, label, fmt, frame_index, scale, type_map,
                                     min_atoms, min_distance, max_bytes, cache_dir)
        try:
            return _read_pdb_or_cif(path, min_atoms=min_atoms, min_distance=min_distance,
                                    max_bytes=max_bytes, length_unit=length_unit,
                                    model=frame_index)
        except FrameError as err:
            raise FrameError(label, err.reason) from None
    return _read_indexed(path, label, fmt, frame_index, scale, type_map, min_atoms,
                         min_distance, max_bytes, cache_dir)


def _read_indexed(path, label, fmt, frame_index, scale, type_map, min_atoms, min_distance,
                  max_bytes, cache_dir) -> Frame:
    idx = frame_index_of(path, max_bytes=max_bytes, cache_dir=cache_dir)
    k = 0 if frame_index is None else frame_index
    if frame_index is None and (len(idx) > 1 or (len(idx) == 1 and idx.problem)):
        what = f"{len(idx)} complete frames" if not idx.problem else (
            f"{len(idx)} complete frames and then: {idx.problem}")
        if len(idx) > 1:
            raise FrameError(label, f"{what}; one frame per row expected (name one with the "
                                    "sheet's frame_index column; nanotraj-sheet writes a row "
                                    "per frame)")
        raise FrameError(label, idx.problem)
    if k >= len(idx):
        if idx.problem and k == len(idx):
            raise FrameError(label, idx.problem)
        more = f" (then: {idx.problem})" if idx.problem else ""
        raise FrameError(label, f"the file holds {len(idx)} complete frame(s){more} "
                                "(frame_index counts from 0)")
    start, end = int(idx.starts[k]), int(idx.ends[k])
    if end - start > max_bytes:
        raise FrameError(label, f"frame larger than max_frame_bytes ({_size_text(max_bytes)}): "
                                "raise max_frame_bytes in the config")
    if idx.whole:
        data = _whole(path, max_bytes)[start:end]
    else:
        data = _pread(path, start, end - start)
    line0 = int(idx.lines[k])
    if b"\x00" in data:
        raise FrameError(label, f"binary content in the frame at line {line0}")
    time = float(idx.times[k])
    if idx.format == "pdb":
        text = data.decode("utf-8", "replace") if not data.isascii() else data.decode("ascii")
        frame = frame_from_text(label, text, min_atoms=min_atoms, min_distance=min_distance,
                                length_unit="A", line_offset=line0 - 1, _scale=scale)
        return frame
    if idx.format == "xyz":
        coords, elements, where, notes = _parse_xyz(label, data, line0)
    else:
        coords, elements, where, notes = _parse_lammps(label, data, line0, type_map)
    if len(coords) == 0:
        what = "XYZ header" if idx.format == "xyz" else "ITEM: NUMBER OF ATOMS"
        raise FrameError(label, f"no atoms (the {what} at line {line0} says 0)")
    if scale != 1.0:
        coords = coords * scale
    _check_geometry(label, coords, where, min_atoms=min_atoms, min_distance=min_distance)
    return Frame(path=path, coords=np.ascontiguousarray(coords, dtype=np.float64),
                 elements=np.asarray(elements, dtype=str),
                 b_factors=np.full(len(coords), np.nan), notes=tuple(notes), time=time)


def frame_index_of(path, *, max_bytes=MAX_FRAME_BYTES, cache_dir=None) -> FrameIndex:
    """:func:`frame_index` (the name :func:`read_frame`'s parameter hides)."""
    return frame_index(path, max_bytes=max_bytes, cache_dir=cache_dir)


def _pread(path, offset, size) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise FrameError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        chunks, done = [], 0
        while done < size:
            chunk = os.pread(fd, size - done, offset + done)
            if not chunk:
                raise FrameError(path, "the file became shorter while it was read")
            chunks.append(chunk)
            done += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# fields
# --------------------------------------------------------------------------------------------


_SPACE_BYTES = np.zeros(256, dtype=bool)
_SPACE_BYTES[[9, 10, 11, 12, 13, 32]] = True  # what bytes.split() splits on
_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[np.frombuffer(b"\x000123456789.+-eE", dtype=np.uint8)] = True


def _split_rows(label, body: bytes, line0: int, n: int, what: str):
    """The atom lines' fields as an (n, k) bytes array when every line has k fields, else the
    list of per-line field lists; a FrameError for non-ASCII text."""
    if not body.isascii():
        rows = body.split(b"\n")
        bad = next(i for i, r in enumerate(rows) if not r.isascii())
        raise FrameError(label, f"line {line0 + bad}: non-ASCII character in {what}")
    a = np.frombuffer(body, np.uint8)
    ctrl = np.flatnonzero((a < 32) & ~_SPACE_BYTES[a])
    if len(ctrl):
        bad = body.count(b"\n", 0, int(ctrl[0]))
        raise FrameError(label, f"line {line0 + bad}: control character {body[ctrl[0]]:#04x} in "
                                f"{what}")
    rows = body.split(b"\n")
    if rows and rows[-1] == b"":
        rows.pop()
    if len(rows) != n:  # pragma: no cover - the index counted them
        raise FrameError(label, f"expected {n} {what}, found {len(rows)}")
    tokens = body.split()
    sep = a <= 32
    starts = np.flatnonzero(~sep[1:] & sep[:-1]) + 1
    if len(a) and not sep[0]:
        starts = np.concatenate(([0], starts))
    per_line = np.bincount(np.searchsorted(np.flatnonzero(a == 10), starts), minlength=n)[:n]
    return rows, tokens, per_line


def _whole_numbers(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, ok)``: an (n,) bytes array of fields as int64 and whether each is a plain
    whole number (ASCII digits only; at most 18), vectorised over the characters."""
    n = len(column)
    width = column.dtype.itemsize
    if n == 0 or width == 0:
        return np.zeros(n, np.int64), np.ones(n, bool)
    chars = np.ascontiguousarray(column).view(np.uint8).reshape(n, width)
    used = chars != 0
    digit = (chars >= 48) & (chars <= 57)
    ok = (digit | ~used).all(axis=1) & used[:, 0] & (used.sum(axis=1) <= 18)
    # fields are left-aligned and NUL-padded: no used character after a NUL
    ok &= (used[:, :-1] | ~used[:, 1:]).all(axis=1) if width > 1 else True
    values = np.zeros(n, np.int64)
    for j in range(width):
        values = np.where(used[:, j], values * 10 + (chars[:, j].astype(np.int64) - 48), values)
    return values, ok


def _numbers(label, fields: np.ndarray, lines: np.ndarray, names) -> np.ndarray:
    """Strictly parse an (n, k) bytes array of fields to float64 (``names[j]``: column j's name
    for messages; ``lines``: each row's line number)."""
    if fields.size == 0:
        return np.zeros(fields.shape)
    chars = np.ascontiguousarray(fields).view(np.uint8).reshape(fields.size, -1)
    plain = _NUMBER_BYTES[chars].all(axis=1).reshape(fields.shape)
    if plain.all():
        try:
            return fields.astype(np.float64)
        except ValueError:
            pass
    for (i, j), raw in np.ndenumerate(fields):
        s = raw.decode("ascii", "replace")
        ok = _NUMBER_RE.fullmatch(s) is not None
        if ok and plain[i, j]:
            try:
                float(s)
            except ValueError:
                ok = False
        if not ok:
            raise FrameError(label, f"line {lines[i]}: {names[j]} is not a number: {s!r}")
    return fields.astype(np.float64)


# --------------------------------------------------------------------------------------------
# XYZ and extended XYZ
# --------------------------------------------------------------------------------------------


_KV = re.compile(r'\s*([^\s=]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|\{[^}]*\}|\S*))?')


def parse_comment(comment: str) -> dict[str, str]:
    """The ``key=value`` pairs of an extended-XYZ comment line (values unquoted; a bare key is
    ``"T"``), keys as written."""
    out = {}
    pos = 0
    text = comment.strip()
    while pos < len(text):
        m = _KV.match(text, pos)
        if not m or m.end() == pos:
            break
        key, value = m.group(1), m.group(2)
        if value is None:
            value = "T"
        elif value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"')
        elif value.startswith("{") and value.endswith("}"):
            value = value[1:-1]
        out[key] = value
        pos = m.end()
    return out


_PROPERTY_TYPES = {"S", "R", "I", "L"}


def _properties(label, text: str, line: int) -> list[tuple[str, str, int]]:
    parts = text.split(":")
    if len(parts) % 3 or not parts[0]:
        raise FrameError(label, f"line {line}: Properties={text!r} is not name:type:count "
                                "triples (e.g. species:S:1:pos:R:3)")
    out = []
    for k in range(0, len(parts), 3):
        name, kind, count = parts[k], parts[k + 1].upper(), parts[k + 2]
        if kind not in _PROPERTY_TYPES or not count.isdigit() or int(count) < 1:
            raise FrameError(label, f"line {line}: Properties: {name}:{parts[k + 1]}:{count} is "
                                    "not name:type:count (type S, R, I or L)")
        out.append((name, kind, int(count)))
    return out


def _parse_xyz(label, data: bytes, line0: int):
    """Coordinates, elements, a line-naming function and notes of one XYZ frame's bytes (its
    count line, comment line and atom lines)."""
    nl1 = data.index(b"\n")
    nl2 = data.find(b"\n", nl1 + 1)
    n = int(data[:nl1].strip())
    comment_bytes = data[nl1 + 1:nl2 if nl2 >= 0 else len(data)]
    body = data[nl2 + 1:] if nl2 >= 0 else b""
    first = line0 + 2  # line number of the first atom line
    notes = []
    comment = comment_bytes.decode("utf-8", "replace").rstrip("\r")
    info = parse_comment(comment) if "=" in comment else {}
    props_key = next((k for k in info if k.lower() == "properties"), None)
    if props_key is not None:
        props = _properties(label, info[props_key], line0 + 1)
        names = [p[0] for p in props]
        pos = next((p for p in props if p[0].lower() in ("pos", "positions", "position")), None)
        if pos is None or pos[1] != "R" or pos[2] != 3:
            raise FrameError(label, f"line {line0 + 1}: extended XYZ Properties has no pos:R:3 "
                                    f"column (it has {', '.join(names)})")
        col, spans = 0, {}
        for name, kind, count in props:
            spans[name.lower()] = (col, kind, count)
            col += count
        ncols = col
        species = next((spans[k] for k in ("species", "element", "symbols") if k in spans), None)
        pos_col = spans[pos[0].lower()][0]
        kind = "extended XYZ"
    else:
        ncols, pos_col, species, kind = None, 1, (0, "S", 1), "XYZ"
    pbc = next((v for k, v in info.items() if k.lower() == "pbc"), "")
    if any(t in ("T", "True", "true", "1") for t in pbc.split()):
        notes.append(f"the file says the cell is periodic (pbc=\"{pbc}\"): the particle is "
                     "analysed as it is, without periodic images")
    if n == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype="U2"), lambda i: f"line {first + i}", notes
    rows, tokens, per_line = _split_rows(label, body, first, n, "the atom lines")
    want = ncols if ncols is not None else 4
    bad = np.flatnonzero(per_line != want) if ncols is not None else np.flatnonzero(per_line < 4)
    if len(bad):
        i = int(bad[0])
        found = int(per_line[i])
        hint = ""
        fields = rows[i].split()
        if found == 1 and fields[0].isdigit():
            hint = (f": XYZ header (line {line0}) says {n} atoms, the frame has {i} coordinate "
                    f"lines ({fields[0].decode()} on line {first + i} looks like the next "
                    "frame's atom count)")
        elif ncols is not None:
            hint = f" (Properties gives {ncols}: {info[props_key]})"
        expected = f"{want}" if ncols is not None else "at least 4 (element x y z)"
        raise FrameError(label, f"line {first + i}: {found} field(s) in an atom line of "
                                f"{kind}, {expected} expected{hint}")
    lines = np.arange(first, first + n)
    uniform = ncols is not None or (per_line == per_line[0]).all()
    if uniform:
        k = int(per_line[0])
        table = np.array(tokens, dtype="S").reshape(n, k)
    else:  # plain XYZ with extra columns on some lines: the first four of each
        table = np.array([r.split()[:4] for r in rows], dtype="S")
    coords = _numbers(label, table[:, pos_col:pos_col + 3], lines, ("x", "y", "z"))
    if species is not None and species[1] == "S":
        elements = table[:, species[0]].astype("U")
    elif species is not None:  # an atomic-number column (Z:I:1)
        elements = np.full(n, "", dtype="U2")
    else:
        elements = np.full(n, "", dtype="U2")
    return coords, elements, lambda i: f"line {first + i}", notes


# --------------------------------------------------------------------------------------------
# LAMMPS text dumps
# --------------------------------------------------------------------------------------------


_COORDS = (("xu", "yu", "zu"), ("x", "y", "z"), ("xsu", "ysu", "zsu"), ("xs", "ys", "zs"))


def parse_type_map(value) -> dict[int, str]:
    """LAMMPS atom type -> element symbol from ``{1: "Pt", "2": "Ni"}`` or ``"1:Pt,2:Ni"``
    (ValueError for anything else)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        pairs = []
        for part in value.replace(";", ",").split(","):
            if not part.strip():
                continue
            if ":" not in part:
                raise ValueError(f"type_map {value!r}: expected type:element pairs, e.g. "
                                 "1:Pt,2:Ni")
            t, el = part.split(":", 1)
            pairs.append((t.strip(), el.strip()))
    else:
        pairs = [(str(k).strip(), str(v).strip()) for k, v in dict(value).items()]
    out = {}
    for t, el in pairs:
        if not t.isdigit() or not (1 <= len(el) <= 2 and el.isalpha() and el.isascii()):
            raise ValueError(f"type_map: {t}:{el} is not a LAMMPS type (a whole number) and a "
                             "1-2 letter element")
        out[int(t)] = el.capitalize()
    return out


def _parse_lammps(label, data: bytes, line0: int, type_map):
    """Coordinates (sorted by atom id), elements, a line-naming function and notes of one
    LAMMPS dump frame's bytes."""
    lines_iter = iter(data.split(b"\n", 64))
    header_lines, lineno = [], line0 - 1
    columns = None
    for line in lines_iter:
        lineno += 1
        header_lines.append(line)
        item = _lammps_item(line)
        if item is not None and item.startswith(b"ATOMS"):
            columns = item[5:].decode("ascii", "replace").split()
            break
    body_start = sum(len(h) + 1 for h in header_lines)
    body = data[body_start:]
    first = lineno + 1
    n, box, tilt = 0, [], None
    for i, line in enumerate(header_lines):
        item = _lammps_item(line)
        if item is None:
            continue
        if item == b"NUMBER OF ATOMS":
            n = int(header_lines[i + 1].strip())
        elif item.startswith(b"BOX BOUNDS"):
            flags = item[10:].split()
            tilt = flags[:3] == [b"xy", b"xz", b"yz"]
            if flags[:1] in ([b"abc"], [b"origin"]):
                box = None  # a general triclinic box (LAMMPS 2023): only unscaled coordinates
            else:
                box = []
                for j in (1, 2, 3):
                    vals = header_lines[i + j].split()
                    try:
                        box.append([float(v) for v in vals])
                    except ValueError:
                        box = []
                        break
    if not columns:
        raise FrameError(label, f"line {lineno}: ITEM: ATOMS names no columns (expected e.g. "
                                "ITEM: ATOMS id type x y z)")
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise FrameError(label, f"line {lineno}: ITEM: ATOMS names {', '.join(dup)} twice")
    where = lambda i: f"line {first + i}"  # noqa: E731 - rebound after sorting
    if n == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype="U2"), where, []
    if b"ITEM:" in body:
        at = body.index(b"ITEM:")
        got = body.count(b"\n", 0, at)
        raise FrameError(label, f"LAMMPS dump says {n} atoms (ITEM: NUMBER OF ATOMS), the frame "
                                f"has {got} atom lines before the ITEM: on line {first + got}")
    rows, tokens, per_line = _split_rows(label, body, first, n, "the atom lines")
    bad = np.flatnonzero(per_line != len(columns))
    if len(bad):
        i = int(bad[0])
        raise FrameError(label, f"line {first + i}: {int(per_line[i])} field(s), ITEM: ATOMS "
                                f"names {len(columns)} ({' '.join(columns)})")
    table = np.array(tokens, dtype="S").reshape(n, len(columns))
    lines = np.arange(first, first + n)
    triple = next((t for t in _COORDS if all(c in columns for c in t)), None)
    if triple is None:
        raise FrameError(label, f"line {lineno}: ITEM: ATOMS has no complete set of coordinates "
                                f"(x y z, xu yu zu, xs ys zs or xsu ysu zsu); it has "
                                f"{' '.join(columns)}")
    idx = [columns.index(c) for c in triple]
    xyz = _numbers(label, table[:, idx], lines, triple)
    notes = []
    if triple[0].startswith("xs"):
        if not box or len(box) != 3 or any(len(b) < 2 for b in box):
            raise FrameError(label, f"scaled coordinates ({' '.join(triple)}) need the ITEM: BOX "
                                    "BOUNDS of an orthogonal or restricted triclinic box")
        xyz = _unscale(xyz, np.array([b[:3] if tilt else b[:2] + [0.0] for b in box]), tilt)
    if "id" in columns:
        ids_raw = table[:, columns.index("id")]
        ids, ok = _whole_numbers(ids_raw)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise FrameError(label, f"line {first + i}: atom id {ids_raw[i].decode()!r} is not a "
                                    "whole number")
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        same = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if len(same):
            v = int(sorted_ids[same[0]])
            rows_of = np.flatnonzero(ids == v)[:2]
            raise FrameError(label, f"atom id {v} appears twice (lines {first + rows_of[0]} and "
                                    f"{first + rows_of[1]})")
        if (order != np.arange(n)).any():
            xyz, table, lines = xyz[order], table[order], lines[order]
        where = lambda i: f"line {int(lines[i])}, atom id {int(ids[order][i])}"  # noqa: E731
    if "element" in columns:
        elements = table[:, columns.index("element")].astype("U")
    elif "type" in columns:
        types = table[:, columns.index("type")]
        try:
            tmap = parse_type_map(type_map)
        except ValueError as err:
            raise FrameError(label, str(err)) from None
        tv, numeric = _whole_numbers(types)
        if numeric.all():
            if tmap:
                missing = sorted(set(np.unique(tv).tolist()) - set(tmap))
                if missing:
                    have = ", ".join(f"{k}:{v}" for k, v in sorted(tmap.items()))
                    raise FrameError(label, f"LAMMPS type(s) {', '.join(map(str, missing))} not "
                                            f"in type_map ({have})")
                kinds = np.unique(tv)
                table_of = np.array([tmap[int(t)] for t in kinds], dtype="U2")
                elements = table_of[np.searchsorted(kinds, tv)]
            else:
                elements = np.full(n, "", dtype="U2")
                kinds = np.unique(tv)
                if len(kinds) > 1:
                    notes.append(f"LAMMPS types {', '.join(map(str, kinds.tolist()))} without a "
                                 "type_map: every atom is analysed as the frame's element")
        else:  # type labels (LAMMPS labelmap): the label is the element
            elements = types.astype("U")
    else:
        elements = np.full(n, "", dtype="U2")
    return xyz, elements, where, notes


def _unscale(s: np.ndarray, box: np.ndarray, tilt: bool) -> np.ndarray:
    """Cartesian coordinates from LAMMPS scaled ones: ``box`` (3, 3) rows ``lo_bound
    hi_bound tilt`` (tilt 0 for an orthogonal box).  LAMMPS Howto_triclinic: ``xlo =
    xlo_bound - min(0, xy, xz, xy + xz)``, ``xhi = xhi_bound - max(0, xy, xz, xy + xz)``, ``ylo =
    ylo_bound - min(0, yz)``, ``yhi = yhi_bound - max(0, yz)``; ``x = xlo + xs lx + ys xy + zs xz``,
    ``y = ylo + ys ly + zs yz``, ``z = zlo + zs lz``."""
    (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = box
    if not tilt:
        xy = xz = yz = 0.0
    xlo = xlo_b - min(0.0, xy, xz, xy + xz)
    xhi = xhi_b - max(0.0, xy, xz, xy + xz)
    ylo = ylo_b - min(0.0, yz)
    yhi = yhi_b - max(0.0, yz)
    lx, ly, lz = xhi - xlo, yhi - ylo, zhi - zlo
    out = np.empty_like(s)
    out[:, 0] = xlo + s[:, 0] * lx + s[:, 1] * xy + s[:, 2] * xz
    out[:, 1] = ylo + s[:, 1] * ly + s[:, 2] * yz
    out[:, 2] = zlo + s[:, 2] * lz
    return out


# --------------------------------------------------------------------------------------------
# writing extended XYZ
# --------------------------------------------------------------------------------------------


def extxyz_type(values) -> str:
    """The extended-XYZ type letter of a column: ``I`` for integers and booleans (written 0/1,
    as in atoms.csv), ``R`` for reals, ``S`` for anything else."""
    arr = np.asarray(values)
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return "I"
    if np.issubdtype(arr.dtype, np.floating):
        return "R"
    return "S"


def extxyz_header(n_atoms: int, columns, *, info=None) -> str:
    """The two header lines of an extended-XYZ frame whose atom lines hold ``columns``
    (name -> values, in order; ``x, y, z`` consecutive become ``pos:R:3``, ``element`` becomes
    ``species:S:1``), with ``info`` (key -> value, written ``key=value``, strings quoted)."""
    names = list(columns)
    props, k = [], 0
    while k < len(names):
        name = names[k]
        if names[k:k + 3] == ["x", "y", "z"]:
            props.append("pos:R:3")
            k += 3
            continue
        kind = extxyz_type(columns[name])
        props.append(f"{'species' if name == 'element' else name}:{kind}:1")
        k += 1
    parts = [f"Properties={':'.join(props)}"]
    for key, value in (info or {}).items():
        if isinstance(value, bool):
            parts.append(f"{key}={'T' if value else 'F'}")
        elif isinstance(value, int | float | np.integer | np.floating):
            parts.append(f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}")
        else:
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{key}="{text}"')
    return f"{int(n_atoms)}\n{' '.join(parts)}\n"


def write_extxyz(path, csv_path, columns, *, info=None, block: int = 1 << 24) -> None:
    """Write ``atoms.extxyz`` from the frame's ``atoms.csv`` (``csv_path``, written by
    :func:`nanotraj.tables.write_columns` from ``columns``): the header of
    :func:`extxyz_header` and the CSV's rows with spaces for commas, so every value is the same
    text in both files (the CSV's cells hold no spaces or commas: numbers, ``nan`` and labels).
    Streamed in ``block``-byte pieces and written atomically."""
    from nanotraj.tables import atomic_path

    n = len(next(iter(columns.values()))) if columns else 0
    with open(csv_path, "rb") as src, atomic_path(path) as tmp, open(tmp, "wb") as out:
        header = src.readline().rstrip(b"\r\n").decode("utf-8").split(",")
        if header != list(columns):
            raise ValueError(f"{csv_path}: columns {header} differ from the table's "
                             f"{list(columns)}")
        out.write(extxyz_header(n, columns, info=info).encode("utf-8"))
        while chunk := src.read(block):
            out.write(chunk.replace(b",", b" "))


def append_extxyz(out, path) -> int:
    """Copy the one frame of the extended-XYZ file ``path`` (an ``atoms.extxyz``) into the
    open binary file ``out``; a frame of 0 atoms (a rejected frame) is left out.  Returns the
    number of atoms copied."""
    with open(path, "rb") as src:
        first = src.readline()
        count = int(first.strip() or b"0")
        if count == 0:
            return 0
        out.write(first)
        while chunk := src.read(1 << 24):
            out.write(chunk)
    return count
