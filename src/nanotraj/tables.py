"""Deterministic, atomic CSV and array files.

Every table nanotraj writes goes through this module so that two runs on the same input give
byte-identical files: a fixed float format (12 significant digits, ``%.12g``: at least the 8 the
output contract asks for, and well below the 1e-8 agreement the tests demand), ``nan`` for
undefined values, ``\\n`` line endings, a header row, and no timestamps. Files are written to a
temporary name in the target directory and renamed into place, so an interrupted job never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

FLOAT_FORMAT = "%.12g"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once at import (os.umask is process-wide, not thread-safe)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600 files: give the result the permissions of an ordinary new file
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line endings)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def format_column(values) -> list[str]:
    """Format one column: ints as ints, bools as 0/1, floats as ``%.12g`` (``nan``), strings as is.

    ``None`` and empty strings become empty cells.
    """
    arr = np.asarray(values)
    if arr.dtype == bool:
        return ["1" if v else "0" for v in arr]
    if np.issubdtype(arr.dtype, np.integer):
        return [str(int(v)) for v in arr]
    if np.issubdtype(arr.dtype, np.floating):
        out = []
        for v in arr.tolist():
            out.append("nan" if v != v else FLOAT_FORMAT % v)
        return out
    return ["" if v is None else str(v) for v in values]


def format_value(value) -> str:
    """Format one cell like :func:`format_column` does."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "nan" if value != value else FLOAT_FORMAT % value
    return str(value)


#: Tables of at least this many cells are written by the compiled formatter
#: (:mod:`nanotraj._csvfmt`, numba) under ``engine="auto"``: below, Python's formatting is faster
#: than loading numba and the kernel (~0.7 s in a fresh process; ``benchmarks/bench_tables.py
#: --startup``), and small frames never import numba.
COMPILED_CELLS = 2_500_000


def write_columns(path: str | os.PathLike, columns: Mapping[str, Sequence], *,
                  engine: str = "auto", workers: int = 1) -> None:
    """Write a CSV with one column per mapping entry (all the same length), atomically.

    Cells are formatted as :func:`format_column` does (``%.12g`` floats, ``nan``, 0/1 bools).
    Two writers give the same bytes (tested): Python's ``%`` formatting, one template per row
    over blocks of rows (``engine="numpy"``), and the compiled formatter of
    :mod:`nanotraj._csvfmt` (``"compiled"``; 7-8x less CPU, ``workers`` threads), which
    ``"auto"`` takes for tables of at least :data:`COMPILED_CELLS` cells or when it is loaded
    already.  Neither holds the text of a whole table in memory.
    """
    if engine not in ("auto", "numpy", "compiled"):
        raise ValueError(f"unknown engine {engine!r}")
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    for name in names:
        if len(columns[name]) != n:
            raise ValueError(f"column {name!r} has {len(columns[name])} rows, expected {n}")
    compiled = engine == "compiled" or (engine == "auto" and names and (
        n * len(names) >= COMPILED_CELLS or "nanotraj._csvfmt" in sys.modules))
    if compiled:
        try:
            from nanotraj import _csvfmt
        except (ImportError, OSError, RuntimeError):  # pragma: no cover - numba missing
            if engine == "compiled":
                raise
            _csvfmt = None
        if _csvfmt is not None:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                _csvfmt.write_table(fh, names, [columns[k] for k in names], workers=workers)
            return
    _write_columns_python(path, names, columns, n)


def _write_columns_python(path, names, columns, n) -> None:
    specs, cols = [], []
    for name in names:
        spec, col = _column_spec(columns[name])
        specs.append(spec)
        cols.append(col)
    template = ",".join(specs)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(",".join(names) + "\n")
            for r0 in range(0, n, _ROW_BLOCK):
                block = zip(*(_block_items(col, r0, r0 + _ROW_BLOCK) for col in cols),
                            strict=True)
                fh.write("\n".join([template % row for row in block]))
                fh.write("\n")


_ROW_BLOCK = 1 << 16  # rows formatted per write


def _column_spec(values) -> tuple[str, object]:
    """The ``%`` conversion of a column and the column in the form :func:`_block_items` reads
    (see format_column for the cell formats)."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return "%d", arr.astype(np.int8)
    if np.issubdtype(arr.dtype, np.integer):
        return "%d", arr
    if np.issubdtype(arr.dtype, np.floating):
        return FLOAT_FORMAT, arr.astype(np.float64, copy=False)  # nan -> "nan", as format_column
    return "%s", _Text(values)


class _Text:
    """A column of other values: formatted by :func:`format_column`, block by block."""

    def __init__(self, values):
        self.values = values


def _block_items(col, r0, r1) -> list:
    """Rows r0 .. r1 - 1 of a column of :func:`_column_spec` as Python scalars (strings for
    :class:`_Text` columns)."""
    if isinstance(col, _Text):
        return format_column(col.values[r0:r1])
    return col[r0:r1].tolist()


def write_rows(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Mapping]) -> None:
    """Write a CSV of dict rows (missing keys become empty cells), atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([format_value(row.get(h)) for h in header])
    write_text(path, buf.getvalue())


