"""`make bench`: the whole job at several sizes, its scan floor, the DuckDB peer and the differential check.

    .venv/bin/python tests/benchmarks/run_benchmark.py [--sizes 10000,100000,1000000] [--work build/bench] [--repeat 1]

Per size (each step a subprocess, so one size's JVM or DuckDB never inflates the next one's memory):
  1. generate the synthetic extract as Parquet into WORK/data/<n>/ (reused when its generation.json matches);
  2. run the job (`cohort-finder run ... --overwrite`) with COHORT_FINDER_DRIVER_MEMORY / _SHUFFLE_PARTITIONS
     sized for the data; wall time, stage timings and rows read from manifest.json; peak memory sampled from
     /proc (VmRSS summed over the process tree: the Python driver and its JVM; VmHWM per process);
  3. the scan floor: one Spark session reads every table the job reads, with the job's own reader and column
     lists (`OmopExtract.read(table, jobs.extract.inputs.COLUMNS[table])`) and writes it to the `noop` sink;
  4. the DuckDB peer (tests/oracle/peer_duckdb.py) over the same Parquet, compared with the job's person_status.
A finished size is saved to WORK/results_<n>.json and skipped on the next run (resumable; --force redoes it).
Writes WORK/results.json and WORK/results.md (the table for tests/benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "tests" / "oracle" / "peer_duckdb.py"
BIN = Path(sys.executable).parent
AS_OF = "2026-10-01"
SEED = 7
STAGES = ("read", "quality", "features", "criteria", "ranking", "write")


# ------------------------------------------------------------------------------------------------ helpers
def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def driver_memory(persons: int) -> str:
    """Heap for the local driver (it is the executor too) on a 24 GiB machine."""
    return "2g" if persons <= 20_000 else "4g" if persons <= 200_000 else "12g"


def shuffle_partitions(persons: int) -> str:
    """About 64-128 MB per shuffle partition at the largest exchange (measurement, ~31 rows/person); AQE coalesces."""
    return "4" if persons <= 20_000 else "8" if persons <= 200_000 else "32"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(c) for c in text]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.append(p)
            todo += _children(p)
    return seen


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class MemorySampler:
    """Samples VmRSS of a process tree every `interval` s; keeps the peak sum and each process's VmHWM."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss_kb = 0
        self.hwm_kb: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in _tree(self.pid):
                total += _status_kb(p, "VmRSS")
                kind = "jvm" if "java" in _cmdline(p).split(" ", 1)[0] else "python"
                self.hwm_kb[kind] = max(self.hwm_kb.get(kind, 0), _status_kb(p, "VmHWM"))
            self.peak_rss_kb = max(self.peak_rss_kb, total)
            self._stop.wait(self.interval)

    def facts(self) -> dict:
        mib = 1024
        return {"peak_rss_tree_mib": round(self.peak_rss_kb / mib), **{f"vmhwm_{k}_mib": round(v / mib)
                                                                      for k, v in sorted(self.hwm_kb.items())}}


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float, dict]:
    """Run a command, its output to `log`; returns (exit code, wall seconds, memory facts)."""
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        with MemorySampler(proc.pid) as sampler:
            rc = proc.wait()
    return rc, round(time.perf_counter() - t0, 3), sampler.facts()


