"""`cohort-finder`: run | check | concept-sets | whatif | validate. Errors a user can cause end in one line and
exit 2.

The criteria file is validated before any JVM starts. Credentials for JDBC come from the environment
(COHORT_FINDER_JDBC_USER / COHORT_FINDER_JDBC_PASSWORD) or a properties file, never from the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date

from jobs.config import AS_OF_MAX, AS_OF_MIN, RunConfig, jdbc_properties
from jobs.errors import ArgumentError, CohortFinderError, environment_error
from jobs.redaction import redact, scrub
from jobs.rules.loader import load_criteria
from jobs.rules.trials import combine

log = logging.getLogger("cohort_finder")


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    if not AS_OF_MIN <= day <= AS_OF_MAX:
        raise argparse.ArgumentTypeError(f"{day} is outside the supported range {AS_OF_MIN}..{AS_OF_MAX}")
    return day


def _at_least_one(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return n


class _Parser(argparse.ArgumentParser):
    """Argument errors end like every other user error: one line and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        print(scrub(f"cohort-finder: error: {message} (see cohort-finder {self.prog.split()[-1]} --help)"),
              file=sys.stderr)
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
        sp.add_argument("--vocab-schema", help="schema of concept, concept_ancestor, concept_relationship "
                                               "(default: --jdbc-schema)")
        sp.add_argument("--jdbc-partitions", type=_at_least_one, help="person_id ranges read in parallel per large "
                                                                      "table (default: one per 1M rows)")
        sp.add_argument("--jdbc-driver-jar", help="JDBC driver jar (default for PostgreSQL: "
                                                  "/usr/share/java/postgresql.jar)")
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
    run.add_argument("--cohort-include-possible", action="store_true",
                     help="also write possible persons to the OMOP cohort table (their own cohort_definition_id)")
    run.add_argument("--results-jdbc", help="jdbc: URL of a database to write the OMOP cohort table into")
    run.add_argument("--results-schema", help="schema for --results-jdbc (cohort, cohort_definition)")
    run.add_argument("--full-results", action="store_true",
                     help="criteria_results with every person x cohort x criterion row (default: the rows that "
                          "explain each status; person-independent criteria once, in <trial>/criteria/)")
    allow_missing(run)

    check = sub.add_parser("check", help="run the data-quality gate alone and print a summary")
    omop_args(check)
    check.add_argument("--criteria", action="append", default=[],
                       help="criteria YAML whose labs the gate checks; repeatable (required)")
    check.add_argument("--as-of", type=_date)
    allow_missing(check)

    sets = sub.add_parser("concept-sets", help="each concept set's members, how they got in, records and persons")
    omop_args(sets)
    sets.add_argument("--criteria", action="append", default=[],
                      help="criteria YAML whose concept sets to show; repeatable (required)")
    sets.add_argument("--min-cell-count", type=_positive, default=0,
                      help="show counts between 1 and N-1 as '<N' (0: off)")

    wi = sub.add_parser("whatif", help="recompute statuses, funnels and ranks of a finished result with criteria "
                                       "dropped or unknowns read as pass/fail (DuckDB, no Spark)")
    wi.add_argument("--results", required=True,
                    help="a finished result (local): a trial's folder OUT/<trial>, or the OUT of a one-trial run")
    wi.add_argument("--drop", action="append", default=[], metavar="ID", help="leave this criterion out (repeat)")
    wi.add_argument("--treat-unknown-as", choices=["pass", "fail"], help="read every unknown outcome as this")
    wi.add_argument("--write", metavar="DIR", help="also write whatif_status.csv, whatif_attrition.csv and "
                                                  "whatif_ranks_<cohort>.csv (person ids: not for sharing) here")

    val = sub.add_parser("validate", help="validate a criteria file (no Spark)")
    val.add_argument("criteria", nargs="+")
    return p


