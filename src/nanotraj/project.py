"""A project folder for one's own data, and the record of which run made ``results/``.

``nanotraj-init DIR "data/*.pdb" --time-unit min`` writes ``DIR/config/config.yaml`` (the shipped
configuration with this project's sheet, element and time unit) and ``DIR/config/frames.tsv``
(:func:`nanotraj.sheet.build_rows`), so that every command run in ``DIR`` -- the run, a rerun,
the report -- uses the same configuration:

    cd DIR && snakemake -s path/to/nanotraj/Snakefile --cores 4
    snakemake -s path/to/nanotraj/Snakefile --report results/report.html

The workflow records the configuration of the run that wrote ``results/`` in
``results/run.json`` (:func:`write_record`); a report of another configuration is refused, and a
run with another sheet warns that it writes beside another run's results (:func:`compare`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from nanotraj import layout

__all__ = ["RECORD", "config_digest", "write_record", "compare", "init_project", "main"]

#: The record of the configuration that produced ``results/``.
RECORD = layout.run_file("run.json")


def config_digest(config: dict) -> str:
    """A short hash of the configuration (keys sorted): equal configurations, equal digests."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_record(config: dict, *, path=RECORD, version="") -> None:
    """Write ``results/run.json``: the sheet, the configuration's digest and the version."""
    from nanotraj.tables import write_text

    record = {"frames": str(config.get("frames", "")), "config": config_digest(config),
              "version": version}
    write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def compare(config: dict, *, path=RECORD) -> str | None:
    """Why ``results/`` were not made with ``config`` (another sheet, another configuration),
    or None when they were or no run is recorded."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        record = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    frames = str(config.get("frames", ""))
    if record.get("frames") != frames:
        return (f"{path} was written by a run of the sheet {record.get('frames')!r}, not "
                f"{frames!r}")
    if record.get("config") != config_digest(config):
        return f"{path} was written by a run with another configuration (same sheet)"
    return None


def _shipped_config() -> str:
    """The repository's commented config/config.yaml (a wheel has only the library: then the
    three keys; the schema fills in the rest)."""
    cfg = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
    if cfg.is_file():
        return cfg.read_text(encoding="utf-8")
    return "frames: config/frames.tsv\nelement: Pt\ntime_unit: s\n"


def init_project(folder, paths, *, time_unit, element="Pt", pattern=None, series=None,
                 time="pattern", force=False) -> tuple[Path, Path]:
    """Write ``folder/config/config.yaml`` and ``folder/config/frames.tsv`` for ``paths`` (frame
    files; their paths are written relative to ``folder`` when inside it). Returns both paths.
    Refuses to overwrite an existing configuration unless ``force``."""
    from nanotraj.sheet import SheetError, build_rows, format_sheet

    folder = Path(folder)
    cfg_path = folder / "config" / "config.yaml"
    sheet_path = folder / "config" / "frames.tsv"
    if not force and (cfg_path.exists() or sheet_path.exists()):
        raise SheetError(f"{cfg_path.parent} already has a configuration (--force replaces it)")
    if not re.fullmatch(r"[^<>&\"'`\\{}\x00-\x1f]{1,40}", time_unit):
        raise SheetError(f"time unit {time_unit!r}: 1-40 characters, none of <>&\"'`\\{{}}")
    rows = build_rows(paths, pattern=pattern, series=series, time=time, element=None)
    base = folder.resolve()
    for row in rows:
        p = Path(row["path"]).resolve()
        row["path"] = str(p.relative_to(base)) if p.is_relative_to(base) else str(p)
    text = _shipped_config()
    text = re.sub(r"(?m)^frames: .*$", "frames: config/frames.tsv", text)
    text = re.sub(r"(?m)^element: .*$", f"element: {element}", text)
    text = re.sub(r"(?m)^time_unit: .*$", f"time_unit: {json.dumps(time_unit)}", text)
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(text, encoding="utf-8")
    sheet_path.write_text(format_sheet(rows), encoding="utf-8")
    return cfg_path, sheet_path


def main(argv=None) -> int:
    import argparse
    import glob

    from nanotraj.sheet import SheetError

    ap = argparse.ArgumentParser(
        prog="nanotraj-init",
        description="Make a project folder: config/config.yaml and config/frames.tsv for your "
                    "frames; then run snakemake -s path/to/nanotraj/Snakefile in that folder.")
    ap.add_argument("folder", help="the project folder (created)")
    ap.add_argument("globs", nargs="+", help="frame files, e.g. 'data/*.pdb' (quote them)")
    ap.add_argument("--time-unit", required=True,
                    help="unit of the times in the file names (s, min, frame, ...): it labels "
                         "every figure")
    ap.add_argument("--element", default="Pt", help="element of the particles (default Pt)")
    ap.add_argument("--pattern", help="regex with a named group time (as nanotraj-sheet)")
    ap.add_argument("--series", help="series name (default: the folder name)")
    ap.add_argument("--time", choices=("pattern", "index"), default="pattern")
    ap.add_argument("--force", action="store_true", help="replace an existing configuration")
    args = ap.parse_args(argv)
    paths = sorted({p for g in args.globs for p in (glob.glob(g) or [g]) if Path(p).is_file()})
    try:
        cfg, sheet = init_project(args.folder, paths, time_unit=args.time_unit,
                                  element=args.element, pattern=args.pattern,
                                  series=args.series, time=args.time, force=args.force)
    except (SheetError, re.error) as err:
        print(f"nanotraj-init: {err}", file=sys.stderr)
        return 2
    n = len(sheet.read_text().splitlines()) - 1
    print(f"wrote {cfg} and {sheet} ({n} frames); next:\n"
          f"  cd {args.folder} && snakemake -s {Path(__file__).resolve().parents[2]}/Snakefile "
          f"--cores 4", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
