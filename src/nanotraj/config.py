"""The workflow's configuration before Snakemake's schema validation: typing and sanity.

Snakemake reads ``--config`` values of nested keys with YAML's BaseLoader, so
``--config "rdf={dr: 0.05}"`` arrives as the string ``'0.05'``; :func:`prepare` types such
values and refuses non-finite numbers (a NaN passes every bound of a JSON schema).  The schema
itself (``workflow/schemas/config.schema.yaml``) is applied by ``snakemake.utils.validate`` in
``workflow/rules/common.smk``, which also fills in the defaults.
"""

from __future__ import annotations

import math

from nanotraj.errors import ConfigError

__all__ = [
    "STRING_KEYS",
    "typed_scalars",
    "non_finite_keys",
    "prepare",
    "check",
    "schema_message",
]

#: Keys whose values stay strings whatever they look like.
STRING_KEYS = frozenset({"frames", "element", "time_unit", "length_unit"})


def typed_scalars(cfg: dict) -> dict:
    """Numbers and booleans written as strings inside ``cfg``, typed in place (``'true'`` ->
    True, ``'0.05'`` -> 0.05, ``'3'`` -> 3); :data:`STRING_KEYS` are left alone."""
    for key, value in cfg.items():
        if isinstance(value, dict):
            typed_scalars(value)
        elif isinstance(value, str) and key not in STRING_KEYS:
            text = value.strip()
            if text.lower() in ("true", "false"):
                cfg[key] = text.lower() == "true"
                continue
            for kind in (int, float):
                try:
                    cfg[key] = kind(text)
                    break
                except ValueError:
                    pass
    return cfg


def non_finite_keys(cfg: dict, prefix: str = "") -> list[str]:
    """Dotted names of the keys holding NaN or +-inf."""
    bad = []
    for key, value in cfg.items():
        if isinstance(value, dict):
            bad += non_finite_keys(value, f"{prefix}{key}.")
        elif isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{prefix}{key}")
    return bad


def prepare(cfg: dict) -> dict:
    """:func:`typed_scalars`, then a :class:`ConfigError` naming every non-finite key.
    ``type_map`` keys (LAMMPS types, YAML reads ``{1: Pt}`` with integer keys) become strings,
    its values stay strings."""
    type_map = cfg.pop("type_map", None)
    typed_scalars(cfg)
    if isinstance(type_map, dict):
        type_map = {str(k).strip(): str(v).strip() for k, v in type_map.items()}
    if type_map is not None:
        cfg["type_map"] = type_map
    bad = non_finite_keys(cfg)
    if bad:
        raise ConfigError(f"config: {', '.join(bad)} must be a finite number")
    return cfg


def check(cfg: dict) -> dict:
    """Limits across keys that the schema cannot express, after Snakemake's validation filled
    in the defaults; a :class:`ConfigError` naming the keys: g(r) at most
    :data:`nanotraj.rdf.MAX_BINS` bins (a ``dr`` of 1e-9 A would ask for 1.5e10 and end in a
    MemoryError inside a job); ``outputs.table_format`` ``parquet`` or ``both`` without pyarrow
    installed (looked up, not imported)."""
    from nanotraj.rdf import MAX_BINS

    table_format = cfg.get("outputs", {}).get("table_format", "csv")
    if table_format in ("parquet", "both"):
        from nanotraj.tables import PARQUET_INSTALL, have_pyarrow

        if not have_pyarrow():
            raise ConfigError(f"config: outputs.table_format: {table_format} needs pyarrow, "
                              f"which is not installed: {PARQUET_INSTALL} (or table_format: csv)")
    rdf = cfg.get("rdf", {})
    bins = float(rdf.get("r_max", 15.0)) / float(rdf.get("dr", 0.02))
    if bins > MAX_BINS:
        raise ConfigError(f"config: rdf.r_max / rdf.dr = {bins:.3g} bins of g(r); at most "
                          f"{MAX_BINS:,}: raise rdf.dr or lower rdf.r_max")
    return cfg


def schema_message(err: BaseException, what: str = "configuration") -> str:
    """One line for a schema validation failure raised by ``snakemake.utils.validate``.

    Snakemake wraps jsonschema's ``ValidationError`` in a WorkflowError whose text is the whole
    schema excerpt (15 lines or more); the original error is found on the exception's chain
    (``__cause__`` / ``__context__``) and told as ``<what>: key rdf.dr: -1 is less than or
    equal to the minimum of 0 (histogram bin width of g(r), Angstrom)``. Without a
    ValidationError on the chain, the first line of ``err``.
    """
    seen, e = set(), err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if hasattr(e, "absolute_path") and hasattr(e, "message") and hasattr(e, "schema"):
            key = ".".join(str(p) for p in e.absolute_path)
            where = f"key {key}" if key else "top level"
            desc = e.schema.get("description") if isinstance(e.schema, dict) else None
            return f"{what}: {where}: {e.message}" + (f" ({desc})" if desc else "")
        e = e.__cause__ or e.__context__
    first = str(err).strip().splitlines()
    return f"{what}: {first[0] if first else type(err).__name__}"
