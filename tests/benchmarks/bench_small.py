"""The fixed cost of a run on small data (issue 19): the job against a bare Spark session, and how many Spark
jobs and stages the job starts, per pipeline stage.

    .venv/bin/python tests/benchmarks/bench_small.py [--omop ../shared/data/synthea27nj] [--criteria F ...]
        [--as-of 2022-10-10] [--repeat 2]

Each measurement is its own subprocess (a fresh JVM, as a user's run is), alternated `--repeat` times:
  bare  run_benchmark.py's scan floor: one session (jobs/session.py) that reads every table the job reads, with
        the job's reader and column lists, into the `noop` sink (an absent table is zero rows, as in the job);
  job   one session and `jobs.pipeline.run` on the same extract (every shipped trial unless --criteria), the
        Spark jobs and stages counted with the status tracker, stage timings from the manifest.
Wall times include the JVM start in both, so the ratio is what a person rerunning the command waits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea27nj"
SCAN_FLOOR = ROOT / "tests" / "benchmarks" / "run_benchmark.py"  # its --scan-floor child: the bare session


def job_main(omop: str, criteria: list[str], as_of: str, out: str, event_log: str | None) -> None:
    sys.path.insert(0, str(ROOT))
    from datetime import date

    from jobs.config import RunConfig
    from jobs.pipeline import run
    from jobs.rules.loader import load_criteria
    from jobs.session import build_session

    t0 = time.perf_counter()
    conf = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": event_log, "spark.eventLog.compress": "false",
            "spark.eventLog.rolling.enabled": "false"} if event_log else None
    spark = build_session(app_name="bench-job", conf=conf)
    started = time.perf_counter() - t0
    cfg = RunConfig(omop=omop, criteria=tuple(load_criteria(c) for c in criteria), out=out,
                    as_of=date.fromisoformat(as_of), overwrite=True)
    t1 = time.perf_counter()
    result = run(spark, cfg)
    work = time.perf_counter() - t1
    tracker = spark.sparkContext.statusTracker()
    jobs = tracker.getJobIdsForGroup()  # jobs without a group: all of the run's
    stages = sum(len(tracker.getJobInfo(j).stageIds) for j in jobs if tracker.getJobInfo(j) is not None)
    spark.stop()
    print(json.dumps({"session_seconds": round(started, 2), "work_seconds": round(work, 2), "spark_jobs": len(jobs),
                      "spark_stages": stages, "timings": result.manifest["timings_seconds"]}))


def jobs_by_site(event_log: str, top: int) -> list[str]:
    """The event log's Spark jobs grouped by pipeline stage (the job description) and by call site: where the
    fixed cost goes."""
    stage: dict[str, list[float]] = {}
    site: dict[tuple[str, str], list[float]] = {}
    starts: dict[int, tuple[str, str, int]] = {}
    for path in (p for p in Path(event_log).rglob("*") if p.is_file()):
        for line in path.read_text().splitlines():
            ev = json.loads(line)
            if ev["Event"] == "SparkListenerJobStart":
                props = ev.get("Properties", {})
                starts[ev["Job ID"]] = (props.get("spark.job.description", "?"), props.get("callSite.short", "?"),
                                        ev["Submission Time"])
            elif ev["Event"] == "SparkListenerJobEnd" and ev["Job ID"] in starts:
                desc, call, t0 = starts[ev["Job ID"]]
                secs = (ev["Completion Time"] - t0) / 1000
                for key, acc in ((desc, stage), ((desc, call), site)):
                    acc.setdefault(key, [0, 0.0])
                    acc[key][0] += 1
                    acc[key][1] += secs
    lines = ["  jobs by stage: " + ", ".join(f"{k} {n} ({s:.1f} s)" for k, (n, s) in sorted(stage.items()))]
    for (desc, call), (n, secs) in sorted(site.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"    {n:4d} jobs {secs:6.1f} s  {desc}: {call}")
    return lines


def _child(args: list[str], script: Path = Path(__file__)) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "COHORT_FINDER_SPARK_LOG_LEVEL": "ERROR"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--omop", default=str(SYNTHEA))
    p.add_argument("--criteria", action="append", default=None)
    p.add_argument("--as-of", default="2022-10-10")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--child", choices=("job",))
    p.add_argument("--out")
    p.add_argument("--event-log")
    p.add_argument("--keep-events", help="folder for the job's Spark event logs (default: a temporary one)")
    p.add_argument("--top", type=int, default=15, help="call sites listed, by number of Spark jobs")
    a = p.parse_args()
    criteria = a.criteria or [str(f) for f in sorted((ROOT / "criteria").glob("*.yaml"))]
    if a.child == "job":
        return job_main(a.omop, criteria, a.as_of, a.out, a.event_log)
    print(f"extract {a.omop}; trials {len(criteria)}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeat):
            bw, bare = _child(["--scan-floor", a.omop], SCAN_FLOOR)
            events = Path(a.keep_events or tmp) / f"events{i}"
            events.mkdir(parents=True, exist_ok=True)
            jw, job = _child(["--child", "job", "--omop", a.omop, "--as-of", a.as_of, "--out", f"{tmp}/out",
                              "--event-log", str(events), *[x for c in criteria for x in ("--criteria", c)]])
            print(f"round {i + 1}: bare {bw:.1f} s wall ({bare['session_start_seconds']} s session, "
                  f"{bare['scan_seconds']} s reading {len(bare['per_table'])} tables); job {jw:.1f} s wall "
                  f"({job['session_seconds']} s session, {job['work_seconds']} s run; {job['spark_jobs']} Spark jobs, "
                  f"{job['spark_stages']} stages); ratio {jw / bw:.2f}x")
            print("  stages: " + ", ".join(f"{k} {v:.1f}" for k, v in job["timings"].items()))
            if i == 0:
                print("\n".join(jobs_by_site(str(events), a.top)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
