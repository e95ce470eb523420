"""The feature families' contract (jobs.features.build, schemas.features) and the output registry
(jobs.outputs.registry), checked against the suite's finished run (the `e2e` fixture) and on hand-built rows."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from jobs.features.build import FAMILIES, check_contract, expected_schema
from jobs.outputs.registry import OUTPUTS, expected_paths
from jobs.rules.trials import combine
from schemas.features import plan_features

pytestmark = pytest.mark.spark


def _shape(schema: T.StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def test_written_feature_tables_have_exactly_the_contract_schema(spark, e2e, trial_files):
    plan = combine(list(trial_files)).plan  # one feature build for every shipped trial: the union plan
    written = sorted(p.name for p in (e2e.out / "features").iterdir() if not p.name.startswith((".", "_")))
    assert written == sorted(FAMILIES)
    for family in FAMILIES:
        got = spark.read.parquet(str(e2e.out / "features" / family)).schema
        want = expected_schema(family, plan)
        assert _shape(got) == _shape(want), family
        if family != "observation_values":  # NCT06557265 reads no observation values (tests/spark/rules does)
            assert len(want.fields) > 1, family  # the plan asks for features of every other family


def test_every_registered_output_is_in_the_finished_result_and_nothing_else(e2e, criteria):
    trials = {t: list(c["cohorts"]) for t, c in e2e.result.manifest["trials"].items()}
    assert sorted(trials) == ["NCT03036150", "NCT03987919", "NCT06557265"]
    paths = expected_paths(trials)
    missing = [p for p in paths if not (e2e.out / p).exists()]
    assert not missing, missing
    listed = set(paths) | {p.rsplit("/", 1)[0] for p in paths}
    found = {str(p.relative_to(e2e.out)) for p in e2e.out.iterdir()}
    found |= {f"{t}/{p.name}" for t in trials for p in (e2e.out / t).iterdir()}
    unlisted = sorted(p for p in found if p not in listed and not p.rsplit("/", 1)[-1].startswith("."))
    assert not unlisted, f"outputs not in jobs/outputs/registry.py: {unlisted}"
    cohorts = list(criteria.cohorts)
    assert {f"NCT06557265/candidates_{c}.csv" for c in cohorts} | {f"features/{f}" for f in FAMILIES} <= set(paths)
    assert len(paths) == len(set(paths)) and {o.name for o in OUTPUTS} >= {"manifest.json", "quarantine"}


def test_a_family_that_drifts_from_its_contract_is_refused(spark, criteria):
    plan = plan_features(criteria)
    want = expected_schema("procedures", plan)
    good = spark.createDataFrame([], want)
    check_contract("procedures", good, plan)  # the contract itself passes
    renamed = good.withColumnRenamed(want.fields[1].name, "something_else")
    with pytest.raises(AssertionError, match="features procedures: schema"):
        check_contract("procedures", renamed, plan)
    retyped = good.withColumn("person_id", good["person_id"].cast("int"))
    with pytest.raises(AssertionError, match="differs from the contract"):
        check_contract("procedures", retyped, plan)
    with pytest.raises(AssertionError):
        check_contract("procedures", good.drop(want.fields[-1].name), plan)
