"""Rows that are never evidence: split off by the same flags the gate counts, kept with their reason.

A row breaking a row-level `warn` check that carries `meta.quarantine` goes to `quarantine/` with that
reason (the first matching one, in suite order), as one frame of (table, reason, person_id, record_id, the
row as JSON), so nothing is silently lost.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.extract.inputs import LAB_RESULTS
from jobs.extract.reader import MALFORMED
from jobs.quality.flags import ANCHOR_NEEDS, FlagContext, flag_for
from jobs.quality.suites import LAB_TABLE, PLAUSIBLE, Suite, known_labs

REASON = "_reason"
# lab results quarantined for their unit stay beside the evidence, flagged: never evidence, but counted, so a
# criterion's evidence text can say that results exist whose unit cannot be converted (README Semantics)
UNIT_FLAG = "unit_unconvertible"
CONVERTIBLE_UNIT = "expect_lab_values_to_have_convertible_unit"
# tables whose bad rows are quarantined rather than stopping the run, and their record id column
QUARANTINE_TABLES = {
    "death": None,
    "observation_period": None,
    "visit_occurrence": None,
    "condition_occurrence": "condition_occurrence_id",
    "observation": "observation_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "drug_exposure": "drug_exposure_id",
}


def _empty_bad(df: DataFrame) -> DataFrame:
    return df.limit(0).withColumn(REASON, F.lit(None).cast("string"))


def quarantine_split(table: str, df: DataFrame, *, as_of: date, persons: DataFrame,
                     suites: dict[str, Suite], flag_reason: str | None = None) -> tuple[DataFrame, DataFrame]:
    """(good rows, bad rows + `_reason`) for the row-level warn expectations of `table` that quarantine.

    `persons` is a one-column frame of person_id; orphans are found with one broadcast left join on it. With
    `flag_reason`, rows quarantined for that reason are also kept among the good rows, marked by UNIT_FLAG."""
    suite = next((s for s in suites.values() if s.table == table), None)
    cols = df.columns
    if suite is None:
        return df, _empty_bad(df)
    ctx = FlagContext(as_of, known_labs(suite))
    reasons = []
    orphan = False
    for check in suite.checks:
        if check.severity != "warn" or not check.quarantine or any(c not in cols for c in check.columns):
            continue
        if check.type == "expect_column_values_to_exist_in_person":
            orphan = True
            flag = F.col(check.kwargs["column"]).isNotNull() & F.col("_q_pid").isNull()
        elif check.type in ANCHOR_NEEDS or check.type in ("expect_column_values_to_be_unique", PLAUSIBLE):
            continue
        else:
            flag = flag_for(check, ctx)
        reasons.append(F.when(F.coalesce(flag, F.lit(False)), F.lit(check.quarantine)))
    if not reasons:
        return (df.withColumn(UNIT_FLAG, F.lit(False)) if flag_reason else df), _empty_bad(df)
    base = df
    if orphan:
        pid = (persons.select(F.col(persons.columns[0]).alias("_q_pid")).where(F.col("_q_pid").isNotNull())
               .distinct())
        base = df.join(F.broadcast(pid), df["person_id"] == pid["_q_pid"], "left")
    flagged = base.select(*[F.col(f"`{c}`") for c in cols], F.coalesce(*reasons).alias(REASON))
    if flag_reason:
        kept = F.col(REASON) == flag_reason
        good = flagged.where(F.col(REASON).isNull() | kept).select(
            *[F.col(f"`{c}`") for c in cols], F.coalesce(kept, F.lit(False)).alias(UNIT_FLAG))
    else:
        good = flagged.where(F.col(REASON).isNull()).select(*[F.col(f"`{c}`") for c in cols])
    bad = flagged.where(F.col(REASON).isNotNull())
    return good, bad


def lab_quarantine_split(lab_results: DataFrame, suites: dict[str, Suite],
                         flag_units: bool = False) -> tuple[DataFrame, DataFrame]:
    """(good, bad + `_reason`) lab results: negative value, implausible value, unconvertible unit. With
    `flag_units`, the unconvertible ones stay among the good rows too, marked by UNIT_FLAG (to be counted)."""
    reason = next((c.quarantine for s in suites.values() if s.table == LAB_TABLE for c in s.checks
                   if c.type == CONVERTIBLE_UNIT and c.severity == "warn"), None) if flag_units else None
    good, bad = quarantine_split(LAB_TABLE, lab_results, as_of=date.max, persons=lab_results, suites=suites,
                                 flag_reason=reason)
    if flag_units and reason is None:
        good = good.withColumn(UNIT_FLAG, F.lit(False))
    return good, bad


def quarantine_rows(table: str, bad: DataFrame, id_col: str | None) -> DataFrame:
    """The quarantine's one shape: table, reason, person_id, record_id and the row's recorded fields as JSON."""
    record_cols = [c for c in bad.columns if not c.startswith("_")]
    return bad.select(
        F.lit(table).alias("table"), F.col(REASON).alias("reason"),
        F.col("person_id").cast("long").alias("person_id"),
        (F.col(id_col).cast("long") if id_col else F.lit(None).cast("long")).alias("record_id"),
        F.to_json(F.struct(*record_cols)).alias("record"))


def split_all(frames: dict[str, DataFrame], *, as_of: date,
              suites: dict[str, Suite]) -> tuple[dict[str, DataFrame], DataFrame]:
    """(frames with every quarantined row removed, the quarantine as one frame)."""
    persons = frames["person"].select("person_id")
    clean = dict(frames)
    bad_frames = []
    for table, id_col in QUARANTINE_TABLES.items():
        good, bad = quarantine_split(table, frames[table], as_of=as_of, persons=persons, suites=suites)
        clean[table] = good
        bad_frames.append(quarantine_rows(table, bad, id_col))
    # The lab results are the measurement rows used as evidence: the measurement table's own quarantining
    # checks (malformed or non-finite values, orphans, dates out of range) apply to them, then the labs'.
    labs, bad_rows = quarantine_split("measurement", frames[LAB_RESULTS], as_of=as_of, persons=persons,
                                      suites=suites)
    good_labs, bad_labs = lab_quarantine_split(labs, suites, flag_units=True)
    clean[LAB_RESULTS] = good_labs.drop("value_canonical", MALFORMED)
    bad_frames.append(quarantine_rows("measurement", bad_rows.unionByName(bad_labs, allowMissingColumns=True),
                                      "measurement_id"))
    quarantined = bad_frames[0]
    for b in bad_frames[1:]:
        quarantined = quarantined.unionByName(b)
    return clean, quarantined


def quarantine_counts(quarantined: DataFrame) -> dict[str, dict[str, int]]:
    """{table: {reason: rows}} of the written quarantine (a small aggregate)."""
    out: dict[str, dict[str, int]] = {}
    for r in quarantined.groupBy("table", "reason").count().collect():
        out.setdefault(r["table"], {})[r["reason"]] = int(r["count"])
    return {t: dict(sorted(v.items())) for t, v in sorted(out.items())}
