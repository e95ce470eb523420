"""`python -m jobs.synthetic --out DIR --persons 3000 [--format parquet] [--trial NCT...]`: a synthetic OMOP
extract with planted patients of every shipped trial (or those given) and their declared ground truth. A
development and test tool, not part of the product: the product never imports this package, and the
spark-submit code zip leaves it out."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date
from pathlib import Path

from jobs.synthetic.generate import TRIALS, generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.synthetic", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--persons", type=int, default=3000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 1))
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--trial", action="append", choices=list(TRIALS),
                   help="plant this trial's patients (repeatable; default: every shipped trial)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        if not args.overwrite:
            print(f"python -m jobs.synthetic: error: --out {out} exists; pass --overwrite to replace it",
                  file=sys.stderr)
            return 2
        shutil.rmtree(out)
    generate(out, persons=args.persons, seed=args.seed, as_of=args.as_of, fmt=args.format,
             trials=tuple(args.trial) if args.trial else None)
    print(f"sample: {out}/omop ({args.persons} persons); ground truth: {out}/ground_truth.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
