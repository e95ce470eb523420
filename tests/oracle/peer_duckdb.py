"""The DuckDB peers: each shipped trial written by hand in SQL (peer_duckdb.sql for NCT06557265,
peer_nct03987919.sql, peer_nct03036150.sql), run over the same OMOP extract, and a differential check against the
Spark job's `person_status` of that trial.

    python tests/oracle/peer_duckdb.py --omop DIR --as-of 2026-10-01 [--trial NCT...] [--job-out OUT/NCT...]

What this file does and does not do: it reads the extract's tables as typed DuckDB views (Parquet part folders
with `read_parquet('dir/*.parquet')`, CSV with `read_csv(..., all_varchar=true)` + explicit casts, a value that does
not parse is null and marks its row `_bad` as the job's reader does), and loads *data* the SQL needs: the criteria
file's concept-set items verbatim, the shipped vocabulary subset, the unit table of schemas/units.py and the
plausibility ranges of the lab catalogue (criteria/catalogue/labs.yaml). Every rule -- concept-set resolution,
windows, units, latest results, eGFR, ULN, positivity, Kleene logic, review_if, quarantine, status -- is in the
SQL. No Spark code runs.

Exit status: 0 statuses equal (or no --job-out), 1 mismatches, 2 bad arguments/input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jobs.rules.loader import load_criteria  # noqa: E402  (pydantic only: the criteria file as data)
from schemas import units as U  # noqa: E402  (unit definitions as data)

SQL = Path(__file__).with_name("peer_duckdb.sql")
CRITERIA = ROOT / "criteria" / "nct06557265.yaml"
# every shipped trial's hand-written peer: trial -> (criteria file, SQL script)
PEERS: dict[str, tuple[Path, Path]] = {
    "NCT06557265": (CRITERIA, SQL),
    "NCT03987919": (ROOT / "criteria" / "nct03987919.yaml", SQL.with_name("peer_nct03987919.sql")),
    "NCT03036150": (ROOT / "criteria" / "nct03036150.yaml", SQL.with_name("peer_nct03036150.sql")),
}
SHIPPED = ROOT / "schemas" / "vocabulary"

# The columns the peer reads, with their DuckDB types (OMOP CDM 5.4).
COLUMNS: dict[str, dict[str, str]] = {
    "person": {"person_id": "BIGINT", "gender_concept_id": "BIGINT", "year_of_birth": "BIGINT",
               "month_of_birth": "BIGINT", "day_of_birth": "BIGINT", "birth_datetime": "TIMESTAMP"},
    "death": {"person_id": "BIGINT", "death_date": "DATE"},
    "condition_occurrence": {"person_id": "BIGINT", "condition_concept_id": "BIGINT", "condition_start_date": "DATE",
                             "condition_end_date": "DATE", "visit_occurrence_id": "BIGINT"},
    "observation": {"observation_id": "BIGINT", "person_id": "BIGINT", "observation_concept_id": "BIGINT",
                    "observation_date": "DATE", "value_as_number": "DOUBLE", "value_as_concept_id": "BIGINT",
                    "visit_occurrence_id": "BIGINT"},
    "procedure_occurrence": {"person_id": "BIGINT", "procedure_concept_id": "BIGINT", "procedure_date": "DATE"},
    "drug_exposure": {"drug_exposure_id": "BIGINT", "person_id": "BIGINT", "drug_concept_id": "BIGINT",
                      "drug_exposure_start_date": "DATE", "drug_exposure_end_date": "DATE", "days_supply": "BIGINT",
                      "quantity": "DOUBLE"},
    "visit_occurrence": {"visit_occurrence_id": "BIGINT", "person_id": "BIGINT", "visit_concept_id": "BIGINT",
                         "visit_start_date": "DATE", "visit_end_date": "DATE"},
    "drug_strength": {"drug_concept_id": "BIGINT", "ingredient_concept_id": "BIGINT", "amount_value": "DOUBLE",
                      "amount_unit_concept_id": "BIGINT", "invalid_reason": "VARCHAR"},
    "measurement": {"measurement_id": "BIGINT", "person_id": "BIGINT", "measurement_concept_id": "BIGINT",
                    "measurement_date": "DATE", "value_as_number": "DOUBLE", "value_as_concept_id": "BIGINT",
                    "unit_concept_id": "BIGINT", "unit_source_value": "VARCHAR", "range_high": "DOUBLE"},
    "concept": {"concept_id": "BIGINT", "vocabulary_id": "VARCHAR", "concept_code": "VARCHAR"},
    "concept_ancestor": {"ancestor_concept_id": "BIGINT", "descendant_concept_id": "BIGINT"},
}
PARQUET_SUFFIXES = (".snappy.parquet", ".parquet")
CSV_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv", ".txt", ".tsv.gz", ".tsv")


class PeerInputError(Exception):
    pass


# ------------------------------------------------------------------------------------------------ reading
def _strip(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    for suffix in PARQUET_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)], "parquet"
    for suffix in CSV_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)], "csv"
    return lower, None


def discover(omop: Path) -> dict[str, tuple[str, list[str]]]:
    """table -> (format, files): `person.csv`, `PERSON.csv.gz`, `person.parquet` or a `person/` part folder."""
    if not omop.is_dir():
        raise PeerInputError(f"--omop {omop}: not a folder")
    found: dict[str, tuple[str, list[str]]] = {}
    for entry in sorted(omop.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        table, fmt = _strip(entry.name)
        if table not in COLUMNS:
            continue
        if entry.is_dir():
            parts = [p for p in sorted(entry.iterdir()) if not p.name.startswith((".", "_")) and p.stat().st_size > 0]
            kinds = {_strip(p.name)[1] for p in parts} - {None}
            if len(kinds) != 1:
                continue  # empty folder: no events of that kind
            fmt = kinds.pop()
            files = [str(p) for p in parts if _strip(p.name)[1] == fmt]
        elif fmt is None or entry.stat().st_size == 0:
            continue
        else:
            files = [str(entry)]
        found[table] = (fmt, files)
    return found


def _sql_list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _typed_csv(col: str, kind: str) -> str:
    raw = f'nullif("{col}", \'\')'
    if kind == "VARCHAR":
        return raw
    if kind == "BIGINT":  # "12.0" is the integer 12, as the job's reader reads it
        dbl = f"TRY_CAST({raw} AS DOUBLE)"
        return f"coalesce(TRY_CAST({raw} AS BIGINT), CASE WHEN {dbl} = floor({dbl}) THEN TRY_CAST({dbl} AS BIGINT) END)"
    return f"TRY_CAST({raw} AS {kind})"


def _csv_header(path: str, delim: str) -> list[str]:
    import bz2
    import csv
    import gzip

    opener = gzip.open if path.endswith(".gz") else bz2.open if path.endswith(".bz2") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh, delimiter=delim), [])


def create_views(con: duckdb.DuckDBPyConnection, omop: Path) -> dict[str, str]:
    """One typed view per table the peer reads (+ `_bad`); an absent table is an empty view (closed world)."""
    found = discover(omop)
    if "person" not in found:
        raise PeerInputError(f"--omop {omop}: no person table")
    how: dict[str, str] = {}
    for table, cols in COLUMNS.items():
        if table not in found:
            select = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in cols.items())
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {select}, false AS _bad WHERE false")
            how[table] = "absent"
            continue
        fmt, files = found[table]
        if fmt == "parquet":
            source = f"read_parquet({_sql_list(files)}, union_by_name = true)"
        else:
            delim = "\t" if ".tsv" in files[0].lower() else ","
            header = _csv_header(files[0], delim)
            delim_sql = "\\t" if delim == "\t" else ","
            columns = "{" + ", ".join("'" + h.replace("'", "''") + "': 'VARCHAR'" for h in header) + "}"
            # the header is read here, so DuckDB does not sniff (a tiny file can defeat the sniffer)
            source = (f"read_csv({_sql_list(files)}, header = true, auto_detect = false, columns = {columns}, "
                      f"delim = '{delim_sql}', quote = '\"', escape = '\"', "
                      "null_padding = true, ignore_errors = false)")
        present = {r[0].lower().strip().strip('"').lstrip("\ufeff"): r[0]
                   for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        exprs, bad = [], []
        for col, kind in cols.items():
            if col not in present:
                exprs.append(f"CAST(NULL AS {kind}) AS {col}")
                continue
            actual = present[col].replace('"', '""')
            if fmt == "parquet":
                exprs.append(f'TRY_CAST("{actual}" AS {kind}) AS {col}')
                continue
            typed = _typed_csv(actual, kind)
            exprs.append(f"{typed} AS {col}")
            if kind != "VARCHAR":
                bad.append(f"(nullif(\"{actual}\", '') IS NOT NULL AND {typed} IS NULL)")
        flag = " OR ".join(bad) if bad else "false"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {', '.join(exprs)}, ({flag}) AS _bad FROM {source}")
        how[table] = f"{fmt} ({len(files)} file{'s' if len(files) != 1 else ''})"
    return how


# ------------------------------------------------------------------------------------------------ reference data
def load_reference_data(con: duckdb.DuckDBPyConnection, criteria_path: Path) -> dict:
    """Concept-set items, shipped vocabulary, units and plausibility ranges as small tables (data, not logic)."""
    criteria = load_criteria(criteria_path).model
    items = [(name, it.concept_id, it.vocabulary, it.code, it.include_descendants, it.exclude, it.label)
             for name, cs in criteria.concept_sets.items() for it in cs.items]
    con.execute("CREATE OR REPLACE TEMP TABLE cs_item (set_name VARCHAR, concept_id BIGINT, vocabulary_id VARCHAR, "
                "concept_code VARCHAR, include_descendants BOOLEAN, exclude BOOLEAN, label VARCHAR)")
    con.executemany("INSERT INTO cs_item VALUES (?, ?, ?, ?, ?, ?, ?)", items)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE shipped_concept AS
        SELECT CAST(concept_id AS BIGINT) AS concept_id, vocabulary_id, concept_code
        FROM read_csv('{SHIPPED / 'concept.csv'}', header = true, all_varchar = true)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE shipped_ancestor AS
        SELECT CAST(ancestor_concept_id AS BIGINT) AS ancestor_concept_id,
               CAST(descendant_concept_id AS BIGINT) AS descendant_concept_id
        FROM read_csv('{SHIPPED / 'concept_ancestor.csv'}', header = true, all_varchar = true)""")
    con.execute("CREATE OR REPLACE TEMP TABLE unit_def (unit_key VARCHAR, dimension VARCHAR, factor DOUBLE, "
                "molar INTEGER)")
    con.executemany("INSERT INTO unit_def VALUES (?, ?, ?, ?)",
                    [(u.key, u.dimension, u.factor, u.molar) for u in U.UNITS])
    con.execute("CREATE OR REPLACE TEMP TABLE unit_concept (unit_concept_id BIGINT, unit_key VARCHAR)")
    con.executemany("INSERT INTO unit_concept VALUES (?, ?)", sorted(U.concept_table().items()))
    con.execute("CREATE OR REPLACE TEMP TABLE unit_equation (name VARCHAR, source VARCHAR, target VARCHAR, "
                "scale DOUBLE, \"offset\" DOUBLE)")
    con.executemany("INSERT INTO unit_equation VALUES (?, ?, ?, ?, ?)",
                    [(e.name, e.source, e.target, e.scale, e.offset) for e in U.EQUATIONS.values()])
    con.execute("CREATE OR REPLACE TEMP TABLE unit_alias (alias VARCHAR, unit_key VARCHAR)")
    con.executemany("INSERT INTO unit_alias VALUES (?, ?)", sorted(U.alias_table().items()))
    ranges = [(name, lab.plausible.unit, lab.plausible.min, lab.plausible.max)  # the lab catalogue's ranges
              for name, lab in sorted(criteria.labs.items()) if lab.plausible is not None]
    con.execute("CREATE OR REPLACE TEMP TABLE lab_range (lab VARCHAR, unit_key VARCHAR, lo DOUBLE, hi DOUBLE)")
    con.executemany("INSERT INTO lab_range VALUES (?, ?, ?, ?)", ranges)
    return {"criteria": criteria, "cohorts": {c: list(s.criteria) for c, s in criteria.cohorts.items()}}


