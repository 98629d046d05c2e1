"""Reading frames (PDB / mmCIF atomic maps) and writing per-atom values as PDB / mmCIF.

Reading (:func:`read_frame`)
----------------------------
A frame is one model of a PDB or mmCIF file (optionally gzip-, bzip2- or xz-compressed, told by
magic bytes; UTF-8 or, after a byte-order mark, UTF-16).  The format is detected by content, not
by extension: a file whose first significant line starts with ``data_`` is mmCIF, anything else is
treated as PDB.

PDB files are parsed twice, on purpose:

* by gemmi (``gemmi.read_pdb_string``), which rejects structurally broken files (lines too short to
  hold the coordinates) and counts the models (``MODEL``/``ENDMDL``);
* by a strict fixed-column reader of the ``ATOM``/``HETATM`` records (columns 31-38, 39-46, 47-54
  for x, y, z; 61-66 for the B-factor; 77-78 for the element), which gives the coordinates.

The second pass exists because gemmi 0.7.5 is lenient where a silently wrong number would be the
worst outcome: it reads ``19.2x9`` as 19.2 and a blank or alphabetic coordinate field as 0.0, and
it regroups atoms by residue (a residue number that re-appears later moves its atoms), which would
break the input file's atom order.  The strict reader keeps the file's atom order and rejects any
coordinate field that is not a right-justified decimal number.  The atom counts of both passes
must agree.

mmCIF files are read with ``gemmi.cif`` (the ``_atom_site`` loop, in file order, converted
strictly: ``?`` or ``.`` in a coordinate is an error).

Writing (:func:`write_values`)
------------------------------
``.cif`` / ``.mmcif`` -> mmCIF (any number of atoms); any other suffix -> fixed-column PDB
(at most 99,999 atoms).  The PDB text follows the layout of gemmi's own writer (``HETATM``
records, atom name, residue name and element of the given element) but is produced by a vectorised
numpy formatter: building a ``gemmi.Structure`` atom by atom costs ~2.5 ms per 1000 atoms and
gemmi writes the B-factor with only 2 decimals, whereas the value column must keep 3.

All lengths are in Angstrom.
"""

from __future__ import annotations

import gzip
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanotraj.errors import FrameError

__all__ = ["Frame", "LENGTH_UNITS", "frame_from_text", "length_scale", "read_frame",
           "write_values", "write_values_many"]

PDB_MAX_ATOMS = 99_999
#: Coordinates at or beyond this (Angstrom, 0.1 mm) are refused: no particle is that large, and
#: every output (PDB, mmCIF, CSV) can hold anything smaller.
MAX_COORDINATE = 1e6
_RES_PER_CHAIN = 9_999
_CHAIN_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Frame:
    """One atomic map.

    Attributes
    ----------
    path : str
        The file it was read from.
    coords : ndarray, shape (N, 3), float64
        Cartesian coordinates in Angstrom, in the file's atom order.
    elements : ndarray, shape (N,), str
        The file's element column as written (stripped, e.g. ``"PT"``, ``"W"``); ``""`` where the
        column is blank.  The element of a series comes from the configuration, not from here.
    b_factors : ndarray, shape (N,), float64
        The B-factor column (SINGLE writes a per-atom reconstruction value there); NaN where the
        column is blank or absent.
    notes : tuple of str
        What the reader left out, one sentence each (records after ``END``, alternate
        locations); empty for an ordinary file.
    time : float
        The frame's time as the file gives it (extended XYZ ``time=``, LAMMPS ``ITEM: TIME``
        or ``ITEM: TIMESTEP``); NaN where it gives none (PDB, mmCIF, plain XYZ).
    """

    path: str
    coords: np.ndarray
    elements: np.ndarray
    b_factors: np.ndarray
    notes: tuple = ()
    time: float = float("nan")

    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return len(self.coords)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


