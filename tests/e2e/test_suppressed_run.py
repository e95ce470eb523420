"""A whole run with `--min-cell-count 11` (issue 20): every shared count of every trial is the unsuppressed run's
count or hidden, no count from 1 to 10 is shown, and no hidden count comes back by subtracting the visible
cells of one additive relation (a criterion's four outcomes = the persons; a status's sites = its total).
The unsuppressed counts are the shared e2e run's (`tests/conftest.py::e2e`, same extract and as-of)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from jobs.config import RunConfig
from jobs.pipeline import run

K = 11
HIDDEN = {f"<{K}", "*"}
OUTCOMES = ("pass", "fail", "unknown", "review")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def suppressed(spark, e2e, trial_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("suppressed") / "out"
    run(spark, RunConfig(omop=str(e2e.omop), criteria=trial_files, out=str(out), as_of=date(2026, 10, 1),
                         min_cell_count=K))
    return out


def _check_cells(raw: list[dict], published: list[dict], key: tuple[str, ...], counts: tuple[str, ...]) -> int:
    """Every published count is the raw one or hidden; raw 1..K-1 is always hidden. Returns the hidden cells."""
    assert [tuple(r[k] for k in key) for r in raw] == [tuple(r[k] for k in key) for r in published]
    hidden = 0
    for r, p in zip(raw, published, strict=True):
        for c in counts:
            if p[c] in HIDDEN:
                hidden += 1
                continue
            assert p[c] == r[c], (key, r, c)
            if r[c] != "":
                assert int(r[c]) == 0 or int(r[c]) >= K, (r, c)
    return hidden


@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite
@pytest.mark.spark
def test_shared_counts_of_a_suppressed_run_hide_every_small_cell_for_good(e2e, suppressed, trial_files):
    manifest = json.loads((suppressed / "manifest.json").read_text())
    raw_manifest = e2e.result.manifest
    assert manifest["persons"] == raw_manifest["persons"]  # the total stays readable (never complementary)
    hidden_total = 0
    for trial in raw_manifest["trials"]:
        raw_dir, pub_dir = e2e.out / trial, suppressed / trial
        raw_att, pub_att = _rows(raw_dir / "attrition.csv"), _rows(pub_dir / "attrition.csv")
        hidden_total += _check_cells(raw_att, pub_att, ("cohort", "step", "criterion"),
                                     (*OUTCOMES, "remaining", "remaining_without_unknown"))
        for p in pub_att:
            if p["criterion"]:  # one hidden outcome among four visible ones would be persons minus the rest
                assert sum(p[c] in HIDDEN for c in OUTCOMES) != 1, (trial, p)
        raw_site, pub_site = _rows(raw_dir / "counts_by_site.csv"), _rows(pub_dir / "counts_by_site.csv")
        hidden_total += _check_cells(raw_site, pub_site, ("cohort", "site", "status"), ("persons",))
        status_counts = manifest["trials"][trial]["status_counts"]
        for cohort, counts in status_counts.items():
            for status, shown in counts.items():
                raw = raw_manifest["trials"][trial]["status_counts"][cohort][status]
                assert shown in HIDDEN or shown == raw, (trial, cohort, status)
                if shown not in HIDDEN:  # a visible status total: never exactly one of its sites hidden
                    sites = [p for p in pub_site if p["cohort"] == cohort and p["status"] == status]
                    assert sum(p["persons"] in HIDDEN for p in sites) != 1, (trial, cohort, status)
            hidden_statuses = [s for s, v in counts.items() if v in HIDDEN]
            assert len(hidden_statuses) != 1, (trial, cohort)  # statuses add up to the (visible) persons
    assert hidden_total > 0  # the 500-person extract has small cells: the test checks real suppression
