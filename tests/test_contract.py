"""contract.py and CONTRACT.md must say the same thing, column by column."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from custodes import contract

ROOT = Path(__file__).resolve().parents[1]
# The repository's copy, and the shared original when it lies beside the checkout (CI has it).
CONTRACT_FILES = [p for p in (ROOT / "docs" / "CONTRACT.md", ROOT.parent / "shared" / "CONTRACT.md") if p.exists()]


def parse_contract_tables(text: str) -> dict[str, list[tuple[str, str, bool]]]:
    """{dataset: [(column, type, required)]} from the ``### name: ...`` tables of §1."""
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"^### (\w+):", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        if line.startswith("## "):
            current = None
        if current and line.startswith("|") and not line.startswith("|---") and not line.startswith("| column"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            names, kind, required = cells[0], cells[1], cells[2] == "yes"
            for name in names.split(","):
                tables[current].append((name.strip(), kind, required))
    return tables


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_schemas_match_contract_md(path):
    documented = parse_contract_tables(path.read_text())
    assert set(documented) == set(contract.DATASET_NAMES)
    for dataset, cols in documented.items():
        ours = [(c.name, c.kind, c.required) for c in contract.columns(dataset)]
        assert ours == cols, f"{dataset} differs from {path}"


def test_repository_copy_is_current():
    shared = ROOT.parent / "shared" / "CONTRACT.md"
    if not shared.exists():
        pytest.skip("no shared/ beside the checkout")
    assert (ROOT / "docs" / "CONTRACT.md").read_text() == shared.read_text()


def test_required_columns_are_not_nullable():
    s = contract.schema("access")
    assert not s.field("time").nullable and s.field("token_kid").nullable
    assert s.field("time").type == pa.timestamp("us", tz="UTC")


def test_conform_adds_optional_orders_and_keeps_extras():
    t = pa.table({"route": ["/a"], "extra": [1], "fields": ["name;email"]})
    out = contract.conform("catalog", t)
    assert out.column_names == ["route", "fields", "bulk", "extra"]
    assert out.column("bulk").null_count == 1


def test_conform_refuses_missing_required():
    with pytest.raises(ValueError, match="fields"):
        contract.conform("catalog", pa.table({"route": ["/a"]}))
