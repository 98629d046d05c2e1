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
    """Numeric columns (float64) of a table written by :mod:`nanotraj.tables`: a CSV (``nan``
    cells allowed) or a Parquet table (:func:`write_parquet`, by its suffix; the same values).

    Only the requested columns are parsed (fast for 10^6-row ``atoms.csv``). A table without rows
    gives empty arrays. Missing requested columns raise ``KeyError`` naming the file.
    """
    if is_parquet(path):
        header = table_columns(path)
        names = list(header if names is None else names)
        missing = [c for c in names if c not in header]
        if missing:
            raise KeyError(f"{path}: missing column(s) {', '.join(missing)}")
        _, pq = _pyarrow()
        table = pq.read_table(os.fspath(path), columns=list(dict.fromkeys(names)))
        return {c: _parquet_numbers(table.column(c)) for c in names}
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


# --------------------------------------------------------------------------------------------
# the per-frame tables (atoms, bonds) in either format: CSV or Parquet
# --------------------------------------------------------------------------------------------
#: The suffix of a Parquet table: :func:`read_columns`, :func:`read_table` and
#: :func:`table_columns` read a path with it as Parquet, any other as CSV.
PARQUET_SUFFIX = ".parquet"

#: How to install what a Parquet table needs (config ``outputs.table_format``).
PARQUET_INSTALL = "pip install nanotraj[parquet]"

#: Rows per row group of the Parquet tables (fixed: the bytes do not depend on pyarrow's
#: default).
PARQUET_ROW_GROUP = 1 << 20

#: The Parquet tables' compression (zstd at this level; fixed, for the same bytes).
PARQUET_COMPRESSION = ("zstd", 3)


def is_parquet(path) -> bool:
    """Whether ``path`` names a Parquet table (:data:`PARQUET_SUFFIX`)."""
    return os.fspath(path).endswith(PARQUET_SUFFIX)


