"""Small-cell suppression WITH complementary suppression, over the small aggregate tables a run shares.

Primary suppression alone is undone by subtraction (persons 500 minus the visible cells of a row = the hidden
3). So every shared count is a cell of ONE linear system (row sums, the funnel, status totals, site sums,
criteria shared by cohorts) and the published table is audited the way an attacker would read it: for each
small cell, the exact lower and upper bounds a linear program derives from everything published (visible
cells are constants, a `<k` cell is in [1, k-1], a `*` cell is any count >= 0). While a small cell's range is
narrower than the protection margin (upper minus lower bound at least `margin`; by default half of what `<k`
alone leaves: 5 for k = 11), a visible count >= k linked to it is hidden too as `*`: the smallest that
protects it on its own, else the one that widens its range most.
When hiding more does not widen a cell (its narrowness comes from the relations among hidden cells
themselves), it stays `<k` if it is still not derivable (range at least 1 wide; listed in `narrow`), else it is
shown as `*` instead of `<k` (e.g. ten sites of one eligible person each under an eligible total `<11`).
Hiding a cell only widens the feasible set, so a cell once protected stays protected and one pass suffices.
A complementary cell that the rest still pins exactly at the end protects nothing and is published again.

Pure Python over a few hundred cells (scipy's HiGHS for the bounds); no Spark.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

Key = Hashable
SECONDARY = "*"
_EPS = 1e-6
_TRIES = 12  # candidates evaluated per step (smallest first): bounds the audit's cost on wide relations


@dataclass
class System:
    """Non-negative integer cells and the linear relations between them: sum(coef * cell) == 0 / <= 0."""

    values: dict[Key, int] = field(default_factory=dict)
    equalities: list[dict[Key, int]] = field(default_factory=list)
    inequalities: list[dict[Key, int]] = field(default_factory=list)

    def cell(self, key: Key, value: int) -> Key:
        if key in self.values and self.values[key] != value:
            raise ValueError(f"internal: cell {key!r} given two values")
        self.values[key] = int(value)
        return key

    def equal(self, left: Iterable[Key], right: Iterable[Key]) -> None:
        """sum(left) == sum(right)."""
        self.equalities.append(_terms(left, right))

    def at_most(self, left: Iterable[Key], right: Iterable[Key]) -> None:
        """sum(left) <= sum(right)."""
        self.inequalities.append(_terms(left, right))


def _terms(left: Iterable[Key], right: Iterable[Key]) -> dict[Key, int]:
    out: dict[Key, int] = {}
    for k in left:
        out[k] = out.get(k, 0) + 1
    for k in right:
        out[k] = out.get(k, 0) - 1
    return {k: c for k, c in out.items() if c}


@dataclass(frozen=True)
class Published:
    """The outcome: which cells are hidden, and how each cell is shown."""

    k: int
    values: Mapping[Key, int]
    primary: frozenset
    secondary: frozenset
    withheld: frozenset = frozenset()  # small cells shown as `*`: `<k` would have let them be worked out
    narrow: frozenset = frozenset()  # `<k` cells not derivable but under the margin: nothing linked widens them

    def show(self, key: Key) -> str:
        if key in self.primary:
            return f"<{self.k}"
        if key in self.secondary:
            return SECONDARY
        return str(self.values[key])

    def visible(self, key: Key) -> int | None:
        """The number when it is published, else None (percentages and charts use only these)."""
        return None if key in self.primary or key in self.secondary else self.values[key]


def _index(system: System) -> dict[Key, list[int]]:
    """cell -> the relations it appears in (equalities first, then inequalities, by position)."""
    out: dict[Key, list[int]] = {}
    for i, con in enumerate(system.equalities + system.inequalities):
        for key in con:
            out.setdefault(key, []).append(i)
    return out


def _component(system: System, index: dict[Key, list[int]], key: Key, hidden: set) -> tuple[list[Key], set[int]]:
    """The hidden cells linked to `key` through relations holding two hidden cells, and those relations: the
    rest of the system is constants for them, so the LP of `key` needs only this part."""
    constraints = system.equalities + system.inequalities
    seen, frontier, used = {key}, [key], set()
    while frontier:
        nxt = []
        for cell in frontier:
            for i in index.get(cell, ()):
                used.add(i)
                for other in constraints[i]:
                    if other in hidden and other not in seen:
                        seen.add(other)
                        nxt.append(other)
        frontier = nxt
    return sorted(seen, key=repr), used


def attacker_bounds(system: System, primary: set, secondary: set, k: int,
                    keys: Iterable[Key] | None = None) -> dict[Key, tuple[float, float]]:
    """Exact LP bounds of each hidden cell (or of `keys`) given everything published."""
    hidden = primary | secondary
    index = _index(system)
    n_eq = len(system.equalities)
    constraints = system.equalities + system.inequalities
    out: dict[Key, tuple[float, float]] = {}
    for key in (sorted(hidden, key=repr) if keys is None else keys):
        cells, used = _component(system, index, key, hidden)
        col = {c: j for j, c in enumerate(cells)}
        a_eq, b_eq, a_ub, b_ub = [], [], [], []
        for i in sorted(used):
            row = np.zeros(len(cells))
            rhs = 0.0
            for cell, coef in constraints[i].items():
                if cell in col:
                    row[col[cell]] += coef
                else:
                    rhs -= coef * system.values[cell]
            (a_eq if i < n_eq else a_ub).append(row)
            (b_eq if i < n_eq else b_ub).append(rhs)
        bounds = [(1, k - 1) if c in primary else (0, None) for c in cells]
        c = np.zeros(len(cells))
        c[col[key]] = 1.0
        args = {"A_ub": np.array(a_ub) if a_ub else None, "b_ub": np.array(b_ub) if b_ub else None,
                "A_eq": np.array(a_eq) if a_eq else None, "b_eq": np.array(b_eq) if b_eq else None,
                "bounds": bounds, "method": "highs"}
        lo, hi = linprog(c, **args), linprog(-c, **args)
        if lo.status != 0 or hi.status not in (0, 3):  # 3: unbounded above
            raise RuntimeError(f"internal: suppression audit LP failed ({lo.message}; {hi.message})")
        out[key] = (float(lo.fun), float("inf") if hi.status == 3 else float(-hi.fun))
    return out


def default_margin(k: int) -> int:
    """Half of the range `<k` alone leaves ([1, k-1]), at least 1 (= not derivable exactly)."""
    return max(1, (k - 1) // 2)


def protected(bounds: tuple[float, float], margin: int) -> bool:
    return _width(bounds) >= margin - _EPS


def _width(bounds: tuple[float, float]) -> float:
    return bounds[1] - bounds[0]


def _candidates(system: System, index: dict[Key, list[int]], key: Key, hidden: set, k: int,
                keep: frozenset = frozenset()) -> list[Key]:
    """Visible counts >= k to hide next for `key`: first those in a relation with `key` itself, then those in
    a relation with a hidden cell linked to it; smallest first (least information lost), zeros last."""
    constraints = system.equalities + system.inequalities
    cells, _ = _component(system, index, key, hidden)
    for group in ([key], cells):
        found = {o for cell in group for i in index.get(cell, ()) for o in constraints[i]
                 if o not in hidden and o not in keep}
        if found:  # counts >= k smallest first, then zeros (a hidden 0 helps only through inequalities)
            return sorted(found, key=lambda c: (system.values[c] == 0, system.values[c], repr(c)))
    return []


def protect(system: System, k: int, margin: int | None = None, keep: frozenset = frozenset()) -> Published:
    """Primary suppression of counts 1 .. k-1, then complementary suppression until every small cell's
    derivable range is at least `margin` wide. k <= 1 publishes everything. Cells in `keep` (e.g. the persons
    total, which every reader needs) are never chosen as complementary cells; a small cell that cannot be
    protected without them is withheld instead."""
    values = dict(system.values)
    if k <= 1:
        return Published(k, values, frozenset(), frozenset())
    margin = default_margin(k) if margin is None else margin
    primary = {key for key, v in values.items() if 0 < v < k}
    secondary: set = set()
    withheld, narrow = set(), set()
    index = _index(system)
    for key in sorted(primary, key=repr):
        while True:
            width = _width(attacker_bounds(system, primary, secondary, k, [key])[key])
            if width >= margin - _EPS:
                break
            # the smallest count that protects `key` on its own, else the one that widens its range most
            candidates = _candidates(system, index, key, primary | secondary, k, keep)
            tried = [(_width(attacker_bounds(system, primary, secondary | {c}, k, [key])[key]), c)
                     for c in candidates[:_TRIES]]
            enough = [c for w, c in tried if w >= margin - _EPS]
            gain, best = (margin, enough[0]) if enough else max(tried, key=lambda t: (t[0], -values[t[1]]),
                                                                  default=(width, None))
            if best is not None and gain > width + _EPS:
                secondary.add(best)
            elif width < 1 - _EPS and candidates:  # derivable, no single cell helps: open relations one by one
                secondary.add(candidates[0])
            elif width < 1 - _EPS and key in primary:  # derivable with everything linked hidden: not even say
                primary.discard(key)                   # it is small
                secondary.add(key)
                withheld.add(key)
            else:  # not derivable; under the margin by the relations among hidden cells themselves
                narrow.add(key)
                break
    secondary -= derivable_complements(system, primary, secondary, k, withheld)
    return Published(k, values, frozenset(primary), frozenset(secondary), frozenset(withheld), frozenset(narrow))


def derivable_complements(system: System, primary: set, secondary: set, k: int,
                          withheld: set | frozenset = frozenset()) -> set:
    """Complementary cells (counts >= k) that the published rest pins exactly: hiding them protects nothing
    (e.g. one chosen in an early step of the search whose relations were closed by later ones), and a `*` a
    reader can compute by subtraction looks like a leak. Publishing them all at once is safe: each is already
    fixed by what is published, so showing it changes no other cell's bounds."""
    candidates = sorted(secondary - set(withheld), key=repr)  # a withheld small cell stays hidden
    if not candidates:
        return set()
    bounds = attacker_bounds(system, primary, secondary, k, candidates)  # every hidden cell is unknown
    return {key for key, b in bounds.items() if _width(b) < 1 - _EPS and system.values[key] >= k}
