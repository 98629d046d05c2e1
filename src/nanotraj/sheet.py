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


def build_rows(paths, *, pattern=None, series=None, time="pattern", element=None):
    """Rows (dicts with series, frame, time, path[, element]) for ``paths``.

    ``time="pattern"`` takes the time from the pattern's ``time`` group (default pattern: the last
    number in the file name); ``time="index"`` numbers the files 0, 1, 2... in natural name order.
    """
    regex = re.compile(pattern) if pattern else re.compile(r"(?P<time>\d+(?:\.\d+)?)(?!.*\d)")
    rows = []
    paths = sorted((Path(p) for p in paths), key=lambda p: _natural_key(str(p)))
    for index, path in enumerate(paths):
        m = regex.search(path.name)
        groups = m.groupdict() if m else {}
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
        rows.append(row)
    if not rows:
        raise SheetError("no files match")
    seen = {}
    for row in rows:
        key = (row["series"], row["frame"])
        if key in seen:
            other = seen[key]
            raise SheetError(f"{row['path']}: frame name {row['frame']!r} also given to {other}")
        seen[key] = row["path"]
    rows.sort(key=lambda r: (r["series"], r["time"], r["frame"]))
    return rows


#: Columns of the frames sheet (``element`` optional).
SHEET_COLUMNS = ("series", "frame", "time", "path", "element")
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
        if not row.get("element"):
            row.pop("element", None)
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
        times.setdefault(row["series"], []).append(row["time"])
    if dups:
        raise SheetError(f"{sheet}: duplicate frame(s) within a series: {', '.join(dups)}")
    for series, ts in times.items():
        if len(set(ts)) != len(ts):
            raise SheetError(f"{sheet}: series {series} has several frames at the same time; "
                             "times order the frames")
    _check_frame_files(sheet, rows, results)
    return [row for _, row in rows]


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
            bad = {k: row.get(k) for k in ("series", "frame", "path", "element") if k in row}
            raise SheetError(f"{sheet}: line {lineno} is invalid {bad}: {error.message}")


def _natural_key(text: str):
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def format_sheet(rows) -> str:
    """The TSV text of ``rows`` (an ``element`` column only when some row has one)."""
    cols = ["series", "frame", "time", "path"]
    if any("element" in r for r in rows):
        cols.append("element")
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
        description="Write a nanotraj frames sheet (TSV) from PDB/mmCIF files.",
    )
    parser.add_argument("globs", nargs="+", help="file globs, e.g. 'data/*.pdb' (quote them)")
    parser.add_argument("--pattern", help="regex searched in each file name, with named groups "
                        "time (required), frame, series, element; default: the last number")
    parser.add_argument("--series", help="series name (default: the folder name)")
    parser.add_argument("--time", choices=("pattern", "index"), default="pattern",
                        help="take the time from the pattern (default) or number files 0,1,2...")
    parser.add_argument("--element", help="element column for every row (e.g. Au)")
    parser.add_argument("-o", "--output", help="sheet to write (default: standard output)")
    args = parser.parse_args(argv)
    paths = []
    for g in args.globs:
        matched = glob.glob(g)
        if not matched and Path(g).is_file():
            matched = [g]
        paths += [p for p in matched if Path(p).is_file()]
    try:
        rows = build_rows(sorted(set(paths)), pattern=args.pattern, series=args.series,
                          time=args.time, element=args.element)
    except SheetError as err:
        print(f"nanotraj-sheet: {err}", file=sys.stderr)
        return 2
    except re.error as err:
        print(f"nanotraj-sheet: bad --pattern: {err}", file=sys.stderr)
        return 2
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
