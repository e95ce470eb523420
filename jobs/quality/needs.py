"""What the criteria need from the extract: a clinical table or a column a criterion reads must be there.

The reader fills an absent optional column with nulls and reads an absent table as "no events" (both right
for data the criteria do not use). For data a criterion reads that silently turns every result unknown (no
`value_as_number`) or every exclusion into a pass (no `condition_occurrence`), so `check_needs` makes it an
error-severity finding by default (exit 2, one line per table/column naming the criteria that read it), or a
loud warning with `--allow-missing-columns`. What each rule kind reads is a registry (`NEEDS`), so a new kind
declares its needs instead of being special-cased; a kind without an entry needs nothing beyond the person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobs.errors import InputError
from jobs.extract.reader import ReadReport
from jobs.quality.results import GateResult
from schemas.criteria import ConditionRule, CriteriaFile, DrugRule, LabRule, ObservationRule, ProcedureRule, walk_rules

FLAG = "--allow-missing-columns"
EVENTS = ("condition_occurrence", "observation")  # diagnoses are read from both


@dataclass(frozen=True, order=True)
class Need:
    """At least one of `tables` holds rows; when `columns` is set, the first present table of `tables` has at
    least one of `columns` (alternatives, e.g. a unit by concept or by source text)."""

    tables: tuple[str, ...]
    columns: tuple[str, ...] = ()


def _lab_needs(rule: LabRule, criteria: CriteriaFile) -> list[Need]:
    m = ("measurement",)
    # a derived value (eGFR from creatinine) reads the same measurement columns as a measured one
    if rule.comparator == "positive":  # a result concept, else a number read against its range
        return [Need(m), Need(m, ("value_as_concept_id", "value_as_number"))]
    return [Need(m), Need(m, ("value_as_number",)), Need(m, ("unit_concept_id", "unit_source_value"))]


NEEDS: dict[type, Callable] = {
    ConditionRule: lambda rule, criteria: [Need(EVENTS)],
    ObservationRule: lambda rule, criteria: [Need(("observation",))],
    ProcedureRule: lambda rule, criteria: [Need(("procedure_occurrence",))],
    DrugRule: lambda rule, criteria: [Need(("drug_exposure",))],
    LabRule: _lab_needs,
}


def criteria_needs(criteria: CriteriaFile) -> dict[Need, list[str]]:
    """{need: ids of the criteria that read it}, in protocol order."""
    out: dict[Need, list[str]] = {}
    for crit in criteria.criteria:
        for _path, rule in walk_rules(crit.rule, "rule"):
            needs = NEEDS.get(type(rule))
            for need in needs(rule, criteria) if needs else []:
                users = out.setdefault(need, [])
                if crit.id not in users:
                    users.append(crit.id)
    return out


def table_rows(gate: GateResult) -> dict[str, int]:
    """Rows per table as the gate counted them (its element counts): a header-only file is an empty table."""
    rows: dict[str, int] = {}
    for r in gate.results:
        if r.element_count is not None:
            rows[r.table] = max(rows.get(r.table, 0), int(r.element_count))
    return rows


def unmet_needs(criteria: CriteriaFile, read: ReadReport, rows: dict[str, int]) -> list[str]:
    """One line per table or column a criterion reads that the extract lacks (no person data involved);
    `rows` are the gate's row counts per table (a table it did not count is judged by the reader alone)."""
    empty = set(read.empty_tables) | {t for t, n in rows.items() if n == 0}
    absent = set(read.missing_tables) | empty
    lines = []
    for need, users in sorted(criteria_needs(criteria).items()):
        present = [t for t in need.tables if t not in absent]
        who = f"read by {', '.join(users)}"
        if not present:
            if need.columns:
                continue  # the table line says it
            state = " / ".join(f"{t} ({'empty' if t in empty else 'not found'})" for t in need.tables)
            lines.append(f"table {state}: {who}")
            continue
        missing = read.missing_optional_columns.get(present[0], [])
        if need.columns and all(c in missing for c in need.columns):
            lines.append(f"table {present[0]}: column {' / '.join(need.columns)} absent: {who}")
    return lines


def check_needs(criteria: CriteriaFile, read: ReadReport, rows: dict[str, int], allow: bool) -> list[str]:
    """Raise InputError (exit 2) for unmet needs, or return them as warnings when `allow` is set."""
    lines = unmet_needs(criteria, read, rows)
    if lines and not allow:
        raise InputError("the criteria read data the extract lacks (their results would all be unknown or "
                         f"pass silently); add it, or rerun with {FLAG} to continue with a warning:\n  "
                         + "\n  ".join(lines))
    return [f"{line} (continued with {FLAG}: these criteria cannot be decided from this extract)"
            for line in lines]
