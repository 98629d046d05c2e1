"""The frames sheet: read and check it (:func:`read_frames`, what the workflow does at start-up),
and write one from a folder of PDB/mmCIF files (``nanotraj-sheet``, :func:`build_rows`).

Users have folders of reconstructions, not sheets. ``nanotraj-sheet`` (or
``python scripts/make_frames_sheet.py``) globs the files and takes each frame's name and time
from its file name with a regular expression::

    nanotraj-sheet "data/particle1/*.pdb" --series particle1 \\
        --pattern "stage(?P<time>\\d+)" -o config/frames.tsv

The pattern is searched in the file name (without the folder). Named groups: ``time`` (a number,
required unless ``--time index``), ``frame`` (default: the file name without its extension),
``series`` (default: ``--series``, else the folder name) and ``element`` (optional). Rows are
written ordered by series and time; paths are written as the glob gives them (relative to the
working directory when the glob is).

A file of several frames (an XYZ / extended XYZ or LAMMPS trajectory, a multi-model PDB or
mmCIF) becomes one row per frame, ``frame_index`` 0, 1, ... (``--frames start:stop:step``
selects some, as a Python slice), named ``{file name}_{index}``, with the time the file gives
(extended XYZ ``time=``, LAMMPS ``ITEM: TIME`` or ``ITEM: TIMESTEP``; the frame index where it
gives none, or with ``--time index``)::

    nanotraj-sheet traj.extxyz --series growth --frames 0:1000:10 -o config/frames.tsv

``nanotraj-sheet --expand rows.tsv`` expands a sheet whose rows name a trajectory and a
``frame_index`` selection ``start:stop:step`` (a blank ``time``: the file's times) into one row
per frame. Two frames that would have the same time in a series are refused, naming both files.
"""

from __future__ import annotations

import argparse
import glob
import math
import re
import sys
from pathlib import Path

NAME_RE = re.compile(r"[^A-Za-z0-9._+-]+")
FRAME_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".cif.gz", ".mmcif.gz", ".ent.gz")


