"""`cohort-finder whatif` (jobs/outputs/whatif.py) against a full rerun with the criteria removed from the file."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from jobs.cli import main
from jobs.config import RunConfig
from jobs.outputs.whatif import whatif
from jobs.pipeline import run
from jobs.rules.loader import load_criteria
from tests.conftest import NCT

DROP = ["gen_exc_6", "ln_inc_5"]


def _statuses(out: Path) -> dict:
    t = ds.dataset(str(out / "person_status")).to_table(columns=["cohort", "person_id", "status", "rank"])
    return {(r["cohort"], r["person_id"]): (r["status"], r["rank"]) for r in t.to_pylist()}


@pytest.fixture(scope="module")
def rerun(spark, e2e, criteria_file, tmp_path_factory):
    """The shared run's extract rerun with DROP taken out of every cohort's criteria list."""
    tmp = tmp_path_factory.mktemp("whatif")
    text = Path(criteria_file.path).read_text(encoding="utf-8")
    head, cohorts = text.split("\ncohorts:", 1)
    for cid in DROP:
        cohorts, n = re.subn(rf"\b{cid}, *\n? *", "", cohorts)
        assert n >= 1, cid
    path = tmp / "dropped.yaml"
    path.write_text(head + "\ncohorts:" + cohorts, encoding="utf-8")
    dropped = load_criteria(path)
    for cid in DROP:
        assert all(cid not in spec.criteria for spec in dropped.model.cohorts.values())
    out = tmp / "out"
    run(spark, RunConfig(omop=str(e2e.omop), criteria=dropped, out=str(out),
                         as_of=date.fromisoformat(e2e.result.manifest["as_of"]), min_cell_count=0))
    return out / NCT  # a one-trial run: its trial's folder


@pytest.mark.spark
@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_whatif_equals_a_rerun_without_the_criteria(e2e, rerun):
    before, after = whatif(str(e2e.nct), DROP, None)
    # "as run" reproduces the run's own counts and ranks
    assert before.status_counts == e2e.result.manifest["trials"][NCT]["status_counts"]
    as_run = _statuses(e2e.nct)
    assert {(c, p): r for c, ranked in before.ranks.items() for r, p, _ in ranked} == \
        {k: v[1] for k, v in as_run.items() if v[1] is not None}
    # the what-if equals the rerun: statuses, ranks, funnel
    truth = _statuses(rerun)
    got = {(c, p): (s, r) for c, ranked in after.ranks.items() for r, p, s in ranked}
    assert got == {k: v for k, v in truth.items() if v[1] is not None}
    counts = {}
    for (c, _), (s, _) in truth.items():
        counts.setdefault(c, {"eligible": 0, "possible": 0, "ineligible": 0})[s] += 1
    assert after.status_counts == counts
    with (rerun / "attrition.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["step"] != "0"]
    assert [(r["cohort"], int(r["step"]), r["criterion"], *(int(r[o]) for o in
             ("pass", "fail", "unknown", "review", "remaining", "remaining_without_unknown"))) for r in rows] == \
        [(r["cohort"], r["step"], r["criterion"], *(r[o] for o in
          ("pass", "fail", "unknown", "review", "remaining", "remaining_without_unknown"))) for r in after.attrition]
    assert after.status_counts != before.status_counts, "dropping these criteria changes the counts"
    # a one-trial run's --out names its trial without the folder
    assert whatif(str(rerun.parent), [], None)[0].status_counts == whatif(str(rerun), [], None)[0].status_counts


@pytest.mark.spark
def test_whatif_unknown_as_pass_or_fail_moves_exactly_the_possible(e2e):
    before, as_pass = whatif(str(e2e.nct), [], "pass")
    _, as_fail = whatif(str(e2e.nct), [], "fail")
    for cohort, old in before.status_counts.items():
        assert old["possible"] > 0
        assert as_pass.status_counts[cohort] == {"eligible": old["eligible"] + old["possible"], "possible": 0,
                                                 "ineligible": old["ineligible"]}
        assert as_fail.status_counts[cohort] == {"eligible": old["eligible"], "possible": 0,
                                                 "ineligible": old["ineligible"] + old["possible"]}


@pytest.mark.spark
def test_whatif_cli_prints_counts_and_refuses_an_unknown_criterion(e2e, tmp_path, capsys):
    assert main(["whatif", "--results", str(e2e.nct), "--drop", "gen_exc_6", "--write", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    old = e2e.result.manifest["trials"][NCT]["status_counts"]["ln"]["eligible"]
    assert re.search(rf"ln: eligible {old} -> \d+", text)
    assert (tmp_path / "whatif_status.csv").exists() and (tmp_path / "whatif_ranks_ln.csv").exists()
    assert main(["whatif", "--results", str(e2e.nct), "--drop", "no_such_criterion"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_criterion" in err and "Traceback" not in err
    assert main(["whatif", "--results", str(e2e.out), "--drop", "gen_exc_6"]) == 2  # several trials: name one
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(e2e.nct) in err and "Traceback" not in err
