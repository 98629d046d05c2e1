"""Compiled CSV rows (numba): the bytes of :func:`nanotraj.tables.write_columns`, faster.

:func:`nanotraj.tables.write_columns` formats every cell with Python's ``%``: integers as
``%d``, booleans as ``0``/``1``, floats as ``"%.12g" % v`` (``nan`` for NaN) and anything else
with ``str`` (``None`` as an empty cell); cells are joined by ``,`` and every row ends with
``\\n``.  This module writes exactly the same bytes with compiled kernels that release the GIL,
block by block in threads (:func:`write_table`, :func:`csv_blocks`).

Floats (``%.12g``).  ``%.12g`` prints the decimal number ``M * 10**(X - 11)`` nearest to the
double ``|v|`` (``M`` a 12-digit integer, ``10**11 <= M < 10**12``; halfway cases to even),
computed from the exact binary value (David Gay's correctly rounded ``dtoa``, mode 2, which
CPython uses); then ``X < -4`` or ``X >= 12`` is written as ``d.ddde-05``/``d.ddde+12`` (at
least two exponent digits), any other ``X`` in fixed notation, without trailing zeros or a
trailing point (C99 7.19.6.1, ``g`` conversion).  The kernel computes ``s = |v| * 10**p`` with
``p = 11 - floor(log10 |v|)`` in floating point, by at most one multiplication or division by
an exact power of ten (``10**k``, ``k <= 22``) for ``1e-11 <= |v| < 1e34`` and by one more
rounding per further factor ``1e22`` outside that range (subnormals included: at most 16
roundings).  Each rounding is exact to half a unit in the last place, so with ``n`` roundings
``|s - |v| 10**p| <= |v| 10**p ((1 + 2**-53)**n - 1) < n * 1.12e-4`` (``s < 1e12``).  Rounding
``s`` to the nearest integer gives ``M`` unless the exact value lies on the other side of a
``.5``: every value whose ``s`` has a fraction within ``n * MARGIN`` (:data:`MARGIN` =
1.25e-4) of 0.5 -- exact ties included -- takes the slow path, Python's own ``"%.11e" % v``
(the same 12 correctly rounded digits ``%.12g`` prints, read back as ``M`` and ``X``).
Rounding up to ``10**12`` (``9.99999999999995`` -> ``10``) moves to the next exponent; a
``p`` that was off by one (``log10`` rounded across a power of ten) is corrected before
rounding, and values within the error bound of a power of ten give the same digits either way.
About 2.5e-4 of values with random digits take the slow path (``n = 1``); the tests and
``benchmarks/bench_tables.py`` measure it.  Zero (``0``/``-0``), infinities (``inf``/``-inf``)
and NaN (``nan``, whatever its sign bit, as the writer prints it) are written directly.

Integers: ``int64`` (``%d``, ``-9223372036854775808`` too); unsigned columns with values past
``2**63 - 1`` and any other column (strings, objects) are formatted in Python per block
(``"" if v is None else str(v)``, or the numeric rules above when the column converts to
numbers), except numpy unicode arrays, whose UCS-4 code points the kernel encodes as UTF-8
(surrogates, which UTF-8 cannot encode, go to Python, which raises ``UnicodeEncodeError`` as
the text writer does).

Threads: each block of rows is formatted alone (its bytes depend only on its rows), the blocks
are written in order (:func:`nanotraj._parallel.ordered_map`): the file does not depend on the
number of threads or on the block size.  Importing this module imports numba and loads the
cached machine code; small tables should not (see :data:`MIN_CELLS`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence

import numba as nb
import numpy as np

from nanotraj._parallel import ordered_map

__all__ = ["MARGIN", "MIN_CELLS", "float_digits", "format_floats", "csv_blocks", "write_table",
           "csv_bytes"]

_JIT = {"nogil": True, "cache": True, "boundscheck": False}

#: Half-width, per floating-point rounding, of the band around ``.5`` whose values take the
#: slow path when ``|v| * 10**p`` needs several roundings: ``1e12 * 2**-53`` = 1.1102e-4, the
#: relative error of one rounding at ``s < 1e12``, with room for ``(1 + 2**-53)**n - 1 > n
#: 2**-53``.
MARGIN = 1.12e-4

#: Tables of at least this many cells (rows x columns) are worth this module's start-up in a
#: process that has not imported numba yet (measured by ``benchmarks/bench_tables.py``).
MIN_CELLS = 2_000_000

#: Bytes of output aimed at per block of rows handed to a thread.
BLOCK_BYTES = 1 << 22

_SLOW = -1  # M of a value that takes the slow path
_INT, _FLOAT, _TEXT = 0, 1, 2
_FLOAT_WIDTH = 19  # "-1.23456789012e-308"
_INT_WIDTH = 20  # "-9223372036854775808"

_G12 = "%.12g"  # the format of nanotraj.tables (FLOAT_FORMAT)
_E11 = "%.11e"  # the same 12 correctly rounded digits, always with an exponent
_LOG10_2 = math.log10(2.0)
_POW10 = np.array([10.0**k for k in range(23)])  # exact: 10**22 < 2**53 * 2**22


# ----------------------------------------------------------------------------------------------
# floats
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _scaled(a, p, pow10):
    """``(s, n)``: ``a * 10**p`` computed with ``n`` roundings (exact powers of ten only)."""
    n = 0
    while p > 22:
        a *= 1e22
        p -= 22
        n += 1
    while p < -22:
        a /= 1e22
        p += 22
        n += 1
    if p >= 0:
        a *= pow10[p]
    else:
        a /= pow10[-p]
    return a, n + 1


@nb.njit(**_JIT)
def _digits(a, pow10):
    """``(M, X)`` of a finite ``a > 0``: ``a`` rounded to 12 significant digits is
    ``M * 10**(X - 11)`` with ``10**11 <= M < 10**12``; ``(-1, 0)`` where floating point cannot
    decide the rounding (the slow path)."""
    # floor(log10 a) from the binary exponent, low by at most one (corrected below)
    e2 = math.frexp(a)[1] - 1  # 2**e2 <= a < 2**(e2 + 1)
    p = 11 - int(math.floor(e2 * _LOG10_2))
    s, n = _scaled(a, p, pow10)
    for _ in range(2):
        if s >= 1e12:
            p -= 1
        elif s < 1e11:
            p += 1
        else:
            break
        s, n = _scaled(a, p, pow10)
    if s < 1e11 or s >= 1e12:
        return _SLOW, 0
    m = math.floor(s)
    f = s - m  # exact
    if n == 1:
        # one correctly rounded operation: the exact value lies within half an ulp of s, and s
        # is a multiple of its ulp, so only a fraction of exactly .5 leaves the side undecided
        if f == 0.5:
            return _SLOW, 0
    elif abs(f - 0.5) <= n * MARGIN:
        return _SLOW, 0
    digits = np.int64(m)
    if f > 0.5:
        digits += 1
    x = 11 - p
    if digits == 1_000_000_000_000:  # 999999999999.5 and above: 1e11 one exponent higher
        digits = 100_000_000_000
        x += 1
    return digits, x


@nb.njit(**_JIT)
def float_digits(values, m, x, pow10):
    """``m[i], x[i]`` of :func:`_digits` for every finite nonzero ``values[i]`` (``m = 0`` for
    zeros, infinities and NaN, ``m = -1`` for the slow path); returns the number of slow
    values.  1-D arrays of one length."""
    slow = 0
    for i in range(values.size):
        v = values[i]
        a = abs(v)
        if a == 0.0 or not math.isfinite(a):
            m[i] = 0
            x[i] = 0
            continue
        d, e = _digits(a, pow10)
        m[i] = d
        x[i] = e
        if d == _SLOW:
            slow += 1
    return slow


@nb.njit(**_JIT)
def _put_float(out, pos, v, m, x):
    """Write ``%.12g`` of ``v`` (digits ``m``, exponent ``x`` from :func:`float_digits`) at
    ``out[pos]``; return the position after it."""
    if v != v:
        out[pos] = 110  # n
        out[pos + 1] = 97  # a
        out[pos + 2] = 110  # n
        return pos + 3
    if v < 0.0 or (v == 0.0 and math.copysign(1.0, v) < 0.0):
        out[pos] = 45  # -
        pos += 1
    if math.isinf(v):
        out[pos] = 105  # i
        out[pos + 1] = 110  # n
        out[pos + 2] = 102  # f
        return pos + 3
    if v == 0.0:
        out[pos] = 48
        return pos + 1
    # the 12 digits, trailing zeros dropped, written right to left where they belong
    nd = 12
    while m % 10 == 0:
        m //= 10
        nd -= 1
    if x < -4 or x >= 12:  # d[.ddd]e+XX
        base = pos
        split = 1
        width = nd + (1 if nd > 1 else 0)
    else:
        decpt = x + 1  # digits before the point
        if decpt <= 0:  # 0.000ddd
            out[pos] = 48
            out[pos + 1] = 46
            pos += 2
            for _ in range(-decpt):
                out[pos] = 48
                pos += 1
            base = pos
            split = nd
            width = nd
        elif decpt >= nd:  # ddd000, no point
            for k in range(nd, decpt):
                out[pos + k] = 48
            base = pos
            split = nd
            width = decpt
        else:  # dd.ddd
            base = pos
            split = decpt
            width = nd + 1
    for k in range(nd - 1, -1, -1):
        out[base + k + (1 if k >= split else 0)] = 48 + m % 10
        m //= 10
    if split < nd:
        out[base + split] = 46  # .
    pos = base + width
    if x < -4 or x >= 12:
        out[pos] = 101  # e
        out[pos + 1] = 45 if x < 0 else 43  # - / +
        pos += 2
        ax = -x if x < 0 else x
        if ax >= 100:
            out[pos] = 48 + ax // 100
            pos += 1
        out[pos] = 48 + (ax // 10) % 10
        out[pos + 1] = 48 + ax % 10
        pos += 2
    return pos


@nb.njit(**_JIT)
def _put_int(out, pos, v):
    """Write ``%d`` of the int64 ``v`` at ``out[pos]``; return the position after it."""
    if v < 0:
        out[pos] = 45
        pos += 1
        u = np.uint64(-(v + 1)) + np.uint64(1)  # |v|, -2**63 included
    else:
        u = np.uint64(v)
    n = 1
    t = u
    while t >= 10:
        t //= np.uint64(10)
        n += 1
    for k in range(n - 1, -1, -1):
        out[pos + k] = np.uint64(48) + u % np.uint64(10)
        u //= np.uint64(10)
    return pos + n


@nb.njit(**_JIT)
def _format_floats(values, m, x, out, lengths):
    """Row ``i`` of ``out`` holds ``%.12g`` of ``values[i]`` in ``lengths[i]`` bytes."""
    for i in range(values.size):
        lengths[i] = _put_float(out[i], 0, values[i], m[i], x[i])


@nb.njit(**_JIT)
def assemble(rows, kinds, slots, fv, fm, fx, iv, tbuf, toff, out):
    """Rows of a block as CSV bytes in ``out``; returns the number of bytes written.

    ``kinds[c]`` (0 int, 1 float, 2 text) and ``slots[c]`` say where column ``c`` is: row
    ``slots[c]`` of ``iv`` (int64, (ni, rows)), of ``fv``/``fm``/``fx`` (the floats and their
    :func:`float_digits`, (nf, rows)) or of ``toff`` (byte offsets into ``tbuf`` of the cells
    of text column ``slots[c]``, (nt, rows + 1)).  Cells are joined by ``,``, rows end with
    ``\\n``.
    """
    ncol = kinds.size
    pos = 0
    for r in range(rows):
        for c in range(ncol):
            if c:
                out[pos] = 44  # ,
                pos += 1
            k = kinds[c]
            s = slots[c]
            if k == 1:
                pos = _put_float(out, pos, fv[s, r], fm[s, r], fx[s, r])
            elif k == 0:
                pos = _put_int(out, pos, iv[s, r])
            else:
                for b in range(toff[s, r], toff[s, r + 1]):
                    out[pos] = tbuf[b]
                    pos += 1
        out[pos] = 10  # \n
        pos += 1
    return pos


@nb.njit(**_JIT)
def _ucs4_utf8(codes, out, offsets):
    """UTF-8 of the rows of ``codes`` (uint32 code points, (rows, W), trailing zeros not part of
    the string, as numpy stores ``str``) into ``out`` from ``offsets[0]``; ``offsets[r + 1]``
    is the end of row ``r``.  Returns False at a surrogate or a code point past U+10FFFF."""
    pos = offsets[0]
    for r in range(codes.shape[0]):
        end = codes.shape[1]
        while end > 0 and codes[r, end - 1] == 0:
            end -= 1
        for k in range(end):
            c = codes[r, k]
            if c < 0x80:
                out[pos] = c
                pos += 1
            elif c < 0x800:
                out[pos] = 0xC0 | (c >> 6)
                out[pos + 1] = 0x80 | (c & 0x3F)
                pos += 2
            elif c < 0x10000:
                if 0xD800 <= c <= 0xDFFF:
                    return False
                out[pos] = 0xE0 | (c >> 12)
                out[pos + 1] = 0x80 | ((c >> 6) & 0x3F)
                out[pos + 2] = 0x80 | (c & 0x3F)
                pos += 3
            elif c <= 0x10FFFF:
                out[pos] = 0xF0 | (c >> 18)
                out[pos + 1] = 0x80 | ((c >> 12) & 0x3F)
                out[pos + 2] = 0x80 | ((c >> 6) & 0x3F)
                out[pos + 3] = 0x80 | (c & 0x3F)
                pos += 4
            else:
                return False
        offsets[r + 1] = pos
    return True


# ----------------------------------------------------------------------------------------------
# Python side
# ----------------------------------------------------------------------------------------------
def _slow_path(fv, fm, fx) -> None:
    """Fill ``fm``/``fx`` of the values :func:`float_digits` left to Python (``m == -1``):
    ``"%.11e" % |v|`` is the 12-digit correctly rounded decimal ``"%.12g"`` prints."""
    for i in np.flatnonzero(fm.ravel() == _SLOW).tolist():
        mant, exp = (_E11 % abs(float(fv.flat[i]))).split("e")
        fm.flat[i] = int(mant.replace(".", ""))
        fx.flat[i] = int(exp)


def float_digits_exact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(M, X, n_slow)`` of ``values`` (float64): ``|v|`` rounded to 12 significant digits is
    ``M * 10**(X - 11)``, ``10**11 <= M < 10**12`` (``M = X = 0`` for 0, inf and NaN), int64
    arrays of the shape of ``values``; ``n_slow`` values were rounded by Python."""
    v = np.array(values, dtype=np.float64, order="C")
    m = np.empty(v.shape, np.int64)
    x = np.empty(v.shape, np.int64)
    n_slow = float_digits(v.reshape(-1), m.reshape(-1), x.reshape(-1), _POW10)
    if n_slow:
        _slow_path(v, m, x)
    return m, x, n_slow


