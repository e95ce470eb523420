"""Small-cell suppression of the shared outputs (jobs.outputs.report.suppress), as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.outputs.report import suppress


@given(k=st.integers(1, 1000), data=st.data())
def test_suppression_never_reveals_a_small_cell(k, data):
    n = data.draw(st.integers(0, 5 * k + 5))
    shown = suppress(n, k)
    if n == 0:
        assert shown == "0"
    elif n < k:
        assert shown == f"<{k}"
        assert str(n) not in shown.removeprefix("<").replace(str(k), "") and shown != str(n)
    else:
        assert shown == str(n)


@given(n=st.integers(0, 10**6))
def test_suppression_off_shows_every_count(n):
    assert suppress(n, 0) == str(n)
