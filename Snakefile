# nanotraj: structural analysis of time series of 3D atomic maps of nanocrystals.
# Thin entry point: configuration, includes, default target. The science lives in src/nanotraj.
import sys
from pathlib import Path

from nanotraj.console import closing_message, quiet_scheduler, short_errors
from nanotraj.project import compare as compare_with_recorded_run
from nanotraj.project import write_record as record_run
from nanotraj.smkspeed import (
    daemon_reevaluation_timers,
    fast_directory_check,
    fast_input_checks,
    fast_output_index,
    fast_output_records,
    fast_record_reads,
    lean_gc,
)

# The user's config/config.yaml in the working directory wins; otherwise the shipped one (demo).
USER_CONFIG = Path("config/config.yaml")
SHIPPED_CONFIG = Path(workflow.basedir) / "config" / "config.yaml"


configfile: str(USER_CONFIG if USER_CONFIG.exists() else SHIPPED_CONFIG)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# A series or frame wildcard is one path component (never spans a "/": a series' file and a
# frame's file of the same name stay apart); names outside the sheet fail in the input functions
# (common.smk: frame_row). Not the alternation of every name of the sheet: Snakemake writes the
# constraints into every rule's file patterns and scans them whenever it fills in wildcards, so
# that made building the DAG quadratic in the number of frames (1,000 frames: ~20 s of a dry run).
# Chunks (at most ~100 per series) are the chunks of the chunked series.
wildcard_constraints:
    series="[^/]+",
    frame="[^/]+",
    chunk="|".join(sorted({c for chunks in CHUNKS.values() for c in chunks})) or "(?!)",


include: "workflow/rules/frame.smk"
include: "workflow/rules/fused.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/viewer.smk"
include: "workflow/rules/tracking.smk"
include: "workflow/rules/domains.smk"
include: "workflow/rules/chunks.smk"


# Progress without the scheduler's four lines per job (profiles/default hides job descriptions).
quiet_scheduler()
short_errors()  # a bad frame's error as its one line, without traceback lines
fast_input_checks()  # a series job's input checks in O(F), not O(F^2) (nanotraj.smkspeed)
fast_output_records()  # input checksums once per file and content, not per output (idem)
daemon_reevaluation_timers()  # no wait of up to 1 s for the scheduler's last timer at exit
lean_gc()  # fewer garbage collections while the DAG is built, none at exit (idem)
fast_output_index()  # the rules that may produce a file, looked up by its name (idem)
fast_directory_check()  # outputs inside other outputs found with a set first (idem)
fast_record_reads()  # the metadata records read without a second path and an existence check

# results/run.json records the configuration of the run that wrote results/: a report of another
# configuration is refused (it would describe files that another run made), and a run of another
# sheet says that it writes beside another run's results.
_other_run = compare_with_recorded_run(config)
if _other_run and any(a == "--report" or a.startswith("--report=") for a in sys.argv):
    startup_error(
        f"{_other_run}: this report would describe another run's results. Give the run's "
        "configuration (e.g. --config frames=...), or rerun the workflow with this one first."
    )
if _other_run and "sheet" in _other_run:
    print(
        f"nanotraj warning: {_other_run}; this run adds its own series to results/ and "
        "rewrites results/summary.csv with its frames only (use --directory for a "
        "separate project, or nanotraj-init)",
        file=sys.stderr,
    )


onstart:
    record_run(config, version=VERSION)


onsuccess:
    print(closing_message(SERIES, frames_option=frames_option()), file=sys.stderr)


rule all:
    default_target: True
    input:
        get_final_outputs(),
        get_tracking_outputs(),
        get_domain_outputs(),
