"""`cohort-finder`: run | check | validate. Errors a user can cause end in one line and exit 2.

The criteria file is validated before any JVM starts. Credentials for JDBC come from the environment
(COHORT_FINDER_JDBC_USER / COHORT_FINDER_JDBC_PASSWORD) or a properties file, never from the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date

from jobs.config import RunConfig, jdbc_properties
from jobs.errors import CohortFinderError
from jobs.rules.loader import load_criteria
from jobs.rules.trials import combine

log = logging.getLogger("cohort_finder")


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

    def omop_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--omop", required=True, help="folder of OMOP CSV/Parquet tables (local, hdfs://, s3a://) "
                                                      "or a jdbc: URL")
        sp.add_argument("--jdbc-schema", help="database schema holding the CDM tables (with a jdbc: --omop)")
        sp.add_argument("--jdbc-properties", help="file of key=value JDBC properties (user, password, driver)")
        sp.add_argument("--master", help="Spark master for a plain run (spark-submit sets its own)")

    run = sub.add_parser("run", help="screen an extract against a criteria file and write results")
    omop_args(run)
    run.add_argument("--criteria", action="append", default=[],
                     help="criteria YAML of one trial; repeat for several trials in one run (required)")
    run.add_argument("--as-of", type=_date, help="screening date (default: cdm_source.source_release_date, "
                                                  "else today)")
    run.add_argument("--out", required=True, help="result folder (replaced atomically)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing result")
    run.add_argument("--min-cell-count", type=_positive, default=0,
                     help="show shared counts between 1 and N-1 as '<N' (0: off)")
    run.add_argument("--fail-on-quality-warnings", action="store_true")

    check = sub.add_parser("check", help="run the data-quality gate alone and print a summary")
    omop_args(check)
    check.add_argument("--criteria", action="append", default=[],
                       help="criteria YAML whose labs the gate checks; repeatable (required)")
    check.add_argument("--as-of", type=_date)

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
    """The run's configuration; the criteria files are loaded, validated and combined here, before any JVM
    starts (there is no default trial: a run screens the trials it is given)."""
    loaded = tuple(load_criteria(path) for path in args.criteria)
    combine(list(loaded))  # no criteria, a trial given twice, conflicting labs: one line, exit 2, no JVM
    return RunConfig(omop=args.omop, criteria=loaded, out=getattr(args, "out", ""),
                     as_of=args.as_of, jdbc_schema=args.jdbc_schema,
                     jdbc_properties=jdbc_properties(args.jdbc_properties), **more)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args, overwrite=args.overwrite, min_cell_count=args.min_cell_count,
                  fail_on_quality_warnings=args.fail_on_quality_warnings)
    from jobs.pipeline import run
    from jobs.session import build_session

    spark = build_session(master=args.master)
    try:
        result = run(spark, cfg)
    finally:
        spark.stop()
    m = result.manifest
    print(f"results: {result.out} (as-of {m['as_of']}, {m['as_of_source']})")
    for folder, trial in m["trials"].items():
        print(f"  {trial['trial']}: report {result.out}/{folder}/report.md, "
              f"candidates {result.out}/{folder}/candidates_<cohort>.csv")
        for cohort, counts in trial["status_counts"].items():
            print(f"    {cohort}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = _config(args)
    from jobs.pipeline import check
    from jobs.session import build_session

    spark = build_session(master=args.master)
    try:
        text, ok = check(spark, cfg)
    finally:
        spark.stop()
    print(text)
    return 0 if ok else 2


def _cmd_validate(args: argparse.Namespace) -> int:
    for path in args.criteria:
        c = load_criteria(path).model
        print(f"{path}: ok ({len(c.criteria)} criteria, cohorts: "
              + ", ".join(f"{k} {len(v.criteria)}" for k, v in c.cohorts.items()) + ")")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _setup_logging(args.verbose)
    commands = {"run": _cmd_run, "check": _cmd_check, "validate": _cmd_validate}
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