def read_rows(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """Read a CSV written by this module: (header, rows as dicts of strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


#: Array data in the ``.npz`` files of :func:`save_arrays` starts at a multiple of this many
#: bytes of the file, so that :class:`NpzArrays` can map it (aligned) instead of copying it.
_ALIGN = 64
#: Members at least this large are mapped from the file rather than read into memory.
_MAP_BYTES = 1 << 20
_PAD_ID = 0xD935  # zip extra field holding padding (the id Android's zipalign uses)


def save_arrays(path: str | os.PathLike, **arrays) -> None:
    """Save arrays to an uncompressed ``.npz`` atomically (fast to load in the next stage).

    A standard ``.npz`` (``numpy.load`` reads it): one stored, uncompressed ``<name>.npy`` per
    array, C order.  Each member's local zip header carries a padding extra field so that its
    array data starts at a multiple of :data:`_ALIGN` bytes of the file: the next stage maps
    large members read-only (:class:`NpzArrays`) instead of copying them into fresh memory.
    """
    import struct
    import zipfile

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED,
                                                    allowZip64=True) as zf:
            for name, value in arrays.items():
                arr = np.asanyarray(value)
                if arr.dtype.hasobject:
                    raise ValueError(f"array {name!r}: object arrays are not stored")
                if not arr.flags.c_contiguous:
                    arr = arr.copy(order="C")
                head = io.BytesIO()
                np.lib.format.write_array_header_2_0(
                    head, {"descr": np.lib.format.dtype_to_descr(arr.dtype),
                           "fortran_order": False, "shape": arr.shape})
                header = head.getvalue()
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                # local header: 30 bytes, the name, our extra field (4 + pad), zip64 (20)
                start = zf.start_dir + 30 + len(info.filename.encode()) + 4 + 20 + len(header)
                pad = -start % _ALIGN
                info.extra = struct.pack("<HH", _PAD_ID, pad) + bytes(pad)
                with zf.open(info, "w", force_zip64=True) as out:
                    out.write(header)
                    out.write(arr.reshape(-1).view(np.uint8).data)


def _mapped_member(path: str, info):
    """The member of ``info`` (a ``zipfile.ZipInfo`` of an ``.npz``) as a read-only array
    mapped from the file, or None when it cannot be (compressed, Fortran order, objects,
    misaligned or small: read it instead)."""
    import struct
    import zipfile

    if info.compress_type != zipfile.ZIP_STORED or info.file_size < _MAP_BYTES:
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        n_name, n_extra = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + n_name + n_extra)
        version = np.lib.format.read_magic(fh)
        with _LOAD_LOCK:  # ast.literal_eval of the header (see _LOAD_LOCK)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        offset = fh.tell()
    if fortran or dtype.hasobject or offset % _ALIGN:
        return None
    try:
        return np.asarray(np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape))
    except (OSError, ValueError):  # a file system without mmap: read it instead
        return None


_NPY_HEADER = re.compile(r"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': False, "
                         r"'shape': \(((?:[0-9]+, )*[0-9]*,?)\), \} *\n")


def _small_members(data: bytes) -> dict[str, np.ndarray] | None:
    """Every member of a small ``.npz`` (its bytes ``data``) as written by :func:`save_arrays`:
    the same arrays as ``numpy.load`` gives (dtype, shape, values; writable copies), read from
    the zip's central directory and each member's ``.npy`` header without ``zipfile`` objects
    and without ``ast.literal_eval``: a per-series job reads a few hundred such files (about
    0.2 ms per member with numpy, a tenth of that here).  None for anything else (compressed or
    Fortran-order members, structured or object dtypes, zip64 central directory records, a
    header of another form): the caller then uses ``numpy.load``."""
    import struct

    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if end < 0 or len(data) < end + 22:
        return None
    n_entries, _cd_size, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    if cd_offset == 0xFFFFFFFF or n_entries == 0xFFFF:
        return None
    out: dict[str, np.ndarray] = {}
    pos = cd_offset
    for _ in range(n_entries):
        if data[pos:pos + 4] != b"PK\x01\x02":
            return None
        method, = struct.unpack("<H", data[pos + 10:pos + 12])
        csize, usize, n_name, n_extra, n_comment = struct.unpack("<IIHHH", data[pos + 20:pos + 34])
        local, = struct.unpack("<I", data[pos + 42:pos + 46])
        name = data[pos + 46:pos + 46 + n_name].decode("utf-8")
        pos += 46 + n_name + n_extra + n_comment
        if method != 0 or csize != usize or 0xFFFFFFFF in (csize, local) \
                or not name.endswith(".npy") or data[local:local + 4] != b"PK\x03\x04":
            return None
        ln_name, ln_extra = struct.unpack("<HH", data[local + 26:local + 30])
        start = local + 30 + ln_name + ln_extra
        member = memoryview(data)[start:start + usize]
        if len(member) != usize or bytes(member[:6]) != b"\x93NUMPY":
            return None
        major = member[6]
        if major == 1:
            head_len, at = struct.unpack("<H", member[8:10])[0], 10
        elif major in (2, 3):
            head_len, at = struct.unpack("<I", member[8:12])[0], 12
        else:
            return None
        m = _NPY_HEADER.fullmatch(bytes(member[at:at + head_len]).decode("latin1"))
        if m is None:
            return None
        dtype = np.dtype(m.group(1))
        shape = tuple(int(s) for s in m.group(2).replace(" ", "").split(",") if s)
        count = int(np.prod(shape, dtype=np.int64))
        body = member[at + head_len:]
        if dtype.hasobject or len(body) != count * dtype.itemsize:
            return None
        out[name[:-4]] = np.frombuffer(body, dtype=dtype, count=count).reshape(shape).copy()
    return out


#: numpy parses each ``.npy`` header with ``ast.literal_eval``; CPython 3.11's AST constructor
#: keeps its recursion depth in interpreter-wide state, and two threads building ASTs at once
#: (the workflow's jobs are threads of one process) can fail with "SystemError: AST constructor
#: recursion depth mismatch" (python/cpython#106905; seen here in a full test run). Loads are
#: therefore serialised; they are short next to the computations.
_LOAD_LOCK = threading.Lock()


class NpzArrays(Mapping):
    """The arrays of an ``.npz`` written by :func:`save_arrays`, read on first access.

    A stage reads only the members it uses (the bond lengths, 8 bytes per bond, are not read by
    the BOO stage, for instance); each is read once and kept.  Members of 1 MB or more whose
    data is aligned in the file (as :func:`save_arrays` writes them) are mapped read-only
    (``numpy.memmap``): the file's pages, already in the page cache from the stage that wrote
    them, are used in place instead of being copied into freshly allocated memory, the slowest
    memory there is on a virtual machine.  Others are read with ``numpy.load`` (one thread at
    a time, see :data:`_LOAD_LOCK`); a file under 1 MB is read whole when the mapping is made
    (one open: per-job start-up matters for small frames).  The member names are read when the
    mapping is made, so a missing or broken file fails at once.
    """

    def __init__(self, path: str | os.PathLike):
        import zipfile

        self.path = os.fspath(path)
        self._arrays: dict[str, np.ndarray] = {}
        if os.path.getsize(self.path) < _MAP_BYTES:  # small: everything at once, one open
            with open(self.path, "rb") as fh:
                self._arrays = _small_members(fh.read())
            if self._arrays is None:  # not as save_arrays writes them: numpy's reader
                with _LOAD_LOCK, np.load(self.path, allow_pickle=False) as data:
                    self._arrays = {k: data[k] for k in data.files}
            self._names = tuple(self._arrays)
            self._infos = {}
            return
        with zipfile.ZipFile(self.path) as zf:
            self._infos = {i.filename[:-4]: i for i in zf.infolist()
                           if i.filename.endswith(".npy")}
        self._names = tuple(self._infos)

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            if key not in self._names:
                raise KeyError(key)
            arr = _mapped_member(self.path, self._infos[key])
            if arr is None:
                with _LOAD_LOCK, np.load(self.path, allow_pickle=False) as data:
                    arr = data[key]
            self._arrays[key] = arr
        return self._arrays[key]

    def __contains__(self, key: object) -> bool:  # Mapping's default would read the member
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"NpzArrays({self.path!r}, {list(self._names)})"


def load_arrays(path: str | os.PathLike | Mapping) -> NpzArrays | Mapping:
    """The arrays of an ``.npz`` written by :func:`save_arrays`, as a read-only mapping whose
    members are read on first access (:class:`NpzArrays`). A mapping of arrays (one frame's of a
    chunk's ``frames.npz``, :func:`load_frame_arrays`) is returned as it is."""
    if isinstance(path, Mapping):
        return path
    return NpzArrays(path)


def save_frame_arrays(path: str | os.PathLike,
                      stages: Mapping[str, Sequence[Mapping[str, np.ndarray]]]) -> None:
    """Many frames' arrays in one ``.npz`` (:func:`save_arrays`): ``stages`` maps a stage name
    (``"tracking"``, ...) to one mapping of arrays per frame, in order; read back with
    :func:`load_frame_arrays`.

    Per stage and array name the frames' arrays are stored flattened one after the other as
    ``{stage}/{name}`` (one member, not one per frame: a chunk of 100 frames is read in a few
    dozen members), with ``{stage}/{name}::dtype`` (F,) each frame's dtype, and
    ``{stage}/{name}::shape`` (F, 1 + D) each frame's ndim and shape (-1: the frame has no such
    array).  Arrays of one name that cannot be concatenated (text in one frame, numbers in
    another) are stored per frame as ``{stage}/{name}@{k}``.  Values, dtypes and shapes come
    back exactly (strings are padded while stored and cast back to their own width).
    """
    out = {}
    for stage, frames in stages.items():
        frames = list(frames)
        out[f"{stage}::n"] = np.array(len(frames))
        names = sorted({name for f in frames for name in f})
        for name in names:
            arrs = [np.asarray(f[name]) if name in f else None for f in frames]
            got = [a for a in arrs if a is not None]
            ndim = max(a.ndim for a in got)
            shape = np.full((len(frames), 1 + ndim), -1, dtype=np.int64)
            for k, a in enumerate(arrs):
                if a is not None:
                    shape[k, 0] = a.ndim
                    shape[k, 1:1 + a.ndim] = a.shape
            key = f"{stage}/{name}"
            out[f"{key}::shape"] = shape
            out[f"{key}::dtype"] = np.array([a.dtype.str if a is not None else "" for a in arrs])
            kinds = {"U" if a.dtype.kind == "U" else "n" for a in got}
            if len(kinds) == 1 and all(a.dtype.kind in "biufU" for a in got):
                out[key] = np.concatenate([a.ravel() for a in got])
            else:
                out.update({f"{key}@{k}": a for k, a in enumerate(arrs) if a is not None})
    save_arrays(path, **out)


def load_frame_arrays(path: str | os.PathLike, stage: str) -> list[dict[str, np.ndarray]]:
    """One stage's arrays of every frame of a file written by :func:`save_frame_arrays`, as one
    dict per frame (in the order saved)."""
    with _LOAD_LOCK, np.load(os.fspath(path), allow_pickle=False) as data:
        members = set(data.files)
        n = int(data[f"{stage}::n"])
        frames: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
        prefix = f"{stage}/"
        names = {m[len(prefix):-len("::shape")] for m in members
                 if m.startswith(prefix) and m.endswith("::shape")}
        for name in sorted(names):
            key = prefix + name
            shape = data[f"{key}::shape"]
            dtypes = data[f"{key}::dtype"].tolist()
            flat = data[key] if key in members else None
            offset = 0
            for k in range(n):
                ndim = int(shape[k, 0])
                if ndim < 0:
                    continue
                dims = tuple(int(d) for d in shape[k, 1:1 + ndim])
                if flat is None:
                    frames[k][name] = data[f"{key}@{k}"]
                    continue
                size = math.prod(dims)
                frames[k][name] = flat[offset:offset + size].astype(dtypes[k]).reshape(dims)
                offset += size
    return frames


def write_summary(path: str | os.PathLike, rows: Sequence[Mapping], columns=None) -> None:
    """Write summary rows: the contract's columns first, then every other column in first-seen
    order (:func:`nanotraj.summary.summary_columns`)."""
    from nanotraj.summary import summary_columns

    columns = list(columns or summary_columns(rows))
    write_rows(path, columns, rows)


def read_columns(path, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Numeric columns of a CSV written by :mod:`nanotraj.tables` (``nan`` cells allowed).

    Only the requested columns are parsed (fast for 10^6-row ``atoms.csv``). A table without rows
    gives empty arrays. Missing requested columns raise ``KeyError`` naming the file.
    """
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
        has_rows = bool(fh.readline().strip())
    names = list(header if names is None else names)
    missing = [c for c in names if c not in header]
    if missing:
        raise KeyError(f"{path}: missing column(s) {', '.join(missing)}")
    if not has_rows:
        return {c: np.array([], dtype=np.float64) for c in names}
    idx = [header.index(c) for c in names]
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=idx, dtype=np.float64, ndmin=2)
    return {c: data[:, k] for k, c in enumerate(names)}
