"""``WORKSPACE/custodes.yaml`` checked against its schema (:mod:`custodes.config.schema`).

Every key custodes reads is declared; an unknown key is an error that names it and the known
key it most resembles, a wrong type one that names the key. :meth:`custodes.workspace.Workspace.config`
runs :func:`problems` once per version of the file, so every command checks the whole file
and every reader of a section refuses that section when it is wrong (a misspelt
``detect.rule_dir`` once dropped an operator's rules without a word).

``detect:`` holds the thresholds the rules declare (``Rule.parameters``). Those of the built-in
rules are checked here; with ``detect.rules_dir`` set, a key none of them declares is left to
:func:`check_detect` when the operator's rules are loaded (``custodes.detect.registry.all_rules``):
checking it here would run the operator's code for every command, ``verify`` included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custodes.config.problem import Problem, refuse
from custodes.errors import CustodesError

if TYPE_CHECKING:
    from custodes.workspace import Workspace

__all__ = ["Problem", "check", "check_detect", "problems", "refuse", "rule_parameters"]


def problems(raw: dict[str, Any]) -> list[Problem]:
    """Everything wrong in a custodes.yaml document (its top level already a mapping). Each
    section is checked on its own, so only the sections the file has are imported."""
    if not raw:
        return []
    from pydantic import TypeAdapter, ValidationError

    from custodes.config.explain import from_validation, unknown_top_level
    from custodes.config.schema import SECTIONS, config_model, section_type

    found = []
    for key, value in raw.items():
        if key not in SECTIONS:
            found += unknown_top_level(str(key), config_model())
            continue
        kind = section_type(key)
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            found += from_validation(exc, kind, value, prefix=(key,))
    detect = raw.get("detect")
    if isinstance(detect, dict):
        found += check_detect(detect, _builtin_parameters(detect), defer_unknown=bool(detect.get("rules_dir")))
    return found


def check_detect(detect: dict[str, Any], parameters: dict[str, Any], defer_unknown: bool = False) -> list[Problem]:
    """The ``detect:`` section against its fixed keys and the rules' ``parameters``; with
    ``defer_unknown``, keys neither declares are not reported (the operator's rules, not loaded
    yet, may declare them)."""
    from pydantic import ValidationError

    from custodes.config.explain import from_validation, unknown_key
    from custodes.config.schema import DETECT_KEYS, detect_model

    known = [*DETECT_KEYS, *parameters]
    unknown = [key for key in detect if key not in known]
    found = [] if defer_unknown else [unknown_key("detect", str(key), known) for key in unknown]
    given = {key: value for key, value in detect.items() if key in known}
    model = detect_model(parameters)
    try:
        model.model_validate(given)
    except ValidationError as exc:
        found += from_validation(exc, model, given, prefix=("detect",))
    return found


def _builtin_parameters(detect: dict[str, Any]) -> dict[str, Any]:
    """The built-in rules' parameters; importing the rules (and Ibis) only when the section
    holds a key besides the fixed ones."""
    from custodes.config.schema import DETECT_KEYS

    if all(key in DETECT_KEYS for key in detect):
        return {}
    from custodes.detect.registry import builtin_rules

    return rule_parameters(builtin_rules())


def rule_parameters(rules) -> dict[str, Any]:
    """The ``detect:`` keys the given rules (classes or instances) declare, name -> type."""
    out: dict[str, Any] = {}
    for rule in rules:
        out.update(rule.parameters)
    return out


def check(workspace: Workspace) -> list[str]:
    """Every problem of the workspace's custodes.yaml, one line each naming the file: the
    schema's, then (when it holds) what the code using each section checks beyond types (an
    anchor inside the workspace, a key file that cannot be read, two sinks of one name, the
    operator's rules and their thresholds). [] when there is none."""
    lines = workspace.config_problems()
    if lines:
        return lines
    for what in _deeper_checks():
        try:
            what(workspace)
        except CustodesError as exc:
            lines += [line for line in str(exc).splitlines() if line]
    return lines


def _deeper_checks() -> list:
    import datetime as dt

    from custodes import anchor
    from custodes.alerts import config as alerts_config
    from custodes.detect.registry import all_rules
    from custodes.lake.seal import Keys
    from custodes.lake.timeparse import TimeWindow
    from custodes.respond import settings as respond_settings
    from custodes.watch import config as watch_config

    now = dt.datetime.now(dt.timezone.utc)
    return [anchor.sinks, lambda ws: Keys.of(ws), alerts_config.load, alerts_config.console_url,
            lambda ws: TimeWindow.from_setting(ws.setting("ingest.time_window"), now),
            respond_settings.load, watch_config.load, all_rules]
