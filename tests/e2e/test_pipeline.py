"""The whole job: planted ground truth reproduced, output contract, Synthea27Nj accounted for, atomic replace."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from jobs.config import RunConfig
from jobs.errors import InputError, OutputError
from jobs.outputs.registry import expected_paths
from jobs.pipeline import check, run
from jobs.redaction import redact
from jobs.synthetic.nct06557265 import SCENARIOS

AS_OF = date(2026, 10, 1)


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _status(out: Path) -> pd.DataFrame:
    return ds.dataset(str(out / "person_status")).to_table().to_pandas()


@pytest.fixture(scope="module")
def generated(e2e):
    """The suite's shared run (tests/conftest.py::e2e): 500 generated persons, seed 11, no suppression."""
    return e2e.sample, e2e.out, e2e.result


@pytest.mark.spark
def test_person_status_equals_planted_ground_truth(generated):
    sample, out, _ = generated
    truth = pd.read_csv(sample / "ground_truth.csv", keep_default_na=False)
    got = _status(out)
    merged = truth.merge(got, on=["person_id", "cohort"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), "every person of the extract is in person_status, once per cohort"
    mismatched = merged[merged["expected_status"] != merged["status"]]
    assert mismatched.empty, mismatched[["person_id", "cohort", "scenario", "expected_status", "status"]].head(10)
    planted = merged[merged["planted"].astype(str).str.lower() == "true"]
    assert len(planted) >= 3 * len(SCENARIOS)  # every scenario at least 3 times
    for _, row in planted.iterrows():
        assert ";".join(sorted(row["failed"])) == row["expected_failed"], (row["scenario"], row["cohort"])
        assert ";".join(sorted(row["unknown"])) == row["expected_unknown"], (row["scenario"], row["cohort"])
    # background rows: what is certain by construction also holds (a lower bound)
    for _, row in merged[merged["planted"].astype(str).str.lower() != "true"].iterrows():
        assert set(filter(None, row["expected_failed"].split(";"))) <= set(row["failed"])


@pytest.mark.spark
def test_outputs_follow_the_contract(generated, criteria):
    _, out, result = generated
    for name in expected_paths(list(criteria.cohorts)):  # every output of jobs/outputs/registry.py
        assert (out / name).exists(), name
    assert not list(out.parent.glob(".out.staging-*")), "the staging folder is gone after publishing"
    status = _status(out)
    assert set(status.columns) >= {"cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site"}
    assert set(status["status"]) <= {"eligible", "possible", "ineligible"}
    assert status.loc[status["status"] == "ineligible", "rank"].isna().all()
    # eligible ranks come before possible ones, ranks are 1..n per cohort
    for cohort, grp in status[status["status"] != "ineligible"].groupby("cohort"):
        ranked = grp.sort_values("rank")
        assert list(ranked["rank"]) == list(range(1, len(grp) + 1))
        assert list(ranked["status"]) == sorted(ranked["status"], key=lambda s: s != "eligible")
        csv_rows = _csv(out / f"candidates_{cohort}.csv")
        assert [int(r["rank"]) for r in csv_rows] == list(range(1, len(grp) + 1))
        assert [int(r["person_id"]) for r in csv_rows] == list(ranked["person_id"])
        first = csv_rows[0]["reasons"].split(" | ")
        assert first[0].startswith("sys_alive pass")
    long = ds.dataset(str(out / "criteria_results")).to_table().to_pandas()
    n = result.manifest["persons"]
    assert len(long) == n * sum(len(c.criteria) for c in criteria.cohorts.values())
    assert set(long["outcome"]) <= {"pass", "fail", "unknown", "review"}
    upcr = long[(long["criterion"] == "ln_inc_3") & (long["outcome"] == "pass")]
    # alternatives: the deciding measure (UPCR, or a more recent 24 h protein) explains the pass
    assert upcr["evidence"].str.match(r"^(UPCR [0-9.]+ g/g|24 h urine protein [0-9.]+ g/24h) on 20\d\d-\d\d-\d\d"
                                      r"( \(most recent of 2 alternatives with a result\))?$").all()
    assert upcr["evidence"].str.startswith("UPCR ").any()


@pytest.mark.spark
def test_attrition_and_manifest_add_up(generated, criteria, criteria_file):
    _, out, result = generated
    m = json.loads((out / "manifest.json").read_text())
    assert m == json.loads(json.dumps(result.manifest, default=str))
    persons = m["persons"]
    assert persons == m["rows_read"]["person"] == 500
    for counts in m["status_counts"].values():
        assert sum(counts.values()) == persons
    rows = _csv(out / "attrition.csv")
    for cohort, spec in criteria.cohorts.items():
        steps = [r for r in rows if r["cohort"] == cohort and r["step"] != "0"]
        assert [r["criterion"] for r in steps] == spec.criteria
        for r in steps:
            assert sum(int(r[o]) for o in ("pass", "fail", "unknown", "review")) == persons
        remaining = [int(r["remaining"]) for r in steps]
        assert remaining == sorted(remaining, reverse=True)
        assert remaining[-1] == m["status_counts"][cohort]["eligible"] + m["status_counts"][cohort]["possible"]
        assert int(steps[-1]["remaining_without_unknown"]) == m["status_counts"][cohort]["eligible"]
    assert m["as_of"] == "2026-10-01" and m["as_of_source"] == "--as-of"
    assert len(m["criteria"]["sha256"]) == 64
    assert (m["criteria"]["sha256"], m["criteria"]["path"]) == (criteria_file.sha256, criteria_file.path)
    assert set(m["timings_seconds"]) >= {"read", "quality", "features", "criteria", "ranking", "write"}


@pytest.mark.spark
def test_existing_result_needs_overwrite_and_survives_a_failed_run(spark, criteria_file, generated, tmp_path):
    sample, out, _ = generated
    with pytest.raises(OutputError, match="--overwrite"):
        run(spark, RunConfig(omop=str(sample / "omop"), criteria=criteria_file, out=str(out), as_of=AS_OF))
    before = (out / "manifest.json").read_text()
    with pytest.raises(InputError, match="person"):  # a failed run (no person table) leaves the old result
        run(spark, RunConfig(omop=str(tmp_path), criteria=criteria_file, out=str(out), as_of=AS_OF, overwrite=True))
    assert (out / "manifest.json").read_text() == before
    assert not list(out.parent.glob(".out.staging-*"))


@pytest.mark.spark
def test_check_runs_the_read_stage_and_the_gate_alone(spark, criteria_file, generated, tmp_path):
    """`cohort-finder check`: a summary of the gate (lab results included) and its verdict; nothing written."""
    sample, _, result = generated
    text, ok = check(spark, RunConfig(omop=str(sample / "omop"), criteria=criteria_file, out=str(tmp_path / "o"),
                                      as_of=AS_OF))
    assert ok
    lines = text.splitlines()
    assert lines[0] == f"extract: {redact(str(sample / 'omop'))}; as-of 2026-10-01 (--as-of)"
    assert lines[1].startswith("data-quality gate PASSED: ")
    assert f"{result.manifest['quality']['evaluated']} checks" in lines[1]  # the run's gate, the same checks
    assert not (tmp_path / "o").exists()


@pytest.mark.spark
def test_synthea27nj_accounts_for_every_person(spark, criteria_file, synthea_dir, tmp_path):
    out = tmp_path / "synthea"
    result = run(spark, RunConfig(omop=str(synthea_dir), criteria=criteria_file, out=str(out)))
    m = result.manifest
    assert m["as_of"] == "2022-10-10" and m["as_of_source"] == "cdm_source.source_release_date"
    status = _status(out)
    for cohort in ("ln", "pmn"):
        ids = status.loc[status["cohort"] == cohort, "person_id"]
        assert sorted(ids) == list(range(1, 29))
        assert sum(m["status_counts"][cohort].values()) == 28
    # Synthea has no LN/MN patients: everyone is ineligible, for a reason that is visible
    assert (status["status"] == "ineligible").all()
    assert status.apply(lambda r: ("ln_inc_1" in r["failed"]) if r["cohort"] == "ln" else ("pmn_inc_1" in r["failed"]),
                        axis=1).all()
    assert m["vocabulary"]["unresolved_codes"]  # LOINC-only labs are not in its vocabulary shard: reported