def have_pyarrow() -> bool:
    """Whether pyarrow can be imported (looked up, not imported: it costs ~0.2 s)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover - the config check says so first
        raise ImportError(f"Parquet tables need pyarrow: {PARQUET_INSTALL}") from err
    return pa, pq


def csv_values(values, *, engine: str = "auto") -> np.ndarray:
    """The floats of a CSV written by :func:`write_columns` from ``values``: float64 (N,), each
    exactly ``float("%.12g" % v)`` (the 12 significant digits of the CSV's cell, read back; NaN
    as the CSV's ``nan``, ``-0.0`` kept), so that a Parquet table holds the CSV's numbers.

    ``engine="numpy"``: Python's formatting and parsing per value (~0.5 us each);
    ``"compiled"``: the 12 digits ``M, X`` of :func:`nanotraj._csvfmt.float_digits_exact` and
    ``M * 10**(X - 11)`` as ONE correctly rounded product or quotient of two exact doubles
    (``M < 10**12 < 2**53``, ``10**k`` exact for ``k <= 22``): exactly the correctly rounded
    value of the decimal, which is what parsing the text gives; the few values beyond
    ``|X - 11| <= 22`` go through Python.  ``"auto"``: compiled from :data:`COMPILED_CELLS`
    values or when the formatter is loaded already.  Both give the same bits (tested)."""
    if engine not in ("auto", "numpy", "compiled"):
        raise ValueError(f"unknown engine {engine!r}")
    v = np.array(values, dtype=np.float64).reshape(-1)
    compiled = engine == "compiled" or (engine == "auto" and (
        v.size >= COMPILED_CELLS or "nanotraj._csvfmt" in sys.modules))
    if not compiled:
        return np.array([float(FLOAT_FORMAT % x) for x in v.tolist()], dtype=np.float64)
    from nanotraj._csvfmt import float_digits_exact

    m, x, _ = float_digits_exact(v)
    k = x - 11
    out = np.abs(v)  # zeros and infinities as they are (M = 0)
    up = (m != 0) & (k >= 0) & (k <= 22)
    down = (m != 0) & (k < 0) & (k >= -22)
    pow10 = 10.0 ** np.arange(23)  # exact doubles
    out[up] = m[up].astype(np.float64) * pow10[k[up]]
    out[down] = m[down].astype(np.float64) / pow10[-k[down]]
    for i in np.flatnonzero((m != 0) & ~up & ~down).tolist():
        out[i] = float(FLOAT_FORMAT % abs(float(v[i])))
    out = np.copysign(out, v)
    out[np.isnan(v)] = np.nan  # the CSV's "nan", whatever the sign and payload
    return out


def write_parquet(path: str | os.PathLike, columns: Mapping[str, Sequence], *,
                  engine: str = "auto") -> None:
    """Write a Parquet table with one column per mapping entry (all the same length),
    atomically: the same columns in the same order as :func:`write_columns` writes to CSV,
    holding the CSV's values: integers with their own integer type (int64, int32, ...),
    booleans as int8 0/1, floats as float64 exactly as the CSV has them (:func:`csv_values`,
    ``engine`` is its engine), anything else as UTF-8 strings (the CSV's cells; dictionary
    encoded).  zstd (:data:`PARQUET_COMPRESSION`), row groups of :data:`PARQUET_ROW_GROUP`
    rows, no timestamps: the same columns give the same bytes (whatever the thread count)."""
    pa, pq = _pyarrow()
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    for name in names:
        if len(columns[name]) != n:
            raise ValueError(f"column {name!r} has {len(columns[name])} rows, expected {n}")
    if engine == "auto" and names:  # the whole table decides, as write_columns does
        floats = sum(1 for c in names if np.asarray(columns[c]).dtype.kind == "f")
        engine = "compiled" if n * floats >= COMPILED_CELLS else "auto"
    arrays, text = [], []
    for name in names:
        arr = np.asarray(columns[name])
        if arr.dtype == bool:
            arrays.append(pa.array(arr.astype(np.int8)))
        elif np.issubdtype(arr.dtype, np.integer):
            arrays.append(pa.array(arr))
        elif np.issubdtype(arr.dtype, np.floating):
            arrays.append(pa.array(csv_values(arr, engine=engine)))
        else:
            cells = arr if arr.dtype.kind == "U" else format_column(columns[name])
            arrays.append(pa.array(cells, type=pa.string()))
            text.append(name)
    table = pa.Table.from_arrays(arrays, names=names)
    codec, level = PARQUET_COMPRESSION
    with atomic_path(path) as tmp:
        pq.write_table(table, str(tmp), row_group_size=PARQUET_ROW_GROUP, compression=codec,
                       compression_level=level, use_dictionary=text)


def table_columns(path) -> list[str]:
    """The column names of a table, CSV (its header) or Parquet (its schema)."""
    if is_parquet(path):
        _, pq = _pyarrow()
        return list(pq.read_schema(os.fspath(path)).names)
    with open(path, encoding="utf-8") as fh:
        return fh.readline().rstrip("\r\n").split(",")


def _parquet_numbers(column) -> np.ndarray:
    """A Parquet column (pyarrow ChunkedArray) of numbers as a float64 array of its own
    (writable, as the CSV reader's)."""
    return np.array(column.to_numpy(), dtype=np.float64)


def read_table(path, rows=None) -> tuple[list[str], int, dict[str, np.ndarray]]:
    """A table by its path, CSV (written by this module: one record per line) or Parquet
    (:func:`write_parquet`): ``(columns, n_rows, values)``, ``values`` holding the rows chosen
    by ``rows`` of every column: numbers as float64 (non-finite values NaN), anything else as
    an object array of strings.  ``rows``: None for every row, or a callable ``(n_rows,
    columns) -> row indices`` (only those rows are parsed: a 10^6-row atoms.csv would be 25
    million strings).  The same table gives the same values in either format.  Raises
    ValueError for a CSV row with another number of fields than its header."""
    if is_parquet(path):
        _, pq = _pyarrow()
        table = pq.read_table(os.fspath(path))
        header, n = list(table.column_names), table.num_rows
        idx = np.arange(n) if rows is None else np.asarray(rows(n, header), dtype=np.int64)
        if rows is not None:
            table = table.take(idx)
        import pyarrow.types as pt

        out = {}
        for name in header:
            if name in out:
                continue
            col = table.column(name)
            kind = col.type.value_type if pt.is_dictionary(col.type) else col.type
            if pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind):
                values = _parquet_numbers(col)
                values[~np.isfinite(values)] = np.nan
            else:
                values = np.array(col.to_pylist(), dtype=object)
            out[name] = values
        return header, n, out
    header, lines = csv_lines(path)
    n = len(lines)
    if rows is not None:
        lines = [lines[i] for i in np.asarray(rows(n, header), dtype=np.int64).tolist()]
    cols = csv_fields(header, lines, path)
    numbers = numeric_fields(header, lines, cols)
    del lines
    out = {}
    for key, texts in cols.items():
        values = numbers[key] if key in numbers else parse_floats(texts)
        out[key] = values if values is not None else np.array(texts, dtype=object)
    return header, n, out


# the CSV reader of read_table (and of the viewer's fate.csv)
def csv_lines(path) -> tuple[list[str], list[str]]:
    """The header of a CSV table and its data lines, not yet split into fields (the tables
    nanotraj writes hold one record per line)."""
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    header = next(csv.reader(lines[:1]), [])
    return header, lines[1:]


def csv_fields(header, lines, path="") -> dict[str, list[str]]:
    """The columns (lists of strings) of CSV ``lines`` under ``header``; a row with another
    number of fields than the header is a ValueError naming the file. Lines without quotes,
    NUL characters or empty lines (every table nanotraj writes but those with quoted text) are
    split at their commas, which is what :mod:`csv` does with them, with less work per line."""
    text = "\n".join(lines)
    if lines and "" not in lines and not any(c in text for c in '"\r\0'):
        rows = [line.split(",") for line in lines]
    else:
        rows = list(csv.reader(lines))
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{path}: a data row has {len(row)} fields, the header "
                             f"{width} (row {i + 1} of those read)")
    # one transposition in C instead of a list per column (every row has the header's width)
    fields = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    cols = {}
    for j, h in enumerate(header):
        if h and h not in cols:
            cols[h] = list(fields[j])
    return cols


