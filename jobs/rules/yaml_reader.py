"""The YAML reader of criteria files: safe (no object construction), a key given twice is an error, and bounds
checked while the document is composed (nesting depth; size with every alias expanded), so a "billion laughs"
file is refused in time proportional to its text instead of hanging validation."""

from __future__ import annotations

import yaml

MAX_DEPTH = 64  # YAML nesting (the shipped files reach 10)
MAX_EXPANDED_NODES = 200_000  # nodes with every alias expanded (the shipped files have about 3,000)


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would silently keep the last)."""


class BoundedLoader(UniqueKeyLoader):
    """Counts while composing: nesting depth, and each node's size with its aliases expanded (an alias adds the
    size of the node it names, which is already known), so a file that would expand past the bound is refused
    while it is read, in time proportional to its text."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent, index):
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = []
            size = 1 + sum(self._sizes.get(id(c), 1) for c in children)
            if size > MAX_EXPANDED_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"expands to more than {MAX_EXPANDED_NODES} nodes (nested aliases?)", node.start_mark)
            self._sizes[id(node)] = size
        return node


def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping)
