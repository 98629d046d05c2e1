"""The frames-sheet builder (nanotraj-sheet)."""

import csv

import pytest

from nanotraj.sheet import SheetError, build_rows, format_sheet, main


def _touch(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_text("END\n")
    return folder


def test_time_from_pattern_orders_rows(tmp_path):
    d = _touch(tmp_path / "p1", ["stage10.pdb", "stage2.pdb", "stage1.pdb"])
    rows = build_rows(sorted(d.glob("*.pdb")), pattern=r"stage(?P<time>\d+)", series="p1")
    assert [r["time"] for r in rows] == [1.0, 2.0, 10.0]
    assert [r["frame"] for r in rows] == ["stage1", "stage2", "stage10"]
    assert {r["series"] for r in rows} == {"p1"}


def test_named_groups_series_frame_element(tmp_path):
    d = _touch(tmp_path, ["Au_A_t0.5.cif", "Au_A_t1.5.cif", "Pt_B_t0.5.cif"])
    pattern = r"(?P<element>[A-Z][a-z]?)_(?P<series>[A-Z])_t(?P<time>\d+(?:\.\d+)?)"
    rows = build_rows(list(d.glob("*.cif")), pattern=pattern)
    assert [(r["series"], r["time"], r["element"]) for r in rows] == [
        ("A", 0.5, "Au"),
        ("A", 1.5, "Au"),
        ("B", 0.5, "Pt"),
    ]


def test_default_pattern_is_last_number_and_folder_is_series(tmp_path):
    d = _touch(tmp_path / "run7", ["frame_3_t0020.pdb", "frame_4_t0030.pdb"])
    rows = build_rows(list(d.glob("*.pdb")))
    assert [r["time"] for r in rows] == [20.0, 30.0]
    assert rows[0]["series"] == "run7"


def test_index_time_and_missing_time_error(tmp_path):
    d = _touch(tmp_path, ["a.pdb", "b.pdb"])
    with pytest.raises(SheetError, match="a.pdb"):
        build_rows(list(d.glob("*.pdb")), pattern=r"t(?P<time>\d+)")
    rows = build_rows(list(d.glob("*.pdb")), time="index")
    assert [r["time"] for r in rows] == [0.0, 1.0]


def test_duplicate_frame_names_are_an_error(tmp_path):
    _touch(tmp_path / "a", ["x1.pdb"])
    _touch(tmp_path / "b", ["x1.pdb"])
    with pytest.raises(SheetError, match="also given"):
        build_rows([tmp_path / "a/x1.pdb", tmp_path / "b/x1.pdb"], series="s")


def test_cli_writes_a_sheet_the_workflow_reads(tmp_path, capsys):
    d = _touch(tmp_path / "data", ["s_1.pdb", "s_2.pdb"])
    out = tmp_path / "frames.tsv"
    assert main([str(d / "*.pdb"), "--series", "demo", "-o", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["frame"] for r in rows] == ["s_1", "s_2"]
    assert [r["time"] for r in rows] == ["1", "2"]
    assert main([str(tmp_path / "nothing*.pdb")]) == 2
    assert "no files match" in capsys.readouterr().err


def test_format_sheet_keeps_fractional_times():
    text = format_sheet([{"series": "s", "frame": "f", "time": 0.25, "path": "f.pdb"}])
    assert text.splitlines() == ["series\tframe\ttime\tpath", "s\tf\t0.25\tf.pdb"]