def parse_floats(texts: Sequence[str]) -> np.ndarray | None:
    """Floats of a column of text (empty cells and non-finite values NaN), or None when a
    non-empty cell is not a number."""
    try:
        values = np.array(texts, dtype=np.float64)
    except ValueError:
        values = np.empty(len(texts))
        for i, t in enumerate(texts):
            if t.strip() == "":
                values[i] = np.nan
                continue
            try:
                values[i] = float(t)
            except ValueError:
                return None
    values[~np.isfinite(values)] = np.nan
    return values


def numeric_fields(header, lines, cols) -> dict[str, np.ndarray]:
    """The columns of ``cols`` (:func:`csv_fields` of ``lines``) whose first cell is a number,
    parsed at once by numpy's compiled reader: exactly :func:`parse_floats`'s floats (both convert
    with the correctly rounded ``PyOS_string_to_double``; non-finite values NaN), about twice as
    fast as one conversion per column. Empty when any of those cells is not a number (an empty
    cell, text): :func:`parse_floats` then decides column by column."""
    first = {}
    for j, h in enumerate(header):
        if h in cols and h not in first and cols[h]:
            try:
                float(cols[h][0])
            except ValueError:
                continue
            first[h] = j
    if not first:
        return {}
    try:
        block = np.loadtxt(lines, delimiter=",", quotechar='"', comments=None,
                           usecols=list(first.values()), dtype=np.float64, ndmin=2)
    except ValueError:
        return {}
    if block.shape != (len(lines), len(first)):
        return {}
    block[~np.isfinite(block)] = np.nan
    return {h: np.ascontiguousarray(block[:, k]) for k, h in enumerate(first)}