#: Default largest size of a frame file, decompressed (bytes): ~10x a 1e6-atom mmCIF (90 MB).
MAX_FRAME_BYTES = 1 << 30

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def _size_text(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def os_error(path, exc: OSError) -> FrameError:
    """The one-line :class:`FrameError` of a file the system would not read: no such file,
    permission denied, or the system's own reason."""
    if isinstance(exc, FileNotFoundError):
        return FrameError(path, "no such file")
    if isinstance(exc, PermissionError):
        return FrameError(path, "permission denied")
    return FrameError(path, f"cannot read: {exc.strerror or exc}")


def _read_bytes(path: str, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The file's bytes, decompressed (gzip, bzip2, xz by magic bytes), at most ``max_bytes``.

    Only regular files are read (a FIFO would block, a device never end); the file and its
    decompressed content are read in bounded amounts, so a decompression bomb stops at
    ``max_bytes`` with an error instead of filling the memory.
    """
    import stat

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a pipe, socket or device"
            raise FrameError(path, f"is {kind}, not a regular file")
        with open(path, "rb") as fh:
            head = fh.read(6)
            kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
            fh.seek(0)
            if kind is None:
                data = fh.read(max_bytes + 1)
            else:
                data = _decompress(path, fh, kind, max_bytes)
    except OSError as exc:
        raise os_error(path, exc) from None
    if len(data) > max_bytes:
        what = "decompressed content" if kind else "file"
        raise FrameError(path, f"{what} larger than max_frame_bytes ({_size_text(max_bytes)}): "
                               "not a single frame? (raise max_frame_bytes in the config)")
    if data[:4] == b"PK\x03\x04":
        raise FrameError(path, "a zip archive: extract the frame's PDB/mmCIF file from it first")
    return data


def _decompress(path, fh, kind, max_bytes) -> bytes:
    """At most ``max_bytes + 1`` bytes of the decompressed stream of ``fh``."""
    try:
        if kind == "gzip":
            stream = gzip.GzipFile(fileobj=fh)
        elif kind == "bzip2":
            import bz2

            stream = bz2.BZ2File(fh)
        else:
            import lzma

            stream = lzma.LZMAFile(fh)
        with stream:
            return stream.read(max_bytes + 1)
    except ImportError:
        raise FrameError(path, f"{kind} file, and this Python has no {kind} module") from None
    except Exception as exc:  # OSError, EOFError, zlib.error, lzma.LZMAError, ValueError
        raise FrameError(path, f"corrupt {kind} file ({exc})") from None


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _decode(path: str, data: bytes) -> str:
    # a byte-order mark (Windows editors; PowerShell's ">" writes UTF-16) is not part of the
    # first record: left in place it hid the first atom of a PDB and every atom of an mmCIF
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                data = data[len(bom):].decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                raise FrameError(path, f"not valid {codec.upper()} text") from None
            break
    while data.startswith(_BOMS[0][0]):  # an editor's second BOM, or U+FEFF opening UTF-16
        data = data[len(_BOMS[0][0]):]
    if not data.strip():
        raise FrameError(path, "empty file (no ATOM/HETATM records)")
    if b"\x00" in data:
        raise FrameError(path, "binary content: not a PDB or mmCIF text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    # CRLF and lone CR line endings -> LF (gemmi would read a CR-only file as one line)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _is_mmcif(text: str) -> bool:
    for line in text.split("\n", 200)[:200]:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        return s.lower().startswith("data_")
    return False


def _first_line(msg: str) -> str:
    lines = [ln.strip() for ln in str(msg).splitlines() if ln.strip()]
    return lines[0].rstrip(":").strip() if lines else str(msg)


def _check_geometry(path, coords, where, *, min_atoms, min_distance):
    n = len(coords)
    if n == 0:
        raise FrameError(path, "no atoms (no ATOM/HETATM records)")
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise FrameError(
            path,
            f"non-finite coordinate ({', '.join(str(v) for v in coords[k])}) "
            f"for atom {k} ({where(k)})",
        )
    if n < min_atoms:
        raise FrameError(path, f"only {n} atoms; at least {min_atoms} needed")
    far = np.abs(coords) >= MAX_COORDINATE
    if far.any():
        k = int(np.flatnonzero(far.any(axis=1))[0])
        raise FrameError(
            path,
            f"coordinate beyond +-{MAX_COORDINATE:.0e} A for atom {k} ({where(k)}): "
            f"({', '.join(f'{v:.6g}' for v in coords[k])}); not a particle in Angstrom",
        )
    if min_distance and min_distance > 0 and n > 1:
        from scipy.spatial import cKDTree

        # an unbalanced tree builds ~3x faster (1e6 atoms); the pairs found are the same
        pairs = cKDTree(coords, balanced_tree=False, compact_nodes=False).query_pairs(
            min_distance, output_type="ndarray")
        if len(pairs):
            d = np.linalg.norm(coords[pairs[:, 0]] - coords[pairs[:, 1]], axis=1)
            keep = d < min_distance
            if keep.any():
                pairs, d = pairs[keep], d[keep]
                order = np.lexsort((pairs[:, 1], pairs[:, 0]))
                i, j = (int(v) for v in pairs[order[0]])
                # most atoms in such pairs: a whole frame too small by ~10, not a few duplicates
                hint = ("; coordinates in nm? nanotraj reads Angstrom (1 nm = 10 A; "
                        "set length_unit: nm)"
                        if len(np.unique(pairs)) > n / 2 else "")
                raise FrameError(
                    path,
                    f"{len(pairs)} pair(s) of atoms closer than {min_distance} A (duplicates?): "
                    f"first atoms {i} ({where(i)}) and {j} ({where(j)}) at "
                    f"{float(d[order[0]]):.4f} A{hint}",
                )


# A number as the strict readers accept it: decimal, optional sign and exponent; ``nan`` and
# ``inf`` are accepted here so that the geometry check can name them as non-finite.  Python's and
# numpy's float() are wider (``1_000``, non-ASCII digits, trailing control characters): a file
# holding such a field is rejected instead of being read as a silently different number.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)",
                     re.IGNORECASE)
_CIF_NUMBER_CHARS = str.maketrans("", "", "0123456789.+-eE?")  # deletes them
_NUMBER_CHARS = np.zeros(256, dtype=bool)
_NUMBER_CHARS[np.frombuffer(b" 0123456789.+-eE", dtype=np.uint8)] = True


def _is_number(s: str) -> bool:
    return _NUMBER.fullmatch(s.strip(" ")) is not None


def _parse_fields(path, block, cols, lineno, what, *, optional=False):
    """Strictly parse fixed-width field ``block[:, cols]`` (uint8 array) to float64."""
    field = np.ascontiguousarray(block[:, cols])
    width = field.shape[1]
    n = len(field)
    blank = (field == 32).all(axis=1)
    out = np.full(n, np.nan)
    todo = ~blank if optional else np.ones(n, bool)
    if not todo.any():
        return out
    sub = field[todo]
    # right-justified numbers: last column of the field must not be blank; plain characters only
    # (fields with other characters, e.g. "nan", are checked one by one below)
    plain = _NUMBER_CHARS[sub].all(axis=1)
    if not (sub[:, -1] == 32).any():
        try:
            values = sub.view(f"S{width}").ravel().astype(np.float64)
        except ValueError:
            values = None
        if values is not None:
            if plain.all() or all(
                _is_number(raw.tobytes().decode("ascii", "replace")) for raw in sub[~plain]
            ):
                out[todo] = values
                return out
    # slow path only on error: find the first bad field
    idx = np.flatnonzero(todo)
    for k, raw in zip(idx, sub, strict=True):
        s = raw.tobytes().decode("ascii", "replace")
        ok = not s.endswith(" ") and _is_number(s)
        if ok:
            try:
                float(s)
            except ValueError:  # pragma: no cover - the pattern is narrower than float()
                ok = False
        if not ok:
            raise FrameError(
                path,
                f"line {lineno[k]}: {what} field (columns {cols.start + 1}-{cols.stop}) "
                f"is not a right-justified number: {s!r}",
            )
    raise FrameError(path, f"cannot parse the {what} columns")  # pragma: no cover


def _truncated_pdb(path: str, lines: list[str], line_offset: int = 0) -> None:
    """A file cut off inside its last record (an interrupted copy or download) whose last line,
    without a line end, is the start of an ``ATOM``/``HETATM`` keyword (a record cut inside its
    coordinates is caught by the record-length check of :func:`_read_pdb`)."""
    last = lines[-1].rstrip("\r") if lines else ""
    if not last:
        return  # the text ends with a line end
    head = last[:6].upper()
    if len(last) < 6 and ("ATOM  ".startswith(head) or "HETATM".startswith(head)):
        raise FrameError(path, f"line {len(lines) + line_offset}: the file ends inside a record "
                               f"(column {len(last)}, no line end): truncated file?")


def _read_pdb(path: str, text: str, line_offset: int = 0):
    import gemmi

    lines = text.split("\n")
    _truncated_pdb(path, lines, line_offset)
    # an atom record too short to hold x, y, z (a truncated upload, a clipped line): say so before
    # gemmi does (its message spans two lines)
    for k, ln in enumerate(lines):
        head = ln[:6].upper()
        if head.startswith("END") and not head.startswith("ENDMDL"):
            break
        if (head.startswith("ATOM") or head == "HETATM") and len(ln.rstrip("\r")) < 54:
            raise FrameError(
                path,
                f"line {k + 1 + line_offset}: {ln[:6].strip()} record truncated ({len(ln)} "
                f"columns; x, y, z need columns 31-54)",
            )
    try:
        st = gemmi.read_pdb_string(text)
    except Exception as exc:  # gemmi raises RuntimeError / ValueError
        raise FrameError(path, f"not a valid PDB file: {_first_line(exc)}") from None
    if len(st) > 1:
        raise FrameError(path, f"{len(st)} models; one model per frame expected{_MODELS_HINT}")
    n_gemmi = st[0].count_atom_sites() if len(st) else 0

    atom_lines: list[str] = []
    lineno: list[int] = []
    notes = []
    for k, ln in enumerate(lines):
        head = ln[:6].upper()
        if head.startswith("ATOM") or head == "HETATM":
            atom_lines.append(ln)
            lineno.append(k + 1 + line_offset)
        elif head.startswith("END") and not head.startswith("ENDMDL"):
            after = sum(1 for x in lines[k + 1:]
                        if x[:4].upper() == "ATOM" or x[:6].upper() == "HETATM")
            if after:
                notes.append(f"{after} ATOM/HETATM record(s) after END (line "
                             f"{k + 1 + line_offset}) ignored")
            break  # gemmi stops at END too
    n = len(atom_lines)
    if n == 0:
        raise FrameError(path, "no atoms (no ATOM/HETATM records)" + _other_format_hint(lines))
    if n != n_gemmi:
        raise FrameError(
            path,
            f"{n} ATOM/HETATM lines but gemmi reads {n_gemmi} atoms; malformed records?",
        )
    for k, ln in enumerate(atom_lines):
        if "\t" in ln[:80]:
            raise FrameError(path, f"line {lineno[k]}: tab character in a fixed-column record")
    joined = "".join([ln[:80].ljust(80) for ln in atom_lines])
    try:
        buf = joined.encode("ascii")
    except UnicodeEncodeError:
        k = next(i for i, ln in enumerate(atom_lines) if not ln.isascii())
        raise FrameError(path, f"line {lineno[k]}: non-ASCII character in an atom record") from None
    block = np.frombuffer(buf, dtype=np.uint8).reshape(n, 80)
    keep = note = None
    if (block[:, 16] != 32).any():  # altLoc codes: compare the atom sites
        # a site: atom name (columns 13-16), residue name, chain, number, insertion code
        # (18-27), i.e. everything up to the coordinates but the serial and the altLoc (17)
        sites = np.ascontiguousarray(np.hstack([block[:, 12:16], block[:, 17:27]])).view("S14")
        keep, note = _first_conformer(block[:, 16], sites.ravel(), "column 17")
    if note:
        block, lineno, n = block[keep], [lineno[k] for k in np.flatnonzero(keep)], int(keep.sum())
        notes.append(note)
    coords = np.empty((n, 3))
    for c, (start, name) in enumerate(((30, "x"), (38, "y"), (46, "z"))):
        coords[:, c] = _parse_fields(path, block, slice(start, start + 8), lineno, name)
    b = _parse_fields(path, block, slice(60, 66), lineno, "B-factor", optional=True)
    el = np.ascontiguousarray(block[:, 76:78]).view("S2").ravel()
    elements = np.char.strip(el.astype("U2"))
    return coords, elements, b, lambda k: f"line {lineno[k]}", tuple(notes)


def _first_conformer(codes: np.ndarray, sites: np.ndarray, where: str):
    """``(keep, note)``: the atoms to read given each atom's alternate-location code (``codes``,
    (N,) uint8 characters, blank/``.``/``?`` for none) and atom site (``sites``, (N,) keys:
    name, residue, chain): those without a code and, per site, those of the first code the
    file gives it (usually ``A``), as gemmi's ``remove_alternative_conformations`` and most
    viewers do; a site modelled twice would otherwise count as two atoms, and a site given
    only as ``B`` is kept.  ``note`` is None when nothing is dropped."""
    blank = np.isin(codes, np.frombuffer(b" .?", np.uint8))
    if blank.all():
        return None, None
    coded = np.flatnonzero(~blank)
    _, first, inverse = np.unique(sites[coded], return_index=True, return_inverse=True)
    first_code = codes[coded][first][inverse.reshape(-1)]  # each atom's site's first code
    keep = blank.copy()
    keep[coded[codes[coded] == first_code]] = True
    dropped = int((~keep).sum())
    if not dropped:
        return None, None
    return keep, (f"{dropped} atom(s) of a second alternate location of their site "
                  f"({where}) ignored")


def _truncated_mmcif(path: str, text: str) -> None:
    """An mmCIF file cut off inside a loop: the text ends without a line end on a data row (its
    last value may be cut short, e.g. a coordinate that lost its last digits)."""
    if not text or text.endswith(("\n", "\r")):
        return
    last = text.rsplit("\n", 1)[-1].strip()
    if last and not last.startswith(("#", "_", "loop_", "data_")):
        line = text.count("\n") + 1
        raise FrameError(path, f"line {line}: the file ends inside a data row (no line end): "
                               "truncated file?")


def _read_mmcif(path: str, text: str, model: int | None = None):
    import gemmi

    _truncated_mmcif(path, text)
    try:
        doc = gemmi.cif.read_string(text)
    except Exception as exc:
        raise FrameError(path, f"not a valid mmCIF file: {_first_line(exc)}") from None
    table = None
    for block in doc:
        t = block.find(
            "_atom_site.",
            ["Cartn_x", "Cartn_y", "Cartn_z", "?type_symbol", "?B_iso_or_equiv",
             "?pdbx_PDB_model_num", "?label_alt_id", "?label_atom_id", "?label_comp_id",
             "?label_asym_id", "?label_seq_id", "?auth_seq_id", "?pdbx_PDB_ins_code"],
        )
        if len(t):
            table = t
            break
    if table is None:
        fract = any(len(block.find(p, ["fract_x"])) for block in doc
                    for p in ("_atom_site_", "_atom_site."))
        hint = ("; it has fractional coordinates (_atom_site_fract_x, a crystallographic CIF): "
                "convert it to Cartesian mmCIF or PDB first (e.g. with ASE, OVITO or gemmi)"
                if fract else "")
        raise FrameError(path, f"no atoms (no _atom_site loop with Cartn_x/y/z){hint}")
    n = len(table)
    rows = None  # the rows of the chosen model (all rows when there is one model)
    models = list(dict.fromkeys(table.column(5))) if table.has_column(5) else []
    if model is not None and model >= max(len(models), 1):
        raise FrameError(path, f"frame_index {model}: the file holds {max(len(models), 1)} "
                               "model(s) (frame_index counts from 0)")
    if len(models) > 1:
        if model is None:
            raise FrameError(path, f"{len(models)} models; one model per frame expected"
                                   f"{_MODELS_HINT}")
        rows = np.flatnonzero(np.array(list(table.column(5)), dtype=object) == models[model])

    def col(i, what, optional=False):
        vals = list(table.column(i))
        arr = np.array(vals, dtype=object)
        out = np.full(n, np.nan)
        try:
            if optional:
                missing = np.isin(arr, ["?", "."])
                out[~missing] = arr[~missing].astype(np.float64)
            else:
                out[:] = arr.astype(np.float64)
            # float() also takes "1_000" and non-ASCII digits: only plain numbers pass (a string
            # of these characters that float() accepts is a decimal number)
            if not "".join(vals).translate(_CIF_NUMBER_CHARS):
                return out
            if all(_is_number(v) or (optional and v in ("?", ".")) for v in vals):
                return out
        except ValueError:
            pass
        for k, v in enumerate(vals):
            if optional and v in ("?", "."):
                continue
            if not _is_number(v):
                raise FrameError(
                    path, f"_atom_site row {k + 1}: {what} is not a number: {v!r}"
                ) from None
        raise FrameError(path, f"cannot parse _atom_site.{what}")  # pragma: no cover

    coords = np.column_stack([col(0, "Cartn_x"), col(1, "Cartn_y"), col(2, "Cartn_z")])
    b = col(4, "B_iso_or_equiv", optional=True) if table.has_column(4) else np.full(n, np.nan)
    if table.has_column(3):
        elements = np.array(
            [gemmi.cif.as_string(v) if v not in ("?", ".") else "" for v in table.column(3)],
            dtype=str,
        )
    else:
        elements = np.full(n, "", dtype="U2")
    if rows is not None:  # one model of several: its rows, in file order
        coords, b, elements = coords[rows], b[rows], elements[rows]
        return coords, elements, b, lambda k: f"_atom_site row {rows[k] + 1}", ()
    notes = ()
    alt_ids = list(table.column(6)) if table.has_column(6) else []
    if any(v not in ("?", ".") for v in alt_ids):  # only then the sites are worth reading
        alt = "".join((gemmi.cif.as_string(v) or " ")[:1] for v in alt_ids)
        codes = np.frombuffer(alt.encode("ascii", "replace"), np.uint8)
        parts = [list(table.column(c)) for c in range(7, 13) if table.has_column(c)]
        sites = np.array(["\t".join(p) for p in zip(*parts, strict=True)] if parts
                         else [""] * n)
        keep, note = _first_conformer(codes, sites, "_atom_site.label_alt_id")
        if note:
            rows = np.flatnonzero(keep)
            coords, elements, b, notes = coords[keep], elements[keep], b[keep], (note,)
            return coords, elements, b, lambda k: f"_atom_site row {rows[k] + 1}", notes
    return coords, elements, b, lambda k: f"_atom_site row {k + 1}", notes


def read_frame(path, *, min_atoms: int = 4, min_distance: float = 0.5,
               max_bytes: int = MAX_FRAME_BYTES, length_unit: str = "A",
               model: int | None = None) -> Frame:
    """Read one frame (one model) from a PDB or mmCIF file, plain or compressed.

    (XYZ, extended XYZ, LAMMPS dumps and the frames of multi-frame files:
    :func:`nanotraj.trajectory.read_frame`, which calls this for PDB and mmCIF.)

    Parameters
    ----------
    path : str or os.PathLike
        PDB (``ATOM``/``HETATM`` fixed-column records; LF, CRLF or CR line endings; ``REMARK``,
        ``TER``, ``CONECT``, ``END`` ignored, records after ``END`` ignored as gemmi does) or mmCIF
        (``_atom_site`` loop).  Alternate locations: only atoms without a code and those of
        the file's first code are read (a site modelled twice is one atom).  Format by content:
        ``data_`` first -> mmCIF, else PDB.  Gzip, bzip2 and xz by magic bytes (any
        extension); a zip archive is an error.  Text in UTF-8 (Latin-1 accepted); a byte-order
        mark (UTF-8, UTF-16) is removed.
    min_atoms : int
        Fewer atoms than this is an error (4: a convex hull needs 4 non-coplanar points).
    min_distance : float
        Two atoms closer than this (Angstrom) are an error -- duplicated atoms would give
        zero-length bonds.  ``0`` disables the check.
    max_bytes : int
        Largest file, and largest decompressed content, read (default :data:`MAX_FRAME_BYTES`,
        1 GiB); beyond it an error (a decompression bomb, a wrong file).
    length_unit : {"A", "nm"}
        The file's length unit; coordinates are converted to Angstrom (x 10 for nm) before the
        geometry checks (:data:`LENGTH_UNITS`).
    model : int, optional
        0-based model of a multi-model file to read (``None``: the file must hold one model).
        mmCIF: the k-th distinct ``_atom_site.pdbx_PDB_model_num``.  PDB: the k-th
        ``MODEL``/``ENDMDL`` block (:func:`nanotraj.trajectory.read_frame` reads only its bytes).

    Returns
    -------
    Frame
        ``coords`` (N, 3) float64 in Angstrom, ``elements`` (N,) str, ``b_factors`` (N,) float64
        (NaN where blank), all in the file's atom order; ``notes``: what was left out.

    Raises
    ------
    FrameError
        ``str(e)`` is one line ``"<path>: <reason>"``: missing, unreadable or directory path,
        corrupt gzip, binary content, not parseable, several models (``"N models"``), no atoms,
        a coordinate field that is not a right-justified number (gemmi alone would read ``abc`` as
        0.0), tab characters in a record, non-finite coordinates, fewer than ``min_atoms`` atoms,
        two atoms closer than ``min_distance`` (the first pair (i < j, lowest i) is named with its
        0-based indices, lines and distance).

    References
    ----------
    wwPDB, Protein Data Bank Contents Guide: Atomic Coordinate Entry Format v3.3, ATOM record.
    G. Wojdyr, GEMMI: a library for structural biology, JOSS 7 (2022) 4200.
    """
    path = os.fspath(path)
    scale = length_scale(path, length_unit)
    data = _read_bytes(path, max_bytes)
    text = _decode(path, data)
    if model is not None and not _is_mmcif(text):
        text, line_offset = pdb_model_text(path, text, model)
        return frame_from_text(path, text, min_atoms=min_atoms, min_distance=min_distance,
                               length_unit=length_unit, line_offset=line_offset)
    return frame_from_text(path, text, min_atoms=min_atoms, min_distance=min_distance,
                           length_unit=length_unit, model=model, _scale=scale)


#: Length units a frame file may be written in, and their factor to Angstrom.
LENGTH_UNITS = {"A": 1.0, "nm": 10.0}

_MODELS_HINT = (" (name one with the sheet's frame_index column; nanotraj-sheet writes a row per "
                "model)")


def length_scale(path, length_unit) -> float:
    """The factor from ``length_unit`` to Angstrom (:data:`LENGTH_UNITS`); a FrameError for an
    unknown unit."""
    try:
        return LENGTH_UNITS[str(length_unit)]
    except KeyError:
        raise FrameError(path, f"length_unit {length_unit!r} is not one of "
                               f"{', '.join(LENGTH_UNITS)}") from None


def _other_format_hint(lines) -> str:
    """A hint when a text without atom records looks like another format (an XYZ file handed
    to the PDB reader)."""
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.isdigit():
        return ("; the first line is a number: an XYZ file? (nanotraj.trajectory.read_frame "
                "reads XYZ)")
    if first.startswith("ITEM:"):
        return "; a LAMMPS dump? (nanotraj.trajectory.read_frame reads LAMMPS dumps)"
    return ""


_MODEL_RE = re.compile(r"^MODEL\b.*$", re.MULTILINE)


def pdb_model_text(path: str, text: str, model: int) -> tuple[str, int]:
    """``(text, line_offset)``: the ``MODEL`` .. ``ENDMDL`` block number ``model`` (0-based) of a
    PDB text and the number of lines before it (a file without ``MODEL`` records is model 0)."""
    starts = [m.start() for m in _MODEL_RE.finditer(text)]
    if not starts:
        if model == 0:
            return text, 0
        raise FrameError(path, f"frame_index {model}: the file holds 1 model "
                               "(frame_index counts from 0)")
    if model >= len(starts):
        raise FrameError(path, f"frame_index {model}: the file holds {len(starts)} models "
                               "(frame_index counts from 0)")
    end = starts[model + 1] if model + 1 < len(starts) else len(text)
    return text[starts[model]:end], text.count("\n", 0, starts[model])


def frame_from_text(path, text: str, *, min_atoms: int = 4, min_distance: float = 0.5,
                    length_unit: str = "A", model: int | None = None, line_offset: int = 0,
                    _scale=None) -> Frame:
    """:func:`read_frame` of a decoded PDB or mmCIF text (``line_offset``: lines of the file
    before ``text``, for the line numbers of messages; ``model``: see :func:`read_frame`,
    mmCIF only)."""
    path = os.fspath(path)
    scale = length_scale(path, length_unit) if _scale is None else _scale
    if _is_mmcif(text):
        coords, elements, b, where, notes = _read_mmcif(path, text, model)
    else:
        coords, elements, b, where, notes = _read_pdb(path, text, line_offset)
    if scale != 1.0:
        coords = coords * scale
    _check_geometry(path, coords, where, min_atoms=min_atoms, min_distance=min_distance)
    return Frame(
        path=path,
        coords=np.ascontiguousarray(coords, dtype=np.float64),
        elements=np.asarray(elements, dtype=str),
        b_factors=np.asarray(b, dtype=np.float64),
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


_DIGITS3 = np.frombuffer("".join(f"{i:03d}" for i in range(1000)).encode(), np.uint8).reshape(
    1000, 3
)


def _fixed(values: np.ndarray, width: int, decimals: int) -> np.ndarray:
    """Right-justified fixed-point text of ``values`` as a (N, width) uint8 array.

    Equivalent to ``"%{width}.{decimals}f" % v`` (round half to even on the scaled value; ``-0.000``
    is written ``0.000``), vectorised with a 3-digit lookup table (~0.2 ms per 1e4 values).
    Raises OverflowError when a value does not fit ``width``.
    """
    m = np.rint(np.asarray(values, dtype=np.float64) * 10.0**decimals)
    n = len(m)
    if n and np.abs(m).max() >= 1e17:
        raise OverflowError
    m = m.astype(np.int64)
    neg = m < 0
    a = np.abs(m)
    nd = width - (1 if decimals else 0)  # digit (and sign) slots
    nchunk = -(-nd // 3)
    digs = np.empty((n, 3 * nchunk), dtype=np.uint8)
    rest = a
    for c in range(nchunk - 1, -1, -1):
        digs[:, 3 * c : 3 * c + 3] = _DIGITS3[rest % 1000]
        rest = rest // 1000
    digs = digs[:, 3 * nchunk - nd :]
    pows = 10 ** np.arange(18, dtype=np.int64)
    ndig = np.maximum(np.searchsorted(pows, a, side="right"), decimals + 1)
    if n and (ndig + neg > nd).any():
        raise OverflowError
    lead = nd - ndig  # number of leading blank slots
    chars = np.where(np.arange(nd)[None, :] < lead[:, None], np.uint8(32), digs)
    rows = np.flatnonzero(neg)
    chars[rows, lead[rows] - 1] = 45  # "-"
    if not decimals:
        return chars
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : width - decimals - 1] = chars[:, : width - decimals - 1]
    out[:, width - decimals - 1] = 46  # "."
    out[:, width - decimals :] = chars[:, width - decimals - 1 :]
    return out


def _bfactor_columns(values: np.ndarray) -> np.ndarray:
    """(N, 6) text of the B-factor column: 3 decimals where they fit, fewer where they do not."""
    out = np.empty((len(values), 6), dtype=np.uint8)
    todo = np.ones(len(values), bool)
    # largest magnitude that rounds into 6 characters with d decimals
    for d, lo, hi in ((3, -9.9995, 99.9995), (2, -99.995, 999.995), (1, -999.95, 9999.95),
                      (0, -99999.5, 999999.5)):
        sel = todo & (values > lo) & (values < hi)
        if sel.any():
            out[sel] = _fixed(values[sel], 6, d)
            todo &= ~sel
    if todo.any():
        k = int(np.flatnonzero(todo)[0])
        raise ValueError(
            f"value {values[k]!r} of atom {k} does not fit the PDB B-factor column "
            "(-99999 .. 999999); write .cif instead"
        )
    return out


def _text_columns(strings: list[str], n: int) -> np.ndarray:
    b = "".join(strings).encode("ascii")
    return np.frombuffer(b, dtype=np.uint8).reshape(1, -1).repeat(n, axis=0)


def _per_symbol(texts: list[str], idx: np.ndarray) -> np.ndarray:
    """(N, W) uint8: atom k gets ``texts[idx[k]]`` (texts padded with blanks to one width)."""
    width = max(len(t) for t in texts)
    table = np.frombuffer("".join(t.ljust(width) for t in texts).encode("ascii"), np.uint8)
    return table.reshape(len(texts), width)[idx]


def _symbols(element, n: int) -> tuple[list[str], np.ndarray]:
    """``(symbols, idx)``: the distinct element symbols of ``element`` (one symbol, or one per
    atom) and each atom's index into them; ValueError for anything but 1-2 letter symbols."""
    if isinstance(element, str) or np.ndim(element) == 0:
        symbols, idx = [str(element).strip()], np.zeros(n, np.intp)
    else:
        arr = np.char.strip(np.asarray(element, dtype=str))
        if arr.shape != (n,):
            raise ValueError(f"{arr.size} element symbols for {n} atoms")
        uniq, idx = np.unique(arr, return_inverse=True)
        symbols, idx = [str(u) for u in uniq], idx.reshape(-1)
    for el in symbols:
        if not (1 <= len(el) <= 2 and el.isalpha() and el.isascii()):
            raise ValueError(f"element must be a 1-2 letter symbol, got {el!r}")
    return symbols, idx


def _pdb_records(coords, symbols, idx, resnames):
    """``(head, rec, bcol, tail)`` of a PDB file: ``rec`` (N, 81) uint8 holds every HETATM
    record with its B-factor columns 61-66 (``rec[:, bcol]``) still to be filled.  Atom k is
    element ``symbols[idx[k]]`` with residue name ``resnames[idx[k]]``."""
    n = len(coords)
    els = [el.upper() for el in symbols]
    # atom name (columns 13-16): 2-letter elements start in column 13, 1-letter ones in 14
    names = [f"{el:<4}" if len(el) == 2 else f" {el:<3}" for el in els]
    rec = np.empty((n, 81), dtype=np.uint8)
    rec[:, 0:6] = np.frombuffer(b"HETATM", dtype=np.uint8)
    rec[:, 6:11] = _fixed(np.arange(1, n + 1), 5, 0)
    rec[:, 11:17] = _per_symbol([f" {name} " for name in names], idx)  # incl. altLoc blank
    rec[:, 17:21] = _per_symbol([f"{r:>3} " for r in resnames], idx)
    chain_idx = np.arange(n) // _RES_PER_CHAIN
    rec[:, 21] = np.frombuffer(_CHAIN_IDS.encode(), dtype=np.uint8)[chain_idx]
    rec[:, 22:26] = _fixed(np.arange(n) % _RES_PER_CHAIN + 1, 4, 0)
    rec[:, 26:30] = 32
    for c in range(3):
        rec[:, 30 + 8 * c:38 + 8 * c] = _fixed(coords[:, c], 8, 3)
    rec[:, 54:60] = np.frombuffer(b"  1.00", dtype=np.uint8)
    rec[:, 66:80] = _per_symbol([f"{'':10}{el:>2}  " for el in els], idx)
    rec[:, 80] = 10
    ter_serial = n + 1
    last = rec[-1]
    ter = (f"TER   {ter_serial:5d}      {last[17:20].tobytes().decode()} "
           f"{chr(last[21])}{last[22:26].tobytes().decode()}").ljust(80) + "\n"
    head = "REMARK   1 WRITTEN BY NANOTRAJ: PER-ATOM VALUE IN THE B-FACTOR COLUMN".ljust(80) + "\n"
    return head.encode(), rec, slice(60, 66), ter.encode() + b"END".ljust(80) + b"\n"


def _chain_names(k: int) -> list[str]:
    """k chain names A..Z, AA, AB, ... (mmCIF allows multi-character chain names)."""
    out = []
    for i in range(k):
        name = ""
        i += 1
        while i:
            i, rem = divmod(i - 1, 26)
            name = _CHAIN_IDS[rem] + name
        out.append(name)
    return out


_CIF_COLUMNS = (
    "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id",
    "label_asym_id", "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x",
    "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv", "auth_seq_id", "auth_asym_id",
    "pdbx_PDB_model_num",
)


def _cif_head(block_name) -> bytes:
    return (f"data_{block_name}\n#\n_entry.id {block_name}\n#\nloop_\n"
            + "".join(f"_atom_site.{c}\n" for c in _CIF_COLUMNS)).encode()


def _cif_records(coords, symbols, idx, resnames):
    """``(rec, bcol)``: the ``_atom_site`` rows of an mmCIF file as an (N, W) uint8 array
    whose value columns ``rec[:, bcol]`` (16 characters, 4 decimals) are still to be filled
    (atoms as in :func:`_pdb_records`)."""
    n = len(coords)
    # one residue per atom, 9999 residues per chain as in the PDB output (gemmi's reader slows
    # down quadratically with the number of residues in one chain)
    n_chains = -(-n // _RES_PER_CHAIN)
    names = _chain_names(n_chains)
    cw = max(len(c) for c in names) + 1
    chain_txt = np.frombuffer("".join(f"{c:>{cw}}" for c in names).encode(), np.uint8)
    chain_txt = chain_txt.reshape(n_chains, cw)[np.arange(n) // _RES_PER_CHAIN]
    width = max(12, len(str(n)) + 1)
    parts = [
        np.frombuffer(b"HETATM", np.uint8).reshape(1, -1).repeat(n, axis=0),
        _fixed(np.arange(1, n + 1), width, 0),
        _per_symbol([f" {el.capitalize()} {el.upper()} . {r}"
                     for el, r in zip(symbols, resnames, strict=True)], idx),
        chain_txt,
        _text_columns([" 1 . ?"], n),
        _fixed(coords[:, 0], 14, 4),
        _fixed(coords[:, 1], 14, 4),
        _fixed(coords[:, 2], 14, 4),
        _text_columns([" 1.0"], n),
        np.zeros((n, 16), np.uint8),  # the value: filled per file
        _fixed(np.arange(n) % _RES_PER_CHAIN + 1, 5, 0),
        chain_txt,
        _text_columns([" 1\n"], n),
    ]
    b0 = sum(p.shape[1] for p in parts[:9])
    return np.hstack(parts), slice(b0, b0 + 16)


def _atomic_write(path: str, *payload) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 honours the umask (tempfile would create 0600 files)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in payload:  # bytes or arrays, written without joining them
                fh.write(part)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def pdb_limits(coords) -> str | None:
    """Why ``coords`` cannot be written as a fixed-column PDB file, or None when they can.

    The PDB format holds at most 99,999 atoms (5-column serial numbers) and coordinates from
    -999.999 to 9999.999 A (``%8.3f`` in 8 columns); mmCIF has neither limit.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) > PDB_MAX_ATOMS:
        return f"{len(coords):,} atoms exceed the PDB format's {PDB_MAX_ATOMS:,}"
    if coords.size and (coords.min() <= -999.9995 or coords.max() >= 9999.9995):
        return "coordinates beyond the PDB columns (-999.999 .. 9999.999 A)"
    return None


def write_values(path, coords, values, *, element="Pt", resname: str | None = None) -> None:
    """Write atoms with one value per atom in the B-factor column (for ChimeraX, PyMOL, OVITO).

    Parameters
    ----------
    path : str or os.PathLike
        ``.cif`` or ``.mmcif`` (case-insensitive) -> mmCIF, any number of atoms; any other suffix
        -> fixed-column PDB, at most 99,999 atoms.  Written atomically (a temporary file in the
        same directory, then ``os.replace``), so a reader never sees a half-written file.
    coords : array_like, shape (N, 3)
        Coordinates in Angstrom; must be finite.  PDB: written ``%8.3f`` (range -999.999 ..
        9999.999, else ValueError); mmCIF: 4 decimals.
    values : array_like, shape (N,)
        One number per atom (booleans allowed).  NaN (e.g. the mean bond length of an atom without
        bonds) is written as ``0`` -- a value no written quantity takes for a bonded atom; read it
        as "undefined".  +-inf raises ValueError.  PDB: rounded to 3 decimals (``%6.3f``) where
        that fits the 6 columns 61-66 (-9.999 .. 99.999), with fewer decimals for larger
        magnitudes (2 up to 999.99, 1 up to 9999.9, 0 up to 999999); beyond -99999 .. 999999 a
        ValueError (values are never clipped).  mmCIF: 4 decimals, |value| < 1e10.
    element : str or array_like of str, shape (N,)
        Element symbol (1-2 letters), one for all atoms or one per atom (an alloy).  PDB: atom
        name and element column upper case (``PT``), atom name from column 13 for two-letter
        symbols as the PDB format requires.
    resname : str, optional
        Residue name (at most 3 characters); default each atom's element in upper case.

    Layout
    ------
    ``HETATM`` records, occupancy 1.00, one residue per atom; residue numbers 1..9999 wrap into
    a new chain (A, B, ... K for 99,999 atoms) so that serial (columns 7-11) and residue
    (23-26) numbers always fit their columns.  Then ``TER`` and ``END``.  mmCIF uses the same
    residue/chain numbering (chains A..Z, AA, AB, ...), which also keeps gemmi's mmCIF reader
    linear in N.  Write time ~1 ms per 1000 atoms (PDB and mmCIF).

    References
    ----------
    wwPDB, Atomic Coordinate Entry Format v3.3 (ATOM/HETATM columns); wwPDB PDBx/mmCIF dictionary
    (``_atom_site``).
    """
    write_values_many([(path, values)], coords, element=element, resname=resname)


def write_values_many(items, coords, *, element="Pt", resname: str | None = None) -> None:
    """:func:`write_values` for several files of the same atoms: ``items`` is a sequence of
    ``(path, values)``.  The records are formatted once per format (PDB, mmCIF) and only the
    value columns per file, and each file is written from that buffer without joining it to
    its header: at 10^6 atoms (110 MB per mmCIF file) formatting and copying, not the disk,
    were most of the time.  Every file is validated and written as :func:`write_values` does.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {coords.shape}")
    n = len(coords)
    if n == 0:
        raise ValueError("no atoms to write")
    if not np.isfinite(coords).all():
        raise ValueError("non-finite coordinates cannot be written")
    symbols, idx = _symbols(element, n)
    if resname is None:
        resnames = [el.upper() for el in symbols]
    else:
        resname = str(resname).strip()
        if not (1 <= len(resname) <= 3 and resname.isascii() and " " not in resname):
            raise ValueError(f"resname must be 1-3 characters without spaces, got {resname!r}")
        resnames = [resname] * len(symbols)
    records = {}  # format -> its records, made on first use
    for path, values in items:
        path = os.fspath(path)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != n:
            raise ValueError(f"{len(values)} values for {n} atoms")
        if np.isinf(values).any():
            raise ValueError("infinite values cannot be written")
        values = np.where(np.isnan(values), 0.0, values)
        if Path(path).suffix.lower() in (".cif", ".mmcif"):
            stem = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in Path(path).stem)
            try:
                if "cif" not in records:
                    records["cif"] = _cif_records(coords, symbols, idx, resnames)
                rec, bcol = records["cif"]
                rec[:, bcol] = _fixed(values, 16, 4)
            except OverflowError:
                raise ValueError("a coordinate or value exceeds 1e10; cannot be written") from None
            _atomic_write(path, _cif_head(stem or "nanotraj"), rec, b"#\n")
        else:
            if n > PDB_MAX_ATOMS:
                raise ValueError(
                    f"{n} atoms exceed the PDB format's {PDB_MAX_ATOMS:,}; write .cif instead"
                )
            try:
                if "pdb" not in records:
                    records["pdb"] = _pdb_records(coords, symbols, idx, resnames)
            except OverflowError:
                raise ValueError(
                    "a coordinate does not fit the PDB %8.3f columns (-999.999 .. 9999.999); "
                    "write .cif instead"
                ) from None
            head, rec, bcol, tail = records["pdb"]
            rec[:, bcol] = _bfactor_columns(values)
            _atomic_write(path, head, rec, tail)
