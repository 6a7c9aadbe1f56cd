"""The typed seams: what the runner and the verifier read is declared on the base classes, and
every workspace and engine parameter says what it takes (checked over src/, so new code keeps it)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "custodes"
#: parameter name -> the annotation it must carry
TYPED_PARAMETERS = {"workspace": "Workspace", "ws": "Workspace", "engine": "Engine"}
#: attributes declared on Rule and Ledger: read directly, never through getattr/hasattr
#: (module, function) whose ``workspace`` is the workspace's id (anchor.workspace_id), a string
WORKSPACE_IDS = {("anchor.py", "check"), ("anchor.py", "last")}
DECLARED = {"has_rows", "version", "check_async", "awaits_check", "remote", "watch_revocations"}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC), ast.parse(path.read_text(), str(path))


def _untyped_parameters(tree: ast.AST, module: str = "") -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                want = TYPED_PARAMETERS.get(arg.arg)
                if arg.arg == "workspace" and (module, node.name) in WORKSPACE_IDS:
                    want = "str"
                if want and (arg.annotation is None or want not in ast.unparse(arg.annotation)):
                    found.append(f"{node.name}({arg.arg}) line {node.lineno}")
    return found


def _attribute_lookups(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in DECLARED:
            found.append(f"{node.func.id}(..., {node.args[1].value!r}) line {node.lineno}")
    return found


def test_every_workspace_and_engine_parameter_is_annotated():
    untyped = {str(rel): found for rel, tree in _modules() if (found := _untyped_parameters(tree, str(rel)))}
    assert untyped == {}


def test_rule_and_ledger_attributes_are_read_as_declared_not_looked_up():
    looked_up = {str(rel): found for rel, tree in _modules() if (found := _attribute_lookups(tree))}
    assert looked_up == {}


def test_the_checks_see_what_they_look_for():
    planted = ast.parse("def f(workspace, engine: Engine, ws: Path): getattr(rule, 'has_rows', True)\n"
                        "async def g(*, engine): hasattr(ledger, 'check_async')\n")
    assert _untyped_parameters(planted) == ["f(workspace) line 1", "f(ws) line 1", "g(engine) line 2"]
    assert _attribute_lookups(planted) == ["getattr(..., 'has_rows') line 1", "hasattr(..., 'check_async') line 2"]


def test_the_base_classes_declare_them():
    from custodes.detect.rule import Rule
    from custodes.guard.ledger.base import Ledger

    assert Rule.has_rows is True and Rule.version == 1
    assert Ledger.remote is False and Ledger.awaits_check is False
    assert callable(Ledger.check_async) and callable(Ledger.watch_revocations)
