"""Helpers for the reliability tests (e2e/test_reliability.py, slow/test_cli.py): CLI subprocesses, result
completeness, re-laid-out and doctored extracts."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from jobs.outputs.registry import expected_paths
from jobs.rules.loader import load_criteria

ROOT = Path(__file__).resolve().parents[2]

# Every output of the contract (jobs/outputs/registry.py) for the shipped criteria file's cohorts; a folder
# holding manifest.json must hold all of them.
CONTRACT = tuple(expected_paths(list(load_criteria(ROOT / "criteria" / "nct06557265.yaml").model.cohorts)))

# Person-level values planted in the extract; none may reach a log line or a shared output.
SENTINEL_PERSON_ID = "918273645"
SENTINEL_VALUE = "987654.321"
SENTINEL_TEXT = "ZZSENT"  # prefix of planted person_source_value / unit_source_value / value_source_value
SENTINELS = (SENTINEL_PERSON_ID, "987654", "9.87654", SENTINEL_TEXT)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
                "COHORT_FINDER_SHUFFLE_PARTITIONS": "2", "COHORT_FINDER_DRIVER_MEMORY": "1g",
                "PYTHONUNBUFFERED": "1"})
    env.pop("COHORT_FINDER_SPARK_LOG_LEVEL", None)
    return env


def start_cli(*args: str, log: Path | None = None) -> subprocess.Popen:
    """`python -m jobs.cli ARGS` in its own process group (so SIGKILL reaches the JVM too)."""
    out = log.open("wb") if log else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", *args], cwd=ROOT, env=cli_env(), stdout=out,
                            stderr=subprocess.STDOUT if log else subprocess.PIPE, start_new_session=True)


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=ROOT, env=cli_env(), capture_output=True,
                          text=True, timeout=timeout, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the driver's whole process group: the Python driver and its Spark JVM die at once."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def status_frame(out: Path) -> pd.DataFrame:
    """person_status of a result, array columns as tuples, in (cohort, person_id) order."""
    df = ds.dataset(str(out / "person_status"), format="parquet").to_table().to_pandas()
    for col in ("failed", "unknown", "review", "reasons"):
        df[col] = df[col].map(lambda a: tuple(a) if a is not None else None)
    return df.sort_values(["cohort", "person_id"]).reset_index(drop=True)


def assert_owner_only(out: Path) -> None:
    """Every file and folder of the result `out` is readable by its owner only."""
    bad = []
    for p in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            bad.append(f"{p.relative_to(out.parent)} {oct(mode)}")
    assert not bad, bad[:10]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o600


def person_status_rows(folder: Path) -> int:
    return ds.dataset(str(folder / "person_status"), format="parquet").to_table().num_rows


def incomplete_parts(folder: Path, persons: int | None = None) -> list[str]:
    """What a folder claiming to be a result (it has manifest.json) lacks; [] when complete and readable."""
    missing = [name for name in CONTRACT if not (folder / name).exists()]
    if missing:
        return missing
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except ValueError:
        return [f"manifest.json unreadable ({(folder / 'manifest.json').stat().st_size} bytes)"]
    expected = (persons or manifest["persons"]) * len(manifest["status_counts"])
    problems = []
    for table in ("person_status", "criteria_results", "candidates"):
        if not (folder / table / "_SUCCESS").exists():
            problems.append(f"{table}/_SUCCESS")
    if person_status_rows(folder) != expected:
        problems.append(f"person_status rows {person_status_rows(folder)} != {expected}")
    return problems


def folders_claiming_completeness(parent: Path) -> list[Path]:
    """Every folder under parent (any depth 1, hidden included) that holds a manifest.json."""
    return sorted(p for p in parent.iterdir() if p.is_dir() and (p / "manifest.json").exists())


def fake_result(folder: Path, run_id: str) -> None:
    """A small folder with every contract output (one person, one cohort), for publish-level tests."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name in CONTRACT:
        if "." not in name:
            (folder / name).mkdir(parents=True)
            (folder / name / "_SUCCESS").write_text("")
    pq.write_table(pa.table({"cohort": ["ln"], "person_id": [1]}), folder / "person_status" / "part-0.parquet")
    for name in CONTRACT:
        if "." in name:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)  # e.g. shareable/counts.csv
            (folder / name).write_text(json.dumps({"run_id": run_id, "persons": 1, "status_counts": {"ln": {}}})
                                       if name == "manifest.json" else "x\n")


def relayout_csv(src: Path, dst: Path, parts: int = 3) -> None:
    """The same rows, laid out differently: each `<table>.csv` becomes `<table>/part-0000i.csv`, rows reversed
    and dealt round-robin into `parts` files (the generator's own chunking changes the data, so it cannot be
    used to vary only the layout)."""
    dst.mkdir(parents=True)
    for f in sorted(src.glob("*.csv")):
        header, *rows = f.read_text(encoding="utf-8").splitlines(keepends=True)
        rows.reverse()
        folder = dst / f.stem
        folder.mkdir()
        for i in range(parts):
            (folder / f"part-{i:05d}.csv").write_text(header + "".join(rows[i::parts]), encoding="utf-8")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")


def plant_sentinels(omop: Path) -> None:
    """Person-level sentinel values: every person_source_value; an added person 918273645 (a copy of person 1)
    with measurements, one of them 987654.321 in a planted unit_source_value / value_source_value."""
    person = _read(omop / "person.csv")
    person["person_source_value"] = SENTINEL_TEXT + "PSV" + person["person_id"]
    extra = person.iloc[[0]].copy()
    template_id = extra["person_id"].iloc[0]
    extra["person_id"] = SENTINEL_PERSON_ID
    extra["person_source_value"] = SENTINEL_TEXT + "PSV" + SENTINEL_PERSON_ID
    _write(pd.concat([person, extra], ignore_index=True), omop / "person.csv")
    meas = _read(omop / "measurement.csv")
    copy = meas[meas["person_id"] == template_id].copy()
    assert len(copy) > 0, "template person has measurements"
    start = max(int(x) for x in meas["measurement_id"]) + 1
    copy["measurement_id"] = [str(start + i) for i in range(len(copy))]
    copy["person_id"] = SENTINEL_PERSON_ID
    first = copy.index[0]
    copy.loc[first, "value_as_number"] = SENTINEL_VALUE
    copy.loc[first, "unit_source_value"] = SENTINEL_TEXT + "UNIT"
    copy.loc[first, "value_source_value"] = SENTINEL_TEXT + "VSV"
    meas.loc[meas.index[0], "value_as_number"] = SENTINEL_VALUE  # an existing person's value too
    _write(pd.concat([meas, copy], ignore_index=True), omop / "measurement.csv")
    obs = _read(omop / "observation_period.csv")
    row = obs[obs["person_id"] == template_id].iloc[[0]].copy()
    row["person_id"] = SENTINEL_PERSON_ID
    row["observation_period_id"] = str(max(int(x) for x in obs["observation_period_id"]) + 1)
    _write(pd.concat([obs, row], ignore_index=True), omop / "observation_period.csv")
