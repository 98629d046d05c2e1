"""Which implementation computes a frame: one explicit choice instead of a global switch.

Every function with several implementations takes ``engine=``:

* ``"numpy"`` -- numpy and scipy only, the reference implementation; never imports numba.
* ``"compiled"`` -- the numba kernels of :mod:`nanotraj._kernels` (the same quantities atom by
  atom and bond by bond, in threads; tested equal to the numpy paths).
* ``"auto"`` (the default) -- ``"compiled"`` for frames of at least :data:`LARGE_BONDS` bonds
  (about 70,000 atoms of a metal particle), where the kernels are faster, ``"numpy"`` below:
  a series of small frames pays no compiler and no numba start-up (a few tenths of a second
  per process).  Where numba cannot be loaded, ``"auto"`` falls back to numpy.

:func:`nanotraj.order.boo` also accepts ``"pyboo"`` (the optional adapter calling pyboo 1.0.0
itself, :mod:`nanotraj._boo_pyboo`).  Only the standard library is imported here.
"""

from __future__ import annotations

from types import ModuleType

from nanotraj.errors import ConfigError

__all__ = ["ENGINES", "LARGE_BONDS", "compiled_kernels", "kernels_for"]

#: The engine names every multi-implementation function accepts.
ENGINES = ("auto", "numpy", "compiled")

#: Frames with at least this many bonds use the compiled kernels under ``engine="auto"``.
LARGE_BONDS = 400_000


def compiled_kernels() -> ModuleType | None:
    """:mod:`nanotraj._kernels` (imports numba), or None when it cannot be loaded: numba is a
    pinned dependency, but a platform without it, or without any writable place for numba's
    cache, still runs the numpy paths."""
    try:
        from nanotraj import _kernels
    except (ImportError, OSError, RuntimeError):  # pragma: no cover - see the docstring
        return None
    return _kernels


def kernels_for(engine: str, n_bonds: int) -> ModuleType | None:
    """The compiled kernels when ``engine`` asks for them for a frame of ``n_bonds`` bonds,
    None for the numpy path.

    ``"auto"``: the kernels for ``n_bonds >= LARGE_BONDS`` when they load; ``"numpy"``: None;
    ``"compiled"``: the kernels, or :class:`~nanotraj.errors.ConfigError` when numba cannot be
    loaded.  Any other name is a ConfigError.
    """
    if engine == "auto":
        return compiled_kernels() if n_bonds >= LARGE_BONDS else None
    if engine == "numpy":
        return None
    if engine == "compiled":
        kernels = compiled_kernels()
        if kernels is None:
            raise ConfigError("engine 'compiled' needs numba, which cannot be loaded here")
        return kernels
    raise ConfigError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
