"""Complementary small-cell suppression (jobs/outputs/suppression.py, shared_counts.py) against an attacker.

The attacker here is written independently of the module's own audit: it reads the published tables as a
reader would (attrition rows, the funnel, status totals, site rows, a criterion shared by two cohorts), writes
down every relation those tables imply, and asks a linear program for the exact bounds of each `<k` cell. Its
power is shown first: on primary suppression alone it recovers the hidden counts exactly.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from jobs.outputs.shared_counts import OUTCOME_NAMES, shared_counts
from jobs.outputs.suppression import Published, System, attacker_bounds, derivable_complements, protect

STEPS = {"a": ["sys_alive", "a_inc_1", "a_exc_1"], "b": ["sys_alive", "b_inc_1"]}  # sys_alive shared
SITES = ["north", "south", "east"]
STATUSES = ("eligible", "possible", "ineligible")


def population(persons: list[tuple[int, tuple[str, ...]]]) -> tuple[list[dict], list[tuple], int]:
    """Attrition rows and site counts of a hand-made population: (site index, one outcome per criterion)."""
    cids = sorted({c for ids in STEPS.values() for c in ids})
    people = [(SITES[s], dict(zip(cids, outs, strict=True))) for s, outs in persons]
    rows, sites = [], {}
    for cohort, ids in STEPS.items():
        rows.append({"cohort": cohort, "step": 0, "criterion": "", "remaining": len(people),
                     "remaining_without_unknown": len(people)})
        for step, cid in enumerate(ids, start=1):
            seen = [o for _, o in people]
            rows.append({"cohort": cohort, "step": step, "criterion": cid,
                         **{x: sum(o[cid] == x for o in seen) for x in OUTCOME_NAMES},
                         "remaining": sum(all(o[c] != "fail" for c in ids[:step]) for o in seen),
                         "remaining_without_unknown": sum(all(o[c] not in ("fail", "unknown") for c in ids[:step])
                                                          for o in seen)})
        for site, o in people:
            outs = [o[c] for c in ids]
            status = "ineligible" if "fail" in outs else "possible" if "unknown" in outs else "eligible"
            sites[(cohort, site, status)] = sites.get((cohort, site, status), 0) + 1
    return rows, [(c, s, st_, n) for (c, s, st_), n in sorted(sites.items())], len(people)


def published_tables(counts, rows: list[dict], by_site: list[tuple]) -> dict[tuple, str]:
    """What a reader sees: every displayed cell of attrition.csv, counts_by_site.csv and the status totals."""
    from jobs.outputs.shared_counts import outcome_key, remaining_key, site_key, status_key
    shown = {("persons",): counts.show(("persons",))}
    for r in rows:
        if r["step"] == 0:
            continue
        for x in OUTCOME_NAMES:
            shown[("attr", r["cohort"], r["step"], x)] = counts.show(outcome_key(r["criterion"], x))
        shown[("attr", r["cohort"], r["step"], "remaining")] = counts.show(remaining_key(r["cohort"], r["step"]))
        shown[("attr", r["cohort"], r["step"], "clear")] = counts.show(remaining_key(r["cohort"], r["step"], True))
    for cohort in STEPS:
        for status in STATUSES:
            shown[("status", cohort, status)] = counts.show(status_key(cohort, status))
            for site in counts.sites:
                shown[("site", cohort, site, status)] = counts.show(site_key(cohort, site, status))
    return shown


def attack(shown: dict[tuple, str], k: int, targets: list | None = None) -> dict[tuple, tuple[float, float]]:
    """Exact LP bounds of every hidden cell in `targets` (default: the `<k` ones) from the published cells and
    the relations the tables imply (`<k`: 1 .. k-1; `*`: any count)."""
    eq, ub = [], []  # each: dict cell -> coefficient, meaning sum == 0 / sum <= 0
    persons = ("persons",)
    sites = sorted({c[2] for c in shown if c[0] == "site"})

    def attr(c, i, col):
        return persons if i == 0 and col in ("remaining", "clear") else ("attr", c, i, col)

    for cohort, ids in STEPS.items():
        for i, cid in enumerate(ids, start=1):
            eq.append({**{attr(cohort, i, x): 1 for x in OUTCOME_NAMES}, persons: -1})
            for other, oids in STEPS.items():  # the same criterion in another cohort: the same counts
                if other != cohort and cid in oids:
                    for x in OUTCOME_NAMES:
                        eq.append({attr(cohort, i, x): 1, attr(other, oids.index(cid) + 1, x): -1})
            rem, prev = attr(cohort, i, "remaining"), attr(cohort, i - 1, "remaining")
            clr, prev_clr = attr(cohort, i, "clear"), attr(cohort, i - 1, "clear")
            ub += [{rem: 1, prev: -1}, {clr: 1, prev_clr: -1}, {clr: 1, rem: -1},
                   {prev: 1, rem: -1, attr(cohort, i, "fail"): -1},
                   {prev_clr: 1, clr: -1, attr(cohort, i, "fail"): -1, attr(cohort, i, "unknown"): -1}]
            for j in range(1, i + 1):
                ub.append({rem: 1, attr(cohort, j, "fail"): 1, persons: -1})
                ub.append({clr: 1, attr(cohort, j, "fail"): 1, attr(cohort, j, "unknown"): 1, persons: -1})
        last = len(ids)
        eq.append({("status", cohort, "eligible"): 1, attr(cohort, last, "clear"): -1})
        eq.append({("status", cohort, "eligible"): 1, ("status", cohort, "possible"): 1,
                   attr(cohort, last, "remaining"): -1})
        eq.append({**{("status", cohort, s): 1 for s in STATUSES}, persons: -1})
        for s in STATUSES:
            eq.append({**{("site", cohort, site, s): 1 for site in sites}, ("status", cohort, s): -1})
    for site in sites:
        eq.append({**{("site", "a", site, s): 1 for s in STATUSES}, **{("site", "b", site, s): -1 for s in STATUSES}})
    hidden = sorted(c for c, v in shown.items() if not v.isdigit())
    idx = {c: n for n, c in enumerate(hidden)}

    def matrix(cons):
        a, b = [], []
        for con in cons:
            if any(c in idx for c in con):
                row = np.zeros(len(hidden))
                for c, coef in con.items():
                    if c in idx:
                        row[idx[c]] += coef
                a.append(row)
                b.append(-sum(coef * int(shown[c]) for c, coef in con.items() if c not in idx))
        return (np.array(a), np.array(b)) if a else (None, None)

    a_eq, b_eq = matrix(eq)
    a_ub, b_ub = matrix(ub)
    bounds = [(1, k - 1) if shown[c].startswith("<") else (0, None) for c in hidden]
    out = {}
    for c in hidden:
        if not (shown[c].startswith("<") if targets is None else c in targets):
            continue
        v = np.zeros(len(hidden))
        v[idx[c]] = 1
        lo = linprog(v, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-v, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status in (0, 3), "the published tables are consistent with the truth"
        out[c] = (lo.fun, float("inf") if hi.status == 3 else -hi.fun)
    return out


outcome = st.sampled_from(["pass", "pass", "pass", "fail", "unknown", "review"])
person = st.tuples(st.integers(0, len(SITES) - 1), st.tuples(*[outcome] * 4))
populations = st.lists(person, min_size=1, max_size=50)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(persons=populations, k=st.sampled_from([3, 5, 11]))
def test_no_suppressed_cell_can_be_recovered(persons, k):
    rows, by_site, n = population(persons)
    counts = shared_counts(STEPS, rows, by_site, n, k)
    shown = published_tables(counts, rows, by_site)
    truth = published_tables(shared_counts(STEPS, rows, by_site, n, 0), rows, by_site)
    for cell, text in shown.items():  # what is shown is true; no small count is shown
        assert text in (truth[cell], f"<{k}", "*"), cell
        t = int(truth[cell])
        assert text != f"<{k}" or 0 < t < k, cell
        assert not 0 < t < k or text in (f"<{k}", "*"), cell
    small = [c for c, t in truth.items() if 0 < int(t) < k]
    for cell, (lo, hi) in attack(shown, k, small).items():
        assert lo - 1e-6 <= int(truth[cell]) <= hi + 1e-6
        assert hi - lo >= 1 - 1e-6, f"{cell} derivable: in [{lo}, {hi}]"
        if shown[cell].startswith("<") and not counts.published.narrow:
            assert hi - lo >= (k - 1) // 2 - 1e-6, f"{cell}: range [{lo}, {hi}] narrower than the margin"


def test_the_attacker_recovers_primary_suppression_alone():
    """The issue's case: persons 500, a row whose one small cell is 500 minus the visible ones."""
    people = [(0, ("pass", "pass", "pass", "pass"))] * 497 + [(1, ("pass", "fail", "pass", "pass"))] * 3
    rows, by_site, n = population(people)
    counts = shared_counts(STEPS, rows, by_site, n, 11)
    naive = Published(11, counts.published.values, counts.published.primary, frozenset())
    from jobs.outputs.shared_counts import SharedCounts
    naive_counts = SharedCounts(naive, counts.cohorts, counts.steps, counts.sites)
    recovered = attack(published_tables(naive_counts, rows, by_site), 11)
    assert recovered and any(abs(hi - lo) < 1e-6 for lo, hi in recovered.values())
    protected = attack(published_tables(counts, rows, by_site), 11)
    assert protected and all(hi - lo >= 5 - 1e-6 for lo, hi in protected.values())
    assert counts.published.secondary, "complementary cells were hidden"


