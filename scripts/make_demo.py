#!/usr/bin/env python3
"""Regenerate the shipped demo series (resources/demo/*.pdb) and its sheet (config/frames.tsv).

    python scripts/make_demo.py            # from the project root
"""

import sys
from pathlib import Path

from nanotraj.demo import write_demo

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    paths = write_demo(root / "resources" / "demo", root / "config" / "frames.tsv")
    print(f"wrote {len(paths)} frames to {root / 'resources' / 'demo'}", file=sys.stderr)
