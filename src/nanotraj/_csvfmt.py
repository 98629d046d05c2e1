"""Compiled CSV rows (numba): the bytes of :func:`nanotraj.tables.write_columns`, faster.

:func:`nanotraj.tables.write_columns` formats every cell with Python's ``%``: integers as
``%d``, booleans as ``0``/``1``, floats as ``"%.12g" % v`` (``nan`` for NaN) and anything else
with ``str`` (``None`` as an empty cell); cells are joined by ``,`` and every row ends with
``\\n``.  This module writes exactly the same bytes with compiled kernels that release the GIL,
block by block in threads (:func:`write_table`, :func:`csv_blocks`).

Floats (``%.12g``).  ``%.12g`` prints the decimal ``M * 10**(X - 11)`` nearest to the double
``|v|`` (``M`` a 12-digit integer, ``10**11 <= M < 10**12``; a tie to even), computed from the
exact binary value (David Gay's correctly rounded ``dtoa``, mode 2, which CPython uses); then
``X < -4`` or ``X >= 12`` is written as ``d.ddde-05``/``d.ddde+12`` (at least two exponent
digits), any other ``X`` in fixed notation, without trailing zeros and without a trailing
point (C99 7.19.6.1, ``g`` conversion without ``#``).  The kernel computes ``s = |v| 10**p``
with ``p = 11 - floor(log10 |v|)`` in floating point:

* ``1e-11 <= |v| < 1e34`` (``|p| <= 22``): ``floor(log10 |v|)`` from the binary exponent (low by
  at most one, corrected by one more product), then ONE correctly rounded multiplication or
  division by the exact double ``10**|p|``.  The exact value ``|v| 10**p`` lies within half an
  ulp of ``s``, and ``s`` is a multiple of its ulp (``2**-16 .. 2**-13`` for ``1e11 <= s <
  1e12``), so ``round(s)`` is the exact rounding unless the fraction of ``s`` is exactly
  ``.5``: only those values (exact ties among them) take the slow path.
* elsewhere (tiny, huge and subnormal values): ``n`` roundings (factors ``1e22``, ``n <= 16``),
  ``|s - |v| 10**p| < n * MARGIN``; values whose fraction lies within that band of ``.5`` take
  the slow path.

The slow path is Python's ``"%.11e" % |v|``: the same 12 correctly rounded digits ``%.12g``
prints (CPython formats both with ``dtoa`` mode 2, 12 digits), read back as ``M`` and ``X``.
Rounding up to ``10**12`` (``9.99999999999995`` -> ``10``) moves to the next exponent; a ``p``
that was off by one next to a power of ten is corrected before rounding, and a value within
the error bound of a power of ten gives the same digits at either ``p``.  Zero (``0``/``-0``),
infinities (``inf``/``-inf``) and NaN (``nan``, whatever its sign bit, as the writer prints it)
are written directly.  The slow path is rare: 5e-5 to 9e-5 of the values of a frame's columns
(coordinates, q6, w6, bond lengths, s6; ``benchmarks/bench_tables.py``), 2e-4 of log-uniform
values over 1e-30 .. 1e30, 3e-3 of integers stored as floats (exact ties such as
``1234567890125.0`` are common there), 2e-3 of random bit patterns (mostly outside ``|p| <= 22``)
and about half of the doubles next to a decimal tie at the 13th digit (adversarial: there the
float product lands on ``.5``).

Integers: ``int64`` (``%d``, ``-9223372036854775808`` included) and booleans (``0``/``1``);
unsigned columns with values past ``2**63 - 1`` and every other column (strings, objects) are
formatted in Python per block like :func:`nanotraj.tables.format_column`, except numpy unicode
arrays, whose UCS-4 code points the kernel encodes as UTF-8 (a surrogate, which UTF-8 cannot
encode, goes to Python, which raises ``UnicodeEncodeError`` as the text writer does).

Threads: each block of rows is formatted alone (its bytes depend only on its rows), the blocks
are written in order (:func:`nanotraj._parallel.ordered_map`): the file does not depend on the
number of threads or on the block size.  In a fresh process, importing this module (numba,
~0.35 s) and loading the cached row kernel (~0.35 s) take ~0.7 s, as long as Python formats
~2e6 cells: small tables should not come here (:data:`MIN_CELLS`).  Compiling the kernels
without a cache takes ~5 s (run :func:`csv_bytes` and :func:`format_floats` once at install).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numba as nb
import numpy as np

from nanotraj._parallel import ordered_map

__all__ = ["MARGIN", "MIN_CELLS", "BLOCK_BYTES", "float_digits_exact", "format_floats",
           "csv_blocks", "csv_bytes", "write_table"]

_JIT = {"nogil": True, "cache": True, "boundscheck": False}
_INLINE = _JIT | {"inline": "always"}  # small helpers of the row kernel (~1/3 faster inlined)

#: Half-width, per floating-point rounding, of the band around ``.5`` whose values take the
#: slow path when ``|v| * 10**p`` needs several roundings: ``1e12 * 2**-53`` = 1.1102e-4 is the
#: relative error of one rounding times ``s < 1e12``, with room for ``(1 + 2**-53)**n - 1``.
MARGIN = 1.12e-4

#: Tables with at least this many cells (rows x columns) are written faster through this module
#: than by Python even in a process that has not imported numba yet (fixed cost ~0.7 s, Python
#: ~0.3 us per cell; ``benchmarks/bench_tables.py --startup``: 2e6 cells 0.71 s Python against
#: 0.84 s compiled, 3e6 cells 1.08 s against 0.96 s).  Once loaded, smaller tables gain too.
MIN_CELLS = 2_500_000

#: Bytes of output aimed at per block of rows handed to a thread.
BLOCK_BYTES = 1 << 22

_SLOW = -1  # M of a value that takes the slow path
_INT, _FLOAT, _TEXT = 0, 1, 2
_FLOAT_WIDTH = 19  # "-1.23456789012e-308"
_INT_WIDTH = 20  # "-9223372036854775808"

_G12 = "%.12g"  # the float format of nanotraj.tables (FLOAT_FORMAT)
_E11 = "%.11e"  # the same 12 correctly rounded digits, always with an exponent
_PAIRS = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), np.uint8).copy()
_U1, _U2, _U100, _U10K, _U1M = (np.uint64(k) for k in (1, 2, 100, 10_000, 1_000_000))
_UPOW10 = np.array([10**k for k in range(20)], np.uint64)
_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles: 5**22 < 2**53


# ----------------------------------------------------------------------------------------------
# the 12 significant digits of a double
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _scaled(a, p):
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
        a *= _POW10[p]
    else:
        a /= _POW10[-p]
    return a, n + 1


@nb.njit(**_JIT)
def _digits_any(a):
    """:func:`_digits` for any finite ``a > 0`` (several roundings where ``|p| > 22``)."""
    p = 11 - int(math.floor(math.log10(a)))
    s, n = _scaled(a, p)
    for _ in range(2):  # log10 can be off by one next to a power of ten
        if s >= 1e12:
            p -= 1
        elif s < 1e11:
            p += 1
        else:
            break
        s, n = _scaled(a, p)
    if s < 1e11 or s >= 1e12:
        return _SLOW, 0
    m = math.floor(s)
    f = s - m  # exact
    if n == 1:
        if f == 0.5:
            return _SLOW, 0
    elif abs(f - 0.5) <= n * MARGIN:
        return _SLOW, 0
    return _rounded(m, f, p)


@nb.njit(**_INLINE)
def _rounded(m, f, p):
    """``(M, X)`` from the integer part ``m`` and the fraction ``f`` (not .5) of ``s``."""
    digits = np.int64(m)
    if f > 0.5:
        digits += 1
    x = 11 - p
    if digits == 1_000_000_000_000:  # 999999999999.5 and above: 1e11 one exponent higher
        digits = 100_000_000_000
        x += 1
    return digits, x


@nb.njit(**_INLINE)
def _digits(a, bits):
    """``(M, X)`` of a finite ``a > 0`` whose IEEE 754 bits are ``bits`` (uint64; the sign bit
    is ignored): ``a`` rounded to 12 significant digits is ``M * 10**(X - 11)`` with
    ``10**11 <= M < 10**12``; ``(-1, 0)`` where floating point cannot decide (the slow
    path)."""
    e2 = np.int64((bits >> np.uint64(52)) & np.uint64(0x7FF)) - 1023  # 2**e2 <= a < 2**(e2+1)
    if e2 == -1023:  # subnormal
        return _digits_any(a)
    p = 11 - ((e2 * 78913) >> 18)  # floor(e2 log10 2) for |e2| < 1650: s >= 1e11, s < 2e12
    if p > 22 or p < -21:
        return _digits_any(a)
    s = a * _POW10[p] if p >= 0 else a / _POW10[-p]
    if s >= 1e12:
        p -= 1
        s = a * _POW10[p] if p >= 0 else a / _POW10[-p]
    if s < 1e11:  # s >= 1e12 rounded down from below 1e12: let the general path decide
        return _digits_any(a)
    m = math.floor(s)
    f = s - m  # exact
    if f == 0.5:  # the exact value may lie on either side (see the module docstring)
        return _SLOW, 0
    return _rounded(m, f, p)


@nb.njit(**_JIT)
def float_digits(values, bits, m, x):
    """``m[i], x[i]`` of :func:`_digits` for every finite nonzero ``values[i]`` (``bits`` its
    uint64 view; ``m = x = 0`` for zeros, infinities and NaN, ``m = -1`` for the slow path);
    returns the number of slow values.  1-D arrays of one length."""
    slow = 0
    for i in range(values.size):
        a = abs(values[i])
        if a == 0.0 or not math.isfinite(a):
            m[i] = 0
            x[i] = 0
            continue
        d, e = _digits(a, bits[i])
        m[i] = d
        x[i] = e
        if d == _SLOW:
            slow += 1
    return slow


# ----------------------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------------------
@nb.njit(**_INLINE)
def _put_pairs6(out, pos, v):
    """Write the 6 decimal digits of ``0 <= v < 10**6`` (uint64, leading zeros included) at
    ``out[pos]``.  (Unsigned arithmetic throughout: numba's signed ``//`` and ``%`` follow
    Python's floor rules and cost twice as much.)"""
    a = v // _U10K
    b = v - a * _U10K
    c = b // _U100
    d = b - c * _U100
    out[pos] = _PAIRS[_U2 * a]
    out[pos + 1] = _PAIRS[_U2 * a + _U1]
    out[pos + 2] = _PAIRS[_U2 * c]
    out[pos + 3] = _PAIRS[_U2 * c + _U1]
    out[pos + 4] = _PAIRS[_U2 * d]
    out[pos + 5] = _PAIRS[_U2 * d + _U1]


@nb.njit(**_INLINE)
def _put_float(out, pos, v, m, x):
    """Write ``%.12g`` of ``v`` (digits ``m``, exponent ``x`` of :func:`_digits`; anything for
    zeros, infinities and NaN) at ``out[pos]``; return the position after it."""
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
    sci = x < -4 or x >= 12
    um = np.uint64(m)
    hi = um // _U1M
    lo = um - hi * _U1M
    if not sci and x < 0:  # 0.000ddddddddddd: no trailing point possible
        out[pos] = 48
        out[pos + 1] = 46
        pos += 2
        for _ in range(-1 - x):
            out[pos] = 48
            pos += 1
        _put_pairs6(out, pos, hi)
        _put_pairs6(out, pos + 6, lo)
        end = pos + 12
        while out[end - 1] == 48:
            end -= 1
        return end
    # d.ddddddddddd or (x + 1 digits).(11 - x digits): the digits one to the right, then the
    # first `point` of them back to the left and the point after them
    point = 1 if sci else x + 1
    _put_pairs6(out, pos + 1, hi)
    _put_pairs6(out, pos + 7, lo)
    for k in range(point):
        out[pos + k] = out[pos + k + 1]
    out[pos + point] = 46  # .
    end = pos + 13
    while end - 1 > pos + point and out[end - 1] == 48:  # trailing zeros of the fraction
        end -= 1
    if end - 1 == pos + point:  # no fraction left: no point either
        end -= 1
    if not sci:
        return end
    out[end] = 101  # e
    out[end + 1] = 45 if x < 0 else 43  # - / +
    end += 2
    ax = -x if x < 0 else x
    if ax >= 100:
        out[end] = 48 + ax // 100
        end += 1
        ax %= 100
    out[end] = _PAIRS[2 * ax]
    out[end + 1] = _PAIRS[2 * ax + 1]
    return end + 2


@nb.njit(**_INLINE)
def _put_int(out, pos, v):
    """Write ``%d`` of the int64 ``v`` at ``out[pos]``; return the position after it."""
    if v < 0:
        out[pos] = 45
        pos += 1
        u = np.uint64(-(v + 1)) + _U1  # |v|, -2**63 included
    else:
        u = np.uint64(v)
    n = 1
    while n < 20 and u >= _UPOW10[n]:
        n += 1
    end = pos + n
    q = end
    while u >= _U100:
        t = u // _U100
        d = u - t * _U100
        q -= 2
        out[q] = _PAIRS[_U2 * d]
        out[q + 1] = _PAIRS[_U2 * d + _U1]
        u = t
    if u >= np.uint64(10):
        out[q - 2] = _PAIRS[_U2 * u]
        out[q - 1] = _PAIRS[_U2 * u + _U1]
    else:
        out[q - 1] = np.uint64(48) + u
    return end


@nb.njit(**_JIT)
def _format_floats(values, m, x, out, lengths):
    """Row ``i`` of ``out`` holds ``%.12g`` of ``values[i]`` in ``lengths[i]`` bytes."""
    for i in range(values.size):
        lengths[i] = _put_float(out[i], 0, values[i], m[i], x[i])


@nb.njit(**_JIT)
def assemble(r, c, pos, pm, px, rows, kinds, slots, fv, fb, iv, tbuf, toff, out):
    """CSV rows of a block into ``out`` from cell ``(r, c)`` on, ``out[pos]`` being where that
    cell (or its ``,``) goes; returns ``(pos, r, c)``: ``r == rows`` when the block is done,
    else ``(r, c)`` is a float that takes the slow path, nothing of it written yet -- call
    again from there with its digits ``pm, px`` (:func:`_python_digits`; ``pm = -1`` for
    none).

    ``kinds[c]`` (0 int, 1 float, 2 text) and ``slots[c]`` say where column ``c`` is: row
    ``slots[c]`` of ``iv`` (int64, (ni, rows)), of ``fv`` (float64, (nf, rows); ``fb`` its
    uint64 view) or of ``toff`` (offsets into ``tbuf`` of the UTF-8 cells of text column
    ``slots[c]``, (nt, rows + 1)).  Cells are joined by ``,``, rows end with ``\\n``.
    """
    ncol = kinds.size
    while r < rows:
        while c < ncol:
            k = kinds[c]
            s = slots[c]
            if k == 1:
                v = fv[s, r]
                a = abs(v)
                m = 0
                x = 0
                if a != 0.0 and math.isfinite(a):
                    if pm >= 0:
                        m = pm
                        x = px
                        pm = -1
                    else:
                        m, x = _digits(a, fb[s, r])
                        if m == _SLOW:
                            return pos, r, c
                if c:
                    out[pos] = 44  # ,
                    pos += 1
                pos = _put_float(out, pos, v, m, x)
            else:
                if c:
                    out[pos] = 44
                    pos += 1
                if k == 0:
                    pos = _put_int(out, pos, iv[s, r])
                else:
                    for b in range(toff[s, r], toff[s, r + 1]):
                        out[pos] = tbuf[b]
                        pos += 1
            c += 1
        out[pos] = 10  # \n
        pos += 1
        c = 0
        r += 1
    return pos, r, c


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
def _python_digits(v: float) -> tuple[int, int]:
    """``(M, X)`` of a finite nonzero ``v`` from Python's correctly rounded ``"%.11e"``."""
    mant, exp = (_E11 % abs(v)).split("e")
    return int(mant.replace(".", "")), int(exp)


def float_digits_exact(values) -> tuple[np.ndarray, np.ndarray, int]:
    """``(M, X, n_slow)`` of ``values`` (converted to float64, 1-D): ``|v|`` rounded to 12
    significant digits (as ``%.12g`` prints it) is ``M * 10**(X - 11)``, ``10**11 <= M <
    10**12`` (``M = X = 0`` for zeros, infinities and NaN), int64 arrays (N,); ``n_slow``
    values were rounded by Python (the slow path)."""
    v = np.array(values, dtype=np.float64, order="C").reshape(-1)
    m = np.empty(v.shape, np.int64)
    x = np.empty(v.shape, np.int64)
    n_slow = float_digits(v, v.view(np.uint64), m, x)
    if n_slow:
        for i in np.flatnonzero(m == _SLOW).tolist():
            m[i], x[i] = _python_digits(float(v[i]))
    return m, x, n_slow


def format_floats(values) -> tuple[np.ndarray, np.ndarray]:
    """``"%.12g" % v`` of every float of ``values`` (converted to float64, 1-D; ``nan`` for NaN)
    as ``(buffer, lengths)``: ``buffer`` uint8 (N, 24), row ``i`` holding the ASCII text of
    value ``i`` in its first ``lengths[i]`` bytes (int64 (N,))."""
    v = np.array(values, dtype=np.float64, order="C").reshape(-1)
    m, x, _ = float_digits_exact(v)
    out = np.zeros((len(v), 24), np.uint8)
    lengths = np.empty(len(v), np.int64)
    _format_floats(v, m, x, out, lengths)
    return out, lengths


class _Column:
    """A column as the kernels read it: its kind, the values, the widest cell (text: 0)."""

    __slots__ = ("kind", "values", "width")

    def __init__(self, values, k=0):
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"column {k} is not 1-D (shape {arr.shape})")
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
    """Cells of a column the kernels do not format, as :func:`nanotraj.tables.format_column`
    formats them (this module does not import :mod:`nanotraj.tables`, which imports it)."""
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
        if not codes.flags.writeable:  # a mapped file: one compiled variant of the kernel only
            codes = codes.copy()
        out = np.empty(codes.size * 4, np.uint8)
        offsets = np.zeros(r1 - r0 + 1, np.int64)
        if _ucs4_utf8(codes, out, offsets):
            return out, offsets
        part = part.tolist()  # Python raises UnicodeEncodeError as the text writer does
    cells = [c.encode("utf-8") for c in _text_cells(part)]
    offsets = np.zeros(len(cells) + 1, np.int64)
    np.cumsum([len(c) for c in cells], out=offsets[1:])
    return np.frombuffer(b"".join(cells), np.uint8), offsets


