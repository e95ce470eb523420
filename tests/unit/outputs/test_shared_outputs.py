"""The files a run shares, read back as a reader would, hold no small count and let the attacker of
test_suppression recover none: attrition.csv, counts_by_site.csv (jobs/outputs/report.py), the status totals
of the console summary and manifest (SharedCounts.status_counts) and shareable/counts.csv."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings

from jobs.outputs.report import counts_csv_texts
from jobs.outputs.shared_counts import shared_counts
from tests.unit.outputs.test_suppression import STEPS, attack, population, populations


def _read(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def shown_from_files(texts: dict[str, str], status_counts: dict) -> dict[tuple, str]:
    """The attacker's cells, taken from the CSV texts and the printed status totals only."""
    shown: dict[tuple, str] = {}
    for r in _read(texts["attrition.csv"]):
        if r["step"] == "0":
            shown[("persons",)] = r["remaining"]
            continue
        for col in ("pass", "fail", "unknown", "review", "remaining"):
            shown[("attr", r["cohort"], int(r["step"]), col)] = r[col]
        shown[("attr", r["cohort"], int(r["step"]), "clear")] = r["remaining_without_unknown"]
    sites = {r["site"] for r in _read(texts["counts_by_site.csv"])}
    for cohort in STEPS:
        for status, text in status_counts[cohort].items():
            shown[("status", cohort, status)] = text
            for site in sites:
                shown[("site", cohort, site, status)] = "0"  # a row that is not there is a zero
    for r in _read(texts["counts_by_site.csv"]):
        shown[("site", r["cohort"], r["site"], r["status"])] = r["persons"]
    return shown


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(persons=populations)
def test_shared_files_hide_every_small_count_for_good(persons):
    k = 11
    rows, by_site, n = population(persons)
    for r in rows:
        r.setdefault("type", "inclusion")
        for o in ("pass", "fail", "unknown", "review"):
            r.setdefault(o, "")
    counts = shared_counts(STEPS, rows, by_site, n, k)
    texts = counts_csv_texts(rows, by_site, counts)
    shown = shown_from_files(texts, counts.status_counts())
    truth = shown_from_files(counts_csv_texts(rows, by_site, shared_counts(STEPS, rows, by_site, n, 0)),
                             shared_counts(STEPS, rows, by_site, n, 0).status_counts())
    assert shown.keys() == truth.keys()
    for cell, text in shown.items():
        assert text == truth[cell] or (text == "*" or (text == f"<{k}" and 0 < int(truth[cell]) < k)), cell
        assert not 0 < int(truth[cell]) < k or not text.isdigit(), f"{cell}: small count shown"
    small = [c for c, t in truth.items() if 0 < int(t) < k]
    for cell, (lo, hi) in attack(shown, k, small).items():
        assert hi - lo >= 1 - 1e-6, f"{cell} derivable from the shared files: [{lo}, {hi}]"
