"""Benchmark of the data-quality gate against the whole job (not a test; prints figures).

    .venv/bin/python tests/benchmarks/bench_quality.py [--persons 100000] [--extract DIR] [--skip-job]

Generates the synthetic extract (jobs.generator, Parquet) of `--persons` persons in a temp folder (or uses
`--extract`), then
  1. runs the whole job (jobs.pipeline.run) and takes its wall time and stage timings;
  2. reads the same frames as the job does and runs `run_gate` on them (all suites), printing the gate's
     seconds split into metric computation (one Spark action: flags + key groupBys) and GX validation;
  3. prints the gate's share of the job: gate / (job - job's own quality stage + gate).
At 100k persons the generator writes about 3.4M measurement rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--extract", help="existing OMOP folder (skip generation)")
    ap.add_argument("--skip-job", action="store_true", help="time the gate only")
    ap.add_argument("--repeat", type=int, default=2, help="gate runs (the first in a process is slower)")
    args = ap.parse_args()

    from pyspark.sql import functions as F

    from jobs.criteria_loader import load_criteria
    from jobs.omop_reader import OmopExtract
    from jobs.pipeline import read_tables
    from jobs.quality import load_suites, run_gate
    from jobs.session import build_session

    tmp = Path(tempfile.mkdtemp(prefix="bench_quality_"))
    omop = args.extract
    as_of = date(2026, 10, 1)
    if omop is None:
        from jobs.generator import generate

        t0 = time.perf_counter()
        generate(tmp / "gen", args.persons, fmt="parquet", as_of=as_of)
        omop = str(tmp / "gen" / "omop")
        print(f"generated {args.persons} persons in {time.perf_counter() - t0:.1f} s -> {omop}")

    spark = build_session(app_name="bench-quality")
    criteria_path = Path(__file__).resolve().parents[2] / "criteria" / "nct06557265.yaml"
    criteria = load_criteria(criteria_path)

    job_seconds = job_quality = None
    if not args.skip_job:
        from jobs.pipeline import RunConfig, run

        t0 = time.perf_counter()
        res = run(spark, RunConfig(omop=omop, criteria=criteria, criteria_path=str(criteria_path),
                                   out=str(tmp / "out"), as_of=as_of))
        job_seconds = time.perf_counter() - t0
        stages = res.manifest.get("timings_seconds", {})
        job_quality = stages.get("quality", 0.0)
        print(f"whole job: {job_seconds:.1f} s; stages {stages}")

    extract = OmopExtract(spark, omop)
    frames = read_tables(extract)
    n_meas = frames["measurement"].count()
    # lab_results as the contract describes it, approximated: every numeric measurement as one lab.
    labs = frames["measurement"].select(
        "measurement_id", "person_id", F.lit("hemoglobin").alias("lab"), "measurement_date", "value_as_number",
        F.col("value_as_concept_id"), F.when(F.col("unit_concept_id") > 0, F.lit("g/dL")).alias("unit_key"),
        F.when(F.col("unit_concept_id") > 0, F.col("value_as_number")).alias("value_canonical"),
        F.col("value_as_number").isNotNull().alias("has_value"))
    suites = load_suites()
    print(f"measurement rows: {n_meas}; tables: {', '.join(sorted(frames))}")
    for k in range(args.repeat):
        gate = run_gate(spark, frames, as_of=as_of, suites=suites, lab_results=labs)
        m = gate.to_manifest()
        print(f"gate run {k + 1}: {gate.seconds:.1f} s {gate.timings}; {m['evaluated']} expectations evaluated,"
              f" {m['skipped']} skipped, {m['errors']} errors, {m['warnings']} warnings")
    if job_seconds is not None:
        total = job_seconds - job_quality + gate.seconds
        print(f"gate share of the job: {gate.seconds:.1f} / {total:.1f} s = {100 * gate.seconds / total:.0f} %"
              f" (job without its placeholder quality stage {job_seconds - job_quality:.1f} s)")
    print(gate.summary_text())
    spark.stop()


if __name__ == "__main__":
    main()
