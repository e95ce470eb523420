"""Drug coverage (jobs.features.coverage) on hand-built exposure intervals: the union of overlapping,
nested, adjacent and gapped intervals, refill gaps, clipping to a window that ends before as-of, the whole
history, and the run that reaches the window's end. One Spark action for every case."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.columns import local_frame
from jobs.features.coverage import coverage_features
from schemas.features import EventRequest

pytestmark = pytest.mark.spark

AS_OF = date(2026, 10, 1)
D = date.fromisoformat
W90 = EventRequest("therapies", "x", 90, 0, 0)  # 2026-07-04 .. 2026-10-01
W90_GAP3 = EventRequest("therapies", "x", 90, 0, 3)
PAST = EventRequest("therapies", "x", 31, 30, 0)  # between_days [30, 60]: 2026-08-02 .. 2026-09-01
EVER = EventRequest("therapies", "x", None, 0, 0)
OTHER_SET = EventRequest("therapies", "y", 90, 0, 0)
COUNTS_ONLY = EventRequest("therapies", "x", 90)  # no coverage asked: no columns
REQUESTS = [W90, W90_GAP3, PAST, EVER, OTHER_SET, COUNTS_ONLY]

INTERVALS = [  # person, start, end
    (1, D("2026-09-01"), D("2026-09-30")), (1, D("2026-09-01"), D("2026-09-30")),  # identical: 30 days, not 60
    (1, D("2026-09-10"), D("2026-09-15")),  # nested
    (2, D("2026-07-01"), D("2026-07-31")), (2, D("2026-08-01"), D("2026-08-31")),  # adjacent; clipped at 07-04
    (3, D("2026-09-01"), D("2026-09-10")), (3, D("2026-09-15"), D("2026-09-24")),  # gap of 4 days
    (3, D("2026-09-28"), D("2026-10-30")),  # gap of 3 days; ends after as-of: clipped to as-of
    (4, D("2020-01-01"), D("2020-12-31")),  # long ago: only the whole history sees it
    (5, D("2026-08-20"), D("2026-09-20")),  # straddles the past window's end
]


@pytest.fixture(scope="module")
def got(spark):
    rows = [(p, "x", s, e) for p, s, e in INTERVALS]
    frame = local_frame(spark, rows, "person_id long, concept_set string, start_date date, end_date date")
    out = coverage_features(frame, REQUESTS, AS_OF)
    return {r["person_id"]: r.asDict() for r in out.collect()}


def cell(got, person, req, what):
    return got.get(person, {}).get(f"{req.name}__{what}")


def test_only_coverage_requests_get_columns(got):
    names = set(next(iter(got.values())))
    assert f"{COUNTS_ONLY.name}__days" not in names and f"{W90.name}__days" in names


@pytest.mark.parametrize(("person", "req", "days", "run"), [
    (1, W90, 30, 0),  # ends the day before as-of: no run with gap 0
    (1, W90_GAP3, 30, 31),  # a refill due within 3 days: 09-01 .. as-of
    (2, W90, 59, 0),  # 07-04 .. 08-31
    (3, W90, 10 + 10 + 4, 4),  # 09-28 .. 10-01 is the run
    (3, W90_GAP3, 10 + 17, 17),  # the gap of 4 days stays, the gap of 3 is bridged: 09-15 .. 10-01
    (4, W90, None, None), (4, EVER, 366, 0),  # 2020 is a leap year
    (5, PAST, 13, 13), (5, W90, 32, 0),  # 08-20 .. 09-01 inside [as-of-60, as-of-30], reaching its end
    (1, OTHER_SET, None, None),  # another concept set's exposures never count
])
def test_covered_days_and_run(got, person, req, days, run):
    assert (cell(got, person, req, "days"), cell(got, person, req, "run")) == (days, run)
