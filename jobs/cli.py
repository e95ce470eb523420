"""`cohort-finder`: run | check | concept-sets | validate. Errors a user can cause end in one line and exit 2.

The criteria file is validated before any JVM starts. Credentials for JDBC come from the environment
(COHORT_FINDER_JDBC_USER / COHORT_FINDER_JDBC_PASSWORD) or a properties file, never from the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from jobs.config import RunConfig, jdbc_properties
from jobs.errors import CohortFinderError
from jobs.rules.loader import load_criteria

log = logging.getLogger("cohort_finder")
DEFAULT_CRITERIA = Path(__file__).resolve().parents[1] / "criteria" / "nct06557265.yaml"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return n


class _Parser(argparse.ArgumentParser):
    """Argument errors end like every other user error: one line and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        print(f"cohort-finder: error: {message} (see cohort-finder {self.prog.split()[-1]} --help)", file=sys.stderr)
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cohort-finder", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log detail (-vv: Spark INFO)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def allow_missing(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--allow-missing-columns", action="store_true",
                        help="a table or column a criterion reads may be absent or empty: warn loudly instead of "
                             "exit 2 (those criteria become unknown or pass)")

    def omop_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--omop", required=True, help="folder of OMOP CSV/Parquet tables (local, hdfs://, s3a://) "
                                                      "or a jdbc: URL")
        sp.add_argument("--jdbc-schema", help="database schema holding the CDM tables (with a jdbc: --omop)")
        sp.add_argument("--jdbc-properties", help="file of key=value JDBC properties (user, password, driver)")
        sp.add_argument("--master", help="Spark master for a plain run (spark-submit sets its own)")

    run = sub.add_parser("run", help="screen an extract against a criteria file and write results")
    omop_args(run)
    run.add_argument("--criteria", default=str(DEFAULT_CRITERIA), help="criteria YAML (default: NCT06557265)")
    run.add_argument("--as-of", type=_date, help="screening date (default: cdm_source.source_release_date, "
                                                  "else today)")
    run.add_argument("--out", required=True, help="result folder (replaced atomically)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing result")
    run.add_argument("--min-cell-count", type=_positive, default=0,
                     help="show shared counts between 1 and N-1 as '<N' (0: off)")
    run.add_argument("--fail-on-quality-warnings", action="store_true")
    allow_missing(run)

    check = sub.add_parser("check", help="run the data-quality gate alone and print a summary")
    omop_args(check)
    check.add_argument("--criteria", default=str(DEFAULT_CRITERIA))
    check.add_argument("--as-of", type=_date)
    allow_missing(check)

    sets = sub.add_parser("concept-sets", help="each concept set's members, how they got in, records and persons")
    omop_args(sets)
    sets.add_argument("--criteria", default=str(DEFAULT_CRITERIA))
    sets.add_argument("--min-cell-count", type=_positive, default=0,
                      help="show counts between 1 and N-1 as '<N' (0: off)")

    val = sub.add_parser("validate", help="validate a criteria file (no Spark)")
    val.add_argument("criteria", nargs="+")
    return p


def _setup_logging(verbose: int) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "great_expectations", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if verbose >= 2:
        os.environ["COHORT_FINDER_SPARK_LOG_LEVEL"] = "INFO"


def _config(args: argparse.Namespace, **more) -> RunConfig:
    """The run's configuration; the criteria file is loaded and validated here, before any JVM starts."""
    return RunConfig(omop=args.omop, criteria=load_criteria(args.criteria), out=getattr(args, "out", ""),
                     as_of=getattr(args, "as_of", None), jdbc_schema=args.jdbc_schema,
                     jdbc_properties=jdbc_properties(args.jdbc_properties), **more)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args, overwrite=args.overwrite, min_cell_count=args.min_cell_count,
                  fail_on_quality_warnings=args.fail_on_quality_warnings,
                  allow_missing_columns=args.allow_missing_columns)
    from jobs.pipeline import run
    from jobs.session import build_session

    spark = build_session(master=args.master)
    try:
        result = run(spark, cfg)
    finally:
        spark.stop()
    m = result.manifest
    for line in m["warnings"]:
        print(f"WARNING: {line}")
    print(f"results: {result.out}")
    for cohort, counts in m["status_counts"].items():
        print(f"  {cohort}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"  as-of {m['as_of']} ({m['as_of_source']}); report: {result.out}/report.md; "
          f"candidates: {result.out}/candidates_<cohort>.csv")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = _config(args, allow_missing_columns=args.allow_missing_columns)
    from jobs.pipeline import check
    from jobs.session import build_session

    spark = build_session(master=args.master)
    try:
        text, ok = check(spark, cfg)
    finally:
        spark.stop()
    print(text)
    return 0 if ok else 2


def _cmd_concept_sets(args: argparse.Namespace) -> int:
    cfg = _config(args, min_cell_count=args.min_cell_count)
    from jobs.pipeline import concept_sets
    from jobs.session import build_session

    spark = build_session(master=args.master)
    try:
        text = concept_sets(spark, cfg)
    finally:
        spark.stop()
    print(text)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    for path in args.criteria:
        c = load_criteria(path).model
        print(f"{path}: ok ({len(c.criteria)} criteria, cohorts: "
              + ", ".join(f"{k} {len(v.criteria)}" for k, v in c.cohorts.items()) + ")")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _setup_logging(args.verbose)
    commands = {"run": _cmd_run, "check": _cmd_check, "concept-sets": _cmd_concept_sets,
                "validate": _cmd_validate}
    try:
        return commands[args.command](args)
    except CohortFinderError as exc:
        print(f"cohort-finder: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cohort-finder: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment failure: one line by default, the trace with -v
        if args.verbose:
            raise
        first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        print(f"cohort-finder: internal error ({type(exc).__name__}): {first[:500]}\n"
              "  rerun with -v for the full traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
