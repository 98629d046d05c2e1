"""The frames-sheet builder (nanotraj-sheet)."""

import csv
import json

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


# ------------------------------------------------------------------------------------------
# reading and checking a sheet (what the workflow does at start-up)

SCHEMA = __import__("pathlib").Path(__file__).resolve().parents[1] / "workflow" / "schemas" / (
    "frames.schema.yaml")


def _sheet(tmp_path, text, *, encoding="utf-8", frames=("a.pdb", "b.pdb")):
    for name in frames:
        (tmp_path / name).write_text("ATOM\n")
    path = tmp_path / "frames.tsv"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def _read(path, **kw):
    from nanotraj.sheet import read_frames

    return read_frames(path, schema=SCHEMA, results=path.parent / "results", **kw)


def test_read_frames_types_resolves_and_keeps_line_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _sheet(tmp_path, "# comment\nseries\tframe\ttime\tpath\telement\n"
                            "s\tb\t2e1\tb.pdb\t\ns\ta\t-1.5\ta.pdb\tAu\n")
    rows = _read(path)
    assert rows == [{"series": "s", "frame": "b", "time": 20.0, "path": "b.pdb"},
                    {"series": "s", "frame": "a", "time": -1.5, "path": "a.pdb",
                     "element": "Au"}]


@pytest.mark.parametrize(("text", "message"), [
    ("series\tframe\ttime\tpath\tpath\ns\ta\t1\ta.pdb\tb.pdb\n",
     "line 1: column(s) path appear more than once"),
    ("series,frame,time,path\ns,a,1,a.pdb\n", "is the sheet comma-separated?"),
    ("series frame time path\ns a 1 a.pdb\n", "is the sheet separated by spaces?"),
    ("Series\tFrame\tTime\tPath\ns\ta\t1\ta.pdb\n", "column names are lower case"),
    ("series\tframe\ttime\tpath\n\ns\ta\t1_000\ta.pdb\n", "line 3: time '1_000' is not a number"),
    ("series\tframe\ttime\tpath\ns\ta\t\u0661\ta.pdb\n", "is not a number"),
    ("series\tframe\ttime\tpath\ns\ta\tinf\ta.pdb\n", "is not a number"),
    ("series\tframe\ttime\tpath\ns\ta\t1\ta.pdb\textra\n", "line 2 has 5 fields"),
    ("series\tframe\ttime\tpath\ns\ta b\t1\ta.pdb\n", "line 2 is invalid"),
    ("series\tframe\ttime\tpath\ns\tsummary.csv\t1\ta.pdb\n", "line 2: frame name"),
    ("series\tframe\ttime\tpath\ns\ta\t1\ta.pdb\ns\ta\t2\tb.pdb\n", "a (line 3)"),
    ("series\tframe\ttime\tpath\ns\ta\t1\ta.pdb\ns\tb\t1\tb.pdb\n", "at the same time"),
    ("series\tframe\ttime\tpath\ns\ta\t1\tnope.pdb\n", "do not exist: nope.pdb (line 2)"),
    ("series\tframe\ttime\tpath\n# only a comment\n", "has no frames"),
])
def test_read_frames_one_line_errors(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SheetError, match=__import__("re").escape(message)) as err:
        _read(_sheet(tmp_path, text))
    assert "\n" not in str(err.value) and "frames.tsv" in str(err.value)


@pytest.mark.parametrize(("encoding", "message"), [
    ("utf-16", "the frames sheet is UTF-16: save it as UTF-8"),
    ("latin-1", "line 2 is not UTF-8 text"),
])
def test_read_frames_refuses_other_encodings(tmp_path, monkeypatch, encoding, message):
    monkeypatch.chdir(tmp_path)
    text = "series\tframe\ttime\tpath\ns\tr\u00e9\t1\ta.pdb\n"
    with pytest.raises(SheetError, match=message):
        _read(_sheet(tmp_path, text, encoding=encoding))


