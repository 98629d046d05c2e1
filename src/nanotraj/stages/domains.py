"""File-level stages of crystalline domains and atom identities (rules ``find_domains``,
``link_domains``, ``aggregate_domains``, ``aggregate_atom_ids``; figures: ``plot_domains``).

The science is in :mod:`nanotraj.domains` (one frame), :mod:`nanotraj.domaintrack` (pairs of
frames, tracks) and :mod:`nanotraj.identities` (atom ids over a series).

Incremental by construction: ``find_domains`` reads only its own frame's ``.npz`` files;
``link_domains`` of frame t reads the domains of t-1 and t and the pair's ``tracking.npz``; every
quantity that depends on the whole chain of earlier frames (track ids, atom ids, survival,
lifetimes, the RMSD matrix) is made by the per-series aggregates.  Editing frame t therefore
reruns its own jobs, the links (t-1, t) and (t, t+1), and the aggregates -- never a later frame's
own tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from nanotraj.contract import (
    ATOM_ID_COLUMNS,
    BOUNDARY_COLUMNS,
    DOMAIN_COLUMNS,
    DOMAIN_EVENT_COLUMNS,
    DOMAIN_SUMMARY_COLUMNS,
    LIFETIME_COLUMNS,
    RMSD_COLUMNS,
    SERIES_DOMAIN_COLUMNS,
    SURVIVAL_COLUMNS,
)
from nanotraj.stages.jobs import OK, Log, guard, inputs_or_reject, save, status_of
from nanotraj.tables import load_arrays, write_columns, write_rows

#: Pair status of a frame whose link has no previous frame.
NO_PAIR = "no pair"
#: Pair status when the pair's tracking.npz predates the atom indices (``previous``).
OLD_TRACKING = "tracking.npz without matched-atom indices (rerun track_pair)"


def _empty(columns) -> dict[str, np.ndarray]:
    return {c: np.array([]) for c in columns}


def find_domains(frame_npz, bonds_npz, boo_npz, ptm_npz, output, domains_csv, boundaries_csv,
                 *, method="orientation", max_misorientation=5.0, min_atoms=13,
                 order_threshold=0.5, twin_tolerance=None, log=None, on_bad_frame="fail"):
    """Stage ``domains``: the frame's crystalline domains and boundaries
    (:func:`nanotraj.domains.find_domains`).

    Output ``.npz``: ``domain`` (N,) int64, ``boundary`` (N,) int8, ``twin_boundary`` (N,)
    bool, the domain table as ``d_<column>`` and the boundary table as ``b_<column>``
    (:data:`DOMAIN_COLUMNS`, :data:`BOUNDARY_COLUMNS`), ``summary_names`` /
    ``summary_values`` (:data:`DOMAIN_SUMMARY_COLUMNS`), ``method``; user-facing
    ``domains.csv`` and ``boundaries.csv``.  A rejected frame passes its status on and gets
    header-only tables.
    """
    from nanotraj.domains import TWIN_TOLERANCE

    lg = Log(log)

    def reject(status):
        write_columns(domains_csv, _empty(DOMAIN_COLUMNS))
        write_columns(boundaries_csv, _empty(BOUNDARY_COLUMNS))
        save(output, status)

    loaded = inputs_or_reject(lg, output, frame_npz, bonds_npz, boo_npz, ptm_npz)
    if loaded is None:
        write_columns(domains_csv, _empty(DOMAIN_COLUMNS))
        write_columns(boundaries_csv, _empty(BOUNDARY_COLUMNS))
        return
    frame, bd, bo, pt = loaded
    tol = TWIN_TOLERANCE if twin_tolerance is None else float(twin_tolerance)

    def compute():
        from nanotraj.domains import find_domains as _find

        res = _find(frame["coords"], bd["bonds"], pt["structure"], pt["orientation"],
                    Q4=bo["Q4"], Q6=bo["Q6"], method=method,
                    max_misorientation=float(max_misorientation), min_atoms=int(min_atoms),
                    order_threshold=float(order_threshold), twin_tolerance=tol,
                    distances=bd["distances"])
        dom, bnd = res["domains"], res["boundaries"]
        write_columns(domains_csv, dom)
        write_columns(boundaries_csv, bnd)
        summary = res["summary"]
        save(output, domain=res["domain"], boundary=res["boundary"],
             twin_boundary=res["twin_boundary"],
             **{f"d_{k}": v for k, v in dom.items()}, **{f"b_{k}": v for k, v in bnd.items()},
             summary_names=np.array(DOMAIN_SUMMARY_COLUMNS),
             summary_values=np.array([float(summary[k]) for k in DOMAIN_SUMMARY_COLUMNS]),
             method=np.array(method))
        sizes = ", ".join(f"{s} {n}" for s, n in zip(dom["structure"].tolist(),
                                                       dom["n_atoms"].tolist(), strict=True))
        lg(f"method {method}: {summary['n_domains']} domains ({sizes or 'none'}); "
           f"{len(bnd['domain_a'])} boundaries, {summary['n_twin_boundaries']} Sigma-3 twins; "
           f"{res['n_planar']} planar defects (twin planes, stacking faults) set aside")

    guard(lg, on_bad_frame, frame["source"], "domains", compute, reject)


def domain_columns(domains: Mapping[str, np.ndarray], n_atoms: int) -> dict[str, np.ndarray]:
    """The columns ``domain`` and ``boundary`` of a frame's ``atoms.csv`` from its loaded
    ``domains.npz``."""
    dom = np.asarray(domains["domain"], dtype=np.int64)
    if len(dom) != n_atoms:
        raise ValueError(f"domains.npz has {len(dom)} atoms, the frame {n_atoms}")
    return {"domain": dom, "boundary": np.asarray(domains["boundary"], dtype=np.int64)}


def domain_summary(domains: Mapping[str, np.ndarray]) -> dict:
    """The frame's summary columns :data:`DOMAIN_SUMMARY_COLUMNS` from its ``domains.npz``."""
    values = dict(zip(domains["summary_names"].tolist(), domains["summary_values"].tolist(),
                      strict=True))
    return {k: int(values[k]) if k.startswith("n_") else float(values[k])
            for k in DOMAIN_SUMMARY_COLUMNS}