def format_floats(values) -> tuple[np.ndarray, np.ndarray]:
    """``"%.12g" % v`` of every float of ``values`` (1-D, converted to float64; ``nan`` for NaN),
    as ``(buffer, lengths)``: ``buffer`` uint8 (N, 24), row ``i`` holding the ASCII text of
    value ``i`` in its first ``lengths[i]`` bytes (int64 (N,))."""
    v = np.array(values, dtype=np.float64, order="C").reshape(-1)
    m, x, _ = float_digits_exact(v)
    out = np.zeros((len(v), 24), np.uint8)
    lengths = np.empty(len(v), np.int64)
    _format_floats(v, m, x, out, lengths)
    return out, lengths


class _Column:
    """A column in the form the kernels read: kind, the array, text for :func:`_text_cells`."""

    __slots__ = ("kind", "values", "width")

    def __init__(self, values):
        arr = np.asarray(values)
        if arr.dtype == bool:
            self.kind, self.values, self.width = _INT, arr, 1
        elif np.issubdtype(arr.dtype, np.integer):
            if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
                self.kind, self.values, self.width = _TEXT, values, 0
            else:
                self.kind, self.values, self.width = _INT, arr, _INT_WIDTH
        elif np.issubdtype(arr.dtype, np.floating):
            self.kind, self.values, self.width = _FLOAT, arr, _FLOAT_WIDTH
        else:
            self.kind, self.values, self.width = _TEXT, values, 0


