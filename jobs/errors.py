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


class OutputError(CohortFinderError):
    """The output folder cannot be written as asked (exists without --overwrite, ...)."""