def test_protect_hides_the_smallest_linked_count_and_nothing_when_off():
    s = System()
    for key, v in {"t": 100, "a": 3, "b": 40, "c": 57}.items():
        s.cell(key, v)
    s.equal(["a", "b", "c"], ["t"])
    p = protect(s, 11)
    assert p.primary == {"a"} and p.secondary == {"b"}
    assert [p.show(x) for x in "tabc"] == ["100", "<11", "*", "57"]
    lo, hi = attacker_bounds(s, set(p.primary), set(p.secondary), 11)["a"]
    assert (lo, hi) == (1, 10)
    off = protect(s, 0)
    assert not off.primary and not off.secondary and off.show("a") == "3"


def test_a_small_cell_pinned_by_its_own_bounds_is_withheld():
    """Ten sites of one person each under a total `<11`: each would be exactly 1, so they are shown as `*`."""
    s = System()
    s.cell("t", 10)
    for i in range(10):
        s.cell(f"s{i}", 1)
    s.equal([f"s{i}" for i in range(10)], ["t"])
    p = protect(s, 11)
    assert p.withheld and all(p.show(key) in ("<11", "*") for key in s.values)
    bounds = attacker_bounds(s, set(p.primary), set(p.secondary), 11)
    assert all(hi - lo >= 1 for lo, hi in bounds.values())


