"""Tables as self-contained HTML pages, for the Snakemake report.

Snakemake's report only offers a CSV for download; a scientist wants to read the table where the
figures are. :func:`write_html` turns a CSV written by :mod:`nanotraj.tables` into one HTML file
with no external resource (the report is opened offline): a sticky header, numbers right-aligned
and shown to 4 significant digits (the exact value of the CSV as the cell's tooltip), columns
sortable by a click on their header, and a link that downloads the CSV itself (embedded as a
``data:`` URI, byte-identical to the file). The CSV stays the reference; the page is a view.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from pathlib import Path

__all__ = ["MAX_ROWS", "render", "write_html"]

#: Rows shown in the page; a longer table says how many were left out (the download is whole).
MAX_ROWS = 5000

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:13px;margin:8px}
h1{font-size:15px;margin:4px 0}
p.note{color:#555;margin:4px 0 8px 0}
div.wrap{overflow:auto;max-height:88vh;border:1px solid #ccc}
table{border-collapse:collapse;white-space:nowrap}
th,td{padding:2px 8px;border-bottom:1px solid #eee}
th{position:sticky;top:0;background:#f4f4f4;cursor:pointer;text-align:left;
   border-bottom:1px solid #999;user-select:none}
th.sorted-up:after{content:" \\25B2"} th.sorted-down:after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.empty{color:#aaa}
tr:hover td{background:#fffbe6}
td.bad{color:#a00}
"""

# Sort by a column on a click (numbers numerically, empty cells last), toggling the direction.
_SCRIPT = """
document.querySelectorAll("th").forEach(function(th, col){
  th.addEventListener("click", function(){
    var body = th.closest("table").tBodies[0];
    var up = !th.classList.contains("sorted-up");
    th.parentNode.querySelectorAll("th").forEach(function(h){
      h.classList.remove("sorted-up", "sorted-down");});
    th.classList.add(up ? "sorted-up" : "sorted-down");
    var rows = Array.prototype.slice.call(body.rows);
    function key(r){var c = r.cells[col]; var v = c.getAttribute("data-v");
      if (v === null || v === "") return null; var x = parseFloat(v);
      return isNaN(x) ? v : x;}
    rows.sort(function(a, b){var x = key(a), y = key(b);
      if (x === null) return y === null ? 0 : 1; if (y === null) return -1;
      if (typeof x !== typeof y) {x = String(x); y = String(y);}
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);});
    rows.forEach(function(r){body.appendChild(r);});
  });
});
"""


def _cell(text: str) -> str:
    """One ``<td>``: numbers right-aligned to 4 significant digits (exact value as tooltip)."""
    value = html.escape(text, quote=True)
    if text == "":
        return '<td class="empty" data-v=""></td>'
    try:
        x = float(text)
    except ValueError:
        cls = ' class="bad"' if text.startswith("rejected") else ""
        return f'<td{cls} data-v="{value}">{value}</td>'
    if not math.isfinite(x):
        return f'<td class="n empty" data-v="">{value}</td>'
    if text.lstrip("+-").isdigit():  # integers as written
        return f'<td class="n" data-v="{value}">{value}</td>'
    shown = f"{x:.4g}"
    return f'<td class="n" data-v="{value}" title="{value}">{html.escape(shown)}</td>'


def render(csv_text: str, *, title: str, filename: str = "table.csv",
           max_rows: int = MAX_ROWS) -> str:
    """The HTML page of the CSV ``csv_text`` (first line the header).

    ``title``: the page's heading; ``filename``: the name the download link saves the CSV as;
    ``max_rows``: rows shown (the rest are counted in a note; the download holds them all).
    A CSV with a header only gives a page saying that the table has no rows.
    """
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, [])
    rows = []
    n_rows = 0
    for row in reader:
        n_rows += 1
        if len(rows) < max_rows:
            rows.append(row)
    data = base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">{n_rows} row(s) &times; {len(header)} column(s). Click a column\'s '
        "name to sort; hover a number for its exact value. "
        f'<a download="{esc(filename, quote=True)}" href="data:text/csv;base64,{data}">'
        f"Download {esc(filename)}</a></p>",
    ]
    if n_rows > len(rows):
        parts.append(f'<p class="note">Showing the first {len(rows)} of {n_rows} rows; the '
                     "download holds them all.</p>")
    if not n_rows:
        parts.append('<p class="note">The table has no rows.</p>')
    parts.append('<div class="wrap"><table><thead><tr>')
    parts.extend(f"<th>{esc(h)}</th>" for h in header)
    parts.append("</tr></thead><tbody>")
    for row in rows:
        cells = list(row) + [""] * (len(header) - len(row))
        parts.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")
    parts.append(f"</tbody></table></div><script>{_SCRIPT}</script></body></html>\n")
    return "\n".join(parts)


def write_html(csv_path, html_path, *, title: str) -> Path:
    """Write :func:`render` of the CSV file ``csv_path`` to ``html_path`` (atomically, through
    :func:`nanotraj.tables.write_text`); the download link is named after ``csv_path``."""
    from nanotraj.tables import write_text

    csv_path = Path(csv_path)
    text = csv_path.read_text(encoding="utf-8")
    write_text(html_path, render(text, title=title, filename=csv_path.name))
    return Path(html_path)
