"""Write a frames sheet (``config/frames.tsv``) from a folder of PDB/mmCIF files.

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
    """A sheet cannot be made from these files and options (one-line message)."""


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
