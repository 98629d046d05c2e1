"""The small-.npz reader of nanotraj.tables (_small_members): the same arrays as numpy.load, or
None (then numpy.load is used) for anything save_arrays does not write."""

from __future__ import annotations

import numpy as np
import pytest

from nanotraj import tables


def _arrays():
    rng = np.random.default_rng(5)
    return {
        "coords": rng.normal(size=(37, 3)),
        "empty": np.zeros((0, 3)),
        "scalar": np.array(3.25),
        "flag": np.array(True),
        "mask": rng.random(11) > 0.5,
        "ints": rng.integers(-5, 5, 9).astype(np.int8),
        "big": rng.integers(0, 2**40, 4),
        "f32": rng.random(6).astype(np.float32),
        "be": np.arange(4, dtype=">f8"),
        "status": np.array("rejected: no atoms"),
        "names": np.array(["fcc", "hcp", "ico"]),
        "raw": np.array([b"ab", b"c"]),
        "cube": rng.random((2, 3, 4)),
    }


def _same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    assert a.flags.writeable and a.flags.c_contiguous


def test_same_arrays_as_numpy(tmp_path):
    saved = _arrays()
    path = tmp_path / "a.npz"
    tables.save_arrays(path, **saved)
    got = tables._small_members(path.read_bytes())
    assert got is not None and list(got) == list(saved)
    with np.load(path, allow_pickle=False) as ref:
        for k in saved:
            _same(got[k], ref[k])
    loaded = tables.load_arrays(path)
    for k in saved:
        _same(loaded[k], saved[k])


def test_plain_numpy_savez_is_read_too(tmp_path):
    saved = _arrays()
    path = tmp_path / "b.npz"
    np.savez(path, **saved)
    got = tables._small_members(path.read_bytes())
    assert got is not None
    for k in saved:
        _same(got[k], saved[k])


@pytest.mark.parametrize("kind", ["compressed", "fortran", "structured", "datetime", "garbage",
                                  "truncated"])
def test_anything_else_falls_back_to_numpy(tmp_path, kind):
    path = tmp_path / "c.npz"
    x = np.arange(12.0).reshape(3, 4)
    if kind == "compressed":
        np.savez_compressed(path, x=x)
    elif kind == "fortran":
        np.savez(path, x=np.asfortranarray(x))
    elif kind == "structured":
        np.savez(path, x=np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
    elif kind == "datetime":
        np.savez(path, x=np.array(["2024-01-01"], dtype="datetime64[ns]"))
    elif kind == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:
        tables.save_arrays(path, x=x)
        path.write_bytes(path.read_bytes()[:-40])
    assert tables._small_members(path.read_bytes()) is None
    if kind in ("garbage", "truncated"):
        with pytest.raises(Exception):  # noqa: B017 (numpy's own error for a broken file)
            dict(tables.load_arrays(path))
        return
    loaded = tables.load_arrays(path)  # numpy.load reads it
    with np.load(path, allow_pickle=False) as ref:
        np.testing.assert_array_equal(loaded["x"], ref["x"])
        assert loaded["x"].dtype == ref["x"].dtype
