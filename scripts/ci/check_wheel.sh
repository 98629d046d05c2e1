#!/usr/bin/env bash
# The package as users install it without the repository: build the wheel, install it (not
# editable) with the pinned dependencies into a fresh venv, and run the shipped demo from another
# working directory. Fails if the wheel misses package data (the element table) or the workflow
# needs files that only the source tree has.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade "pip==26.3"
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
wheel="$(ls "$work"/dist/nanotraj-*.whl)"
# The listing goes to a file first: with pipefail, `unzip | grep -q` fails at random when grep
# exits on its match before unzip has written the rest (SIGPIPE, exit 141).
unzip -Z1 "$wheel" >"$work/listing"
grep -qx "nanotraj/data/elements.tsv" "$work/listing" || { echo "wheel lacks the element table"; exit 1; }
"$work/venv/bin/python" -m pip install --quiet -c "$repo/constraints.txt" "${wheel}[workflow]"
mkdir "$work/run"
cd "$work/run"
"$work/venv/bin/python" -c "import nanotraj, sys; sys.exit('editable install?' if '$repo' in nanotraj.__file__ else 0)"
"$work/venv/bin/snakemake" -s "$repo/Snakefile" --cores 2 --quiet all
ok=$(grep -c ",ok$\|,ok," results/summary.csv || true)
echo "wheel: demo from $work/run: $ok frames ok"
[ "$ok" -ge 8 ]
