"""Strict YAML for the files operators write (field mappings, and custodes.yaml when it adopts
this): a key given twice is an error naming the key and its line, never "the last one wins"
(PyYAML's default, which lets a second ``actor_id:`` further down silently replace the first,
or a line appended at the end override a setting reviewed at the top). Any problem is one
line naming the file: never a traceback, also for a binary file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from custodes.errors import CustodesError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys in any mapping (merge keys ``<<`` excepted: an
    explicit key overriding a merged one is what merging is for)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise _Duplicate(key, seen[key], line)
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it itself
        return super().construct_mapping(node, deep=deep)


class _Duplicate(Exception):
    def __init__(self, key, first: int, again: int):
        where = f"line {first}" if first == again else f"lines {first} and {again}"
        super().__init__(f"key {key!r} given twice ({where})")


def load_yaml(path: Path, what: str = "YAML file") -> Any:
    """The YAML document in ``path``; CustodesError (one line naming ``path``) when it cannot be
    read, is not UTF-8 text, is not YAML, or gives a key twice."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CustodesError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CustodesError(f"{path}: the {what} is not UTF-8 text (byte {exc.start}: binary content?)") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _Duplicate as exc:
        raise CustodesError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise CustodesError(f"{path}: not valid YAML: {_one_line(exc)}") from None


def _one_line(exc: yaml.YAMLError) -> str:
    """PyYAML's messages span several lines (context, mark, problem): keep the problem and where."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())