class SheetError(ValueError):
    """A sheet cannot be read, or made from these files and options (one-line message)."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(FRAME_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _clean(name: str) -> str:
    cleaned = NAME_RE.sub("_", name).strip("_")
    if not cleaned or not cleaned[0].isalnum():
        cleaned = "f" + cleaned
    return cleaned


def _frame_slice(text) -> slice:
    """``start:stop:step`` (any part may be empty) as a slice; SheetError otherwise."""
    parts = str(text).strip().split(":")
    if len(parts) not in (2, 3) or not all(p.strip().lstrip("-").isdigit() or not p.strip()
                                           for p in parts):
        raise SheetError(f"frame selection {text!r}: expected start:stop:step, e.g. 0:1000:10")
    values = [int(p) if p.strip() else None for p in parts]
    if len(values) == 3 and values[2] == 0:
        raise SheetError(f"frame selection {text!r}: the step cannot be 0")
    return slice(*values)


def trajectory_rows(path, *, series, frame_prefix=None, frames=None, time="file",
                    notes=None, **extra) -> list[dict]:
    """One row per selected frame of a multi-frame file (``frames``: a slice or
    ``"start:stop:step"``; all by default): ``frame_index``, the frame named
    ``{frame_prefix}_{index}`` (zero-padded), the time the file gives (``time="file"``; the
    index where the file gives none) or the index (``time="index"``); ``extra`` (element,
    length_unit, type_map) copied into every row. A file whose end is broken gives the
    complete frames; ``notes`` (a list) receives why the rest was left out."""
    from nanotraj.errors import FrameError
    from nanotraj.trajectory import frame_index

    try:
        idx = frame_index(path)
    except FrameError as err:
        raise SheetError(str(err)) from None
    if idx.problem and notes is not None:
        notes.append(f"{path}: {len(idx)} complete frame(s); the rest is left out: "
                     f"{idx.problem}")
    chosen = range(len(idx))
    if frames is not None:
        chosen = chosen[frames if isinstance(frames, slice) else _frame_slice(frames)]
    width = len(str(max(len(idx) - 1, 0)))
    prefix = frame_prefix or _clean(_stem(Path(path)))
    times = idx.times
    from_file = time != "index" and len(chosen) and all(math.isfinite(times[k]) for k in chosen)
    if time != "index" and not from_file and notes is not None and len(chosen):
        notes.append(f"{path}: the file gives no time for every frame: the times are the "
                     "frame indexes")
    rows = []
    for k in chosen:
        row = {"series": series, "frame": f"{prefix}_{k:0{width}d}",
               "time": float(times[k]) if from_file else float(k), "path": str(path),
               "frame_index": k}
        row.update({key: v for key, v in extra.items() if v})
        rows.append(row)
    return rows


def _multi_frame(path) -> bool:
    """Whether ``path`` holds more than one frame (False when it cannot be indexed: the
    workflow names the problem)."""
    from nanotraj.errors import FrameError
    from nanotraj.trajectory import frame_index

    try:
        return len(frame_index(path)) > 1
    except (FrameError, OSError):
        return False


def build_rows(paths, *, pattern=None, series=None, time="pattern", element=None, frames=None,
               length_unit=None, type_map=None, notes=None):
    """Rows (dicts with series, frame, time, path[, element, frame_index, length_unit,
    type_map]) for ``paths``.

    ``time="pattern"`` takes the time from the pattern's ``time`` group (default pattern: the last
    number in the file name); ``time="index"`` numbers the files 0, 1, 2... in natural name order.
    A file of several frames gives a row per frame (:func:`trajectory_rows`, ``frames``: the
    selection), timed by the file (or by index with ``time="index"``). Two frames of a series
    at the same time are an error naming both files.
    """
    regex = re.compile(pattern) if pattern else re.compile(r"(?P<time>\d+(?:\.\d+)?)(?!.*\d)")
    rows = []
    paths = sorted((Path(p) for p in paths), key=lambda p: _natural_key(str(p)))
    extra = {"length_unit": length_unit, "type_map": type_map}
    for index, path in enumerate(paths):
        m = regex.search(path.name)
        groups = m.groupdict() if m else {}
        if frames is not None or _multi_frame(path):
            name = _clean(groups.get("series") or series or path.parent.name or "series")
            rows += trajectory_rows(path, series=name, frames=frames,
                                    time="index" if time == "index" else "file", notes=notes,
                                    element=groups.get("element") or element, **extra)
            continue
        if time == "index":
            t = float(index)
        else:
            if not m or groups.get("time") is None:
                raise SheetError(
                    f"{path}: the pattern {regex.pattern!r} finds no 'time' in the file name "
                    "(use a named group (?P<time>...) or --time index)"
                )
            try:
                t = float(groups["time"])
            except ValueError:
                raise SheetError(f"{path}: time {groups['time']!r} is not a number") from None
            if not math.isfinite(t):
                raise SheetError(f"{path}: time {groups['time']!r} is not finite")
        row = {
            "series": _clean(groups.get("series") or series or path.parent.name or "series"),
            "frame": _clean(groups.get("frame") or _stem(path)),
            "time": t,
            "path": str(path),
        }
        el = groups.get("element") or element
        if el:
            row["element"] = el
        row.update({key: v for key, v in extra.items() if v})
        rows.append(row)
    if not rows:
        raise SheetError("no files match")
    check_rows(rows)
    rows.sort(key=lambda r: (r["series"], r["time"], r["frame"]))
    return rows


def _where(row) -> str:
    k = row.get("frame_index")
    return str(row["path"]) if k in (None, "") else f"{row['path']} (frame {k})"


def check_rows(rows) -> None:
    """SheetError for two rows of a series with the same frame name or the same time, naming
    both files (and frame indexes)."""
    names, times = {}, {}
    for row in rows:
        key = (row["series"], row["frame"])
        if key in names:
            raise SheetError(f"{_where(row)}: frame name {row['frame']!r} also given to "
                             f"{_where(names[key])}")
        names[key] = row
        tkey = (row["series"], float(row["time"]))
        if tkey in times:
            raise SheetError(f"{_where(row)} and {_where(times[tkey])} map to the same time "
                             f"{float(row['time']):g} of series {row['series']}: times order "
                             "the frames (use --time index, or another --pattern)")
        times[tkey] = row


def expand_sheet(sheet_path, *, notes=None) -> list[dict]:
    """The rows of a sheet with every ``frame_index`` selection (``start:stop:step``) expanded
    into one row per frame (:func:`trajectory_rows`, the row's ``frame`` as the names' prefix;
    a blank ``time``: the file's times). Other rows are kept as they are."""
    import csv

    numbered = _sheet_lines(str(sheet_path))
    reader = csv.reader([ln for _, ln in numbered], delimiter="\t")
    header = [h.strip() for h in next(reader, [])]
    out = []
    for (lineno, _), fields in zip(numbered[1:], reader, strict=True):
        row = {k: (fields[c].strip() if c < len(fields) else "") for c, k in enumerate(header)}
        row = {k: v for k, v in row.items() if v != "" or k in REQUIRED_COLUMNS}
        sel = row.get("frame_index", "")
        if ":" not in sel:
            if not _TIME_RE.fullmatch(row.get("time", "")):
                raise SheetError(f"{sheet_path}: line {lineno}: time {row.get('time', '')!r} is "
                                 "not a number")
            row["time"] = float(row["time"])
            out.append(row)
            continue
        if row.get("time", "") not in ("", "file"):
            raise SheetError(f"{sheet_path}: line {lineno}: a frame_index selection takes its "
                             "times from the file: leave time blank (or write 'file')")
        extra = {k: row[k] for k in ("element", "length_unit", "type_map") if row.get(k)}
        try:
            out += trajectory_rows(row["path"], series=row["series"],
                                   frame_prefix=row.get("frame") or None, frames=sel,
                                   notes=notes, **extra)
        except SheetError as err:
            raise SheetError(f"{sheet_path}: line {lineno}: {err}") from None
    check_rows(out)
    out.sort(key=lambda r: (r["series"], float(r["time"]), r["frame"]))
    return out


#: Columns of the frames sheet (``element``, ``frame_index``, ``length_unit``, ``type_map``
#: optional).
SHEET_COLUMNS = ("series", "frame", "time", "path", "element", "frame_index", "length_unit",
                 "type_map")
OPTIONAL_COLUMNS = SHEET_COLUMNS[4:]
#: Length units a sheet row (or the config) may give (see :data:`nanotraj.io.LENGTH_UNITS`).
LENGTH_UNITS = ("A", "nm")
REQUIRED_COLUMNS = ("series", "frame", "time", "path")

#: Suffixes of the workflow's own files, which sit next to the series' and frames' folders
#: (``results/{series}/summary.csv`` beside ``results/{series}/{frame}/``; the folder names
#: intermediate, logs and benchmarks are reserved by the sheet's schema).
OWN_FILE_SUFFIXES = (".csv", ".png", ".html", ".zip", ".log", ".tsv", ".npz", ".pdb", ".cif")

#: A time: an ASCII decimal number (what Python's float() also accepts -- ``1_000``, non-ASCII
#: digits, ``inf`` -- is refused, as in the coordinates).
_TIME_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def resolve_path(path, workflow_dir=None) -> str:
    """A sheet's (or the configuration's) path: relative to the working directory; a shipped
    resource (the demo sheet and its frames) is found relative to ``workflow_dir`` when the
    working directory lacks it."""
    p = Path(path)
    if p.is_absolute() or p.exists() or workflow_dir is None:
        return str(p)
    shipped = Path(workflow_dir) / p
    return str(shipped) if shipped.exists() else str(p)


def reserved_name(series, frame):
    """Why a series or frame name would collide with the workflow's own files, or None."""
    for kind, name in (("series", series), ("frame", frame)):
        if name.lower().endswith(OWN_FILE_SUFFIXES):
            return (
                f"{kind} name {name!r} ends like a file the workflow writes "
                f"({', '.join(OWN_FILE_SUFFIXES)}): drop the suffix"
            )
    return None


def _sheet_lines(sheet: str) -> list[tuple[int, str]]:
    """The sheet's non-blank, non-comment lines with their line numbers (UTF-8, BOM removed)."""
    try:
        with open(sheet, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise SheetError(f"{sheet}: cannot read the frames sheet ({err.strerror})") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SheetError(f"{sheet}: the frames sheet is UTF-16: save it as UTF-8 (plain text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SheetError(f"{sheet}: line {line} is not UTF-8 text (byte {data[err.start]:#04x}): "
                         "save the sheet as UTF-8") from None
    return [(k, ln) for k, ln in enumerate(text.splitlines(), start=1)
            if ln.strip() and not ln.lstrip().startswith("#")]


def read_frames(sheet_path, *, schema=None, workflow_dir=None, results="results") -> list[dict]:
    """Read and check the frames sheet: one dict per frame with ``series``, ``frame``, ``time``
    (float), ``path`` (resolved, :func:`resolve_path`) and, when given, ``element``.

    Every problem is a :class:`SheetError` with one line naming the sheet and, where a row is at
    fault, the sheet's line number (comments and blank lines counted): a missing file or
    column, a header with a column twice, a sheet that is not UTF-8 text, a row with more
    fields than the header, a time that is not an ASCII decimal number, names that break the
    ``schema`` (``workflow/schemas/frames.schema.yaml``, checked with jsonschema when given) or
    end like the workflow's own files, duplicate frames, two frames of a series at the same
    time, and frame files that do not exist, are not regular files or lie inside ``results``
    (the workflow's own outputs).
    """
    import csv
    import os

    sheet = resolve_path(sheet_path, workflow_dir)
    if not os.path.isfile(sheet):
        raise SheetError(f"{sheet_path}: frames sheet not found (config key 'frames')")
    numbered = _sheet_lines(sheet)
    reader = csv.reader([ln for _, ln in numbered], delimiter="\t")
    raw_header = next(reader, [])
    header = [h.strip() for h in raw_header]
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing_cols:
        hint = ""
        if len(header) == 1 and ("," in header[0] or ";" in header[0]):
            hint = "; the header has no tab: is the sheet comma-separated?"
        elif len(header) == 1 and len(header[0].split()) > 1:
            hint = "; the header has no tab: is the sheet separated by spaces?"
        elif {h.lower() for h in header} >= set(missing_cols):
            hint = "; column names are lower case"
        raise SheetError(
            f"{sheet}: missing column(s) {', '.join(missing_cols)} "
            f"(tab-separated header: series, frame, time, path[, element]){hint}"
        )
    twice = sorted({h for h in header if header.count(h) > 1 and h})
    if twice:
        raise SheetError(f"{sheet}: line {numbered[0][0]}: column(s) {', '.join(twice)} appear "
                         "more than once in the header")
    for h in header:  # `Element` would be an extra column, ignored: say so
        if h not in SHEET_COLUMNS and h.lower() in SHEET_COLUMNS:
            raise SheetError(f"{sheet}: column {h!r}: column names are lower case "
                             f"({h.lower()!r})")
    rows = []
    for (lineno, _), fields in zip(numbered[1:], reader, strict=True):
        if len(fields) > len(header):
            raise SheetError(
                f"{sheet}: line {lineno} has {len(fields)} fields, the header {len(header)} "
                "(a tab inside a name or path?)")
        row = {k: (fields[c].strip() if c < len(fields) else "") for c, k in enumerate(header)}
        for key in OPTIONAL_COLUMNS:
            if not row.get(key):
                row.pop(key, None)
        _type_optional(sheet, lineno, row)
        text = row["time"]
        if not _TIME_RE.fullmatch(text):
            raise SheetError(f"{sheet}: line {lineno}: time {text!r} is not a number "
                             "(digits, '.', an exponent)")
        row["time"] = float(text)
        if not math.isfinite(row["time"]):
            raise SheetError(f"{sheet}: line {lineno}: time {text!r} is not finite")
        rows.append((lineno, row))
    if not rows:
        raise SheetError(f"{sheet}: the frames sheet has no frames")
    if schema is not None:
        _validate_rows(sheet, rows, schema)
    for lineno, row in rows:
        clash = reserved_name(row["series"], row["frame"])
        if clash:
            raise SheetError(f"{sheet}: line {lineno}: {clash}")
    seen, dups, times = set(), [], {}
    for lineno, row in rows:
        row["path"] = resolve_path(row["path"], workflow_dir)
        key = (row["series"], row["frame"])
        if key in seen:
            dups.append(f"{'/'.join(key)} (line {lineno})")
        seen.add(key)
    if dups:
        raise SheetError(f"{sheet}: duplicate frame(s) within a series: {', '.join(dups)}")
    for lineno, row in rows:
        tkey = (row["series"], row["time"])
        if tkey in times:
            other_line, other = times[tkey]
            raise SheetError(f"{sheet}: series {row['series']} has several frames at the same "
                             f"time {row['time']:g}: {row['frame']} (line {lineno}, "
                             f"{_where(row)}) and {other['frame']} (line {other_line}, "
                             f"{_where(other)}); times order the frames")
        times[tkey] = (lineno, row)
    _check_frame_files(sheet, rows, results)
    return [row for _, row in rows]


def _type_optional(sheet, lineno, row) -> None:
    """Type and check a row's optional columns in place: ``frame_index`` a whole number (a
    selection must be expanded first), ``length_unit`` one of :data:`LENGTH_UNITS`,
    ``type_map`` ``type:element`` pairs (written back normalised, ``1:Pt,2:Ni``)."""
    text = row.get("frame_index")
    if text is not None:
        if ":" in text:
            raise SheetError(f"{sheet}: line {lineno}: frame_index {text!r} selects several "
                             "frames: expand it into one row per frame with "
                             f"nanotraj-sheet --expand {sheet} -o <new sheet>")
        if not text.isdigit():
            raise SheetError(f"{sheet}: line {lineno}: frame_index {text!r} is not a whole "
                             "number (0 is the file's first frame)")
        row["frame_index"] = int(text)
    unit = row.get("length_unit")
    if unit is not None and unit not in LENGTH_UNITS:
        raise SheetError(f"{sheet}: line {lineno}: length_unit {unit!r} is not one of "
                         f"{', '.join(LENGTH_UNITS)}")
    tmap = row.get("type_map")
    if tmap is not None:
        from nanotraj.trajectory import parse_type_map

        try:
            parsed = parse_type_map(tmap)
        except ValueError as err:
            raise SheetError(f"{sheet}: line {lineno}: {err}") from None
        row["type_map"] = ",".join(f"{k}:{v}" for k, v in sorted(parsed.items()))


def _check_frame_files(sheet, rows, results):
    import os
    import stat

    missing, special, own = [], [], []
    outputs = os.path.realpath(results)
    for lineno, row in rows:
        path = row["path"]
        try:
            mode = os.stat(path).st_mode
        except OSError:
            missing.append(f"{path} (line {lineno})")
            continue
        if not stat.S_ISREG(mode):
            special.append(f"{path} (line {lineno})")
        elif os.path.realpath(path).startswith(outputs + os.sep):
            own.append(f"{path} (line {lineno})")
    if missing:
        raise SheetError(f"{sheet}: {len(missing)} frame file(s) do not exist: "
                         f"{', '.join(missing)}")
    if special:
        raise SheetError(f"{sheet}: not a regular file (a folder, pipe or device): "
                         f"{', '.join(special)}")
    if own:
        raise SheetError(f"{sheet}: frame file(s) inside the workflow's output folder "
                         f"{results}/: {', '.join(own)}; copy them elsewhere")


def _validate_rows(sheet, rows, schema):
    """Check the rows against the sheet's JSON schema (loaded once); name the first bad row."""
    import jsonschema
    import yaml

    with open(schema, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(spec)
    if validator.is_valid({"rows": [r for _, r in rows]}):
        return
    row_validator = jsonschema.Draft202012Validator({**spec["$defs"]["row"],
                                                     "$defs": spec["$defs"]})
    for lineno, row in rows:
        error = next(iter(row_validator.iter_errors(row)), None)
        if error is not None:
            bad = {k: row.get(k) for k in ("series", "frame", "path", *OPTIONAL_COLUMNS)
                   if k in row}
            raise SheetError(f"{sheet}: line {lineno} is invalid {bad}: {error.message}")


def _natural_key(text: str):
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def format_sheet(rows) -> str:
    """The TSV text of ``rows`` (the optional columns only when some row has them)."""
    cols = ["series", "frame", "time", "path"]
    cols += [c for c in OPTIONAL_COLUMNS if any(r.get(c) not in (None, "") for r in rows)]
    lines = ["\t".join(cols)]
    for r in rows:
        t = r["time"]
        t_text = str(int(t)) if float(t).is_integer() else repr(float(t))
        values = {**r, "time": t_text}
        lines.append("\t".join(str(values.get(c, "")) for c in cols))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="nanotraj-sheet",
        description="Write a nanotraj frames sheet (TSV) from frame files (PDB, mmCIF, XYZ, "
                    "extended XYZ, LAMMPS dumps); a file of several frames gives a row per "
                    "frame.",
    )
    parser.add_argument("globs", nargs="*", help="file globs, e.g. 'data/*.pdb' (quote them)")
    parser.add_argument("--pattern", help="regex searched in each file name, with named groups "
                        "time (required), frame, series, element; default: the last number")
    parser.add_argument("--series", help="series name (default: the folder name)")
    parser.add_argument("--time", choices=("pattern", "index"), default="pattern",
                        help="take the time from the pattern (default) or number files 0,1,2...")
    parser.add_argument("--element", help="element column for every row (e.g. Au)")
    parser.add_argument("--frames", help="frames of multi-frame files, start:stop:step "
                        "(a Python slice; default all)")
    parser.add_argument("--length-unit", choices=LENGTH_UNITS,
                        help="length_unit column for every row (default: the config's, A)")
    parser.add_argument("--type-map", help="LAMMPS type -> element for every row, e.g. 1:Pt,2:Ni")
    parser.add_argument("--expand", metavar="SHEET", help="expand the frame_index selections "
                        "(start:stop:step) of this sheet into one row per frame")
    parser.add_argument("-o", "--output", help="sheet to write (default: standard output)")
    args = parser.parse_args(argv)
    if bool(args.expand) == bool(args.globs):
        parser.error("give file globs or --expand SHEET")
    paths = []
    for g in args.globs:
        matched = glob.glob(g)
        if not matched and Path(g).is_file():
            matched = [g]
        paths += [p for p in matched if Path(p).is_file()]
    notes = []
    try:
        if args.type_map:
            from nanotraj.trajectory import parse_type_map

            try:
                parse_type_map(args.type_map)
            except ValueError as err:
                raise SheetError(str(err)) from None
        if args.expand:
            rows = expand_sheet(args.expand, notes=notes)
        else:
            rows = build_rows(sorted(set(paths)), pattern=args.pattern, series=args.series,
                              time=args.time, element=args.element,
                              frames=_frame_slice(args.frames) if args.frames else None,
                              length_unit=args.length_unit, type_map=args.type_map,
                              notes=notes)
    except SheetError as err:
        print(f"nanotraj-sheet: {err}", file=sys.stderr)
        return 2
    except re.error as err:
        print(f"nanotraj-sheet: bad --pattern: {err}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"nanotraj-sheet: note: {note}", file=sys.stderr)
    text = format_sheet(rows)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} frames to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
