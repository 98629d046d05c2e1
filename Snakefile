# nanotraj: structural analysis of time series of 3D atomic maps of nanocrystals.
# Thin entry point: configuration, includes, default target. The science lives in src/nanotraj.
import re
import sys
from pathlib import Path

from nanotraj.console import closing_message, quiet_scheduler

# The user's config/config.yaml in the working directory wins; otherwise the shipped one (demo).
USER_CONFIG = Path("config/config.yaml")
SHIPPED_CONFIG = Path(workflow.basedir) / "config" / "config.yaml"


configfile: str(USER_CONFIG if USER_CONFIG.exists() else SHIPPED_CONFIG)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Wildcards match only the series and frames of the sheet.
wildcard_constraints:
    series="|".join(re.escape(s) for s in SERIES),
    frame="|".join(sorted({re.escape(r["frame"]) for r in FRAMES})),


include: "workflow/rules/frame.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/viewer.smk"
include: "workflow/rules/tracking.smk"


# Progress without the scheduler's four lines per job (profiles/default hides job descriptions).
quiet_scheduler()


onsuccess:
    print(closing_message(SERIES, frames_option=frames_option()), file=sys.stderr)


rule all:
    default_target: True
    input:
        get_final_outputs(),
        get_tracking_outputs(),
