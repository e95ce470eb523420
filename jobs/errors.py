"""One root for every error a user can cause; the CLI turns it into one clear line and exit code 2."""

from __future__ import annotations


class CohortFinderError(Exception):
    """Base of all user-facing errors (bad input, bad criteria, bad arguments)."""

    exit_code = 2


class InputError(CohortFinderError):
    """The OMOP extract cannot be used as given (missing table or column, unreadable file, ...)."""


class CriteriaError(CohortFinderError):
    """A criteria file is invalid; the message names the file, the line or criterion and the field."""


class QualityGateError(CohortFinderError):
    """An `error`-severity data-quality expectation failed; nothing was written."""


class ConservationError(CohortFinderError):
    """An end-of-run invariant (every person accounted for, counts add up) does not hold."""

    exit_code = 3


class ArgumentError(CohortFinderError):
    """Command-line arguments that do not fit together."""


class OutputError(CohortFinderError):
    """The output folder cannot be written as asked (exists without --overwrite, ...)."""


def first_line(exc: BaseException) -> str:
    """The informative line of an exception: py4j wraps Spark's message after a generic first line and a
    Java class name; what a user needs is the message itself, without the stack."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("An error occurred while calling", "at "))]
    line = lines[0] if lines else type(exc).__name__
    if ": " in line and line.split(": ", 1)[0].startswith(("org.", "java.", "scala.")):
        line = line.split(": ", 1)[1]
    return line[:300]