# ----------------------------------------------------------------------------------------------
# links between consecutive frames


def link_domains(inputs: Mapping[str, str], output, *, link_fraction=0.2, size_change=0.1,
                 previous_frame: str = "", log=None) -> dict:
    """Rule ``link_domains``: link frame t's domains to frame t-1's and classify the events
    (:func:`nanotraj.domaintrack.classify`).

    ``inputs``: ``domains`` (frame t's ``domains.npz``), ``tracking`` (the pair's
    ``tracking.npz``) and, unless frame t is the first of its series, ``prev_domains``.
    Output ``.npz``: ``status`` (frame t's), ``has_pair``, ``pair_status``, ``previous_frame``,
    the shared-atom pairs ``a, b, count, linked``, per domain of frame t ``event`` and
    ``parent``, the sizes ``prev_sizes``/``next_sizes`` and the events as ``ev_kind`` (E,),
    ``ev_n_before``, ``ev_n_after`` and ``ev_members`` (M, 3) rows ``(event, side, domain)``
    (side 0: before, 1: after).  Returns the classification (empty without pair).
    """
    from nanotraj.domaintrack import classify, shared_atoms

    lg = Log(log)
    nxt = load_arrays(inputs["domains"])
    tr = load_arrays(inputs["tracking"])
    prev = load_arrays(inputs["prev_domains"]) if inputs.get("prev_domains") else None
    status = status_of(nxt)
    n_next = len(nxt["d_n_atoms"]) if "d_n_atoms" in nxt else 0
    common = {"previous_frame": np.array(previous_frame or "")}

    def no_pair(reason: str) -> dict:
        save(output, status, has_pair=np.array(False), pair_status=np.array(reason),
             event=np.full(n_next, "", dtype="<U8"), parent=np.full(n_next, -1, dtype=np.int64),
             **common)
        lg(f"no link: {reason}")
        lg.close(status)
        return {}

    if status != OK:
        return no_pair(status)
    if prev is None or not bool(tr.get("has_pair", False)):
        return no_pair(str(tr.get("pair_status", NO_PAIR)) if prev is not None else NO_PAIR)
    if status_of(prev) != OK:
        return no_pair(f"previous frame {status_of(prev)}")
    if "previous" not in tr:  # written by a release before the atom identities
        lg.warn(f"{inputs['tracking']}: no matched-atom indices (an older tracking.npz); rerun "
                "the pairs (snakemake -R track_pair) to link the domains")
        return no_pair(OLD_TRACKING)
    previous = np.asarray(tr["previous"], dtype=np.int64)
    a, b, count = shared_atoms(prev["domain"], nxt["domain"], previous)
    prev_sizes = np.asarray(prev["d_n_atoms"], dtype=np.int64)
    next_sizes = np.asarray(nxt["d_n_atoms"], dtype=np.int64)
    res = classify(prev_sizes, next_sizes, a, b, count, link_fraction=float(link_fraction),
                   size_change=float(size_change))
    members = [(e, side, d) for e, ev in enumerate(res["events"])
               for side, key in ((0, "before"), (1, "after")) for d in ev[key]]
    save(output, OK, has_pair=np.array(True), pair_status=np.array(OK), a=a, b=b, count=count,
         linked=res["linked"], event=res["event"], parent=res["parent"],
         prev_sizes=prev_sizes, next_sizes=next_sizes,
         ev_kind=np.array([ev["event"] for ev in res["events"]], dtype="<U8"),
         ev_n_before=np.array([ev["n_before"] for ev in res["events"]], dtype=np.int64),
         ev_n_after=np.array([ev["n_after"] for ev in res["events"]], dtype=np.int64),
         ev_members=np.array(members, dtype=np.int64).reshape(-1, 3), **common)
    counts = {}
    for ev in res["events"]:
        counts[ev["event"]] = counts.get(ev["event"], 0) + 1
    lg(f"{len(prev_sizes)} -> {len(next_sizes)} domains, {int(res['linked'].sum())} links of "
       f"{len(a)} pairs sharing atoms; events: "
       + (", ".join(f"{n} {k}" for k, n in counts.items()) or "none"))
    lg.close(OK)
    return res