def test_read_frames_refuses_special_files_and_own_outputs(tmp_path, monkeypatch):
    import os

    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "pipe.pdb")
    (tmp_path / "folder.pdb").mkdir()
    text = "series\tframe\ttime\tpath\ns\ta\t1\tpipe.pdb\ns\tb\t2\tfolder.pdb\n"
    with pytest.raises(SheetError, match=r"not a regular file .*pipe.pdb \(line 2\), "
                                         r"folder.pdb \(line 3\)"):
        _read(_sheet(tmp_path, text))
    (tmp_path / "results" / "s" / "a").mkdir(parents=True)
    (tmp_path / "results" / "s" / "a" / "fate.pdb").write_text("ATOM\n")
    text = "series\tframe\ttime\tpath\nt\ta\t1\tresults/s/a/fate.pdb\n"
    with pytest.raises(SheetError, match="inside the workflow's output folder"):
        _read(_sheet(tmp_path, text))


def test_config_prepare_types_values_and_refuses_nan():
    from nanotraj.config import prepare
    from nanotraj.errors import ConfigError

    cfg = prepare({"rdf": {"dr": "0.05", "max_centres": "100"}, "tracking": {"align": "True"},
                   "element": "1", "cutoff": "auto", "time_unit": "3"})
    assert cfg == {"rdf": {"dr": 0.05, "max_centres": 100}, "tracking": {"align": True},
                   "element": "1", "cutoff": "auto", "time_unit": "3"}
    with pytest.raises(ConfigError, match="cutoff, rdf.dr must be a finite number"):
        prepare({"cutoff": "nan", "rdf": {"dr": "inf"}})


