"""criteria_results by default vs --full-results: rows and bytes per trial, and the checks that make the
comparison honest (DuckDB over the written Parquet, no Spark).

    .venv/bin/python tests/benchmarks/results_size.py --default OUT_A --full OUT_B [--baseline OUT_OLD]

OUT_A and OUT_B are runs of the same extract, trials and as-of, the second with --full-results; OUT_OLD a run of
the code before the default changed (its criteria_results must equal OUT_B's row for row). Checked per trial:
the default table is exactly the full table's rows that explain a status (README "Outputs") minus the
person-independent criteria, whose full-table rows all equal their one row in criteria/; and `whatif` gives the
same answers from both results. Prints a Markdown table (tests/benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs.outputs.whatif import whatif  # noqa: E402

KEYS = "cohort, person_id, criterion"
EXPLAINS = ("(s.status <> 'ineligible' OR f.outcome = 'fail' "
            "OR (f.type = 'inclusion' AND f.evidence_date IS NOT NULL))")


def _parquet(folder: Path) -> str:
    return str(folder / "*.parquet")


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


def _same(con: duckdb.DuckDBPyConnection, a: str, b: str) -> bool:
    """Equal as multisets of rows (every column)."""
    return con.execute(f"SELECT (SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))) + "
                       f"(SELECT count(*) FROM (({b}) EXCEPT ALL ({a})))").fetchone()[0] == 0


def check_trial(con: duckdb.DuckDBPyConnection, default: Path, full: Path, baseline: Path | None) -> dict:
    d, f = default / "criteria_results", full / "criteria_results"
    crit, status = _parquet(default / "criteria"), _parquet(default / "person_status")
    out = {"default_rows": con.execute(f"SELECT count(*) FROM read_parquet('{_parquet(d)}')").fetchone()[0],
           "full_rows": con.execute(f"SELECT count(*) FROM read_parquet('{_parquet(f)}')").fetchone()[0],
           "default_bytes": _bytes(d), "full_bytes": _bytes(f)}
    if baseline is not None:
        old = baseline / "criteria_results"
        out["full_equals_baseline"] = _same(con, f"SELECT * FROM read_parquet('{_parquet(f)}')",
                                            f"SELECT * FROM read_parquet('{_parquet(old)}')")
    filtered = (f"SELECT f.* FROM read_parquet('{_parquet(f)}') f JOIN read_parquet('{status}') s USING (cohort, "
                f"person_id) JOIN read_parquet('{crit}') c USING (cohort, criterion) "
                f"WHERE {EXPLAINS} AND NOT c.person_independent")
    out["default_equals_filtered_full"] = _same(con, f"SELECT * FROM read_parquet('{_parquet(d)}')", filtered)
    out["constant_rows_equal_criteria_table"] = con.execute(
        f"SELECT count(*) FROM read_parquet('{_parquet(f)}') f JOIN read_parquet('{crit}') c USING (cohort, criterion)"
        " WHERE c.person_independent AND (f.outcome IS DISTINCT FROM c.outcome OR f.evidence IS DISTINCT FROM "
        "c.evidence OR f.evidence_date IS DISTINCT FROM c.evidence_date OR f.evidence_value IS DISTINCT FROM "
        "c.evidence_value OR f.criterion_order IS DISTINCT FROM c.criterion_order)").fetchone()[0] == 0
    out["person_independent"] = con.execute(f"SELECT count(*) FROM read_parquet('{crit}') "
                                            "WHERE person_independent").fetchone()[0]
    return out


def whatif_equal(default: Path, full: Path) -> bool:
    table = _parquet(default / "criteria")
    crits = [r[0] for r in duckdb.execute(f"SELECT DISTINCT criterion FROM read_parquet('{table}') "
                                          "ORDER BY criterion").fetchall()]
    scenarios = [([], None), ([], "pass"), ([], "fail"), (crits[:3], None), (crits[-4:], "pass")]
    return all(whatif(str(default), d, u) == whatif(str(full), d, u) for d, u in scenarios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--default", type=Path, required=True)
    ap.add_argument("--full", type=Path, required=True)
    ap.add_argument("--baseline", type=Path)
    args = ap.parse_args()
    trials = json.loads((args.default / "manifest.json").read_text())["trials"]
    assert json.loads((args.full / "manifest.json").read_text())["full_results"] is True
    con = duckdb.connect()
    rows, ok = [], True
    for t in trials:
        r = check_trial(con, args.default / t, args.full / t, args.baseline / t if args.baseline else None)
        r["whatif_equal"] = whatif_equal(args.default / t, args.full / t)
        ok &= all(v for k, v in r.items() if isinstance(v, bool))
        rows.append((t, r))
    print("| trial | rows default | rows --full-results | rows kept | MB default | MB --full-results | checks |")
    print("|---|---|---|---|---|---|---|")
    for t, r in rows:
        checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in r.items() if isinstance(v, bool))
        print(f"| {t} | {r['default_rows']:,} | {r['full_rows']:,} | {100 * r['default_rows'] / r['full_rows']:.1f} % "
              f"| {r['default_bytes'] / 1e6:.2f} | {r['full_bytes'] / 1e6:.2f} | {checks} |")
    tot = {k: sum(r[k] for _, r in rows) for k in ("default_rows", "full_rows", "default_bytes", "full_bytes")}
    kept = 100 * tot["default_rows"] / tot["full_rows"]
    print(f"| all | {tot['default_rows']:,} | {tot['full_rows']:,} | {kept:.1f} % "
          f"| {tot['default_bytes'] / 1e6:.2f} | {tot['full_bytes'] / 1e6:.2f} | |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
