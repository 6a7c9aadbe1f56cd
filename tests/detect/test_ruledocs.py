"""docs/detect.md stays true (after Datasette's test_docs): its rule table is the rules'
metadata, its column reference is what the engine gives a rule, and its worked example is the
example's files, which pass `custodes rules test`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from custodes.detect import ruledocs, ruletest
from custodes.detect.registry import builtin_rules

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "detect.md").read_text()
EXAMPLE = ROOT / "docs" / "examples" / "rules"


def test_the_rule_table_is_the_rules_metadata():
    documented = ruledocs.between(DOC, ruledocs.RULES_BEGIN, ruledocs.RULES_END)
    generated = ruledocs.rules_markdown([ruledocs.metadata(r) for r in builtin_rules()])
    assert documented == generated, (
        "docs/detect.md's rule table differs from the rules' metadata: run "
        "`python -m custodes.detect.ruledocs docs/detect.md`")


def test_the_table_is_what_rules_list_prints_as_markdown():
    done = subprocess.run([sys.executable, "-m", "custodes", "rules", "list", "--format", "markdown"],
                          capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip() == ruledocs.between(DOC, ruledocs.RULES_BEGIN, ruledocs.RULES_END)


def test_the_hand_written_table_names_every_rule_once():
    section = DOC[DOC.index("What each rule finds"):DOC.index("Only successful requests")]
    ids = re.findall(r"^\| `([a-z_.]+)` \|", section, re.MULTILINE)
    assert sorted(ids) == sorted(r.id for r in builtin_rules())


def test_the_column_reference_is_generated():
    assert ruledocs.between(DOC, ruledocs.COLUMNS_BEGIN, ruledocs.COLUMNS_END) == ruledocs.columns_markdown()


@pytest.fixture(scope="module")
def every_dataset_engine(tmp_path_factory):
    """A workspace holding every dataset a rule reads, loaded through the real ingest from the
    built-in fixtures' files."""
    from custodes.engine import connect
    from custodes.lake import ingest
    from custodes.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("cols") / "ws")
    fixtures = {f.label: f for f in ruletest.fixtures_in(ruletest.builtin_folder())}
    for label in ("token.unissued/positive", "credential.after_termination/positive",
                  "key.departed_custodian/positive", "export.bulk_volume/positive"):
        for dataset, path in fixtures[label].datasets.items():
            ingest(ws, dataset, [path], fmt="jsonl")
    with connect(ws, "duckdb") as engine:
        yield engine


TYPES = {"timestamp (UTC)": "timestamp('UTC', 6)", "string": "string", "int64": "int64", "boolean": "boolean"}


@pytest.mark.parametrize("dataset", ruledocs.RULE_DATASETS)
def test_the_documented_columns_are_what_the_engine_gives_a_rule(every_dataset_engine, dataset):
    """Every documented column exists with the documented type, and every column a rule is
    given is documented, but the lake's internal ones (*_key, _seq, _row, _extra)."""
    schema = every_dataset_engine.table(dataset).schema()
    given = {name: str(dtype).replace("!", "") for name, dtype in schema.items()
             if not (name.endswith("_key") or name.startswith("_"))}
    documented = {name: TYPES[kind] for name, kind, _ in ruledocs.columns_seen(dataset)}
    assert given == documented


def test_the_worked_example_shows_its_files_as_they_are():
    rule = (EXAMPLE / "admin_export.py").read_text()
    assert f"```python\n{rule}```" in DOC
    fixture = EXAMPLE / "fixtures" / "custom.admin_export"
    assert f"```json\n{(fixture / 'positive' / 'access.jsonl').read_text()}```" in DOC
    for name in ("positive", "negative"):
        assert f"```yaml\n{(fixture / name / 'expect.yaml').read_text()}```" in DOC


def test_the_worked_example_passes_as_the_doc_says():
    done = subprocess.run([sys.executable, "-m", "custodes", "rules", "test", "--rules-dir", str(EXAMPLE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = DOC.split("$ custodes rules test --rules-dir docs/examples/rules\n", 1)[1].split("```", 1)[0]
    assert (done.stdout + done.stderr).split() == shown.split()