def _statements(sql: str) -> list[str]:
    """Split the script on `;` at line ends (the file has no `;` inside literals)."""
    out, cur = [], []
    for line in sql.splitlines():
        stripped = line.split("--", 1)[0].rstrip() if not line.lstrip().startswith("--") else ""
        cur.append(line)
        if stripped.endswith(";"):
            text = "\n".join(cur).strip()
            if text.strip(";").strip():
                out.append(text)
            cur = []
    if "".join(cur).strip() and any(ln.strip() and not ln.strip().startswith("--") for ln in cur):
        out.append("\n".join(cur))
    return out


# ------------------------------------------------------------------------------------------------ peer
def script_text(sql: Path) -> str:
    """The script with each `-- @include NAME.sql` line replaced by that file (beside it): shared blocks."""
    lines = []
    for line in sql.read_text(encoding="utf-8").splitlines():
        if line.startswith("-- @include "):
            lines.append(sql.with_name(line.removeprefix("-- @include ").strip()).read_text(encoding="utf-8"))
        else:
            lines.append(line)
    return "\n".join(lines)


def run_peer(omop: str | Path, as_of: date, criteria_path: str | Path = CRITERIA, threads: int | None = None,
             memory_limit: str | None = None, database: str = ":memory:",
             sql: Path = SQL) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Compute `peer_status` (cohort, person_id, status, failed, unknown, review) with the SQL script `sql` (one
    per trial, PEERS); returns the connection and facts."""
    t0 = time.perf_counter()
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    tables = create_views(con, Path(omop))
    ref = load_reference_data(con, Path(criteria_path))
    t1 = time.perf_counter()
    script = script_text(Path(sql)).replace("{{AS_OF}}", f"DATE '{as_of.isoformat()}'")
    for stmt in _statements(script):
        con.execute(stmt)
    t2 = time.perf_counter()
    _check_criteria_cover(con, ref["cohorts"])
    unresolved = [f"{r[0]}: {r[1]} {r[2]}" for r in con.execute(
        "SELECT set_name, vocabulary_id, concept_code FROM cs_item i WHERE concept_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM code_id c WHERE c.vocabulary_id = i.vocabulary_id AND c.concept_code = i.concept_code) "
        "ORDER BY ALL").fetchall()]
    counts = {f"{c}/{s}": n for c, s, n in con.execute(
        "SELECT cohort, status, count(*) FROM peer_status GROUP BY ALL ORDER BY ALL").fetchall()}
    persons = con.execute("SELECT count(*) FROM demo").fetchone()[0]
    return con, {"tables": tables, "persons": persons, "status_counts": counts, "unresolved_codes": unresolved,
                 "seconds": {"setup": round(t1 - t0, 3), "sql": round(t2 - t1, 3), "total": round(t2 - t0, 3)}}


def _check_criteria_cover(con: duckdb.DuckDBPyConnection, cohorts: dict[str, list[str]]) -> None:
    """The hand-written cohort lists must be the criteria file's (else the peer is out of date)."""
    mine: dict[str, list[str]] = {}
    rows = con.execute("SELECT cohort, criterion FROM cohort_criterion ORDER BY cohort, ord").fetchall()
    for cohort, criterion in rows:
        mine.setdefault(cohort, []).append(criterion)
    if mine != cohorts:
        raise PeerInputError(f"peer_duckdb.sql cohorts differ from the criteria file: {mine} != {cohorts}")