def _text_cells(values) -> list[str]:
    """Cells of a column that is neither bool, integer nor float, as
    :func:`nanotraj.tables.format_column` formats them."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return ["1" if v else "0" for v in arr]
    if np.issubdtype(arr.dtype, np.integer):
        return [str(int(v)) for v in arr]
    if np.issubdtype(arr.dtype, np.floating):
        return ["nan" if v != v else _G12 % v for v in arr.tolist()]
    return ["" if v is None else str(v) for v in values]


def _text_block(values, r0, r1) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of the cells r0 .. r1-1 of a text column and their offsets (r1 - r0 + 1,)."""
    part = values[r0:r1]
    if isinstance(values, np.ndarray) and values.dtype.kind == "U" and values.dtype.itemsize:
        codes = np.ascontiguousarray(part).view(np.uint32).reshape(r1 - r0, -1)
        out = np.empty(codes.size * 4, np.uint8)
        offsets = np.zeros(r1 - r0 + 1, np.int64)
        if _ucs4_utf8(codes, out, offsets):
            return out, offsets
        part = part.tolist()
    cells = [c.encode("utf-8") for c in _text_cells(part)]
    offsets = np.zeros(len(cells) + 1, np.int64)
    np.cumsum([len(c) for c in cells], out=offsets[1:])
    return np.frombuffer(b"".join(cells), np.uint8), offsets


