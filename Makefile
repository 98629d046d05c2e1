# Two commands do all the set-up on a fresh clone (Python >= 3.11 with venv and pip):
#   make demo   create .venv/ with the pinned dependencies and run the workflow on the shipped demo
#   make test   create .venv/ likewise and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test lint report venv slurm clean-results

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[workflow,dev,parquet]"
	$(BIN)/python -m nanotraj.warmup  # compile the numba kernels into numba's cache, once
	touch $@

# The SLURM executor plugin, for `snakemake --profile profiles/slurm` (docs/cluster.md).
slurm: $(VENV)/.slurm

$(VENV)/.slurm: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[workflow,dev,parquet,slurm]"
	touch $@

demo: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv
	$(BIN)/python -m pytest

report: venv
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

lint: venv
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

clean-results:
	rm -rf results .snakemake
