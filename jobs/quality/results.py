"""What the gate found: one `ExpectationResult` per expectation, gathered in a `GateResult`.

Messages name the table, the column, the expectation and a count of rows; never a value from a row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from jobs.errors import QualityGateError
from jobs.quality.suites import Check, Severity


@dataclass
class ExpectationResult:
    suite: str
    table: str
    column: str | None
    expectation: str
    severity: Severity
    success: bool
    unexpected_count: int | None
    element_count: int | None
    message: str  # names table, column, expectation and count; never a row value
    skipped: bool = False
    family: str = ""


@dataclass
class GateResult:
    results: list[ExpectationResult]
    seconds: float
    timings: dict[str, float] = field(
        default_factory=dict
    )  # flags / gx / uniqueness seconds, for the benchmark

    def errors(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and r.severity == "error"]

    def warnings(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and r.severity == "warn"]

    def raise_for_errors(self) -> None:
        errors = self.errors()
        if errors:
            lines = "\n".join(f"  - {r.message}" for r in errors)
            raise QualityGateError(
                f"data-quality gate: {len(errors)} error-severity expectation(s) failed;"
                f" nothing was written. Fix the extract and rerun:\n{lines}"
            )

    def to_manifest(self) -> dict[str, Any]:
        return {
            "passed": not self.errors(),
            "seconds": round(self.seconds, 3),
            "expectations": len(self.results),
            "evaluated": sum(not r.skipped for r in self.results),
            "skipped": sum(r.skipped for r in self.results),
            "errors": len(self.errors()),
            "warnings": len(self.warnings()),
            "results": [asdict(r) for r in self.results],
        }

    def to_markdown(self) -> str:
        m = self.to_manifest()
        lines = [
            f"**Data-quality gate: {'passed' if m['passed'] else 'FAILED'}** — {m['evaluated']} expectations"
            f" evaluated ({m['skipped']} skipped: column not read), {m['errors']} errors,"
            f" {m['warnings']} warnings, {self.seconds:.1f} s.",
            "",
        ]
        failed = self.errors() + self.warnings()
        if failed:
            lines += [
                "| severity | table | column | expectation | bad rows | rows |",
                "|---|---|---|---|---:|---:|",
            ]
            lines += [
                f"| {r.severity} | {r.table} | {r.column or ''} | {r.expectation} |"
                f" {'' if r.unexpected_count is None else r.unexpected_count} |"
                f" {'' if r.element_count is None else r.element_count} |"
                for r in failed
            ]
        return "\n".join(lines) + "\n"

    def summary_text(self) -> str:
        m = self.to_manifest()
        head = (
            f"data-quality gate {'PASSED' if m['passed'] else 'FAILED'}: {m['evaluated']} checks,"
            f" {m['errors']} errors, {m['warnings']} warnings, {m['skipped']} skipped ({self.seconds:.1f} s)"
        )
        body = [f"  ERROR {r.message}" for r in self.errors()] + [
            f"  warn  {r.message}" for r in self.warnings()
        ]
        return "\n".join([head, *body])



def skipped(check: Check, why: str) -> ExpectationResult:
    """A check that could not run on this extract (its column or anchor table was not read): not a failure."""
    msg = f"{check.table}.{check.column or '*'}: {check.type} skipped ({why})"
    return ExpectationResult(check.suite, check.table, check.column, check.type, check.severity, True, None, None,
                             msg, skipped=True, family=check.family)


def counted(check: Check, bad: int, rows: int) -> ExpectationResult:
    """A row-level check's result from its count of bad rows."""
    what = check.describe()
    subject = f"{check.table}.{check.column}" if check.column else check.table
    verdict = "passed" if bad == 0 else f"failed for {bad} of {rows} rows"
    msg = f"{subject}: {check.type}{f' ({what})' if what else ''} {verdict}"
    return ExpectationResult(check.suite, check.table, check.column, check.type, check.severity, bad == 0, bad,
                             rows, msg, family=check.family)


def decided(check: Check, ok: bool, verdict: str, rows: int | None = None) -> ExpectationResult:
    """A check decided without counting rows (a column's presence, the row count)."""
    subject = f"{check.table}.{check.column}" if check.column else check.table
    return ExpectationResult(check.suite, check.table, check.column, check.type, check.severity, ok, None, rows,
                             f"{subject}: {check.type} {verdict}", family=check.family)