def _prepare(columns: Sequence) -> tuple[list[_Column], int]:
    cols = [_Column(c) for c in columns]
    n = len(columns[0]) if len(columns) else 0
    for k, c in enumerate(columns):
        if len(c) != n:
            raise ValueError(f"column {k} has {len(c)} rows, expected {n}")
    return cols, n


def _block(cols: list[_Column], r0: int, r1: int) -> np.ndarray:
    """CSV bytes of rows r0 .. r1-1 (uint8 array)."""
    rows = r1 - r0
    kinds = np.array([c.kind for c in cols], np.int64)
    slots = np.zeros(len(cols), np.int64)
    nf = int(np.sum(kinds == _FLOAT))
    ni = int(np.sum(kinds == _INT))
    nt = int(np.sum(kinds == _TEXT))
    fv = np.empty((nf, rows), np.float64)
    iv = np.empty((ni, rows), np.int64)
    toff = np.zeros((nt, rows + 1), np.int64)
    texts = []
    counts = [0, 0, 0]
    t_bytes = 0
    for k, c in enumerate(cols):
        s = counts[c.kind]
        counts[c.kind] += 1
        slots[k] = s
        if c.kind == _FLOAT:
            fv[s] = c.values[r0:r1]
        elif c.kind == _INT:
            iv[s] = c.values[r0:r1]
        else:
            data, off = _text_block(c.values, r0, r1)
            toff[s] = off + t_bytes
            t_bytes += int(off[-1])
            texts.append(data[:off[-1]])
    tbuf = np.concatenate(texts) if texts else np.zeros(0, np.uint8)
    fm = np.empty((nf, rows), np.int64)
    fx = np.empty((nf, rows), np.int64)
    if nf and float_digits(fv.reshape(-1), fm.reshape(-1), fx.reshape(-1), _POW10):
        _slow_path(fv, fm, fx)
    width = sum(c.width for c in cols) + len(cols)
    out = np.empty(rows * max(width, 1) + t_bytes, np.uint8)
    n = assemble(rows, kinds, slots, fv, fm, fx, iv, tbuf, toff, out)
    return out[:n]