def test_schema_message_is_one_line_naming_the_key(tmp_path):
    """The config schema's failure, as Snakemake raises it (a WorkflowError whose text is the
    schema excerpt, the ValidationError on its chain), becomes one line with the dotted key,
    jsonschema's reason and the key's description; without a ValidationError, the first line."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from nanotraj.config import schema_message

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "rdf": {
                "type": "object",
                "properties": {
                    "dr": {"type": "number", "exclusiveMinimum": 0, "description": "bin width"}
                },
            }
        },
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    with pytest.raises(WorkflowError) as info:
        validate({"rdf": {"dr": -1}}, str(path))
    assert len(str(info.value).splitlines()) > 3  # what Snakemake would print
    msg = schema_message(info.value, "config")
    assert msg == "config: key rdf.dr: -1 is less than or equal to the minimum of 0 (bin width)"
    plain = WorkflowError("first line\nsecond line")
    assert schema_message(plain, "config") == "config: first line"


# ------------------------------------------------------------------------------------------
# trajectories: a row per frame, frame_index, length_unit, type_map


def _xyz_frames(path, times=(0.0, 0.5, 1.0), n=5):
    text = ""
    for k, t in enumerate(times):
        comment = "Properties=species:S:1:pos:R:3" + ("" if t is None else f" time={t}")
        text += f"{n}\n{comment}\n" + "".join(f"Pt {3.0 * i} {k} 0.0\n" for i in range(n))
    path.write_text(text)
    return path


def test_trajectory_gives_a_row_per_frame_with_the_files_times(tmp_path):
    traj = _xyz_frames(tmp_path / "growth.extxyz", times=(0.0, 0.5, 1.0, 1.5, 2.0))
    rows = build_rows([traj], series="g")
    assert [(r["frame"], r["frame_index"], r["time"]) for r in rows] == [
        ("growth_0", 0, 0.0), ("growth_1", 1, 0.5), ("growth_2", 2, 1.0), ("growth_3", 3, 1.5),
        ("growth_4", 4, 2.0)]
    rows = build_rows([traj], series="g", frames=slice(1, None, 2), length_unit="nm")
    assert [(r["frame_index"], r["time"], r["length_unit"]) for r in rows] == [
        (1, 0.5, "nm"), (3, 1.5, "nm")]
    rows = build_rows([traj], series="g", time="index")
    assert [r["time"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    notes = []
    rows = build_rows([_xyz_frames(tmp_path / "t.xyz", times=(None, None))], series="h",
                      notes=notes)
    assert [r["time"] for r in rows] == [0.0, 1.0] and "no time" in notes[0]


def test_two_files_at_the_same_time_are_refused_naming_both(tmp_path):
    a = _xyz_frames(tmp_path / "a.extxyz", times=(0.0, 1.0))
    b = _xyz_frames(tmp_path / "b.extxyz", times=(1.0, 2.0))
    with pytest.raises(SheetError) as err:
        build_rows([a, b], series="s")
    msg = str(err.value)
    assert f"{b} (frame 0) and {a} (frame 1) map to the same time 1 of series s" in msg
    _touch(tmp_path / "p", ["x_t1.pdb", "y_t1.pdb"])
    with pytest.raises(SheetError, match=r"y_t1.pdb and .*x_t1.pdb map to the same time 1"):
        build_rows(sorted((tmp_path / "p").glob("*.pdb")), series="s",
                   pattern=r"(?P<frame>\w)_t(?P<time>\d+)")


def test_cli_trajectory_and_expand(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _xyz_frames(tmp_path / "run.extxyz", times=(0.0, 0.5, 1.0, 1.5))
    assert main(["run.extxyz", "--series", "r", "--frames", "::2", "--type-map", "1:Pt",
                 "-o", "f.tsv"]) == 0
    with open("f.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["frame"], r["frame_index"], r["time"], r["type_map"]) for r in rows] == [
        ("run_0", "0", "0", "1:Pt"), ("run_2", "2", "1", "1:Pt")]
    (tmp_path / "sel.tsv").write_text("series\tframe\ttime\tpath\tframe_index\tlength_unit\n"
                                      "r\tpart\t\trun.extxyz\t1:4\tnm\n")
    assert main(["--expand", "sel.tsv", "-o", "x.tsv"]) == 0
    with open("x.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["frame"], r["frame_index"], r["time"], r["length_unit"]) for r in rows] == [
        ("part_1", "1", "0.5", "nm"), ("part_2", "2", "1", "nm"), ("part_3", "3", "1.5", "nm")]
    assert _read(tmp_path / "x.tsv")[0]["frame_index"] == 1
    assert main(["run.extxyz", "--type-map", "Pt"]) == 2
    assert "type_map" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "values", "message"), [
    ("frame_index", "0:10:2", "frame_index '0:10:2' selects several frames: expand it"),
    ("frame_index", "x", "frame_index 'x' is not a whole number"),
    ("length_unit", "pm", "length_unit 'pm' is not one of A, nm"),
    ("type_map", "1=Pt", "type_map '1=Pt': expected type:element pairs"),
])
def test_read_frames_optional_columns_errors(tmp_path, monkeypatch, extra, values, message):
    monkeypatch.chdir(tmp_path)
    text = f"series\tframe\ttime\tpath\t{extra}\ns\ta\t1\ta.pdb\t{values}\n"
    with pytest.raises(SheetError, match=__import__("re").escape(message)) as err:
        _read(_sheet(tmp_path, text))
    assert "line 2" in str(err.value)


def test_read_frames_types_the_optional_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = ("series\tframe\ttime\tpath\tframe_index\tlength_unit\ttype_map\n"
            "s\ta\t1\ta.pdb\t3\tnm\t2:ni, 1:Pt\ns\tb\t2\tb.pdb\t\t\t\n")
    rows = _read(_sheet(tmp_path, text))
    assert rows[0] | {} == {"series": "s", "frame": "a", "time": 1.0, "path": "a.pdb",
                            "frame_index": 3, "length_unit": "nm", "type_map": "1:Pt,2:Ni"}
    assert rows[1] == {"series": "s", "frame": "b", "time": 2.0, "path": "b.pdb"}


def test_config_prepare_keeps_the_type_map_as_strings():
    from nanotraj.config import prepare

    cfg = prepare({"type_map": {1: "Pt", "2": "Ni"}, "cutoff": "3.3", "length_unit": "nm"})
    assert cfg == {"type_map": {"1": "Pt", "2": "Ni"}, "cutoff": 3.3, "length_unit": "nm"}
