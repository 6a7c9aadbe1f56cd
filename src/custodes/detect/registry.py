"""Finds the detections: the built-in rules (one module each under custodes.detect.rules) and an
operator's own (every ``*.py`` in ``detect.rules_dir`` of custodes.yaml, relative to the
workspace). A rule is any subclass of :class:`custodes.detect.rule.Rule` with an ``id``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

from custodes.config.schema import DETECT_KEYS
from custodes.detect.rule import SEVERITIES, Rule
from custodes.errors import CustodesError
from custodes.workspace import Workspace


def _rules_in(module) -> list[type[Rule]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Rule) and obj is not Rule and obj.id and obj.__module__ == module.__name__]


def builtin_rules() -> list[type[Rule]]:
    import custodes.detect.rules as package

    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            found += _rules_in(importlib.import_module(f"{package.__name__}.{info.name}"))
    return found


def rules_from_folder(folder: Path) -> list[type[Rule]]:
    """Import an operator's rule modules. A module that fails to import is an error naming it:
    a detection silently missing is worse than a run that stops."""
    if not folder.is_dir():
        raise CustodesError(f"detect.rules_dir {folder} is not a directory")
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"custodes_user_rules.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # an operator's code: report, never a traceback
            raise CustodesError(f"{path}: cannot load rule module: {type(exc).__name__}: {exc}") from None
        found += _rules_in(module)
    return found


def _check(rule: type[Rule], origin: str) -> None:
    if rule.severity not in SEVERITIES:
        raise CustodesError(f"{origin}: rule {rule.id} has severity {rule.severity!r}; "
                            f"expected one of {', '.join(SEVERITIES)}")
    if rule.kind not in ("event", "posture"):
        raise CustodesError(f"{origin}: rule {rule.id} has kind {rule.kind!r}; expected event or posture")
    # Read as typed by the runner: a string "False" would be true, a version "2" never equal to 2.
    if not isinstance(rule.has_rows, bool):
        raise CustodesError(f"{origin}: rule {rule.id} has has_rows {rule.has_rows!r}; expected True or False")
    if not isinstance(rule.version, int) or isinstance(rule.version, bool) or rule.version < 1:
        raise CustodesError(f"{origin}: rule {rule.id} has version {rule.version!r}; expected a whole number from 1")
    if not isinstance(rule.parameters, dict) or not all(isinstance(k, str) for k in rule.parameters):
        raise CustodesError(f"{origin}: rule {rule.id}: parameters must map names to types")
    clash = sorted(set(rule.parameters) & set(DETECT_KEYS))
    if clash:
        raise CustodesError(f"{origin}: rule {rule.id} declares the parameter {clash[0]!r}, a key of detect: itself")


def operator_rules_dir(workspace: Workspace | None) -> Path | None:
    """The folder of an operator's rules (``detect.rules_dir``, relative to the workspace)."""
    folder = workspace.setting("detect.rules_dir") if workspace is not None else None
    if not folder:
        return None
    path = Path(folder)
    return path if path.is_absolute() else workspace.root / path


def all_rules(workspace: Workspace | None = None) -> list[Rule]:
    """Instances of every rule, built-in first, ids unique."""
    classes = [(r, "built-in") for r in builtin_rules()]
    folder = operator_rules_dir(workspace)
    if folder is not None:
        classes += [(r, str(folder)) for r in rules_from_folder(folder)]
    rules = checked(classes)
    if folder is not None:
        _check_thresholds(workspace, rules)
    return rules


def checked(classes: list[tuple[type[Rule], str]]) -> list[Rule]:
    """Instances of the rules (each with where it came from), their metadata checked, ids unique."""
    seen: dict[str, str] = {}
    rules = []
    for cls, origin in classes:
        _check(cls, origin)
        if cls.id in seen:
            raise CustodesError(f"{origin}: rule id {cls.id} is already defined ({seen[cls.id]})")
        seen[cls.id] = origin
        rules.append(cls())
    return rules


def _check_thresholds(workspace: Workspace, rules: list[Rule]) -> None:
    """``detect:`` against every rule's parameters, the operator's included: the keys only their
    rules declare could not be checked before their code was loaded (custodes.config)."""
    from custodes.config import check_detect, refuse, rule_parameters

    refuse(workspace.config_path, check_detect(workspace.setting("detect", {}) or {}, rule_parameters(rules)))


def rule_by_id(rules: list[Rule]) -> dict[str, Rule]:
    return {r.id: r for r in rules}
