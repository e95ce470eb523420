"""The sort order of feature requests (schemas/features.py)."""

from __future__ import annotations


class SortedByName:
    """Requests sort by (kind, feature name): a total order that holds when one concept set or lab is asked
    with and without a window (None, the whole history), which field-by-field dataclass ordering cannot compare
    (two trials in one run, or one file, asking `heart_failure` any time and within 60 days)."""

    name: str

    def __lt__(self, other: SortedByName) -> bool:
        return (type(self).__name__, self.name) < (type(other).__name__, other.name)
