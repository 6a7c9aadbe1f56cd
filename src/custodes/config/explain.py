"""pydantic's validation errors as the lines an operator reads: the key as the YAML spells it
(``alerts.sinks[1] (email).to``), what is wrong, and for an unknown key the known key it most
resembles (``detect.rule_dir: unknown key; did you mean detect.rules_dir?``).

Values are never echoed: a secret pasted under a misspelt key must not reach a log.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from custodes.config.problem import Problem

#: pydantic's words for a wrong type, in the words the rest of custodes uses
_TYPE_WORDS = {"list_type": "expected a list", "dict_type": "expected a mapping", "model_type": "expected a mapping",
               "model_attributes_type": "expected a mapping", "string_type": "expected text",
               "int_type": "expected a whole number", "int_parsing": "expected a whole number",
               "int_from_float": "expected a whole number", "float_type": "expected a number",
               "float_parsing": "expected a number", "bool_type": "expected true or false",
               "bool_parsing": "expected true or false"}


def from_validation(exc: ValidationError, root: type[BaseModel], data: Any, prefix: tuple = ()) -> list[Problem]:
    """One problem per key that is wrong (a value that fits no branch of a union is one line)."""
    found: dict[str, tuple[str | None, list[str]]] = {}
    for err in _deepest_branches(list(exc.errors()), root, data):  # type: ignore[arg-type]
        loc = err["loc"]
        path, _, _ = _walk(root, data, loc, prefix)
        if err["type"] == "extra_forbidden":
            words = "unknown key" + _suggestion(root, data, prefix, loc)
        else:
            words = _TYPE_WORDS.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        section = str(prefix[0]) if prefix else None
        said = found.setdefault(path, (section, []))[1]
        if words not in said:
            said.append(words)
    return [Problem(section, f"{path}: {_join(words)}") for path, (section, words) in found.items()]


def unknown_key(path: str, key: str, known: list[str]) -> Problem:
    """``path.key: unknown key; did you mean path.nearest?`` (``path``: its section)."""
    close = nearest(key, known)
    hint = f"; did you mean {path}.{close[0]}?" if close else ""
    return Problem(path.split(".")[0], f"{path}.{key}: unknown key{hint}")


def nearest(word: str, known: list[str]) -> list[str]:
    """The known word ``word`` most likely misspells (difflib), or the one it abbreviates
    (``quiet`` for ``quiet_seconds``): [] or one word."""
    return difflib.get_close_matches(word, known, n=1, cutoff=0.6) or [k for k in known if k.startswith(word + "_")][:1]


def _join(words: list[str]) -> str:
    """Messages for one key (the branches of a union it fits none of): ``expected text or a mapping``."""
    if len(words) > 1 and all(w.startswith("expected ") for w in words):
        return "expected " + " or ".join(w.removeprefix("expected ") for w in words)
    return "; ".join(words)


# Where an error is ----------------------------------------------------------------------------
def _members(annotation) -> list:
    """The types a value of ``annotation`` may be (Annotated, Optional and unions unwrapped)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg) if m is not type(None)]
    return [annotation]


def _is_model(kind) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _field(model: type[BaseModel], key: str):
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _branch(members: list, marker: str) -> list:
    """The union member an error's location names: a discriminator's tag (``email``) or the
    member's type (``AnchorSinks``, ``function-after[_one(), Localized]``); [] for a scalar."""
    for m in filter(_is_model, members):
        tag = m.model_fields.get("type")
        if tag is not None and marker in typing.get_args(tag.annotation):
            return [m]
        if marker == m.__name__ or marker.endswith((f" {m.__name__}]", f"[{m.__name__}]")):
            return [m]
    return []


def _walk(root, data: Any, loc: tuple, prefix: tuple) -> tuple[str, list, str | None]:
    """Follow ``loc`` through the schema and the data: the path as the YAML spells it, the types
    that may stand there, and the path of the union whose branch it went through (or None)."""
    path, kinds, union_at = ".".join(prefix), _members(root), None
    for part in loc:
        if isinstance(part, int):  # a list item, named by its type or dataset: sinks[1] (email)
            path += f"[{part}]"
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
            tag = (data.get("type") or data.get("dataset")) if isinstance(data, dict) else None
            path += f" ({tag})" if isinstance(tag, str) else ""
            kinds = [m for k in kinds if typing.get_origin(k) is list for m in _members(typing.get_args(k)[0])]
        elif len(kinds) > 1:  # a union's branch marker, not a key
            union_at = union_at or path
            kinds = _branch(kinds, part)
        else:
            info = _field(kinds[0], part) if kinds and _is_model(kinds[0]) else None
            path = f"{path}.{part}" if path else str(part)
            data = data.get(part) if isinstance(data, dict) else None
            if info is not None:
                kinds = _members(info.annotation)
            else:  # a mapping's key, or a key no model has (extra_forbidden)
                kinds = [m for k in kinds if typing.get_origin(k) is dict for m in _members(typing.get_args(k)[1])]
    return path, kinds, union_at


def _deepest_branches(errors: list[dict], root, data) -> list[dict]:
    """A value that fits no branch of a union gets an error from each branch; keep those of the
    branch that got furthest (a mapping with one bad key is about that key, not about not being
    text)."""
    marked = [(err, _walk(root, data, err["loc"], ())[2]) for err in errors]
    best: dict[str, int] = {}
    for err, at in marked:
        if at is not None:
            best[at] = max(best.get(at, 0), len(err["loc"]))
    return [err for err, at in marked if at is None or len(err["loc"]) == best[at]]


def _suggestion(root, data: Any, prefix: tuple, loc: tuple) -> str:
    """``; did you mean detect.rules_dir?``: the nearest key the model holding the unknown one knows."""
    parent, kinds, _ = _walk(root, data, loc[:-1], prefix)
    known = [name for k in kinds if _is_model(k) for n, info in k.model_fields.items() for name in (n, info.alias) if name]
    close = nearest(str(loc[-1]), known)
    return f"; did you mean {parent + '.' if parent else ''}{close[0]}?" if close else ""


def unknown_top_level(key: str, config: type[BaseModel]) -> list[Problem]:
    """An unknown top-level key: the section it misspells, else the section key it belongs
    under (``organisation`` -> ``respond.organization``). Its section is None: it may be any."""
    close = nearest(key, list(config.model_fields))
    if not close:
        nested = {name: f"{section}.{name}" for section, info in config.model_fields.items()
                  for k in _members(info.annotation) if _is_model(k) for name in k.model_fields}
        close = [nested[n] for n in difflib.get_close_matches(key, list(nested), n=1, cutoff=0.8)]
    return [Problem(None, f"{key}: unknown key" + (f"; did you mean {close[0]}?" if close else ""))]