def base_env(persons: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["PYSPARK_PYTHON"] = sys.executable
    env["COHORT_FINDER_DRIVER_MEMORY"] = driver_memory(persons)
    env["COHORT_FINDER_SHUFFLE_PARTITIONS"] = shuffle_partitions(persons)
    return env


def machine() -> dict:
    info: dict = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        mem = Path("/proc/meminfo").read_text()
        info["ram_gib"] = round(int(re.search(r"MemTotal:\s+(\d+)", mem).group(1)) / 1024 / 1024, 1)
        cpu = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", cpu)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
    except (OSError, AttributeError):
        pass
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        info["java"] = (out.stderr or out.stdout).splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        info["java"] = "unknown"
    for mod in ("pyspark", "duckdb", "pyarrow"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


# ------------------------------------------------------------------------------------------------ steps
def ensure_data(persons: int, work: Path) -> Path:
    target = work / "data" / str(persons)
    gen = target / "generation.json"
    if gen.exists():
        meta = json.loads(gen.read_text())
        if (meta.get("persons"), meta.get("seed"), meta.get("as_of"), meta.get("format")) == (
                persons, SEED, AS_OF, "parquet"):
            _log(f"{persons}: reusing {target}")
            return target
    _log(f"{persons}: generating Parquet into {target}")
    cmd = [str(BIN / "python"), "-m", "jobs.synthetic", "--out", str(target), "--persons", str(persons), "--seed",
           str(SEED), "--as-of", AS_OF, "--format", "parquet", "--overwrite"]
    target.mkdir(parents=True, exist_ok=True)
    rc, secs, mem = run_measured(cmd, base_env(persons), work / f"generate_{persons}.log")
    if rc != 0:
        raise SystemExit(f"generation of {persons} persons failed (exit {rc}); see {work}/generate_{persons}.log")
    _log(f"{persons}: generated in {secs:.1f} s (peak RSS {mem['peak_rss_tree_mib']} MiB)")
    return target


def run_job(persons: int, omop: Path, out: Path, log: Path) -> dict:
    cmd = [str(BIN / "cohort-finder"), "run", "--omop", str(omop), "--criteria", str(ROOT / "criteria" /
           "nct06557265.yaml"), "--as-of", AS_OF, "--out", str(out), "--overwrite"]
    rc, wall, mem = run_measured(cmd, base_env(persons), log)
    if rc != 0:
        raise SystemExit(f"job failed at {persons} persons (exit {rc}); see {log}")
    manifest = json.loads((out / "manifest.json").read_text())
    stages = {k: manifest["timings_seconds"].get(k, 0.0) for k in STAGES}
    rows = manifest.get("rows_read", {})
    gate = float(manifest.get("quality", {}).get("seconds", 0.0))
    total = sum(stages.values())
    return {"wall_seconds": wall, "stage_seconds": stages, "stages_total_seconds": round(total, 3),
            "gate_seconds": round(gate, 3), "gate_share": round(gate / total, 3) if total else None,
            "rows_read": rows, "rows_read_total": int(sum(rows.values())), **mem,
            "status_counts": manifest["trials"]["NCT06557265"]["status_counts"]}


def run_scan_floor(persons: int, omop: Path, log: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--scan-floor", str(omop)]
    rc, wall, mem = run_measured(cmd, base_env(persons), log)
    if rc != 0:
        raise SystemExit(f"scan floor failed at {persons} persons (exit {rc}); see {log}")
    facts = json.loads(log.read_text().strip().splitlines()[-1])
    return {"process_wall_seconds": wall, **facts, **mem}


def run_peer(persons: int, omop: Path, job_out: Path, work: Path, log: Path) -> dict:
    summary = work / f"peer_{persons}.json"
    cmd = [sys.executable, str(PEER), "--omop", str(omop), "--as-of", AS_OF,
           "--job-out", str(job_out / "NCT06557265"), "--json", str(summary)]
    rc, wall, mem = run_measured(cmd, base_env(persons), log)
    if rc not in (0, 1):
        raise SystemExit(f"peer failed at {persons} persons (exit {rc}); see {log}")
    facts = json.loads(summary.read_text())
    diff = facts["differential"]
    return {"process_wall_seconds": wall, "seconds": facts["seconds"], "equal": diff["equal"],
            "mismatched_rows": diff["mismatched_rows"], "mismatch_counts": diff["counts"],
            "by_criterion": diff["by_criterion"], "examples": diff["examples"][:3], **mem}


def bench_size(persons: int, work: Path, repeat: int) -> dict:
    omop = ensure_data(persons, work) / "omop"
    gen = json.loads((omop.parent / "generation.json").read_text())
    jobs, peers = [], []
    for i in range(repeat):
        out = work / "out" / str(persons)
        _log(f"{persons}: job run {i + 1}/{repeat} (driver {driver_memory(persons)}, "
             f"{shuffle_partitions(persons)} shuffle partitions)")
        jobs.append(run_job(persons, omop, out, work / f"job_{persons}_{i + 1}.log"))
        _log(f"{persons}: job {jobs[-1]['wall_seconds']:.1f} s wall, stages {jobs[-1]['stage_seconds']}")
        _log(f"{persons}: DuckDB peer + differential")
        peers.append(run_peer(persons, omop, out, work, work / f"peer_{persons}_{i + 1}.log"))
        _log(f"{persons}: peer {peers[-1]['seconds']['total']:.1f} s; statuses equal: {peers[-1]['equal']}")
    _log(f"{persons}: scan floor")
    scan = run_scan_floor(persons, omop, work / f"scan_{persons}.log")
    _log(f"{persons}: scan floor {scan['scan_seconds']:.1f} s")
    job = min(jobs, key=lambda j: j["stages_total_seconds"])
    peer = min(peers, key=lambda p: p["seconds"]["total"])
    job_s = job["stages_total_seconds"]
    return {
        "persons": persons,
        "generation": {"tables": gen.get("tables"), "rows_per_person": gen.get("rows_per_person")},
        "job": job, "job_runs": jobs, "scan_floor": scan, "peer": peer, "peer_runs": peers,
        "differential_equal": all(p["equal"] for p in peers),
        "rows_per_second": round(job["rows_read_total"] / job_s) if job_s else None,
        "ratio_job_to_scan_floor": round(job_s / scan["scan_seconds"], 2) if scan["scan_seconds"] else None,
        "ratio_job_to_peer": round(job_s / peer["seconds"]["total"], 2) if peer["seconds"]["total"] else None,
    }


# ------------------------------------------------------------------------------------------------ scan floor
def scan_floor_main(omop: str) -> None:
    """One Spark session: every table the job reads, the job's reader and columns, written to `noop`."""
    sys.path.insert(0, str(ROOT))
    from jobs.extract.inputs import COLUMNS
    from jobs.extract.reader import OmopExtract
    from jobs.session import build_session

    t0 = time.perf_counter()
    spark = build_session(app_name="cohort-finder-scan-floor")
    started = time.perf_counter() - t0
    extract = OmopExtract(spark, omop)
    per_table: dict[str, float] = {}
    t1 = time.perf_counter()
    for table, cols in COLUMNS.items():
        ts = time.perf_counter()
        extract.read(table, cols).write.format("noop").mode("overwrite").save()
        per_table[table] = round(time.perf_counter() - ts, 3)
    scan = round(time.perf_counter() - t1, 3)
    spark.stop()
    print(json.dumps({"session_start_seconds": round(started, 3), "scan_seconds": scan, "per_table": per_table}))


# ------------------------------------------------------------------------------------------------ report
def growth(results: list[dict]) -> list[dict]:
    out = []
    done = sorted(results, key=lambda r: r["persons"])
    for a, b in zip(done, done[1:], strict=False):
        ja, jb = a["job"]["stages_total_seconds"], b["job"]["stages_total_seconds"]
        out.append({"from": a["persons"], "to": b["persons"], "persons_ratio": round(b["persons"] / a["persons"], 2),
                    "job_time_ratio": round(jb / ja, 2) if ja else None,
                    "job_wall_ratio": round(b["job"]["wall_seconds"] / a["job"]["wall_seconds"], 2)})
    return out


def _gate_cell(job: dict) -> str:
    """The gate's own seconds (manifest quality.seconds: GX metrics + validation) and its share of the stages."""
    if job.get("gate_share") is None:
        return "n/a"
    return f"{job['gate_seconds']:.1f} ({100 * job['gate_share']:.0f} %)"


def markdown(results: list[dict], info: dict) -> str:
    rows = sorted(results, key=lambda r: r["persons"])
    head = ["persons", "job wall s", *[f"{s} s" for s in STAGES], "stages s", "gate s (share)", "rows read", "rows/s",
            "peak RSS MiB (tree)", "scan floor s", "job/scan", "peer s", "job/peer", "statuses equal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        j = r["job"]
        lines.append("| " + " | ".join(str(x) for x in [
            f"{r['persons']:,}", f"{j['wall_seconds']:.1f}", *[f"{j['stage_seconds'][s]:.1f}" for s in STAGES],
            f"{j['stages_total_seconds']:.1f}", _gate_cell(j), f"{j['rows_read_total']:,}", f"{r['rows_per_second']:,}",
            f"{j['peak_rss_tree_mib']:,}", f"{r['scan_floor']['scan_seconds']:.1f}", r["ratio_job_to_scan_floor"],
            f"{r['peer']['seconds']['total']:.1f}", r["ratio_job_to_peer"],
            "yes" if r["differential_equal"] else f"NO ({r['peer']['mismatched_rows']} rows)"]) + " |")
    for g in growth(rows):
        lines.append("")
        lines.append(f"Growth {g['from']:,} -> {g['to']:,} persons (x{g['persons_ratio']}): job stages "
                     f"x{g['job_time_ratio']}, job wall x{g['job_wall_ratio']}.")
    lines += ["", f"Machine: {info.get('cpu')}, {info.get('nproc')} cores, {info.get('ram_gib')} GiB RAM; "
              f"{info.get('java')}; Python {info.get('python')}, pyspark {info.get('pyspark')}, "
              f"duckdb {info.get('duckdb')}; load average at start {info.get('load_average_at_start')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="cohort-finder benchmark (make bench)")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--work", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="redo sizes that already have results")
    ap.add_argument("--scan-floor", metavar="OMOP", help=argparse.SUPPRESS)  # internal: the scan-floor subprocess
    args = ap.parse_args(argv)
    if args.scan_floor:
        scan_floor_main(args.scan_floor)
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    _log("machine: " + json.dumps(info))
    results = []
    for n in sizes:
        saved = work / f"results_{n}.json"
        if saved.exists() and not args.force:
            _log(f"{n}: results exist ({saved}); skipping (use --force to redo)")
            results.append(json.loads(saved.read_text()))
            continue
        r = bench_size(n, work, args.repeat)
        r["machine"] = info
        saved.write_text(json.dumps(r, indent=2, default=str) + "\n")
        results.append(r)
    table = markdown(results, info)
    (work / "results.json").write_text(json.dumps({"machine": info, "sizes": results, "growth": growth(results)},
                                                  indent=2, default=str) + "\n")
    (work / "results.md").write_text(table)
    print()
    print(table)
    print(f"results: {work / 'results.json'}; markdown: {work / 'results.md'}")
    unequal = [r["persons"] for r in results if not r["differential_equal"]]
    if unequal:
        print(f"DIFFERENTIAL CHECK FAILED at {unequal} persons: see {work}/peer_<n>.json", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
