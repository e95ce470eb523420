"""spark-submit entry point: `spark-submit jobs/main.py run --omop ... --out ...` (same arguments as the CLI).

spark-submit puts this file's folder on sys.path, not the project root, so the root (or the zipped package
shipped with --py-files) is added before importing the package.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    here = str(Path(__file__).resolve().parent)
    if here in sys.path:  # jobs/ itself must not shadow top-level modules
        sys.path.remove(here)
    from jobs.cli import main

    sys.exit(main())
