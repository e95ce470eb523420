"""OMOP `cohort` and `cohort_definition` rows for OHDSI tools (ATLAS, CohortDiagnostics, ...).

One cohort definition per trial cohort and status written: eligible persons always, possible persons with
`--cohort-include-possible`, each under its own id so a tool never mixes them. Ids are stable: the first four
bytes of sha256("cohort-finder:<trial>:<cohort>:<status>") as a positive 31-bit integer (a PostgreSQL
`integer`), the same on every run, machine and criteria version. A row is one person on the as-of date:
cohort_start_date = cohort_end_date = as-of.

Into a database (`--results-jdbc`, `--results-schema`) the rows go through a staging table and one
transaction: delete this trial's cohort rows for the as-of date (both statuses) and its cohort_definition
rows, insert the new ones, drop the staging table. A rerun of the same screening (trial, as-of) therefore
replaces exactly its own rows; other cohorts and other dates are untouched. Missing target tables are
created with the official CDM 5.4 PostgreSQL types.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import jdbc
from jobs.columns import local_frame
from jobs.errors import ConservationError, InputError
from jobs.outputs.registry import by_name
from jobs.redaction import redact
from schemas.criteria import CriteriaFile

COHORT = by_name("cohort").name  # paths under --out come from the registry
COHORT_DEFINITION = by_name("cohort_definition").name
STATUSES = ("eligible", "possible")
NO_MATCHING_CONCEPT = 0  # definition_type_concept_id, subject_concept_id: no standard concept is claimed
COHORT_COLUMNS = ("cohort_definition_id", "subject_id", "cohort_start_date", "cohort_end_date")
DEFINITION_DDL = "cohort_definition_id int, cohort_definition_name string, cohort_definition_description string, " \
                 "definition_type_concept_id int, cohort_definition_syntax string, subject_concept_id int, " \
                 "cohort_initiation_date date"
# OHDSI/CommonDataModel inst/ddl/5.4/postgresql/OMOPCDM_postgresql_5.4_ddl.sql (types as the spec gives them)
TARGET_DDL = {  # keyed by the database table's name
    "cohort": "CREATE TABLE {schema}.cohort (cohort_definition_id integer NOT NULL, subject_id integer NOT NULL, "
            "cohort_start_date date NOT NULL, cohort_end_date date NOT NULL)",
    "cohort_definition": "CREATE TABLE {schema}.cohort_definition (cohort_definition_id integer NOT NULL, "
                       "cohort_definition_name varchar(255) NOT NULL, cohort_definition_description TEXT NULL, "
                       "definition_type_concept_id integer NOT NULL, cohort_definition_syntax TEXT NULL, "
                       "subject_concept_id integer NOT NULL, cohort_initiation_date date NULL)",
}


@dataclass(frozen=True)
class CohortDefinition:
    cohort_definition_id: int
    cohort: str
    status: str
    name: str
    description: str
    syntax: str  # JSON: the tool, trial, criteria version and hash that define the cohort


def definition_id(trial: str, cohort: str, status: str) -> int:
    digest = hashlib.sha256(f"cohort-finder:{trial}:{cohort}:{status}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def definitions(criteria: CriteriaFile, criteria_sha256: str, include_possible: bool,
                statuses: tuple[str, ...] = STATUSES) -> list[CohortDefinition]:
    """The cohort definitions a run writes (possible ones only with `include_possible`)."""
    chosen = statuses if include_possible else statuses[:1]
    return [CohortDefinition(
        definition_id(criteria.trial, name, status), name, status,
        f"{criteria.trial} {name} {status}"[:255],
        f"{cohort.title}: persons {status} on the as-of date by cohort-finder criteria {criteria.trial} "
        f"version {criteria.version}",
        json.dumps({"tool": "cohort-finder", "trial": criteria.trial, "cohort": name, "status": status,
                    "criteria_version": criteria.version, "criteria_sha256": criteria_sha256}, sort_keys=True))
        for name, cohort in criteria.cohorts.items() for status in chosen]


def cohort_rows(status: DataFrame, defs: list[CohortDefinition], as_of: date) -> DataFrame:
    """person_status -> cohort rows, one per person and definition."""
    ids = local_frame(status.sparkSession, [(d.cohort, d.status, d.cohort_definition_id) for d in defs],
                      "cohort string, status string, cohort_definition_id int")
    return (status.join(F.broadcast(ids), ["cohort", "status"])
            .select("cohort_definition_id", F.col("person_id").alias("subject_id"),
                    F.lit(as_of).alias("cohort_start_date"), F.lit(as_of).alias("cohort_end_date")))


def definition_rows(spark: SparkSession, defs: list[CohortDefinition], as_of: date) -> DataFrame:
    return local_frame(spark, [(d.cohort_definition_id, d.name, d.description, NO_MATCHING_CONCEPT, d.syntax,
                                NO_MATCHING_CONCEPT, as_of) for d in defs], DEFINITION_DDL)


def write_cohort_tables(status: DataFrame, defs: list[CohortDefinition], as_of: date, stage_dir: str,
                        expected: int) -> None:
    """cohort/ and cohort_definition/ (Parquet, sorted); `expected` rows (the statuses' counts) or nothing."""
    spark = status.sparkSession
    (cohort_rows(status, defs, as_of).repartition(1).sortWithinPartitions("cohort_definition_id", "subject_id")
     .write.parquet(f"{stage_dir}/{COHORT}"))
    definition_rows(spark, defs, as_of).repartition(1).write.parquet(f"{stage_dir}/{COHORT_DEFINITION}")
    written = spark.read.parquet(f"{stage_dir}/{COHORT}").count()
    if written != expected:
        raise ConservationError(f"cohort table: {written} rows written, {expected} persons have those statuses")


def to_manifest(defs: list[CohortDefinition], url: str | None, schema: str | None) -> dict:
    return {"definitions": [{"cohort_definition_id": d.cohort_definition_id, "cohort": d.cohort, "status": d.status,
                             "name": d.name} for d in defs],
            "results_jdbc": redact(url) if url else None, "results_schema": schema}


def check_results_target(spark: SparkSession, url: str, schema: str, props: dict[str, str]) -> str:
    """Fail before the run if the results database cannot be reached or lacks the schema; its spelling."""
    with jdbc.connection(spark, url, props, "checking --results-jdbc") as conn:
        return jdbc.find_schema(conn, schema, url, "--results-schema")


def write_results_jdbc(spark: SparkSession, url: str, schema: str, props: dict[str, str], cohort: DataFrame,
                       defs: list[CohortDefinition], all_ids: list[int], as_of: date, run_id: str) -> int:
    """Replace this screening's rows in `schema`.cohort / cohort_definition in one transaction; rows inserted."""
    props = jdbc.with_driver(url, props)
    with jdbc.connection(spark, url, props, "writing the cohort table") as conn:
        schema = jdbc.find_schema(conn, schema, url, "--results-schema")
        target = jdbc.quoted(schema)
        present = {t.lower() for t in jdbc.tables(conn, schema)}
        stage = f"{target}.cohort_finder_stage_{re.sub(r'[^a-z0-9]', '_', run_id.lower())}"
        jvm = spark.sparkContext._jvm
        try:
            for table, ddl in TARGET_DDL.items():
                if table not in present:
                    _execute(conn, ddl.format(schema=target))
            conn.commit()
            cohort.write.format("jdbc").options(url=url, dbtable=stage, **props).mode("overwrite").save()
            ids = ", ".join(str(i) for i in sorted(all_ids))
            day = jvm.java.sql.Date.valueOf(as_of.isoformat())
            _execute(conn, f"DELETE FROM {target}.cohort WHERE cohort_definition_id IN ({ids}) "
                           "AND cohort_start_date = ?", day)
            cols = ", ".join(COHORT_COLUMNS)
            inserted = _execute(conn, f"INSERT INTO {target}.cohort ({cols}) SELECT {cols} FROM {stage}")
            _execute(conn, f"DELETE FROM {target}.cohort_definition WHERE cohort_definition_id IN "
                           f"({', '.join(str(d.cohort_definition_id) for d in defs)})")
            for d in defs:
                _execute(conn, f"INSERT INTO {target}.cohort_definition VALUES (?, ?, ?, ?, ?, ?, ?)",
                         d.cohort_definition_id, d.name, d.description, NO_MATCHING_CONCEPT, d.syntax,
                         NO_MATCHING_CONCEPT, day)
            _execute(conn, f"DROP TABLE {stage}")
            conn.commit()
            return inserted
        except Exception as exc:
            conn.rollback()
            _drop_quietly(conn, stage)
            if isinstance(exc, InputError):
                raise
            raise InputError(jdbc.describe(exc, url, f"writing {schema}.cohort")) from None


def _execute(conn, sql: str, *params) -> int:
    ps = conn.prepareStatement(sql)
    try:
        for i, value in enumerate(params, start=1):
            if isinstance(value, bool) or not isinstance(value, int | str):
                ps.setObject(i, value)
            elif isinstance(value, int):
                ps.setInt(i, value)
            else:
                ps.setString(i, value)
        return int(ps.executeUpdate())
    finally:
        ps.close()


def _drop_quietly(conn, stage: str) -> None:
    try:
        _execute(conn, f"DROP TABLE IF EXISTS {stage}")
        conn.commit()
    except Exception:  # the original error is the one to report
        pass
