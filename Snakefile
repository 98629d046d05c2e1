# nanotraj: structural analysis of time series of 3D atomic maps of nanocrystals.
# Thin entry point: configuration, includes, default target. The science lives in src/nanotraj.
import re
from pathlib import Path

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


rule all:
    default_target: True
    input:
        get_final_outputs(),
        get_tracking_outputs(),
