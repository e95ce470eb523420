"""Status and ranking rules on hand-built rows (jobs.evaluation); the whole path is in test_pipeline.py."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs.evaluation import _rank_order, status_of


def test_status_any_fail_is_ineligible_else_any_unknown_is_possible(spark):
    rows = [(1, 0, 0), (2, 0, 3), (3, 1, 0), (4, 2, 5)]
    df = spark.createDataFrame(rows, "id int, n_failed int, n_unknown int")
    got = dict(df.select("id", status_of(F.col("n_failed"), F.col("n_unknown")).alias("s")).collect())
    assert got == {1: "eligible", 2: "possible", 3: "ineligible", 4: "ineligible"}


def test_rank_order_is_total_eligible_first_then_fewer_unknowns_then_recent_evidence_then_id(spark):
    rows = [  # person_id, status, n_unknown, evidence_date
        (10, "possible", 1, date(2026, 9, 30)),
        (11, "eligible", 0, date(2026, 1, 1)),
        (12, "eligible", 0, date(2026, 9, 1)),
        (13, "possible", 2, date(2026, 9, 30)),
        (14, "possible", 1, None),
        (9, "possible", 1, date(2026, 9, 30)),  # ties with 10: the lower person_id first
    ]
    df = spark.createDataFrame(rows, "person_id long, status string, n_unknown int, evidence_date date")
    ranked = df.withColumn("rank", F.row_number().over(Window.orderBy(*_rank_order())))
    order = [r["person_id"] for r in ranked.orderBy("rank").collect()]
    assert order == [12, 11, 9, 10, 14, 13]