def _setup_logging(verbose: int) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
    for noisy in ("py4j", "great_expectations", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if verbose >= 2:
        os.environ["COHORT_FINDER_SPARK_LOG_LEVEL"] = "INFO"


class ScrubFilter(logging.Filter):
    """Every log line passes through `scrub`: a credential quoted by a driver's message never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        return True


def _config(args: argparse.Namespace, **more) -> RunConfig:
    """The run's configuration; the criteria files are loaded, validated and combined here, before any JVM
    starts (there is no default trial: a run screens the trials it is given)."""
    results = getattr(args, "results_jdbc", None)
    if results and not results.startswith("jdbc:"):
        raise ArgumentError(f"--results-jdbc {redact(results)}: expected a jdbc: URL")
    if bool(results) != bool(getattr(args, "results_schema", None)):
        raise ArgumentError("--results-jdbc and --results-schema go together")
    if not args.omop.startswith("jdbc:") and (args.vocab_schema or args.jdbc_partitions):
        raise ArgumentError("--vocab-schema and --jdbc-partitions apply to a jdbc: --omop only")
    loaded = tuple(load_criteria(path) for path in args.criteria)
    combine(list(loaded))  # no criteria, a trial given twice, conflicting labs: one line, exit 2, no JVM
    return RunConfig(omop=args.omop, criteria=loaded, out=getattr(args, "out", ""),
                     as_of=getattr(args, "as_of", None), jdbc_schema=args.jdbc_schema,
                     jdbc_properties=jdbc_properties(args.jdbc_properties), vocab_schema=args.vocab_schema,
                     jdbc_partitions=args.jdbc_partitions, results_jdbc=results,
                     results_schema=getattr(args, "results_schema", None), **more)


def _session(args: argparse.Namespace, cfg: RunConfig):
    """The SparkSession, with the JDBC driver jar on its class path when a jdbc: URL is used."""
    from jobs.jdbc import driver_jar
    from jobs.session import build_session

    urls = [u for u in (cfg.omop, cfg.results_jdbc) if u and u.startswith("jdbc:")]
    jar = driver_jar(urls, args.jdbc_driver_jar) if urls or args.jdbc_driver_jar else None
    return build_session(master=args.master, conf={"spark.jars": jar} if jar else None)


def run_config(args: argparse.Namespace) -> RunConfig:
    """`run`'s configuration: the common part (`_config`) and the run's own flags."""
    return _config(args, overwrite=args.overwrite, min_cell_count=args.min_cell_count,
                   fail_on_quality_warnings=args.fail_on_quality_warnings,
                   cohort_include_possible=args.cohort_include_possible,
                   allow_missing_columns=args.allow_missing_columns, full_results=args.full_results)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = run_config(args)
    from jobs.pipeline import run

    spark = _session(args, cfg)
    try:
        result = run(spark, cfg)
    finally:
        spark.stop()
    m = result.manifest
    for line in m["warnings"]:
        print(f"WARNING: {line}")
    print(f"results: {result.out} (as-of {m['as_of']}, {m['as_of_source']})")
    for folder, trial in m["trials"].items():
        print(f"  {trial['trial']}: report {result.out}/{folder}/report.html, "
              f"candidates {result.out}/{folder}/candidates_<cohort>.csv")
        for cohort, counts in trial["status_counts"].items():
            print(f"    {cohort}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if result.results_rows is not None:
        print(f"  cohort table: {result.results_rows} rows into {redact(cfg.results_jdbc or '')} "
              f"schema {cfg.results_schema}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = _config(args, allow_missing_columns=args.allow_missing_columns)
    from jobs.pipeline import check

    spark = _session(args, cfg)
    try:
        text, ok = check(spark, cfg)
    finally:
        spark.stop()
    print(scrub(text))
    return 0 if ok else 2


def _cmd_whatif(args: argparse.Namespace) -> int:
    from jobs.outputs.whatif import comparison_text, whatif, write_comparison

    before, after = whatif(args.results, args.drop, args.treat_unknown_as)
    print(comparison_text(before, after, args.drop, args.treat_unknown_as))
    if args.write:
        for path in write_comparison(args.write, before, after):
            print(f"  wrote {path}")
    return 0


def _cmd_concept_sets(args: argparse.Namespace) -> int:
    cfg = _config(args, min_cell_count=args.min_cell_count)
    from jobs.pipeline import concept_sets

    spark = _session(args, cfg)
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
    commands = {"run": _cmd_run, "check": _cmd_check, "concept-sets": _cmd_concept_sets, "whatif": _cmd_whatif,
                "validate": _cmd_validate}
    try:
        return commands[args.command](args)
    except CohortFinderError as exc:
        return _user_error(exc)
    except KeyboardInterrupt:
        print("cohort-finder: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment failure: one line by default, the trace with -v
        known = environment_error(exc)
        if known is not None:
            return _user_error(known)
        if args.verbose:
            raise
        first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        print(scrub(f"cohort-finder: internal error ({type(exc).__name__}): {first[:500]}\n"
                    "  rerun with -v for the full traceback"), file=sys.stderr)
        return 1


def _user_error(exc: CohortFinderError) -> int:
    """The message (one line per problem, never a stack), with every credential form masked."""
    print(scrub(f"cohort-finder: error: {exc}"), file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
