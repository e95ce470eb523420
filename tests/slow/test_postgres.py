"""OMOP in PostgreSQL, through the command line: a generated sample loaded with the official CDM 5.4 DDL gives
the same person_status and criteria_results as the same sample read from CSV; reads are partitioned and the
concept-set filter reaches the database; the cohort table lands in a results schema, idempotently; bad
connections, schemas, tables and passwords end in one line and exit 2 (the password never echoed).

Slow (two whole CLI runs and four failing ones, each its own JVM); skipped with a reason when PostgreSQL or its
JDBC driver is not installed (`.ci/run` installs both).
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.dataset as ds
import pytest

from jobs.outputs.cohort_table import definition_id
from jobs.synthetic.generate import generate
from tests.support import reliability_helpers as rh
from tests.support.postgres import PASSWORD, USER, closed_port, postgres, table_ddl  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
AS_OF = date(2026, 10, 1)
PERSONS = 300
TRIAL = "NCT06557265"


def cli(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = {**rh.cli_env(), "COHORT_FINDER_JDBC_USER": USER, "COHORT_FINDER_JDBC_PASSWORD": password}
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args, "--criteria", str(rh.CRITERIA), "--master",
                           "local[2]"], cwd=rh.ROOT, env=env,
                          capture_output=True, text=True, timeout=900, start_new_session=True)


def frame(out: Path, name: str, keys: list[str]) -> pd.DataFrame:
    df = ds.dataset(str(out / TRIAL / name), format="parquet").to_table().to_pandas()
    for col in df.columns:
        if df[col].map(lambda v: hasattr(v, "tolist")).any():
            df[col] = df[col].map(lambda a: tuple(a.tolist()) if a is not None else None)
    return df.sort_values(keys).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(postgres, tmp_path_factory):  # noqa: F811 (the fixture)
    tmp = tmp_path_factory.mktemp("pg")
    generate(tmp / "sample", persons=PERSONS, seed=23, as_of=AS_OF)
    omop = tmp / "sample" / "omop"
    postgres.load_csv_folder(omop, "cdm", vocab_schema="vocab")
    eligible = definition_id(TRIAL, "ln", "eligible")
    # results: a stale row of this screening (replaced), and rows of another cohort and another date (kept)
    postgres.psql("CREATE SCHEMA results; CREATE SCHEMA empty_cdm; " + table_ddl(["cohort"], "results")
                  + f"; INSERT INTO results.cohort VALUES ({eligible}, 999999, '{AS_OF}', '{AS_OF}'),"
                  f" ({eligible}, 1, '2026-01-01', '2026-01-01'), (42, 7, '{AS_OF}', '{AS_OF}')")
    common = ("--as-of", AS_OF.isoformat(), "--cohort-include-possible", "--results-jdbc", postgres.url,
              "--results-schema", "results")
    pg = cli("run", "--omop", postgres.url, "--jdbc-schema", "cdm", "--vocab-schema", "vocab",
             "--jdbc-partitions", "3", "--out", str(tmp / "out_pg"), *common)
    assert pg.returncode == 0, pg.stderr[-3000:]
    after_first = postgres.psql("SELECT count(*) FROM results.cohort")
    files = cli("run", "--omop", str(omop), "--out", str(tmp / "out_csv"), *common)  # the same screening again
    assert files.returncode == 0, files.stderr[-3000:]
    return SimpleNamespace(tmp=tmp, pg=pg, out_pg=tmp / "out_pg", out_csv=tmp / "out_csv", server=postgres,
                           after_first=int(after_first))


def test_person_status_and_criteria_results_equal_the_run_from_csv(runs):
    keys = ["cohort", "person_id"]
    pg, files = frame(runs.out_pg, "person_status", keys), frame(runs.out_csv, "person_status", keys)
    assert len(pg) == 2 * PERSONS and set(pg["status"]) >= {"eligible", "ineligible"}
    pd.testing.assert_frame_equal(pg, files)
    keys = ["cohort", "person_id", "criterion"]
    pd.testing.assert_frame_equal(frame(runs.out_pg, "criteria_results", keys),
                                  frame(runs.out_csv, "criteria_results", keys))


def test_reads_are_partitioned_on_person_id_and_concept_sets_filter_in_the_database(runs):
    log = runs.server.log.read_text(errors="replace")
    reads = [ln for ln in log.splitlines() if "FROM cdm.measurement" in ln and '"person_id" ' in ln]
    assert any('"person_id" < ' in ln and "is null" in ln for ln in reads), reads[:3]  # first range, with nulls
    assert any('"person_id" >= ' in ln and '"person_id" < ' in ln for ln in reads), reads[:3]  # a middle range
    assert any('"person_id" >= ' in ln and '"person_id" < ' not in ln for ln in reads), reads[:3]  # the last
    assert reads and all('"measurement_concept_id" IN (' in ln for ln in reads), reads[:3]
    assert "FROM vocab.concept_ancestor" in log and "FROM cdm.concept_ancestor" not in log


def test_cohort_table_in_parquet_and_in_the_results_schema_replaced_on_rerun(runs):
    status = frame(runs.out_pg, "person_status", ["cohort", "person_id"])
    cohort = frame(runs.out_pg, "cohort", ["cohort_definition_id", "subject_id"])
    expected = {(definition_id(TRIAL, r.cohort, r.status), r.person_id) for r in status.itertuples()
                if r.status in ("eligible", "possible")}
    assert set(zip(cohort["cohort_definition_id"], cohort["subject_id"], strict=True)) == expected and expected
    assert set(cohort["cohort_start_date"]) == set(cohort["cohort_end_date"]) == {AS_OF}
    definitions = frame(runs.out_pg, "cohort_definition", ["cohort_definition_id"])
    assert sorted(definitions["cohort_definition_name"]) == sorted(
        f"{TRIAL} {c} {s}" for c in ("ln", "pmn") for s in ("eligible", "possible"))
    in_db = runs.server.psql(f"SELECT cohort_definition_id, subject_id FROM results.cohort "
                             f"WHERE cohort_start_date = '{AS_OF}' AND cohort_definition_id <> 42")
    rows = {tuple(int(v) for v in line.split("|")) for line in in_db.splitlines()}
    assert rows == expected  # the stale row 999999 is gone; no row twice after the second run
    kept = runs.server.psql("SELECT count(*) FROM results.cohort WHERE cohort_definition_id = 42 OR "
                            "cohort_start_date = '2026-01-01'")
    assert kept == "2"
    total = int(runs.server.psql("SELECT count(*) FROM results.cohort"))
    assert total == runs.after_first == len(expected) + 2
    assert runs.server.psql("SELECT count(*) FROM results.cohort_definition") == "4"
    tables = runs.server.psql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'results'")
    assert sorted(tables.split()) == ["cohort", "cohort_definition"]  # staging tables dropped


def test_bad_connections_schemas_tables_and_passwords_are_one_line_and_exit_2(runs):
    url, out = runs.server.url, str(runs.tmp / "never")
    with closed_port() as dead:
        _run_bad_connections(url, out, dead)


def _run_bad_connections(url: str, out: str, dead: int) -> None:
    cases = {
        "unreachable": (["--omop", re.sub(r":\d+/", f":{dead}/", url, count=1), "--jdbc-schema", "cdm"],
                        PASSWORD, "cannot connect (server unreachable"),
        "schema": (["--omop", url, "--jdbc-schema", "nosuch"], PASSWORD, "--jdbc-schema nosuch: no such schema"),
        "table": (["--omop", url, "--jdbc-schema", "empty_cdm"], PASSWORD,
                  "table person: not found in schema empty_cdm of jdbc:postgresql://127.0.0.1"),
        "password": (["--omop", url, "--jdbc-schema", "cdm"], "wrong-pw-Zz9", "authentication failed for the JDBC"),
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        done = dict(zip(cases, pool.map(lambda c: cli("run", *c[0], "--out", out, password=c[1]), cases.values()),
                        strict=True))
    for name, (_, password, message) in cases.items():
        proc = done[name]
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("cohort-finder: error:")]
        assert proc.returncode == 2, (name, proc.stderr[-2000:])
        assert len(errors) == 1 and message in errors[0], (name, errors)
        assert "Traceback" not in proc.stderr and "\tat " not in proc.stderr, name
        assert password not in proc.stderr + proc.stdout, name
    assert not Path(out).exists()