def _prepare(columns: Sequence) -> tuple[list[_Column], int]:
    n = len(columns[0]) if len(columns) else 0
    for k, c in enumerate(columns):
        if len(c) != n:
            raise ValueError(f"column {k} has {len(c)} rows, expected {n}")
    return [_Column(c, k) for k, c in enumerate(columns)], n


def _block(cols: list[_Column], r0: int, r1: int) -> np.ndarray:
    """CSV bytes of rows r0 .. r1-1 (a uint8 array)."""
    rows = r1 - r0
    kinds = np.array([c.kind for c in cols], np.int64)
    slots = np.zeros(len(cols), np.int64)
    counts = [0, 0, 0]
    for k, c in enumerate(cols):
        slots[k] = counts[c.kind]
        counts[c.kind] += 1
    iv = np.empty((counts[_INT], rows), np.int64)
    fv = np.empty((counts[_FLOAT], rows), np.float64)
    toff = np.zeros((counts[_TEXT], rows + 1), np.int64)
    texts = []
    t_bytes = 0
    for k, c in enumerate(cols):
        s = slots[k]
        if c.kind == _FLOAT:
            fv[s] = c.values[r0:r1]  # any float dtype, as astype(float64)
        elif c.kind == _INT:
            iv[s] = c.values[r0:r1]
        else:
            data, off = _text_block(c.values, r0, r1)
            toff[s] = off + t_bytes
            t_bytes += int(off[-1])
            texts.append(data[:off[-1]])
    tbuf = np.concatenate(texts) if texts else np.zeros(0, np.uint8)
    out = np.empty(rows * (sum(c.width for c in cols) + len(cols)) + t_bytes, np.uint8)
    fb = fv.view(np.uint64)
    pos, r, c, pm, px = 0, 0, 0, -1, 0
    while True:
        pos, r, c = assemble(r, c, pos, pm, px, rows, kinds, slots, fv, fb, iv, tbuf, toff, out)
        if r >= rows:
            return out[:pos]
        pm, px = _python_digits(float(fv[slots[c], r]))


