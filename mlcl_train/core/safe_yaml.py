"""YAML for configs: PyYAML's safe loader plus the checks a hand-written file needs.

    data = load_yaml(text, "configs/mlp_deep.yaml")

A key given twice is an error naming both lines (PyYAML keeps the last silently); aliases
that expand past MAX_VALUES values (a "billion laughs" file), nesting deeper than MAX_DEPTH
and integers longer than MAX_DIGITS digits are refused before any value is built.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlcl_train.core.errors import UserError
from mlcl_train.core.values import shorten

MAX_DEPTH = 100  # a config is nested 3 or 4 levels
MAX_VALUES = 100_000  # values after expanding aliases; a config has a few hundred
MAX_DIGITS = 100  # seeds and sizes are far shorter
MERGE_TAG = "tag:yaml.org,2002:merge"


class Refused(yaml.YAMLError):
    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader with a nesting limit, duplicate-key and alias-expansion checks, short integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, set()) > MAX_VALUES:
            raise Refused(f"aliases (*name) expand to more than {MAX_VALUES:,} values; write the values out",
                          node.start_mark)
        return self.construct_document(node)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_DIGITS:
            raise Refused(f"an integer of {digits} digits; numbers here have at most {MAX_DIGITS}", node.start_mark)
        return super().construct_yaml_int(node)


ConfigLoader.add_constructor("tag:yaml.org,2002:int", ConfigLoader.construct_yaml_int)


def load_yaml(text: str, where: str, in_file: bool = True) -> Any:
    """Parse YAML text; any problem is one UserError starting with `where:line:column:` (in_file) or `where:`."""
    try:
        return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark and in_file else where
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        kind = "" if isinstance(err, Refused) else "YAML syntax error: " if in_file else "the value is not valid YAML: "
        raise UserError(f"{at}: {kind}{problem}") from None


def _expanded_size(node: Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values node stands for with every alias written out; checks duplicate keys once per node."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise Refused("an alias refers to a value that contains it", node.start_mark)
    open_.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, open_)
            if total > MAX_VALUES:
                break
    elif isinstance(node, MappingNode):
        _check_duplicates(node)
        for k, v in node.value:
            total += _expanded_size(k, sizes, open_) + _expanded_size(v, sizes, open_)
            if total > MAX_VALUES:
                break
    open_.discard(key)
    sizes[key] = total
    return total


def _check_duplicates(node: MappingNode) -> None:
    first: dict[tuple[str, str], int] = {}
    for k, _ in node.value:
        if not isinstance(k, ScalarNode) or k.tag == MERGE_TAG:
            continue
        line = k.start_mark.line + 1
        name = (k.tag, k.value)
        if name in first:
            shown = shorten(k.value, 40, "...")
            raise Refused(f"duplicate key '{shown}' (on line {first[name]} and line {line}); keep one", k.start_mark)
        first[name] = line
