#!/usr/bin/env python3
"""Write a nanotraj frames sheet from a folder of PDB/mmCIF files (see `--help`).

Same as the `nanotraj-sheet` command installed with the package.
"""

import sys

from nanotraj.sheet import main

if __name__ == "__main__":
    sys.exit(main())
