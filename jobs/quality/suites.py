"""Expectation suites as data: `expectations/*.json`, one per OMOP table plus `lab_values.json`.

Lab plausibility ranges are not in the suites: they live with the lab definitions (the lab catalogue
`criteria/catalogue/labs.yaml`, or the trial's `labs:`). `lab_values.json` holds one template expectation,
`expect_lab_values_to_be_plausible`, that `load_suites(labs=...)` expands into one range check per lab of the
criteria (`expect_column_values_to_be_between` on value_canonical, in the range's unit), and into a skipped
result naming each lab that has no range.

Loading validates every expectation: GX types through `ExpectationConfiguration(...).to_domain_obj()` (a typo
or a bad kwarg raises `SuiteError`, never a silent drop), house types against `HOUSE_TYPES`. Each carries a
severity (`error` stops the run, `warn` is recorded) and the reason for it (`meta.why`); row-level warn
checks with `meta.quarantine` name the reason their rows are quarantined with.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from jobs.errors import CohortFinderError
from jobs.extract.reader import MALFORMED
from schemas.labs import LabDefinition

Severity = Literal["error", "warn"]
SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"
LAB_TABLE = "lab_results"

# GX expectation types the gate understands (validated by GX itself when suites load).
GX_TYPES = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
# House types: checks GX has no Spark-cheap form for; kwargs are checked here.
HOUSE_TYPES: dict[str, frozenset[str]] = {
    "expect_column_values_to_parse": frozenset({"column"}),
    "expect_rows_to_have_expected_field_count": frozenset(),
    "expect_column_values_to_exist_in_person": frozenset({"column"}),
    "expect_column_values_to_not_be_after_death": frozenset({"column", "days"}),
    "expect_column_values_to_not_be_before_birth_year": frozenset({"column"}),
    "expect_lab_values_to_have_convertible_unit": frozenset({"column"}),
    "expect_lab_values_to_be_plausible": frozenset({"column"}),
    "expect_column_values_to_be_valid_utf8": frozenset({"column"}),
}
PLAUSIBLE = "expect_lab_values_to_be_plausible"  # the template of the per-lab range checks
PARAMETERS = ("as_of", "as_of_year")


class SuiteError(CohortFinderError):
    """An expectation suite file is invalid (unknown type, bad kwargs, bad severity)."""


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as written in the JSON file."""

    suite: str
    table: str
    type: str
    kwargs: dict[str, Any]
    severity: Severity
    family: str
    why: str
    quarantine: str | None = None  # reason written to `_reason` when the row is quarantined
    lab: str | None = None
    unit: str | None = None

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    @property
    def columns(self) -> list[str]:
        if self.type == "expect_column_pair_values_a_to_be_greater_than_b":
            return [self.kwargs["column_A"], self.kwargs["column_B"]]
        if self.type == "expect_rows_to_have_expected_field_count":
            return [MALFORMED]
        if self.type == "expect_column_values_to_parse":
            return [self.kwargs["column"], MALFORMED]
        if self.type == "expect_lab_values_to_have_convertible_unit":
            return ["value_as_number", "value_canonical", "unit_key", "lab"]
        if self.lab:
            return [self.kwargs["column"], "lab"]
        return [self.kwargs["column"]] if "column" in self.kwargs else []

    def describe(self) -> str:
        k = self.kwargs
        if self.type == "expect_column_values_to_be_between":
            what = f"between {_show(k.get('min_value'))} and {_show(k.get('max_value'))}"
            return f"{self.lab} {what} {self.unit}" if self.lab else what
        if self.type == "expect_column_pair_values_a_to_be_greater_than_b":
            return f"{k['column_A']} {'>=' if k.get('or_equal') else '>'} {k['column_B']}"
        if self.type == "expect_column_values_to_not_be_after_death":
            return f"not more than {k['days']} days after death"
        return ""


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    checks: tuple[Check, ...]
    meta: dict[str, Any] = field(default_factory=dict)



def load_suites(directory: Path | None = None, labs: Mapping[str, LabDefinition] | None = None) -> dict[str, Suite]:
    """Every `*.json` suite in `directory` (default `<repo>/expectations`), validated, by suite name; with
    `labs`, the plausibility template expanded into each lab's range check (`with_lab_ranges`)."""
    directory = Path(directory) if directory is not None else SUITES_DIR
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SuiteError(f"no expectation suites (*.json) in {directory}")
    suites: dict[str, Suite] = {}
    for path in files:
        suite = _load_suite(path)
        if suite.name in suites:
            raise SuiteError(f"{path.name}: suite name {suite.name!r} is used twice")
        suites[suite.name] = with_lab_ranges(suite, labs) if labs is not None else suite
    return suites


