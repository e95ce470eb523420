"""Where the job's time goes, Spark job by Spark job (not a test; prints figures).

    .venv/bin/python tests/benchmarks/profile_job.py --omop build/bench/data/1000000/omop [--top 25]

Runs the production job (`jobs.pipeline.run`) once with Spark's event log on, then reads the log and prints
every Spark job's wall time, its Python call site (file:line in jobs/), its stages' task time, and the bytes
it read, shuffled and wrote, grouped under the pipeline stage (read, quality, ...) it ran in. The per-stage
wall times are the manifest's. Use it before and after a change to a stage, next to `explain()`.

`--jfr` also records the driver JVM with Java Flight Recorder and prints, per pipeline stage, the CPU samples
whose top frame ran in the bytecode interpreter, and the generated methods the JIT gave up on: Spark code that
is too large to compile runs many times slower and shows nowhere else (how the ranking stage was found).

`--jit` prints the JVM's own CPU seconds and, when the JVM exits (after this script's figures), HotSpot's
compilation totals (`-XX:+CITime`): how much of the machine the JIT compilers took (at 1M persons on 2 cores,
about a third of the JVM's CPU; tests/benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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


def _epoch_ms(iso: str) -> int:
    """JFR's ISO timestamp (nanoseconds, Z) as epoch milliseconds."""
    from datetime import datetime

    head, _, frac = iso.rstrip("Z").partition(".")
    return int(datetime.fromisoformat(head + "+00:00").timestamp() * 1000) + int((frac + "000")[:3])


def jfr_report(recording: Path, execs: list[dict]) -> None:
    """Per stage prefix: CPU samples, the share whose top frame was interpreted, the top interpreted methods;
    then every generated (Spark codegen) method the JIT failed to compile."""
    def dump(events: str, depth: int = 1) -> list[dict]:
        out = subprocess.run(["jfr", "print", "--json", "--events", events, "--stack-depth", str(depth),
                              str(recording)], capture_output=True, text=True, check=True).stdout
        return json.loads(out)["recording"]["events"]

    spans = [(x["start"], x.get("end", x["start"]), x["description"].split(":")[0].split(" at ")[0]) for x in execs]
    total: dict[str, int] = defaultdict(int)
    interp: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in dump("jdk.ExecutionSample"):
        frames = (e["values"].get("stackTrace") or {}).get("frames") or []
        if not frames:
            continue
        t = _epoch_ms(e["values"]["startTime"])
        stage = next((name for a, b, name in spans if a <= t <= b), "(between actions)")
        total[stage] += 1
        if frames[0]["type"] == "Interpreted":
            m = frames[0]["method"]
            interp[stage][f"{m['type']['name'].rsplit('/', 1)[-1]}.{m['name']}"] += 1
    print("\nJFR CPU samples per stage prefix: samples, top frame interpreted (share), top interpreted methods")
    for stage, n in total.items():
        k = sum(interp[stage].values())
        top = ", ".join(f"{m[-60:]} {c}" for m, c in sorted(interp[stage].items(), key=lambda x: -x[1])[:3])
        print(f"  {stage:24s} {n:7d} {k:7d} ({100 * k / n:3.0f} %)  {top}")
    failed = [e["values"] for e in dump("jdk.CompilationFailure")]
    print(f"\nJIT compilations that failed: {len(failed)}")
    reasons: dict[str, int] = defaultdict(int)
    for f in failed:
        reasons[f.get("failureMessage", "")] += 1
    for why, c in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"  {c:4d}  {why}")


def jvm_cpu_seconds(pid: str) -> float:
    """User + system CPU seconds of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    ap.add_argument("--jfr", action="store_true", help="record the driver JVM with Java Flight Recorder")
    ap.add_argument("--jit", action="store_true", help="JVM CPU seconds and HotSpot's compilation totals")
    args = ap.parse_args()

    from jobs import session
    from jobs.config import RunConfig
    from jobs.pipeline import run
    from jobs.rules.loader import load_criteria
    from jobs.session import build_session

    work = Path(tempfile.mkdtemp(prefix="profile_job_"))
    recording = work / "driver.jfr"
    if args.jfr:  # local mode: the driver JVM is the executor
        session.JVM_OPTIONS = f"{session.JVM_OPTIONS} -XX:StartFlightRecording=settings=profile"
    if args.jit:  # printed by the JVM when it exits
        session.JVM_OPTIONS = f"{session.JVM_OPTIONS} -XX:+CITime"
    logs = work / "eventlog"
    logs.mkdir()
    conf = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{logs}",
            "spark.eventLog.compress": "false", **dict(kv.split("=", 1) for kv in args.conf)}
    spark = build_session(app_name="cohort-finder-profile", driver_memory=args.driver_memory, conf=conf)
    cfg = RunConfig(omop=args.omop, criteria=load_criteria(ROOT / "criteria" / "nct06557265.yaml"),
                    out=str(work / "out"), as_of=date.fromisoformat(args.as_of))
    t0 = time.perf_counter()
    result = run(spark, cfg)
    wall = time.perf_counter() - t0
    pid = str(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    if args.jfr:
        subprocess.run(["jcmd", pid, "JFR.dump", f"filename={recording}"], check=True, capture_output=True)
    jvm_cpu = jvm_cpu_seconds(pid) if args.jit else 0.0  # /proc: Linux only, so only when asked for
    spark.stop()
    execs = parse_event_log(next(logs.iterdir()))
    per_stage: dict[str, list[dict]] = defaultdict(list)
    for x in execs:
        per_stage[x["description"].split(":")[0].split(" at ")[0]].append(x)
    print(f"job wall {wall:.1f} s; manifest stages: {result.manifest['timings_seconds']}")
    if args.jit:
        print(f"JVM CPU {jvm_cpu:.1f} s (user + system, all threads: tasks, JIT compilers, GC); HotSpot's"
              " compilation totals follow when the JVM exits")
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
    if args.jfr:
        print(f"\nJFR recording: {recording}")
        jfr_report(recording, execs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