# ----------------------------------------------------------------------------------------------
# per series


def _joined(tracks) -> str:
    return ";".join(str(int(t)) for t in tracks)


def aggregate_domains(domains_npzs: Sequence[str], link_npzs: Sequence[str],
                      outputs: Mapping[str, str], *, series: str, frames: Sequence[str],
                      times: Sequence[float], log=None) -> dict:
    """Rule ``aggregate_domains``: the series' ``domains.csv`` (one row per domain and frame,
    :data:`SERIES_DOMAIN_COLUMNS`, with its ``track`` and ``event``) and ``domain_events.csv``
    (:data:`DOMAIN_EVENT_COLUMNS`, one row per event, at the time of the later frame; track ids
    joined with ``;``).  ``outputs`` keys ``domains``, ``events``.  Inputs per frame in time
    order.  Returns ``{"tracks": [...], "events": rows}``.
    """
    from nanotraj.domaintrack import assign_tracks

    if not (len(domains_npzs) == len(link_npzs) == len(frames) == len(times)):
        raise ValueError("domains_npzs, link_npzs, frames and times must have the same length")
    lg = Log(log)
    doms = [load_arrays(p) for p in domains_npzs]
    links = [load_arrays(p) for p in link_npzs]
    sizes = [np.asarray(d["d_n_atoms"]) if "d_n_atoms" in d else np.zeros(0, dtype=np.int64)
             for d in doms]
    parents = [np.asarray(lk["parent"]) if bool(lk.get("has_pair", False)) else None
               for lk in links]
    tracks = assign_tracks(parents, [len(s) for s in sizes])
    rows, events = [], []
    for k, (d, lk, frame, t) in enumerate(zip(doms, links, frames, times, strict=True)):
        has_pair = bool(lk.get("has_pair", False))
        for j in range(len(sizes[k])):
            row = {"series": series, "frame": frame, "time": float(t), "domain": j,
                   "track": int(tracks[k][j]),
                   "event": str(lk["event"][j]) if has_pair else ""}
            for c in DOMAIN_COLUMNS[1:]:
                v = d[f"d_{c}"][j]
                row[c] = str(v) if c == "structure" else v.item()
            rows.append(row)
        if not has_pair:
            continue
        members = np.asarray(lk["ev_members"], dtype=np.int64).reshape(-1, 3)
        for e, kind in enumerate(lk["ev_kind"].tolist()):
            mine = members[members[:, 0] == e]
            before = mine[mine[:, 1] == 0, 2]
            after = mine[mine[:, 1] == 1, 2]
            tb = [int(tracks[k - 1][x]) for x in before]
            ta = [int(tracks[k][x]) for x in after]
            track = ta[0] if kind in ("appear", "merge", "grow", "shrink", "continue") else tb[0]
            events.append({"time": float(t), "event": kind, "track": track,
                           "tracks_before": _joined(tb), "tracks_after": _joined(ta),
                           "n_atoms": int(lk["ev_n_after"][e]), "series": series,
                           "frame": frame, "previous_frame": str(lk["previous_frame"]),
                           "n_atoms_before": int(lk["ev_n_before"][e]),
                           "domains_before": _joined(before), "domains_after": _joined(after)})
    write_rows(outputs["domains"], SERIES_DOMAIN_COLUMNS, rows)
    write_rows(outputs["events"], DOMAIN_EVENT_COLUMNS, events)
    n_tracks = max((int(t.max()) + 1 for t in tracks if len(t)), default=0)
    counts = {}
    for ev in events:
        counts[ev["event"]] = counts.get(ev["event"], 0) + 1
    lg(f"{len(frames)} frames, {len(rows)} domains in {n_tracks} tracks; events: "
       + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    lg.close(OK)
    return {"tracks": tracks, "events": events}


def aggregate_atom_ids(tracking_npzs: Sequence[str], frame_npzs: Sequence[str],
                       outputs: Mapping[str, str], *, series: str, frames: Sequence[str],
                       times: Sequence[float], log=None) -> dict:
    """Rule ``aggregate_atom_ids``: persistent atom ids and what follows from them
    (:mod:`nanotraj.identities`).

    Inputs per frame in time order: the pairs' ``tracking.npz`` (``previous``, ``has_pair``) and
    the frames' ``frame.npz`` (positions; a rejected frame has no atoms).  ``outputs`` keys:
    ``atom_ids`` (:data:`ATOM_ID_COLUMNS`: ``index`` = row of the frame's atoms.csv),
    ``lifetimes`` (:data:`LIFETIME_COLUMNS`), ``survival`` (:data:`SURVIVAL_COLUMNS`), ``rmsd``
    (:data:`RMSD_COLUMNS`, every ordered pair of frames; of at most
    :data:`nanotraj.identities.RMSD_MAX_FRAMES` frames evenly spread over a longer series,
    :func:`nanotraj.identities.rmsd_frames`).  Returns the ids and tables.
    """
    from nanotraj.identities import chain, lifetimes, rmsd_frames, rmsd_matrix, survival

    if not (len(tracking_npzs) == len(frame_npzs) == len(frames) == len(times)):
        raise ValueError("tracking_npzs, frame_npzs, frames and times must have the same length")
    lg = Log(log)
    coords, previous, has_pair = [], [], []
    for trp, frp in zip(tracking_npzs, frame_npzs, strict=True):
        fr, tr = load_arrays(frp), load_arrays(trp)
        ok = status_of(fr) == OK and status_of(tr) == OK
        x = np.asarray(fr["coords"], dtype=np.float64) if ok else np.zeros((0, 3))
        pair = ok and bool(tr.get("has_pair", False))
        if pair and "previous" not in tr:  # written by a release before the atom identities
            lg.warn(f"{trp}: no matched-atom indices (an older tracking.npz): the chains break "
                    "here; rerun the pairs (snakemake -R track_pair)")
            pair = False
        coords.append(x)
        previous.append(np.asarray(tr["previous"], dtype=np.int64) if pair else None)
        has_pair.append(pair)
    ids = chain(previous, [len(x) for x in coords])
    t = np.asarray(times, dtype=np.float64)
    write_columns(outputs["atom_ids"], {
        "series": np.concatenate([np.full(len(i), series, dtype=object) for i in ids])
        if ids else np.array([]),
        "frame": np.concatenate([np.full(len(i), f, dtype=object) for i, f in
                                 zip(ids, frames, strict=True)]) if ids else np.array([]),
        "time": np.concatenate([np.full(len(i), tk) for i, tk in zip(ids, t, strict=True)])
        if ids else np.array([]),
        "index": np.concatenate([np.arange(len(i), dtype=np.int64) for i in ids])
        if ids else np.array([], dtype=np.int64),
        "atom_id": np.concatenate(ids) if ids else np.array([], dtype=np.int64),
    })
    life = lifetimes(ids, t)
    names = np.asarray(frames, dtype=object)
    write_columns(outputs["lifetimes"], {
        "atom_id": life["atom_id"], "first_frame": names[life["first"]],
        "last_frame": names[life["last"]], "first_time": life["first_time"],
        "last_time": life["last_time"], "n_frames": life["n_frames"],
        "lifetime": life["lifetime"], "in_first_frame": life["in_first_frame"],
        "in_last_frame": life["in_last_frame"], "core": life["core"]})
    surv = survival(ids, has_pair)
    rows = []
    for k, (f, tk) in enumerate(zip(frames, t, strict=True)):
        known = bool(surv["tracked"][k])
        rows.append({"series": series, "frame": f, "time": float(tk),
                     "n_atoms": int(surv["n_atoms"][k]),
                     "n_survivors": int(surv["n_survivors"][k]) if known else None,
                     "survival": float(surv["survival"][k]) if known else None,
                     "n_core": int(surv["n_core"][k]),
                     "n_new": int(surv["n_new"][k]) if known else None, "tracked": int(known)})
    write_rows(outputs["survival"], SURVIVAL_COLUMNS, rows)
    nf = len(frames)
    chosen = rmsd_frames(nf)  # every frame up to RMSD_MAX_FRAMES; above, evenly spread ones
    rm = rmsd_matrix([ids[k] for k in chosen], [coords[k] for k in chosen])
    if len(chosen) < nf:
        lg(f"RMSD matrix between {len(chosen)} of the {nf} frames, evenly spread")
    ia, ib = np.meshgrid(chosen, chosen, indexing="ij")
    ia, ib = ia.ravel(), ib.ravel()
    write_columns(outputs["rmsd"], {
        "frame_a": names[ia] if nf else np.array([]), "frame_b": names[ib] if nf else
        np.array([]), "time_a": t[ia], "time_b": t[ib], "n_shared": rm["n_shared"].ravel(),
        "rmsd": rm["rmsd"].ravel(), "rmsd_raw": rm["rmsd_raw"].ravel()})
    n_ids = len(life["atom_id"])
    lg(f"{nf} frames, {sum(len(i) for i in ids)} atoms, {n_ids} atom ids; stable core "
       f"{int(surv['n_core'][0]) if nf else 0} atoms; {sum(has_pair)} matched pairs")
    if nf and not all(has_pair[1:]):
        lg("chains broken where a frame has no pair (rejected, alignment failed): survival "
           "empty from there on")
    lg.close(OK)
    return {"ids": ids, "lifetimes": life, "survival": surv, "rmsd": rm}


def plot_domains(domains_csv, events_csv, survival_csv, rmsd_csv, outputs: Mapping[str, str], *,
                 series: str = "", time_unit: str = "s", log=None) -> dict:
    """Rule ``plot_domains``: ``domains_series.png``, ``survival.png`` and ``rmsd_matrix.png``
    of a series (:mod:`nanotraj.domainplots`) from its tables.  ``outputs`` keys
    ``domains_series``, ``survival``, ``rmsd_matrix``."""
    from nanotraj import domainplots
    from nanotraj.tables import read_columns, read_rows

    lg = Log(log)
    _, drows = read_rows(domains_csv)
    _, erows = read_rows(events_csv)
    _, srows = read_rows(survival_csv)
    rmsd = read_columns(rmsd_csv, ["time_a", "time_b", "rmsd"])  # F^2 rows: as arrays
    prefix = f"Series {series}: " if series else ""
    info = {
        "domains_series": domainplots.plot_domain_series(
            drows, erows, outputs["domains_series"], time_unit=time_unit,
            frames=[(r["frame"], float(r["time"])) for r in srows],
            title=f"{prefix}domain sizes against time, by track"),
        "survival": domainplots.plot_survival(
            srows, outputs["survival"], time_unit=time_unit,
            title=f"{prefix}atoms of the first frame still present"),
        "rmsd_matrix": domainplots.plot_rmsd_matrix(
            rmsd, outputs["rmsd_matrix"], time_unit=time_unit,
            title=f"{prefix}RMSD between frames on their shared atoms"),
    }
    lg(f"{len(drows)} domains, {len(erows)} events, {len(srows)} frames plotted")
    lg.close(OK)
    return info


__all__ = ["find_domains", "domain_columns", "domain_summary", "link_domains",
           "aggregate_domains", "aggregate_atom_ids", "plot_domains", "ATOM_ID_COLUMNS",
           "LIFETIME_COLUMNS", "RMSD_COLUMNS", "SURVIVAL_COLUMNS"]