def with_lab_ranges(suite: Suite, labs: Mapping[str, LabDefinition]) -> Suite:
    """`suite` with each PLAUSIBLE template replaced by one range check per lab that has a plausible range,
    and one check without a range (reported as skipped, never a flag) per lab that has none."""
    checks: list[Check] = []
    for check in suite.checks:
        if check.type != PLAUSIBLE:
            checks.append(check)
            continue
        for name, lab in labs.items():
            r = lab.plausible
            if r is None:
                checks.append(replace(check, lab=name, quarantine=None,
                                      why=f"lab {name} has no plausible range (criteria/catalogue/labs.yaml or the "
                                          "trial's labs:): its values are not range-checked"))
                continue
            bounds = {k: _plain(v) for k, v in (("min_value", r.min), ("max_value", r.max)) if v is not None}
            shown = f"{_show(bounds.get('min_value'))}-{_show(bounds.get('max_value'))}"
            checks.append(replace(check, type="expect_column_values_to_be_between", kwargs={**check.kwargs, **bounds},
                                  lab=name, unit=r.unit,
                                  why=f"{name} outside {shown} {r.unit} is a unit or entry error; quarantined."))
    return replace(suite, checks=tuple(checks))


def _plain(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _load_suite(path: Path) -> Suite:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        name, table, items = doc["name"], doc["table"], doc["expectations"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SuiteError(f"{path.name}: not a suite file (needs name, table, expectations): {exc}") from None
    checks = [_load_check(path.name, i, name, table, item) for i, item in enumerate(items)]
    return Suite(name=name, table=table, checks=tuple(checks), meta=doc.get("meta", {}))


def _load_check(file: str, index: int, suite: str, table: str, item: dict) -> Check:
    where = f"{file}: expectation #{index + 1}"
    type_ = item.get("type")
    kwargs = dict(item.get("kwargs", {}))
    meta = dict(item.get("meta", {}))
    known = sorted(GX_TYPES | set(HOUSE_TYPES))
    if type_ not in known:
        hint = difflib.get_close_matches(str(type_), known, n=1)
        raise SuiteError(
            f"{where}: unknown expectation type {type_!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else f"; known types: {', '.join(known)}")
        )
    severity = meta.get("severity")
    if severity not in ("error", "warn"):
        raise SuiteError(f"{where} ({type_}): meta.severity must be 'error' or 'warn', not {severity!r}")
    if not meta.get("why"):
        raise SuiteError(f"{where} ({type_}): meta.why (the rationale for the severity) is missing")
    for value in kwargs.values():
        if isinstance(value, dict) and value.get("$PARAMETER") not in PARAMETERS:
            raise SuiteError(
                f"{where} ({type_}): unknown parameter {value!r}; known: {', '.join(PARAMETERS)}"
            )
    if type_ in GX_TYPES:
        _validate_with_gx(where, type_, kwargs)
    else:
        extra = set(kwargs) - HOUSE_TYPES[type_]
        missing = HOUSE_TYPES[type_] - set(kwargs)
        if extra or missing:
            raise SuiteError(
                f"{where} ({type_}): kwargs must be {sorted(HOUSE_TYPES[type_])}"
                f" (unknown {sorted(extra)}, missing {sorted(missing)})"
            )
    if "row_condition" in kwargs:
        raise SuiteError(f"{where} ({type_}): row_condition is not supported; use meta.lab for lab ranges")
    return Check(
        suite=suite,
        table=table,
        type=type_,
        kwargs=kwargs,
        severity=severity,
        family=meta.get("check", ""),
        why=meta["why"],
        quarantine=meta.get("quarantine"),
        lab=meta.get("lab"),
        unit=meta.get("unit"),
    )


def _validate_with_gx(where: str, type_: str, kwargs: dict) -> None:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        ExpectationConfiguration(type=type_, kwargs=kwargs).to_domain_obj()
    except Exception as exc:  # GX raises several types (InvalidExpectationConfigurationError, pydantic ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SuiteError(f"{where} ({type_}): invalid kwargs {sorted(kwargs)}: {first[:300]}") from None



def lab_units(suites: dict[str, Suite]) -> dict[str, str]:
    """{lab: the unit its plausibility range is written in}: the lab results carry a conversion into it."""
    return {c.lab: c.unit for s in suites.values() for c in s.checks if c.lab and c.unit}


def known_labs(suite: Suite) -> frozenset[str]:
    """Labs with a plausibility range in `suite`."""
    return frozenset(c.lab for c in suite.checks if c.lab and c.unit)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("$PARAMETER", "?")
    return "-inf" if value is None else str(value)
