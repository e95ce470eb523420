"""The data-quality gate's share of the whole job, measured on the job's own path (not a test; prints figures).

    .venv/bin/python tests/benchmarks/bench_quality.py [--persons 100000] [--extract DIR] [--repeat 1]

Generates the synthetic extract (jobs.synthetic, Parquet, seed 7) of `--persons` persons in a temp folder (or
uses `--extract`, e.g. build/bench/data/100000/omop from `make bench`), then runs the production job
(`jobs.pipeline.run`, in this process) and prints, from its manifest:
  - the gate: `quality.seconds`, the GX suites on the frames the job already read (one Spark action of
    flags, one of bitmap key counts, a key groupBy only for sparse keys or keys found duplicated, then
    validation of the computed metrics);
  - the quality stage: the gate plus writing the quarantine (rows never used as evidence, with reasons);
  - each as a share of the sum of the job's stages (issue 3's target: the gate <= 25 % at 100k persons).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--extract", help="existing OMOP folder (skip generation)")
    ap.add_argument("--repeat", type=int, default=1, help="job runs; the fastest is reported")
    args = ap.parse_args()

    from jobs.config import RunConfig
    from jobs.pipeline import run
    from jobs.rules.loader import load_criteria
    from jobs.session import build_session

    tmp = Path(tempfile.mkdtemp(prefix="bench_quality_"))
    as_of = date(2026, 10, 1)
    omop = args.extract
    if omop is None:
        from jobs.synthetic.generate import generate

        t0 = time.perf_counter()
        generate(tmp / "gen", args.persons, fmt="parquet", as_of=as_of, seed=7)
        omop = str(tmp / "gen" / "omop")
        print(f"generated {args.persons} persons in {time.perf_counter() - t0:.1f} s -> {omop}")

    spark = build_session(app_name="bench-quality")
    criteria = load_criteria(ROOT / "criteria" / "nct06557265.yaml")
    best = None
    for k in range(args.repeat):
        t0 = time.perf_counter()
        res = run(spark, RunConfig(omop=omop, criteria=criteria, out=str(tmp / f"out{k}"), as_of=as_of))
        wall = time.perf_counter() - t0
        m = res.manifest
        stages = m["timings_seconds"]
        total = sum(stages.values())
        gate, q = m["quality"]["seconds"], stages["quality"]
        print(f"run {k + 1}: job {wall:.1f} s in-process, stages {total:.1f} s {stages}")
        print(f"  gate {gate:.1f} s = {100 * gate / total:.1f} % of the stages; quality stage (gate + quarantine"
              f" write) {q:.1f} s = {100 * q / total:.1f} %; {m['quality']['evaluated']} expectations evaluated,"
              f" {m['quality']['warnings']} warnings; rows read {sum(m['rows_read'].values()):,}")
        if best is None or total < best[0]:
            best = (total, gate, q)
    total, gate, q = best
    print(f"gate share of the job (fastest run): {gate:.1f} / {total:.1f} s = {100 * gate / total:.0f} %"
          f" (quality stage incl. quarantine {100 * q / total:.0f} %)")
    spark.stop()


if __name__ == "__main__":
    main()
