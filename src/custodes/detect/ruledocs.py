"""What rule authors and operators read about the rules, generated from the code.

The rule table comes from each rule's metadata (``custodes rules list``), and the column
reference from the contract's datasets plus the columns the lake adds for rules, so that
docs/detect.md cannot drift from them: tests/detect/test_ruledocs.py regenerates both and
compares. ``python -m custodes.detect.ruledocs docs/detect.md`` rewrites the two sections.
"""

from __future__ import annotations

import sys
from pathlib import Path

from custodes import contract
from custodes.detect.rule import Rule

#: Columns the lake stores beside the contract's that a rule may read by name (docs/ARCHITECTURE.md).
LAKE_COLUMNS = {
    "access": [("src_ip_v4", "int64", "src_ip as an unsigned 32-bit integer (IPv4, or IPv4-mapped "
                                      "IPv6); NULL otherwise. A CIDR is `src_ip_v4.between(lo, hi)`")],
    "issuance": [("src_ip_v4", "int64", "as in access")],
}

#: What the lake does to a column before a rule sees it, beyond typing.
NOTES = {
    ("access", "asn"): "a finding's `asn` entity holds it as text (`\"14061\"`)",
    ("access", "account_id"): "defaults to actor_id for a customer actor",
    ("access", "record_count"): "defaults to 1 where account_id is set",
    ("access", "status"): "`successful(t)` keeps status < 400: refused attempts are not access",
    ("access", "time"): "`day_expr(t.time)` gives the UTC day number rules group by",
    ("catalog", "fields"): "`;`-separated; empty for a route that returns no personal data",
    ("credentials", "scopes"): "space-separated",
}

#: The datasets detection reads: customers' contacts are joined only when a list is exported.
RULE_DATASETS = tuple(d for d in contract.DATASET_NAMES if d != "customers")

TYPE_NAMES = {"timestamp": "timestamp (UTC)", "string": "string", "int": "int64", "bool": "boolean"}

RULES_BEGIN, RULES_END = "<!-- rules-table: begin -->", "<!-- rules-table: end -->"
COLUMNS_BEGIN, COLUMNS_END = "<!-- column-reference: begin -->", "<!-- column-reference: end -->"


def metadata(rule: Rule | type[Rule]) -> dict:
    """One rule's row: what ``custodes rules list`` prints."""
    return {"id": rule.id, "severity": rule.severity, "attack": list(rule.attack),
            "requires": list(rule.requires), "optional": list(rule.optional), "kind": rule.kind,
            "title": rule.title}


def needs(row: dict) -> str:
    """The datasets a rule needs, the optional ones in parentheses: ``access (+issuance)``."""
    extra = f" (+{', '.join(row['optional'])})" if row["optional"] else ""
    return ", ".join(row["requires"]) + extra


def rules_markdown(rows: list[dict]) -> str:
    lines = ["| id | severity | ATT&CK | needs | kind | title |", "|---|---|---|---|---|---|"]
    for r in rows:
        attack = ", ".join(r["attack"]) or "-"
        lines.append(f"| `{r['id']}` | {r['severity']} | {attack} | {needs(r)} | {r['kind']} | "
                     f"{_cell(r['title'])} |")
    return "\n".join(lines)


def columns_seen(dataset: str) -> list[tuple[str, str, str]]:
    """(column, type, note) of every column a rule reads from ``ctx.table(dataset)`` by name."""
    out = []
    for col in contract.columns(dataset):
        note = NOTES.get((dataset, col.name), "")
        if col.required:
            note = "always set" + (f"; {note}" if note else "")
        out.append((col.name, TYPE_NAMES[col.kind], note))
    return out + LAKE_COLUMNS.get(dataset, [])


def columns_markdown() -> str:
    parts = []
    for dataset in RULE_DATASETS:
        lines = [f"**{dataset}**", "", "| column | type | note |", "|---|---|---|"]
        lines += [f"| `{name}` | {kind} | {_cell(note)} |" for name, kind, note in columns_seen(dataset)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def between(text: str, begin: str, end: str) -> str:
    """The generated part of a document, between its markers."""
    if begin not in text or end not in text:
        raise ValueError(f"markers {begin} ... {end} not found")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def rewrite(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def regenerate(text: str, rows: list[dict]) -> str:
    text = rewrite(text, RULES_BEGIN, RULES_END, rules_markdown(rows))
    return rewrite(text, COLUMNS_BEGIN, COLUMNS_END, columns_markdown())


def main(argv: list[str]) -> None:
    from custodes.detect.registry import builtin_rules

    path = Path(argv[0] if argv else "docs/detect.md")
    path.write_text(regenerate(path.read_text(), [metadata(r) for r in builtin_rules()]))


if __name__ == "__main__":
    main(sys.argv[1:])
