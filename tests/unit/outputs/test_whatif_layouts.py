"""`whatif` gives the same answers from the default outputs (explaining rows of criteria_results, outcomes from
person_status, person-independent criteria once in criteria/) as from the full long table, on random hand-built
results (no Spark: the Parquet is written with pyarrow)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.outputs.whatif import whatif

TRIAL = "T1"
# (criterion, type, constant result or None): c_rev is a pure review item, c_fix a constant dated pass
CRITERIA = {"a": [("c1", "inclusion", None), ("c_rev", "inclusion", ("review", None)), ("c2", "exclusion", None),
                  ("c_fix", "inclusion", ("pass", date(2026, 1, 5))), ("c3", "inclusion", None)],
            "b": [("c2", "exclusion", None), ("c4", "inclusion", None), ("c_rev", "inclusion", ("review", None))]}
OUTCOMES = ["pass", "pass", "pass", "fail", "unknown", "review"]


def _person_rows(rng: random.Random, persons: int) -> list[dict]:
    """Every person x cohort x criterion row (the full table), outcomes and dates at random."""
    rows, per_person = [], {}
    for pid in range(1, persons + 1):
        for cid in {c for spec in CRITERIA.values() for c, _, fixed in spec if fixed is None}:
            out = rng.choice(OUTCOMES)
            dated = rng.random() < (0.8 if out in ("pass", "review") else 0.2)
            per_person[(pid, cid)] = (out, date(2026, 1, 1) + timedelta(days=rng.randrange(200)) if dated else None)
    for cohort, spec in CRITERIA.items():
        for pid in range(1, persons + 1):
            for order, (cid, typ, fixed) in enumerate(spec, start=1):
                out, day = fixed if fixed else per_person[(pid, cid)]
                rows.append({"cohort": cohort, "person_id": pid, "criterion": cid, "criterion_order": order,
                             "type": typ, "outcome": out, "evidence_date": day})
    return rows


def _write(folder: Path, name: str, rows: list[dict], schema: pa.Schema) -> None:
    (folder / name).mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / name / "part-0.parquet")


LONG = pa.schema([("cohort", pa.string()), ("person_id", pa.int64()), ("criterion", pa.string()),
                  ("criterion_order", pa.int32()), ("type", pa.string()), ("outcome", pa.string()),
                  ("evidence_date", pa.date32())])


def _results(root: Path, full: list[dict], layout: str, criteria: dict = CRITERIA) -> Path:
    run = root / layout
    (run / TRIAL).mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"trials": {TRIAL: {"cohorts": {c: len(s) for c, s in
                                                                                 criteria.items()}}}}))
    folder = run / TRIAL
    if layout == "full":  # an older result: the full long table only
        _write(folder, "criteria_results", full, LONG)
        return folder
    status = {}
    for r in full:
        status.setdefault((r["cohort"], r["person_id"]), {"fail": [], "unknown": [], "review": []})
        if r["outcome"] != "pass":
            status[(r["cohort"], r["person_id"])][r["outcome"]].append(r["criterion"])
    _write(folder, "person_status", [{"cohort": c, "person_id": p, "status": "ineligible" if v["fail"] else
                                      "possible" if v["unknown"] else "eligible", "failed": v["fail"],
                                      "unknown": v["unknown"], "review": v["review"]} for (c, p), v in status.items()],
           pa.schema([("cohort", pa.string()), ("person_id", pa.int64()), ("status", pa.string()),
                      ("failed", pa.list_(pa.string())), ("unknown", pa.list_(pa.string())),
                      ("review", pa.list_(pa.string()))]))
    fixed = {c for spec in criteria.values() for c, _, f in spec if f}
    _write(folder, "criteria", [{"cohort": c, "criterion": cid, "criterion_order": i, "type": typ,
                                 "person_independent": f is not None, "outcome": f[0] if f else None,
                                 "evidence_date": f[1] if f else None}
                                for c, spec in criteria.items() for i, (cid, typ, f) in enumerate(spec, start=1)],
           pa.schema([("cohort", pa.string()), ("criterion", pa.string()), ("criterion_order", pa.int32()),
                      ("type", pa.string()), ("person_independent", pa.bool_()), ("outcome", pa.string()),
                      ("evidence_date", pa.date32())]))

    def kept(r: dict) -> bool:  # README "Outputs": the rows that explain each status
        out = status[(r["cohort"], r["person_id"])]["fail"]
        return r["criterion"] not in fixed and (not out or r["outcome"] == "fail" or
                                                (r["type"] == "inclusion" and r["evidence_date"] is not None))
    _write(folder, "criteria_results", [r for r in full if kept(r)], LONG)
    return folder


@pytest.mark.parametrize("seed", range(4))
def test_whatif_on_the_default_outputs_equals_whatif_on_the_full_table(tmp_path, seed):
    rng = random.Random(seed)
    full = _person_rows(rng, persons=80)
    a, b = _results(tmp_path, full, "full"), _results(tmp_path, full, "default")
    kept = pq.read_table(b / "criteria_results").num_rows
    assert kept < len(full) * 0.8, "the default table is smaller (else this compares two full tables)"
    changed = 0
    for dropped, unknown_as in [([], None), (["c2"], None), (["c1", "c_fix"], None), ([], "pass"), ([], "fail"),
                                (["c2", "c4"], "pass"), (["c_rev"], "fail"), (["c3"], None)]:
        before_a, after_a = whatif(str(a), dropped, unknown_as)
        before_b, after_b = whatif(str(b), dropped, unknown_as)
        assert (before_a, after_a) == (before_b, after_b), (dropped, unknown_as)
        changed += after_a.ranks != before_a.ranks
    assert changed >= 4, "the scenarios move persons and ranks"


def test_dropping_a_persons_failing_criteria_ranks_them_by_their_kept_inclusion_dates(tmp_path):
    """The case that needs an ineligible person's dated inclusion rows: dropping the criterion they fail
    ranks them, by the latest date of their remaining qualifying inclusions."""
    spec = [("c1", "inclusion", None), ("c2", "exclusion", None), ("c3", "exclusion", None)]
    outcomes = {1: [("pass", date(2026, 3, 1)), ("fail", None), ("pass", None)],
                2: [("pass", date(2026, 2, 1)), ("pass", None), ("pass", None)]}
    full = [{"cohort": "a", "person_id": p, "criterion": cid, "criterion_order": i, "type": typ, "outcome": out,
             "evidence_date": day}
            for p, rows in outcomes.items()
            for i, ((cid, typ, _), (out, day)) in enumerate(zip(spec, rows, strict=True), start=1)]
    folder = _results(tmp_path, full, "default", {"a": spec})
    kept = pq.read_table(folder / "criteria_results").to_pylist()
    assert sorted((r["person_id"], r["criterion"]) for r in kept) == [(1, "c1"), (1, "c2"), (2, "c1"), (2, "c2"),
                                                                       (2, "c3")]  # 1's undated c3 pass is left out
    before, after = whatif(str(folder), ["c2"], None)
    assert before.ranks["a"] == [(1, 2, "eligible")]
    assert after.ranks["a"] == [(1, 1, "eligible"), (2, 2, "eligible")]  # 2026-03-01 ranks before 2026-02-01
