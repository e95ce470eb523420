"""One root for every error a user can cause; the CLI turns it into one clear line and exit code 2."""

from __future__ import annotations

import errno


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


# Conditions of the environment a user can fix, recognised in any exception (Python's OSError, or a Java
# exception's text carried by py4j): (errno, Java text, what to say).
_ENVIRONMENT = (
    (errno.ENOSPC, "No space left on device",
     "no space left on device (ENOSPC) while writing; free space where --out (and Spark's local dir) live, "
     "or choose another --out; nothing was published"),
    (errno.EDQUOT, "Disk quota exceeded",
     "disk quota exceeded (EDQUOT) while writing; nothing was published"),
    (errno.ENOTDIR, "Not a directory",
     "a path component is a regular file, not a folder (ENOTDIR); check --omop and --out"),
    (errno.EACCES, "Permission denied",
     "permission denied (EACCES); check the rights on --omop and --out"),
    (errno.EROFS, "Read-only file system",
     "read-only file system (EROFS); choose another --out"),
)


def environment_error(exc: BaseException) -> CohortFinderError | None:
    """A user-fixable environment failure behind `exc` (full disk, a file where a folder should be, ...) as
    one clear `OutputError`, else None. Deep nesting that escaped the loader's bounds is refused the same way:
    a RecursionError (Python) or StackOverflowError (Spark's planner) is a too-deep input, not a bug."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(_safe_str(e) for e in chain)
    for code, java_text, say in _ENVIRONMENT:
        if any(isinstance(e, OSError) and e.errno == code for e in chain) or java_text in text:
            return OutputError(say)
    if any(isinstance(e, RecursionError) for e in chain) or "java.lang.StackOverflowError" in text:
        return CriteriaError("the input is nested too deeply to evaluate (recursion limit reached); flatten "
                             "nested any_of/all_of/not rules")
    return None


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - some py4j errors cannot render without the JVM
        return type(exc).__name__
