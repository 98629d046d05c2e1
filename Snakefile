# nanotraj: structural analysis of time series of 3D atomic maps of nanocrystals.
# Thin entry point: configuration, includes, default target. The science lives in src/nanotraj.
from pathlib import Path


# The user's config/config.yaml in the working directory wins; otherwise the shipped one (demo).
configfile: (
    "config/config.yaml"
    if Path("config/config.yaml").exists()
    else str(Path(workflow.basedir) / "config" / "config.yaml")
)


include: "workflow/rules/common.smk"
include: "workflow/rules/frame.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