def test_margin_drives_how_many_cells_are_hidden():
    s = System()
    for key, v in {"t": 14, "a": 2, "b": 12, "v": 11}.items():
        s.cell(key, v)
    s.equal(["a", "b"], ["t"])
    s.at_most(["v"], ["b"])
    # hiding b (the smallest that helps) leaves a = 14 - b with b >= 11: a in [1, 3], not derivable: enough
    # for a margin of 1; for the default margin 5, t is hidden instead (a = t - 12: a in [1, 10])
    assert protect(s, 11, margin=1).secondary == {"b"}
    wide = protect(s, 11)
    assert wide.secondary == {"t"}
    assert attacker_bounds(s, set(wide.primary), set(wide.secondary), 11)["a"] == (1, 10)


def test_a_kept_cell_is_never_hidden_and_the_small_cell_stays_underivable():
    """total = a + b with a small: hiding only `a` lets a reader compute it (total - b), so `b` or the total
    must go too. Unkept, the smaller `b` goes; with `b` kept (as the pipeline keeps the persons total), the
    total goes instead and `a` is still not derivable."""
    system = System()
    total, a, b = system.cell(("total",), 40), system.cell(("a",), 3), system.cell(("b",), 37)
    system.equal([total], [a, b])
    assert protect(system, 11).show(b) == "*"
    kept = protect(system, 11, keep=frozenset({b}))
    assert kept.show(b) == "37" and kept.show(a) == "<11" and kept.show(total) == "*"
    low, high = attacker_bounds(system, set(kept.primary), set(kept.secondary), 11, [a])[a]
    assert high - low >= 5


def test_a_complement_the_rest_pins_exactly_is_published_again():
    """t = a + s + c with a small, and s = u with u visible: a `*` on s protects nothing (anyone reads it off
    u), so it is published; c, which does protect a, stays hidden."""
    system = System()
    for key, v in {"t": 100, "a": 3, "s": 20, "c": 77, "u": 20}.items():
        system.cell(key, v)
    system.equal(["a", "s", "c"], ["t"])
    system.equal(["s"], ["u"])
    assert derivable_complements(system, {"a"}, {"s", "c"}, 11) == {"s"}  # s = u; c = 100 - 3..10 - 20: a range
    p = protect(system, 11)
    assert "s" not in p.secondary and p.show("s") == "20"
    lo, hi = attacker_bounds(system, set(p.primary), set(p.secondary), 11)["a"]
    assert hi - lo >= 5
