r"""Crystalline domains followed through a series: links, events and tracks.

The domains of consecutive frames t-1 and t (:mod:`nanotraj.domains`) are linked through the
atoms the frame-to-frame matching pairs (:mod:`nanotraj.tracking`: atom j of frame t is atom
``previous[j]`` of frame t-1, or new).  Zhou et al. (Nature 570, 500 (2019)) followed nuclei
this way through atomic electron tomograms and saw them "grow, fluctuate, dissolve, merge and
divide"; the events below name those cases.

Links (:func:`shared_atoms`, :func:`link`)
------------------------------------------
``shared(a, b)`` = atoms of domain ``a`` of frame t-1 whose partner is in domain ``b`` of frame
t.  Domains ``a`` and ``b`` are *linked* when

.. math::  \mathrm{shared}(a, b) \ge f \min(n_a, n_b)

with ``f = domains.link_fraction`` (default 0.2) and ``n`` the domains' sizes: a fifth of the
smaller domain moved across.  A few atoms that change domain at a boundary (noise, a boundary
that moves by one layer) do not link two domains; a nucleus that merges into a large crystal
does (all its atoms are shared).

Events (:func:`classify`)
-------------------------
With ``P(b)`` the domains of t-1 linked to ``b`` and ``S(a)`` those of t linked to ``a``:

=============  ================================================================================
``appear``     ``b`` with no linked domain in t-1 (a new nucleus, a new grain)
``vanish``     ``a`` with no linked domain in t (dissolved, etched away, or become a boundary)
``merge``      ``b`` with two or more linked domains in t-1
``split``      ``a`` with two or more linked domains in t (one event for ``a``)
``grow``       one-to-one link with ``n_b - n_a > s n_a``
``shrink``     one-to-one link with ``n_b - n_a < -s n_a``
``continue``   one-to-one link otherwise
=============  ================================================================================

with ``s = domains.size_change`` (default 0.1: 10 % of the earlier size).  A domain of frame t is
labelled by the event that made it: ``merge`` if it has several predecessors, ``split`` if its one
predecessor has several successors, ``appear``, or the one-to-one label.  Every link and every
domain gets exactly one of these; the first frame of a series, and a frame after a frame without
pair (rejected, or the tracking failed), have no events (their domains' ``event`` is empty).

Tracks
------
A *track* is one domain followed through time.  Within a pair, links are taken in order of
decreasing shared atoms (then domain order); a link passes the track of ``a`` to ``b`` when
neither ``a``'s track has been passed on nor ``b`` has one yet.  So a merged domain continues the
track of the predecessor it shares most atoms with (the others end there), a split domain's
largest part continues its track (the others start new ones), and a domain that appears starts a
new track.  Track ids are 0, 1, ... in order of first appearance (frame, then domain index):
:func:`assign_tracks`, done per series from the pairs' ``parent`` arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "EVENTS",
    "LINK_FRACTION",
    "SIZE_CHANGE",
    "shared_atoms",
    "link",
    "classify",
    "assign_tracks",
]

#: The events, in the order of the module docstring's table.
EVENTS = ("appear", "vanish", "merge", "split", "grow", "shrink", "continue")

#: Defaults of ``domains.link_fraction`` and ``domains.size_change`` (the config schema's).
LINK_FRACTION = 0.2
SIZE_CHANGE = 0.1


def shared_atoms(prev_domain, next_domain, previous) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Atoms shared by the domains of frames t-1 and t.

    Parameters
    ----------
    prev_domain : (N_prev,) int, domain of each atom of frame t-1 (-1: none).
    next_domain : (N_next,) int, domain of each atom of frame t.
    previous : (N_next,) int, index in frame t-1 of each atom of frame t (-1: new), as
        ``new.csv``'s ``previous`` (:func:`nanotraj.tracking.match`).

    Returns
    -------
    ``(a, b, count)``: (L,) int64 each, every pair of domains with at least one shared atom,
    sorted by (a, b).
    """
    pd = np.asarray(prev_domain, dtype=np.int64)
    nd = np.asarray(next_domain, dtype=np.int64)
    prev = np.asarray(previous, dtype=np.int64)
    if prev.shape != nd.shape:
        raise ValueError(f"previous has {len(prev)} atoms, frame t {len(nd)}")
    if len(prev) and prev.max(initial=-1) >= len(pd):
        raise ValueError(f"previous refers to atom {int(prev.max())} of a frame of {len(pd)}")
    ok = prev >= 0
    a = np.full(len(nd), -1, dtype=np.int64)
    a[ok] = pd[prev[ok]]
    m = (a >= 0) & (nd >= 0)
    if not m.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    width = int(nd.max()) + 1
    keys, counts = np.unique(a[m] * width + nd[m], return_counts=True)
    return keys // width, keys % width, counts.astype(np.int64)


def link(prev_sizes, next_sizes, a, b, count, *, link_fraction=LINK_FRACTION) -> np.ndarray:
    """Which pairs of :func:`shared_atoms` are links: ``count >= link_fraction x min(n_a, n_b)``
    (module docstring). Returns (L,) bool."""
    if not 0 < link_fraction <= 1:
        raise ValueError(f"link_fraction must be in (0, 1], got {link_fraction}")
    na = np.asarray(prev_sizes, dtype=np.int64)[np.asarray(a, dtype=np.int64)]
    nb = np.asarray(next_sizes, dtype=np.int64)[np.asarray(b, dtype=np.int64)]
    return np.asarray(count) >= link_fraction * np.minimum(na, nb)