def _rows_per_block(cols: list[_Column]) -> int:
    width = sum(c.width if c.kind != _TEXT else 8 for c in cols) + len(cols)
    return max(256, BLOCK_BYTES // max(width, 1))


def csv_blocks(columns: Sequence, workers: int = 1,
               rows_per_block: int | None = None) -> Iterator[np.ndarray]:
    """The CSV rows of ``columns`` (a sequence of equally long columns: numpy arrays or
    sequences, formatted as :func:`nanotraj.tables.format_column` does), block after block, as
    uint8 arrays whose concatenation is the text (UTF-8) that ``",".join(cells) + "\\n"`` per row
    gives.  Blocks are formatted in ``workers`` threads; the bytes do not depend on ``workers``
    or ``rows_per_block``.  No header; nothing for zero rows.  ValueError for columns of
    different lengths."""
    cols, n = _prepare(columns)
    if not cols or n == 0:
        return
    step = int(rows_per_block or _rows_per_block(cols))
    if step < 1:
        raise ValueError(f"rows_per_block must be positive, got {rows_per_block}")
    yield from ordered_map(lambda r0: _block(cols, r0, min(n, r0 + step)), range(0, n, step),
                           max(1, int(workers)))


def csv_bytes(columns: Sequence, workers: int = 1) -> bytes:
    """All rows of :func:`csv_blocks` as one ``bytes`` (small tables, tests)."""
    return b"".join(b.tobytes() for b in csv_blocks(columns, workers))


def write_table(fh, names: Sequence[str], columns: Sequence, workers: int = 1) -> None:
    """Write the header ``",".join(names)`` and the rows of ``columns`` (:func:`csv_blocks`) to
    the binary file ``fh``: the bytes :func:`nanotraj.tables.write_columns` writes."""
    if len(names) != len(columns):
        raise ValueError(f"{len(names)} names for {len(columns)} columns")
    fh.write((",".join(names) + "\n").encode("utf-8"))
    for block in csv_blocks(columns, workers):
        fh.write(block)


def default_workers() -> int:
    """The CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
