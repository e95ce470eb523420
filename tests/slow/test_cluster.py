"""The job on a Spark standalone cluster (1 master + 2 workers on 127.0.0.1, see tests/support/cluster.py).

- issue 4: `spark-submit jobs/main.py run ...` on the cluster gives the same results as a local run;
- issue 5: killing one executor (kill -9) in the middle of the job changes nothing: Spark retries the lost
  tasks (spark.task.maxFailures=4 in jobs/session.py), the worker starts a replacement, and the results equal the
  undisturbed run;
- the `make dist` packed environment works on executors (`--archives ...#environment`), when dist/ is built.

One cluster and one sample for the module. Slow (a few minutes on 2 cores): `pytest -m slow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cluster import ROOT, StandaloneCluster, stop_process_group

pytestmark = [pytest.mark.slow]

PERSONS = int(os.environ.get("COHORT_FINDER_CLUSTER_PERSONS", "1000"))
AS_OF = "2026-10-01"
CRITERIA = ROOT / "criteria" / "nct06557265.yaml"
JOB_TIMEOUT = 900  # seconds; generous: CI machines are often shared
DIST = ROOT / "dist"


def run_args(omop: Path, out: Path) -> list[str]:
    return ["run", "--omop", str(omop), "--criteria", str(CRITERIA), "--as-of", AS_OF, "--out", str(out)]


# ---- fixtures --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def omop(work) -> Path:
    from jobs.synthetic.generate import generate

    generate(work / "sample", persons=PERSONS, seed=7)
    return work / "sample" / "omop"


@pytest.fixture(scope="module")
def standalone_cluster(work):
    cluster = StandaloneCluster.start(work / "spark", workers=2, cores=1, memory="1g", python=sys.executable)
    print(f"\ncluster {cluster.master_url}: 2 workers alive after {cluster.started_seconds:.1f}s")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def local_out(work, omop) -> Path:
    out = work / "out_local"
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).with_name("cohort-finder")), *run_args(omop, out),
                           "--master", "local[2]"], capture_output=True, text=True, timeout=JOB_TIMEOUT,
                          env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable},
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"\nlocal[2] run: {time.monotonic() - t0:.1f}s")
    return out


@pytest.fixture(scope="module")
def cluster_out(work, omop, standalone_cluster) -> Path:
    out = work / "out_cluster"
    t0 = time.monotonic()
    proc = standalone_cluster.submit(run_args(omop, out), timeout=JOB_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"\nspark-submit on the cluster: {time.monotonic() - t0:.1f}s")
    return out


# ---- comparing results -----------------------------------------------------------------------------------------
def sorted_frame(folder: Path, keys: list[str]) -> pd.DataFrame:
    """A Parquet folder as a pandas frame in a canonical row order (array columns as tuples)."""
    df = pd.read_parquet(folder)
    for col in df.columns:
        if df[col].map(lambda v: hasattr(v, "__len__") and not isinstance(v, str)).any():
            df[col] = df[col].map(lambda v: None if v is None else tuple(v))
    return df.sort_values(keys).reset_index(drop=True)


def assert_same_results(a: Path, b: Path) -> None:
    assert (a / "manifest.json").exists() and (b / "manifest.json").exists()
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["trials"].keys() == mb["trials"].keys() == {"NCT06557265"}
    a, b = a / "NCT06557265", b / "NCT06557265"  # the trial's folder under --out
    pd.testing.assert_frame_equal(sorted_frame(a / "person_status", ["cohort", "person_id"]),
                                  sorted_frame(b / "person_status", ["cohort", "person_id"]))
    pd.testing.assert_frame_equal(sorted_frame(a / "criteria_results", ["cohort", "person_id", "criterion"]),
                                  sorted_frame(b / "criteria_results", ["cohort", "person_id", "criterion"]))
    csvs = sorted(p.name for p in a.glob("candidates_*.csv"))
    assert csvs and csvs == sorted(p.name for p in b.glob("candidates_*.csv"))
    for name in ["attrition.csv", "counts_by_site.csv", *csvs]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"
    assert ma["trials"] == mb["trials"]
    # the gate's counts (every expectation's bad rows, incl. the bitmap uniqueness checks) and the quarantine
    # are exact too: a lost executor's rerun tasks must not count a row twice
    assert ma["quality"]["results"] == mb["quality"]["results"]
    assert ma["quarantine"] == mb["quarantine"] and ma["rows_read"] == mb["rows_read"]


# ---- tests -----------------------------------------------------------------------------------------------------
def test_cluster_run_equals_local_run(local_out, cluster_out, standalone_cluster):
    assert_same_results(local_out, cluster_out)
    apps = standalone_cluster.state()["completedapps"]
    assert apps and apps[-1]["state"] == "FINISHED"  # it really ran on the cluster


def test_executor_killed_mid_job_changes_nothing(work, omop, standalone_cluster, cluster_out):
    cluster = standalone_cluster
    out = work / "out_fault"
    known = {a["id"] for a in cluster.state()["completedapps"]} | set(cluster.active_app_ids())
    log = work / "fault_driver.log"
    t0 = time.monotonic()
    driver = cluster.submit_async(run_args(omop, out), log)
    try:
        # wait until the job is doing stage work: its executors are up and the staging folder exists
        app_id, staged_at = None, None
        deadline = t0 + JOB_TIMEOUT
        while time.monotonic() < deadline and driver.poll() is None:
            app_id = app_id or next((a for a in cluster.active_app_ids() if a not in known), None)
            if staged_at is None and any(out.parent.glob(f".{out.name}.staging-*")):
                staged_at = time.monotonic() - t0
            if app_id and staged_at is not None and len(cluster.executors(app_id)) == 2:
                break
            time.sleep(0.5)
        assert driver.poll() is None, "the job ended before an executor could be killed:\n" + log.read_text()[-3000:]
        assert app_id and staged_at is not None, "timed out waiting for the job to start its stage work"
        time.sleep(3)  # well into the features stage
        victim = cluster.kill_executor(app_id)
        killed_at = time.monotonic() - t0
        for _ in range(40):
            if not victim.alive():
                break
            time.sleep(0.25)
        assert not victim.alive(), f"executor {victim} survived kill -9"
        assert driver.poll() is None, "the driver had already finished when the executor died: not mid-job"
        rc = driver.wait(timeout=max(1.0, deadline - time.monotonic()))
        ended_at = time.monotonic() - t0
    finally:
        stop_process_group(driver)
    text = log.read_text()
    assert rc == 0, text[-4000:]

    # what Spark did: the event log of the app
    events = cluster.app_events(app_id)
    removed = [e for e in events if e["Event"] == "SparkListenerExecutorRemoved"]
    added = [e["Executor ID"] for e in events if e["Event"] == "SparkListenerExecutorAdded"]
    lost_tasks = [e for e in events if e["Event"] == "SparkListenerTaskEnd"
                  and e["Task End Reason"]["Reason"] != "Success"]
    print(f"\nfault run {app_id}: staging at {staged_at:.1f}s, executor {victim.executor_id} (pid {victim.pid}) "
          f"killed at {killed_at:.1f}s, driver exit 0 at {ended_at:.1f}s; executors added {added}; "
          f"removed {[(e['Executor ID'], e['Removed Reason']) for e in removed]}; failed task ends "
          f"{sorted({e['Task End Reason']['Reason'] for e in lost_tasks})} x{len(lost_tasks)}")
    assert victim.executor_id in [e["Executor ID"] for e in removed], "the event log shows no lost executor"
    print("driver log: " + " | ".join(ln.strip()[:200] for ln in text.splitlines() if "xecutor" in ln)[:1500])
    assert len(added) >= 3, "no replacement executor was started"
    assert_same_results(cluster_out, out)


def test_packed_environment_runs_on_executors(work, standalone_cluster):
    """`make dist`'s archive, shipped with --archives #environment, is the executors' Python and has the deps."""
    env = DIST / "cohort-finder-env.tar.gz"
    if not env.exists():
        pytest.skip("dist/ is not built (run `make dist`)")
    probe = work / "probe.py"
    probe.write_text(
        "import json, sys\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "def where(_):\n"
        "    import great_expectations, pyarrow, pydantic_core, jobs.rules.loader, schemas.omop\n"
        "    yield sys.executable, sys.prefix, pyarrow.__version__, great_expectations.__version__\n"
        "rows = spark.sparkContext.parallelize(range(4), 4).mapPartitions(where).distinct().collect()\n"
        "print('PROBE', json.dumps(rows))\n"
        "spark.stop()\n")
    cmd = standalone_cluster.submit_command([], app=probe, conf={
        "spark.pyspark.python": "./environment/bin/python",
        "spark.executorEnv.PYSPARK_PYTHON": "./environment/bin/python",
        "spark.pyspark.driver.python": sys.executable,
    }, extra=["--archives", f"{env}#environment", "--py-files", str(DIST / "cohort-finder.zip")])
    proc = subprocess.run(cmd, env=standalone_cluster.submit_env(), capture_output=True, text=True,
                          timeout=600, cwd=work, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE "))
    rows = json.loads(line[len("PROBE "):])
    assert rows and all("/environment/" in r[0] or "environment" in r[1] for r in rows), rows
    assert all(not r[1].startswith(str(ROOT)) for r in rows), rows
