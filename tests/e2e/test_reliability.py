"""Reliability of whole runs in-process (issue 5): identical reruns whatever the layout and partitioning, the
conservation checks recorded, owner-only outputs, monotonicity under a stricter criteria file, an interrupted
swap restored. The CLI, subprocess and kill tests are in tests/slow/test_cli.py; conservation on hand-built
rows in tests/spark/outputs/test_conservation.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
import yaml

from jobs.config import RunConfig
from jobs.errors import OutputError
from jobs.extract.inputs import prepare_inputs
from jobs.extract.reader import OmopExtract
from jobs.features.build import FeatureInputs, build_features, feature_frame
from jobs.outputs import publish
from jobs.outputs.fs import OutputFS
from jobs.outputs.whatif import whatif
from jobs.pipeline import run
from jobs.quality.suites import lab_units, load_suites
from jobs.rules import evaluation as ev
from jobs.rules.loader import parse_criteria
from jobs.synthetic.generate import generate
from tests.conftest import CRITERIA, E2E_PERSONS, NCT
from tests.support import reliability_helpers as rh

AS_OF = date(2026, 10, 1)
PERSONS = 300


def _run(spark, criteria_file, omop: Path, out: Path, **kw):
    return run(spark, RunConfig(omop=str(omop), criteria=criteria_file, out=str(out), as_of=AS_OF, **kw))


# --------------------------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def two_runs(spark, criteria_file, e2e, tmp_path_factory):
    """The suite's shared run of every shipped trial (single CSV files, 2 shuffle partitions) and a rerun of
    NCT06557265 ALONE on the same extract as reversed, 3-part CSV folders with 7 shuffle partitions: a trial
    screened beside others (union of features, shared gate) must give what it gives alone, byte for byte. The
    rerun writes the full criteria_results (--full-results): the shared run's default table must be its
    explaining rows."""
    tmp = tmp_path_factory.mktemp("determinism")
    rh.relayout_csv(e2e.omop, tmp / "parts")
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "7")
        _run(spark, criteria_file, tmp / "parts", tmp / "b", min_cell_count=0, full_results=True)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert before != "7", "the pair differs in its partitioning"
    return [e2e.out, tmp / "b"]


@pytest.mark.spark
@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_reruns_are_identical_whatever_the_partitioning(two_runs):
    a, b = two_runs
    ma, mb = (json.loads((x / "manifest.json").read_text()) for x in (a, b))
    assert list(ma["trials"]) == ["NCT03036150", "NCT03987919", "NCT06557265"] and list(mb["trials"]) == [NCT]
    for name in ("candidates_ln.csv", "candidates_pmn.csv", "attrition.csv", "counts_by_site.csv"):
        assert (a / NCT / name).read_bytes() == (b / NCT / name).read_bytes(), name
    sa, sb = rh.status_frame(a), rh.status_frame(b)
    assert len(sa) == 2 * E2E_PERSONS
    pd.testing.assert_frame_equal(sa, sb)
    keys = ["cohort", "person_id", "criterion"]
    default, full = (ds.dataset(str(x / NCT / "criteria_results")).to_table().to_pandas() for x in (a, b))
    table = ds.dataset(str(a / NCT / "criteria")).to_table().to_pandas()
    pd.testing.assert_frame_equal(table, ds.dataset(str(b / NCT / "criteria")).to_table().to_pandas())
    assert len(full) == E2E_PERSONS * len(table) and (ma["full_results"], mb["full_results"]) == (False, True)
    # the default table = the full table's rows that explain a status, without the person-independent criteria
    full = full.merge(sa[["cohort", "person_id", "status"]], on=["cohort", "person_id"], validate="many_to_one")
    full = full.merge(table[["cohort", "criterion", "person_independent"]], on=["cohort", "criterion"],
                      validate="many_to_one")
    explains = (full["status"] != "ineligible") | (full["outcome"] == "fail") | (
        (full["type"] == "inclusion") & full["evidence_date"].notna())
    expected = full[explains & ~full["person_independent"]][list(default.columns)]
    pd.testing.assert_frame_equal(default.sort_values(keys).reset_index(drop=True),
                                  expected.sort_values(keys).reset_index(drop=True))  # evidence texts too
    constant = full[full["person_independent"]].merge(table, on=["cohort", "criterion"], suffixes=("", "_once"))
    assert len(constant) == E2E_PERSONS * int(table["person_independent"].sum()) > 0
    for col in ("outcome", "evidence", "evidence_value", "evidence_date", "criterion_order"):
        mine, once = constant[col], constant[f"{col}_once"]
        assert ((mine == once) | (mine.isna() & once.isna())).all(), col  # every person's row is the one row
    for dropped, unknown_as in (([], None), (["gen_exc_6", "ln_inc_5"], None), (["ln_inc_3"], "pass")):
        assert whatif(str(a / NCT), dropped, unknown_as) == whatif(str(b / NCT), dropped, unknown_as)
    assert ma["trials"][NCT]["status_counts"] == mb["trials"][NCT]["status_counts"]
    for entry in ma["trials"].values():  # the lists are not empty, in any trial
        for counts in entry["status_counts"].values():
            assert sum(counts[s] for s in ("eligible", "possible")) > 0, entry["trial"]


@pytest.mark.spark
@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_manifest_lists_the_conservation_checks(two_runs):
    m = json.loads((two_runs[0] / "manifest.json").read_text())
    for entry in m["trials"].values():
        assert entry["conservation"]["persons"] == E2E_PERSONS
    assert set(m["trials"]["NCT06557265"]["conservation"]["checked"]) >= {"person_status rows = persons per cohort",
                                                 "statuses partition persons", "criterion outcomes add up",
                                                 "ranks unique", "candidates once each"}


@pytest.mark.spark
@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_outputs_are_readable_by_the_owner_only(two_runs):
    rh.assert_owner_only(two_runs[0])


# --------------------------------------------------------------------------------------------- properties


def _with_extra_exclusion(criteria_text: str):
    """The NCT06557265 criteria plus one more exclusion in both cohorts (eGFR < 90, a common finding)."""
    data = yaml.safe_load(criteria_text)
    data["criteria"].append({"id": "rel_exc_egfr90", "type": "exclusion", "text": "eGFR < 90 (test only)",
                             "rule": {"kind": "lab", "lab": "egfr", "comparator": "<", "value": 90,
                                      "unit": "mL/min/1.73m2", "derive": "egfr_ckd_epi_2021"}})
    for spec in data["cohorts"].values():
        spec["criteria"].append("rel_exc_egfr90")
    return parse_criteria(yaml.safe_dump(data, sort_keys=False), "extra-exclusion.yaml")


@pytest.mark.spark
@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_adding_an_exclusion_never_grows_the_eligible_set(spark, criteria, tmp_path):
    stricter = _with_extra_exclusion(CRITERIA.read_text(encoding="utf-8"))
    generate(tmp_path / "sample", persons=PERSONS, seed=31, as_of=AS_OF)
    extract = OmopExtract(spark, str(tmp_path / "sample" / "omop"))
    inputs = prepare_inputs(spark, extract, stricter, lab_units(load_suites(labs=stricter.labs)))
    paths = build_features(FeatureInputs(spark, inputs.frames, stricter, inputs.plan, inputs.resolved, AS_OF),
                           str(tmp_path / "work"))
    wide = feature_frame(spark, paths)

    def statuses(c) -> dict[tuple[str, int], str]:
        rows = ev.person_status(ev.evaluate(wide, c), c).select("cohort", "person_id", "status").collect()
        return {(r["cohort"], r["person_id"]): r["status"] for r in rows}

    base, strict = statuses(criteria), statuses(stricter)
    assert base.keys() == strict.keys() and len(base) == 2 * (PERSONS)
    eligible = {k for k, s in base.items() if s == "eligible"}
    eligible_strict = {k for k, s in strict.items() if s == "eligible"}
    not_failed = {k for k, s in base.items() if s != "ineligible"}
    not_failed_strict = {k for k, s in strict.items() if s != "ineligible"}
    assert eligible_strict <= eligible
    assert not_failed_strict <= not_failed
    assert len(eligible_strict) < len(eligible), "the added exclusion removes someone (else the test proves nothing)"


# --------------------------------------------------------------------------------------------- publish


@pytest.mark.spark
def test_a_swap_killed_between_the_two_renames_is_restored(spark, tmp_path):
    """Simulated: the old result sits at `.out.previous-X` (complete), there is no `out` and a finished staging
    folder. The next run's first step (check_target) puts the old result back; --overwrite is then required."""
    out = tmp_path / "out"
    rh.fake_result(tmp_path / ".out.previous-20260101T000000-abcdef", "old")
    rh.fake_result(tmp_path / ".out.staging-20260101T000000-abcdef", "new")
    manifest = (tmp_path / ".out.previous-20260101T000000-abcdef" / "manifest.json").read_text()
    fs = OutputFS(spark, str(out))
    target = fs.qualify(str(out))
    with pytest.raises(OutputError, match="--overwrite"):
        publish.check_target(fs, target, overwrite=False)
    assert (out / "manifest.json").read_text() == manifest
    assert rh.incomplete_parts(out) == []
    assert not list(tmp_path.glob(".out.previous-*"))
    publish.check_target(fs, target, overwrite=True)  # what `run --overwrite` does first: accepted