def classify(prev_sizes, next_sizes, a, b, count, *, link_fraction=LINK_FRACTION,
             size_change=SIZE_CHANGE) -> dict:
    """Events of one pair of frames (module docstring).

    Parameters
    ----------
    prev_sizes : (K_prev,) atoms per domain of frame t-1; next_sizes : (K_next,) of frame t.
    a, b, count : :func:`shared_atoms`.
    link_fraction, size_change : thresholds (module docstring).

    Returns
    -------
    dict with

    * ``linked`` (L,) bool: which pairs are links;
    * ``event`` (K_next,) str: the event that made each domain of frame t;
    * ``parent`` (K_next,) int64: the domain of frame t-1 whose track it continues, -1 for a new
      track;
    * ``events``: list of dicts ``{"event", "before": [domains of t-1], "after": [domains of t],
      "n_before", "n_after"}`` (atoms in those domains), in the order appear (by ``b``), merge
      (by ``b``), split (by ``a``), one-to-one (by ``a``), vanish (by ``a``).
    """
    if size_change < 0:
        raise ValueError(f"size_change must be >= 0, got {size_change}")
    ns_prev = np.asarray(prev_sizes, dtype=np.int64)
    ns_next = np.asarray(next_sizes, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    linked = link(ns_prev, ns_next, a, b, count, link_fraction=link_fraction) if len(a) else \
        np.zeros(0, dtype=bool)
    la, lb, lc = a[linked], b[linked], count[linked]
    preds = [sorted(la[lb == k].tolist()) for k in range(len(ns_next))]
    succs = [sorted(lb[la == k].tolist()) for k in range(len(ns_prev))]
    # tracks: links by decreasing shared atoms, then (a, b)
    parent = np.full(len(ns_next), -1, dtype=np.int64)
    passed = np.zeros(len(ns_prev), dtype=bool)
    for k in np.lexsort((lb, la, -lc)):
        if not passed[la[k]] and parent[lb[k]] < 0:
            parent[lb[k]] = la[k]
            passed[la[k]] = True
    event = np.empty(len(ns_next), dtype=object)
    rows = []

    def row(kind, before, after):
        rows.append({"event": kind, "before": list(before), "after": list(after),
                     "n_before": int(ns_prev[list(before)].sum()) if before else 0,
                     "n_after": int(ns_next[list(after)].sum()) if after else 0})

    one_to_one = []
    for k in range(len(ns_next)):
        p = preds[k]
        if not p:
            event[k] = "appear"
        elif len(p) >= 2:
            event[k] = "merge"
        elif len(succs[p[0]]) >= 2:
            event[k] = "split"
        else:
            change = int(ns_next[k]) - int(ns_prev[p[0]])
            limit = size_change * int(ns_prev[p[0]])
            event[k] = "grow" if change > limit else "shrink" if change < -limit else "continue"
            one_to_one.append((p[0], k))
    for k in range(len(ns_next)):
        if event[k] == "appear":
            row("appear", [], [k])
    for k in range(len(ns_next)):
        if event[k] == "merge":
            row("merge", preds[k], [k])
    for j in range(len(ns_prev)):
        if len(succs[j]) >= 2:
            row("split", [j], succs[j])
    for j, k in sorted(one_to_one):
        row(str(event[k]), [j], [k])
    for j in range(len(ns_prev)):
        if not succs[j]:
            row("vanish", [j], [])
    return {"linked": linked, "event": event.astype(str) if len(event) else
            np.zeros(0, dtype="<U8"), "parent": parent, "events": rows}


def assign_tracks(parents: Sequence[np.ndarray | None], n_domains: Sequence[int]) -> list:
    """Track id of every domain of a series.

    Parameters
    ----------
    parents : per frame in time order, the ``parent`` array of :func:`classify` for the pair
        (previous frame, this frame), or None where the frame has no pair (first frame, a
        rejected frame or predecessor): then every domain starts a track.
    n_domains : domains per frame.

    Returns
    -------
    list of (K_k,) int64 arrays: the track of each domain; new ids 0, 1, ... in order of frame
    then domain.
    """
    if len(parents) != len(n_domains):
        raise ValueError("parents and n_domains must have one entry per frame")
    out, prev, next_id = [], np.zeros(0, dtype=np.int64), 0
    for par, k in zip(parents, n_domains, strict=True):
        tracks = np.full(int(k), -1, dtype=np.int64)
        if par is not None:
            par = np.asarray(par, dtype=np.int64)
            if len(par) != k:
                raise ValueError(f"a parent array of {len(par)} domains for a frame of {k}")
            ok = (par >= 0) & (par < len(prev))
            tracks[ok] = prev[par[ok]]
        for d in np.flatnonzero(tracks < 0):
            tracks[d] = next_id
            next_id += 1
        out.append(tracks)
        prev = tracks
    return out