def _rows_per_block(cols: list[_Column]) -> int:
    width = sum(c.width if c.kind != _TEXT else 8 for c in cols) + len(cols)
    return max(256, BLOCK_BYTES // max(width, 1))


def csv_blocks(columns: Sequence, workers: int = 1,
               rows_per_block: int | None = None) -> Iterator[np.ndarray]:
    """The CSV rows of ``columns`` (a sequence of equally long columns: numpy arrays or
    sequences, formatted as :func:`nanotraj.tables.format_column` does), block after block, as
    uint8 arrays whose concatenation is the UTF-8 text that ``",".join(cells) + "\\n"`` per row
    gives.  Blocks are formatted in ``workers`` threads; the bytes do not depend on
    ``workers`` or ``rows_per_block``.  No header; nothing for zero rows or zero columns.
    ValueError for columns of different lengths or ``rows_per_block < 1``."""
    cols, n = _prepare(columns)
    if rows_per_block is not None and rows_per_block < 1:
        raise ValueError(f"rows_per_block must be positive, got {rows_per_block}")
    if not cols or n == 0:
        return
    step = int(rows_per_block or _rows_per_block(cols))
    yield from ordered_map(lambda r0: _block(cols, r0, min(n, r0 + step)), range(0, n, step),
                           max(1, int(workers)))


def csv_bytes(columns: Sequence, workers: int = 1, rows_per_block: int | None = None) -> bytes:
    """All rows of :func:`csv_blocks` as one ``bytes`` (small tables, tests)."""
    return b"".join(b.tobytes() for b in csv_blocks(columns, workers, rows_per_block))


def write_table(fh, names: Sequence[str], columns: Sequence, workers: int = 1) -> None:
    """Write the header ``",".join(names) + "\\n"`` and the rows of ``columns``
    (:func:`csv_blocks`) to the binary file ``fh``: the bytes that
    :func:`nanotraj.tables.write_columns` writes for ``dict(zip(names, columns))``."""
    if len(names) != len(columns):
        raise ValueError(f"{len(names)} names for {len(columns)} columns")
    fh.write((",".join(names) + "\n").encode("utf-8"))
    for block in csv_blocks(columns, workers):
        fh.write(block)
