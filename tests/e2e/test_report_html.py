"""report.html, the candidates' `summary` and OUT/shareable/ on the suite's shared run (tests/conftest.py::e2e).

Expected numbers are recomputed here from the person-level Parquet with pandas, independently of the Spark
aggregates that built the report."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from jobs.outputs.registry import REPORT_HTML, SHAREABLE_COUNTS, SHAREABLE_REPORT
from jobs.rules.evaluation import protocol_wide_review


class Tables(HTMLParser):
    """Every <table class=...> of a page as lists of cell texts, and every tag/attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.tags: list[tuple[str, dict]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append((dict(attrs).get("class", ""), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def of(self, cls: str) -> list[list[dict]]:
        """Tables of this class (one per cohort, in cohort order) as dicts keyed by the header row."""
        return [[dict(zip(rows[0], r, strict=True)) for r in rows[1:]] for c, rows in self.tables if c == cls]


def _parse(path: Path) -> Tables:
    t = Tables()
    t.feed(path.read_text(encoding="utf-8"))
    return t


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def run(e2e):
    status = ds.dataset(str(e2e.nct / "person_status")).to_table().to_pandas()
    return e2e.nct, e2e.result.manifest, status  # the NCT06557265 folder of the shared run


@pytest.mark.spark
def test_report_html_is_self_contained_and_shows_the_runs_numbers(run, criteria):
    out, manifest, status = run
    page = (out / REPORT_HTML).read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", page), "no network fetch"
    assert "<script" not in page and "<link" not in page and page.count("<svg") >= 3 * len(criteria.cohorts)
    html = _parse(out / REPORT_HTML)
    attrition = _csv(out / "attrition.csv")
    for i, cohort in enumerate(criteria.cohorts):
        mine = status[status["cohort"] == cohort]
        for st in ("eligible", "possible", "ineligible"):
            assert f'class="n-{st}">{(mine["status"] == st).sum()}<' in page.split(f'id="cohort-{cohort}"')[1]
        funnel = html.of("funnel-table")[i]
        expected = [r for r in attrition if r["cohort"] == cohort and r["step"] != "0"]
        assert [(r["criterion"], r["remaining"], r["remaining without unknown"]) for r in funnel] == \
            [(r["criterion"], r["remaining"], r["remaining_without_unknown"]) for r in expected]
        # criterion impact: failing only this criterion, recomputed from person_status
        only = mine[mine["failed"].map(len) == 1]["failed"].map(lambda a: a[0]).value_counts().to_dict()
        impact = {r["criterion"]: r for r in html.of("impact")[i]}
        assert {c: int(r["failing only this"]) for c, r in impact.items() if int(r["failing only this"])} == only
        assert sum(only.values()) > 0
        # completeness: among persons failing nothing, unknown on the criterion (and only on it)
        open_ = mine[mine["failed"].map(len) == 0]
        missing = pd.Series([c for u in open_["unknown"] for c in u]).value_counts().to_dict()
        completeness = {r["criterion"]: r for r in html.of("completeness")[i]}
        assert {c: int(r["missing data"]) for c, r in completeness.items()} == missing
        for c, r in completeness.items():
            assert r["share of eligible + possible"] == f"{100 * missing[c] / len(open_):.1f}%"
            assert int(r["only this missing"]) == sum(list(u) == [c] for u in open_["unknown"])
        # the top of the ranked list, in rank order, and the checklist once per cohort
        top = html.of("top")[i]
        ranked = mine[mine["rank"].notna()].sort_values("rank").head(20)
        assert [int(r["person_id"]) for r in top] == list(ranked["person_id"])
        checklist = [r["criterion"] for r in html.of("checklist")[i]]
        assert checklist == [c for c in criteria.cohorts[cohort].criteria
                             if protocol_wide_review(criteria.criterion(c))]
        assert checklist, "the protocol has screening-visit review items"


@pytest.mark.spark
def test_candidate_summary_keeps_what_is_person_specific(run, criteria):
    out, _, status = run
    for cohort, spec in criteria.cohorts.items():
        wide = {c for c in spec.criteria if protocol_wide_review(criteria.criterion(c))}
        rows = _csv(out / f"candidates_{cohort}.csv")
        assert rows and "summary" in rows[0]
        by_person = status[status["cohort"] == cohort].set_index("person_id")
        for r in rows:
            summary = r["summary"].split(" | ") if r["summary"] else []
            reasons = r["reasons"].split(" | ")
            assert set(summary) <= set(reasons), "summary items are reasons, word for word"
            ids = [s.split(" ")[0] for s in summary]
            assert not {x for x in summary if x.split(" ")[0] in wide and " review: " in x}, \
                "protocol-wide review items are on the checklist, not per person"
            person = by_person.loc[int(r["person_id"])]
            assert set(person["unknown"]) <= set(ids), "every unknown is in the summary"
            inclusions_passed = {x.split(" ")[0] for x in reasons if " pass: " in x
                                 and criteria.criterion(x.split(" ")[0]).type == "inclusion"}
            assert inclusions_passed <= set(ids)
            assert len(summary) < len(reasons)


@pytest.mark.spark
def test_shareable_folder_has_suppressed_counts_and_no_person_rows(run, criteria):
    out, manifest, status = run
    rows = _csv(out / SHAREABLE_COUNTS)
    shown = {(r["table"], r["cohort"], r["step"], r["criterion"], r["site"], r["status"], r["measure"]): r["persons"]
             for r in rows}
    assert all(v == "<11" or v == "*" or v.isdigit() for v in shown.values())
    assert "<11" in shown.values(), "the sample has small cells"
    n = manifest["persons"]
    assert shown[("persons", "", "", "", "", "", "persons")] == str(n)
    for cohort in criteria.cohorts:
        mine = status[status["cohort"] == cohort]
        for st in ("eligible", "possible", "ineligible"):
            truth = int((mine["status"] == st).sum())
            text = shown[("status", cohort, "", "", "", st, "persons")]
            assert text == str(truth) if text.isdigit() else (text == "*" or 0 < truth < 11)
        for (site, st), truth in mine.groupby(["site", "status"]).size().items():
            text = shown[("site", cohort, "", "", site or "", st, "persons")]
            assert text == str(truth) if text.isdigit() else (text == "*" or 0 < truth < 11)
    page = (out / SHAREABLE_REPORT).read_text(encoding="utf-8")
    html = _parse(out / SHAREABLE_REPORT)
    assert not html.of("top") and not html.of("impact"), "no person-level or unsuppressed tables"
    assert "<th>person_id</th>" not in page and 'class="top"' not in page
