"""What the configuration tests share: writing custodes.yaml, and an operator's rule folder."""

from __future__ import annotations

import textwrap

import pytest

OPERATOR_RULE = '''
from custodes.config.types import Positive
from custodes.detect.rule import Rule, day_expr, successful

class AdminExport(Rule):
    id = "custom.admin_export"
    title = "Someone used the export route"
    severity = "high"
    parameters = {"admin_min_requests": Positive}

    def rows(self, ctx):
        a = successful(ctx.events("access"))
        a = a.filter(a.route == "/admin/export")
        return a.mutate(day=day_expr(a.time))
'''


def configure(ws, text: str) -> None:
    ws.config_path.write_text(textwrap.dedent(text))


@pytest.fixture
def operator_rules(workspace):
    folder = workspace.root / "rules"
    folder.mkdir()
    (folder / "admin_export.py").write_text(OPERATOR_RULE)
    return folder