# ------------------------------------------------------------------------------------------------ differential
def compare(con: duckdb.DuckDBPyConnection, job_out: str | Path, examples: int = 5) -> dict:
    """Peer vs the job's person_status for every person and cohort: status, failed, unknown, review (as sets)."""
    path = Path(job_out) / "person_status"
    if not path.is_dir():
        raise PeerInputError(f"--job-out {job_out}: no person_status/ folder")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW job_status AS
        SELECT cohort, person_id, status, failed, unknown, review
        FROM read_parquet('{path}/*.parquet')""")
    con.execute("""CREATE OR REPLACE TEMP TABLE diff AS
        SELECT coalesce(j.cohort, p.cohort) AS cohort, coalesce(j.person_id, p.person_id) AS person_id,
               j.person_id IS NULL AS only_peer, p.person_id IS NULL AS only_job,
               j.status AS job_status, p.status AS peer_status,
               list_sort(coalesce(j.failed, [])) AS job_failed, list_sort(p.failed) AS peer_failed,
               list_sort(coalesce(j.unknown, [])) AS job_unknown, list_sort(p.unknown) AS peer_unknown,
               list_sort(coalesce(j.review, [])) AS job_review, list_sort(p.review) AS peer_review
        FROM job_status j FULL OUTER JOIN peer_status p ON j.cohort = p.cohort AND j.person_id = p.person_id""")
    row = con.execute("""SELECT count(*),
            count(*) FILTER (only_peer), count(*) FILTER (only_job),
            count(*) FILTER (NOT only_peer AND NOT only_job AND job_status <> peer_status),
            count(*) FILTER (NOT only_peer AND NOT only_job AND job_failed <> peer_failed),
            count(*) FILTER (NOT only_peer AND NOT only_job AND job_unknown <> peer_unknown),
            count(*) FILTER (NOT only_peer AND NOT only_job AND job_review <> peer_review)
        FROM diff""").fetchone()
    keys = ["rows", "only_in_peer", "only_in_job", "status", "failed", "unknown", "review"]
    counts = dict(zip(keys, (int(x) for x in row), strict=True))
    where = ("only_peer OR only_job OR job_status <> peer_status OR job_failed <> peer_failed "
             "OR job_unknown <> peer_unknown OR job_review <> peer_review")
    mismatched = int(con.execute(f"SELECT count(*) FROM diff WHERE {where}").fetchone()[0])
    # which criteria the two sides disagree on (failed/unknown/review membership), to point at the rule
    by_criterion = {f"{c} {what}": int(n) for c, what, n in con.execute(f"""
        WITH d AS (SELECT * FROM diff WHERE {where}),
        x AS (
            SELECT unnest(list_concat(list_filter(job_failed, lambda c: NOT list_contains(peer_failed, c)),
                                      list_filter(peer_failed, lambda c: NOT list_contains(job_failed, c)))) AS c,
                   'failed' AS what FROM d
            UNION ALL
            SELECT unnest(list_concat(list_filter(job_unknown, lambda c: NOT list_contains(peer_unknown, c)),
                                      list_filter(peer_unknown, lambda c: NOT list_contains(job_unknown, c)))),
                   'unknown' FROM d
            UNION ALL
            SELECT unnest(list_concat(list_filter(job_review, lambda c: NOT list_contains(peer_review, c)),
                                      list_filter(peer_review, lambda c: NOT list_contains(job_review, c)))), 'review'
            FROM d)
        SELECT c, what, count(*) FROM x GROUP BY ALL ORDER BY 3 DESC, 1""").fetchall()}
    cols = ["cohort", "person_id", "job_status", "peer_status", "job_failed", "peer_failed", "job_unknown",
            "peer_unknown", "job_review", "peer_review"]
    picked = con.execute(f"SELECT {', '.join(cols)} FROM diff WHERE {where} ORDER BY cohort, person_id "
                         f"LIMIT {int(examples)}").fetchall()
    sample = [dict(zip(cols, r, strict=True)) for r in picked]
    return {"equal": mismatched == 0, "mismatched_rows": mismatched, "counts": counts,
            "by_criterion": by_criterion, "examples": sample}


# ------------------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--omop", required=True, help="the extract folder (CSV or Parquet)")
    ap.add_argument("--as-of", required=True, type=date.fromisoformat, help="screening date, YYYY-MM-DD")
    ap.add_argument("--trial", choices=list(PEERS), default="NCT06557265", help="whose peer to run")
    ap.add_argument("--job-out", help="the job's --out/<trial> folder: compare with its person_status")
    ap.add_argument("--out", help="write the peer's statuses here (Parquet file)")
    ap.add_argument("--json", help="write the summary (timings, counts, differential) here")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 8GB")
    ap.add_argument("--examples", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        criteria, sql = PEERS[args.trial]
        con, facts = run_peer(args.omop, args.as_of, criteria, args.threads, args.memory_limit, sql=sql)
        summary: dict = {"omop": args.omop, "as_of": args.as_of.isoformat(), "duckdb": duckdb.__version__, **facts}
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            con.execute(f"COPY (SELECT * FROM peer_status ORDER BY cohort, person_id) TO '{args.out}' (FORMAT parquet)")
        if args.job_out:
            t0 = time.perf_counter()
            summary["differential"] = compare(con, args.job_out, args.examples)
            summary["seconds"]["compare"] = round(time.perf_counter() - t0, 3)
    except (PeerInputError, duckdb.Error) as exc:
        print(f"peer_duckdb: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(summary, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    diff = summary.get("differential")
    if diff is not None and not diff["equal"]:
        print(f"peer_duckdb: {diff['mismatched_rows']} (cohort, person) rows differ from the job", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
