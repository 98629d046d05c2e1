"""Tables as HTML pages for the report: every cell present, numbers shortened with the exact
value kept, the embedded download byte-identical to the CSV, HTML escaped, long tables cut."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

from nanotraj import htmltable
from nanotraj.tables import write_rows


class Cells(HTMLParser):
    """Header texts, and per body row the cells' (text, data-v, title)."""

    def __init__(self):
        super().__init__()
        self.header, self.rows, self._cell, self._in = [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._row = []
        if tag in ("th", "td"):
            self._in, self._cell = tag, ["", a.get("data-v"), a.get("title")]

    def handle_data(self, data):
        if self._in:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._in:
            (self.header if tag == "th" else self._row).append(
                self._cell[0] if tag == "th" else tuple(self._cell))
            self._in = None
        if tag == "tr" and self._row:
            self.rows.append(self._row)


def test_every_cell_with_its_exact_value(tmp_path):
    csv = tmp_path / "summary.csv"
    rows = [{"series": "A<b>", "frame": "1", "time": 0.0, "q6_mean": 0.574524259, "cn": 12,
             "status": "ok", "note": ""},
            {"series": "A<b>", "frame": "2", "time": 1.5, "q6_mean": float("nan"), "cn": 9,
             "status": "rejected: truncated", "note": "x,y"}]
    write_rows(csv, list(rows[0]), rows)
    out = htmltable.write_html(csv, tmp_path / "summary.html", title="Series A<b>")
    text = out.read_text(encoding="utf-8")
    assert "<b>" not in text.replace("<body>", "")  # user text is escaped
    p = Cells()
    p.feed(text)
    assert p.header == list(rows[0])
    assert len(p.rows) == 2 and all(len(r) == 7 for r in p.rows)
    q6 = p.rows[0][3]
    assert q6[0] == "0.5745" and float(q6[1]) == 0.574524259 and q6[2] == q6[1]
    assert p.rows[0][4][0] == "12" and p.rows[0][0][0] == "A<b>"
    assert p.rows[1][3][1] == ""  # nan sorts as empty
    assert p.rows[1][6][0] == "x,y"  # quoted CSV field kept whole
    # the download is the CSV, byte for byte
    data = re.search(r'href="data:text/csv;base64,([^"]+)"', text).group(1)
    assert base64.b64decode(data) == csv.read_bytes()
    assert 'download="summary.csv"' in text
    assert "http://" not in text and "https://" not in text  # nothing fetched: works offline


def test_long_and_empty_tables(tmp_path):
    csv = tmp_path / "t.csv"
    write_rows(csv, ["a"], [{"a": i} for i in range(12)])
    text = htmltable.render(csv.read_text(), title="t", max_rows=5)
    p = Cells()
    p.feed(text)
    assert [r[0][0] for r in p.rows] == ["0", "1", "2", "3", "4"]
    assert "Showing the first 5 of 12 rows" in text
    write_rows(csv, ["a", "b"], [])
    text = htmltable.render(csv.read_text(), title="t")
    assert "The table has no rows" in text and "0 row(s)" in text
