"""The viewer's table parsing: the compiled reader of numeric columns (viewer._numeric_columns)
gives exactly the floats of the column-by-column conversion (viewer._parse), and steps aside for
anything that is not a number."""

from __future__ import annotations

import numpy as np

from nanotraj import viewer


def _both(text):
    lines = text.split("\n")
    header = lines[0].split(",")
    cols = viewer._columns(header, lines[1:])
    return cols, viewer._numeric_columns(header, lines[1:], cols)


def test_same_floats_as_column_by_column():
    rng = np.random.default_rng(3)
    x = rng.normal(scale=30, size=(40, 3))
    rows = [f"{float(a)!r},{b:.12g},{c:.3e},{k},fcc,{v}" for k, (a, b, c) in enumerate(x)
            for v in ["nan" if k % 7 == 0 else "inf" if k % 11 == 0 else f"{k / 3:.12g}"]]
    cols, numbers = _both("x,y,z,cn,structure_boo,v\n" + "\n".join(rows))
    assert sorted(numbers) == ["cn", "v", "x", "y", "z"]
    for key, values in numbers.items():
        ref = viewer._parse(cols[key])
        assert values.tobytes() == ref.tobytes(), key  # bit for bit, NaN for inf too
    assert np.isnan(numbers["v"][0]) and np.isnan(numbers["v"][11])


def test_steps_aside_for_empty_cells_and_text():
    for bad in ("1.5,", "1.5,abc", "1.5,2 3"):
        text = "a,b\n1.0,2.0\n" + bad
        cols, numbers = _both(text)
        assert numbers == {}
    cols, numbers = _both('a,b,c\n1.0,"x, y",2\n3.0,"z",4')  # quoted text with a comma
    assert sorted(numbers) == ["a", "c"]
    np.testing.assert_array_equal(numbers["c"], [2.0, 4.0])
    assert cols["b"] == ["x, y", "z"]


def test_duplicate_header_keeps_the_first_column():
    cols, numbers = _both("a,a,b\n1,2,3\n4,5,6")
    np.testing.assert_array_equal(numbers["a"], [1.0, 4.0])
    assert cols["a"] == ["1", "4"]
