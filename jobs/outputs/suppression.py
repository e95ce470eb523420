"""Small-cell suppression WITH complementary suppression, over the small aggregate tables a run shares.

Primary suppression alone is undone by subtraction (persons 500 minus the visible cells of a row = the hidden
3). So every shared count is a cell of ONE linear system (row sums, the funnel, status totals, site sums,
criteria shared by cohorts) and the published table is audited the way an attacker would read it: for each
small cell, the exact lower and upper bounds a linear program derives from everything published (visible
cells are constants, a `<k` cell is in [1, k-1], a `*` cell is any count >= 0). While a small cell's range is
narrower than the protection margin (upper minus lower bound at least `margin`; by default half of what `<k`
alone leaves: 5 for k = 11), the smallest visible count linked to it (zeros first) is hidden too as `*`.
When every linked count is hidden and the range is still too narrow (e.g. ten sites of one eligible person
each under an eligible total `<11` pins each to 1), the small cell itself is shown as `*` instead of `<k`.
Hiding a cell only widens the feasible set, so a cell once protected stays protected and one pass suffices.

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

    def show(self, key: Key) -> str:
        if key in self.primary:
            return f"<{self.k}"
        if key in self.secondary:
            return SECONDARY
        return str(self.values[key])

    def visible(self, key: Key) -> int | None:
        """The number when it is published, else None (percentages and charts use only these)."""
        return None if key in self.primary or key in self.secondary else self.values[key]


def attacker_bounds(system: System, primary: set, secondary: set, k: int,
                    keys: Iterable[Key] | None = None) -> dict[Key, tuple[float, float]]:
    """Exact LP bounds of each hidden cell (or of `keys`) given everything published."""
    hidden = sorted(primary | secondary, key=repr)
    index = {key: i for i, key in enumerate(hidden)}

    def rows(constraints: list[dict[Key, int]]) -> tuple[np.ndarray, np.ndarray]:
        a, b = [], []
        for con in constraints:
            if not any(key in index for key in con):
                continue
            row = np.zeros(len(hidden))
            rhs = 0.0
            for key, coef in con.items():
                if key in index:
                    row[index[key]] += coef
                else:
                    rhs -= coef * system.values[key]
            a.append(row)
            b.append(rhs)
        return (np.array(a) if a else None), (np.array(b) if b else None)

    a_eq, b_eq = rows(system.equalities)
    a_ub, b_ub = rows(system.inequalities)
    bounds = [(1, k - 1) if key in primary else (0, None) for key in hidden]
    out: dict[Key, tuple[float, float]] = {}
    for key in (hidden if keys is None else keys):
        c = np.zeros(len(hidden))
        c[index[key]] = 1.0
        lo = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if lo.status != 0 or hi.status not in (0, 3):  # 3: unbounded above
            raise RuntimeError(f"internal: suppression audit LP failed ({lo.message}; {hi.message})")
        out[key] = (float(lo.fun), float("inf") if hi.status == 3 else float(-hi.fun))
    return out


def default_margin(k: int) -> int:
    """Half of the range `<k` alone leaves ([1, k-1]), at least 1 (= not derivable exactly)."""
    return max(1, (k - 1) // 2)


def protected(bounds: tuple[float, float], margin: int) -> bool:
    lo, hi = bounds
    return hi - lo >= margin - _EPS


def _linked(system: System, key: Key, hidden: set) -> list[Key]:
    """Cells sharing a relation with `key` or with a hidden cell reachable from it through relations."""
    constraints = system.equalities + system.inequalities
    seen, frontier, out = {key}, [key], set()
    while frontier:
        nxt = []
        for con in constraints:
            if not any(c in con for c in frontier):
                continue
            for other in con:
                if other in seen:
                    continue
                seen.add(other)
                if other in hidden:
                    nxt.append(other)
                else:
                    out.add(other)
        frontier = nxt
    return sorted(out, key=lambda c: (system.values[c], repr(c)))


def protect(system: System, k: int, margin: int | None = None) -> Published:
    """Primary suppression of counts 1 .. k-1, then complementary suppression until every small cell's
    derivable range is at least `margin` wide. k <= 1 publishes everything."""
    values = dict(system.values)
    if k <= 1:
        return Published(k, values, frozenset(), frozenset())
    margin = default_margin(k) if margin is None else margin
    primary = {key for key, v in values.items() if 0 < v < k}
    secondary: set = set()
    withheld = set()
    for key in sorted(primary, key=repr):
        while not protected(attacker_bounds(system, primary, secondary, k, [key])[key], margin):
            candidates = _linked(system, key, primary | secondary)
            if not candidates:  # every linked count is hidden already: do not even say it is small
                primary.discard(key)
                secondary.add(key)
                withheld.add(key)
                break
            secondary.add(candidates[0])
    return Published(k, values, frozenset(primary), frozenset(secondary), frozenset(withheld))
