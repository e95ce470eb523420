"""Where the job's time goes, Spark job by Spark job (not a test; prints figures).

    .venv/bin/python tests/benchmarks/profile_job.py --omop build/bench/data/1000000/omop [--top 25]

Runs the production job (`jobs.pipeline.run`) once with Spark's event log on, then reads the log and prints
every Spark job's wall time, its Python call site (file:line in jobs/), its stages' task time, and the bytes
it read, shuffled and wrote, grouped under the pipeline stage (read, quality, ...) it ran in. The per-stage
wall times are the manifest's. Use it before and after a change to a stage, next to `explain()`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_event_log(path: Path) -> list[dict]:
    """SQL executions (one per action) from an event log: description, wall ms, and over their Spark jobs'
    tasks: task ms, tasks, bytes read, shuffle bytes written and read, bytes written."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]  # Spark 4 writes a folder of rolling files
    execs: dict[str, dict] = {}
    job_exec: dict[int, str] = {}
    stage_exec: dict[int, str] = {}
    for f in files:
        if f != path and not f.name.startswith("events"):
            continue
        for line in f.read_text().splitlines():
            e = json.loads(line)
            kind = e.get("Event", "")
            if kind.endswith("SQLExecutionStart"):
                execs[str(e["executionId"])] = {"id": int(e["executionId"]), "start": int(e["time"]),
                                                "description": e.get("description", ""), "task_ms": 0,
                                                "tasks": 0, "read": 0, "shuffle_write": 0, "shuffle_read": 0,
                                                "written": 0, "jobs": 0}
            elif kind.endswith("SQLExecutionEnd"):
                x = execs.get(str(e["executionId"]))
                if x is not None:
                    x["end"] = int(e["time"])
            elif kind == "SparkListenerJobStart":
                eid = (e.get("Properties") or {}).get("spark.sql.execution.root.id") or \
                    (e.get("Properties") or {}).get("spark.sql.execution.id")
                if eid in execs:
                    execs[eid]["jobs"] += 1
                    job_exec[e["Job ID"]] = eid
                    for sid in e.get("Stage IDs", []):
                        stage_exec[sid] = eid
            elif kind == "SparkListenerTaskEnd":
                x = execs.get(stage_exec.get(e.get("Stage ID"), ""))
                if x is None:
                    continue
                m, info = e.get("Task Metrics") or {}, e.get("Task Info") or {}
                x["tasks"] += 1
                x["task_ms"] += int(info.get("Finish Time", 0)) - int(info.get("Launch Time", 0))
                x["read"] += int((m.get("Input Metrics") or {}).get("Bytes Read", 0))
                x["written"] += int((m.get("Output Metrics") or {}).get("Bytes Written", 0))
                x["shuffle_write"] += int((m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0))
                sr = m.get("Shuffle Read Metrics") or {}
                x["shuffle_read"] += int(sr.get("Remote Bytes Read", 0)) + int(sr.get("Local Bytes Read", 0))
    out = sorted(execs.values(), key=lambda x: x["id"])
    for x in out:
        x["wall_ms"] = x.get("end", x["start"]) - x["start"]
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--omop", required=True)
    ap.add_argument("--as-of", default="2026-10-01")
    ap.add_argument("--top", type=int, default=30, help="show the N slowest Spark jobs in full")
    ap.add_argument("--driver-memory", default=os.environ.get("COHORT_FINDER_DRIVER_MEMORY", "12g"))
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark setting for an experiment (repeatable)")
    args = ap.parse_args()

    from jobs.criteria_loader import load_criteria
    from jobs.pipeline import RunConfig, run
    from jobs.session import build_session

    work = Path(tempfile.mkdtemp(prefix="profile_job_"))
    logs = work / "eventlog"
    logs.mkdir()
    conf = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{logs}",
            "spark.eventLog.compress": "false", **dict(kv.split("=", 1) for kv in args.conf)}
    spark = build_session(app_name="cohort-finder-profile", driver_memory=args.driver_memory, conf=conf)
    criteria_path = ROOT / "criteria" / "nct06557265.yaml"
    cfg = RunConfig(omop=args.omop, criteria=load_criteria(criteria_path), criteria_path=str(criteria_path),
                    out=str(work / "out"), as_of=date.fromisoformat(args.as_of))
    t0 = time.perf_counter()
    result = run(spark, cfg)
    wall = time.perf_counter() - t0
    spark.stop()
    execs = parse_event_log(next(logs.iterdir()))
    per_stage: dict[str, list[dict]] = defaultdict(list)
    for x in execs:
        per_stage[x["description"].split(":")[0].split(" at ")[0]].append(x)
    print(f"job wall {wall:.1f} s; manifest stages: {result.manifest['timings_seconds']}")
    print(f"{len(execs)} SQL executions (actions); event log: {logs}")
    print("\nper description prefix: actions, sum of their wall s, task s, read MB, shuffle-write MB, written MB")
    for stage, xs in per_stage.items():
        print(f"  {stage:24s} {len(xs):4d} {sum(x['wall_ms'] for x in xs) / 1e3:8.1f} s wall "
              f"{sum(x['task_ms'] for x in xs) / 1e3:8.1f} s tasks  read {_mb(sum(x['read'] for x in xs)):>8} "
              f"shuffle {_mb(sum(x['shuffle_write'] for x in xs)):>8}  written {_mb(sum(x['written'] for x in xs)):>8}")
    print(f"\nslowest {args.top} actions:")
    print(f"  {'id':>4} {'wall s':>7} {'task s':>7} {'jobs':>5} {'tasks':>6} {'read MB':>8} {'shufW MB':>8} "
          f"{'shufR MB':>8} {'wrote MB':>8}  description")
    for x in sorted(execs, key=lambda x: -x["wall_ms"])[:args.top]:
        print(f"  {x['id']:4d} {x['wall_ms'] / 1e3:7.1f} {x['task_ms'] / 1e3:7.1f} {x['jobs']:5d} {x['tasks']:6d} "
              f"{_mb(x['read']):>8} {_mb(x['shuffle_write']):>8} {_mb(x['shuffle_read']):>8} {_mb(x['written']):>8}"
              f"  {x['description'][:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
