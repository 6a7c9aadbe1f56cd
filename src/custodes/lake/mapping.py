"""Field mapping: how a source's columns or JSON paths become contract columns.

A mapping file (``--map FILE``) is YAML, ``contract_column: source`` where the source is a
column name or a dotted path into nested JSON (``request.headers.user-agent``), or
``{const: VALUE}`` for a value the source does not carry (an nginx log has no actor_type), or
``{path: SOURCE, default: VALUE}``, or ``{path: SOURCE, optional: true}`` for a path that may be
absent from whole batches. Without a mapping a contract column comes from the source column of
the same name (from its OCSF attribute for ``--format ocsf``).

A mapping names what the operator expects the source to hold, so a mistake in it is an error,
never a silent column of NULLs: a key given twice, a column the file lacks, a JSON path that no
row of the first batch has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custodes import contract
from custodes.errors import CustodesError
from custodes.lake import ocsf
from custodes.lake.validate import Source, is_text, literal, quote
from custodes.yamlfile import load_yaml


@dataclass(frozen=True)
class Field:
    paths: tuple[str, ...] = ()
    const: Any = None
    default: Any = None
    from_mapping: bool = False
    optional: bool = False  # the source may lack the path in a whole batch

    @property
    def must_exist(self) -> bool:
        """Whether a source lacking this mapped path is a mistake in the mapping."""
        return self.from_mapping and bool(self.paths) and self.default is None and not self.optional


def load_mapping(path: Path | None, dataset: str) -> dict[str, Field]:
    if path is None:
        return {}
    data = load_yaml(Path(path), "mapping file")
    if not isinstance(data, dict):
        raise CustodesError(f"{path}: a mapping file is a YAML mapping contract_column: source")
    known = {c.name for c in contract.columns(dataset)}
    out = {}
    for col, spec in data.items():
        if col not in known:
            raise CustodesError(f"{path}: {col!r} is not a column of {dataset} "
                                f"(expected one of {', '.join(sorted(known))})")
        out[col] = _field(path, col, spec)
    return out


def _field(path: Path, col: str, spec: Any) -> Field:
    if isinstance(spec, str) and spec.strip():
        return Field(paths=(spec.strip(),), from_mapping=True)
    if isinstance(spec, dict) and set(spec) == {"const"}:
        return Field(const=spec["const"], from_mapping=True)
    if isinstance(spec, dict) and "path" in spec and set(spec) <= {"path", "default", "optional"} \
            and isinstance(spec["path"], str) and spec["path"].strip() and spec.get("optional", False) in (True, False):
        return Field(paths=(spec["path"].strip(),), default=spec.get("default"), from_mapping=True,
                     optional=spec.get("optional", False))
    raise CustodesError(f"{path}: {col}: expected a source name, {{const: VALUE}}, "
                        f"{{path: SOURCE, default: VALUE}} or {{path: SOURCE, optional: true}}, got {spec!r}")


def _with_default(sql: str, default: Any) -> str:
    if default is None:
        return sql
    return f"coalesce(NULLIF(CAST({sql} AS VARCHAR), ''), {literal(default)})"


@dataclass
class Plan:
    """What ingest needs to turn a reader's batches into contract rows."""

    sources: dict[str, Source]
    needed: list[str] | None  # tabular sources: the columns to read
    from_sql: str  # the batch (registered as ``batch``) with ``_row`` and what sources refer to
    row_problem: str | None  # whole-row check, NULL when sound
    row_value: str | None = None  # what a whole-row problem quarantines as its value
    careful_from_sql: str | None = None  # JSON: the same, checking every line's syntax first
    extra: str | None = None  # SQL for ``_extra``: the row's unknown fields as JSON text, or NULL
    nul: str = "_nul"  # SQL: the row holds a NUL character (validate._nul_problem)
    row_text: str | None = None  # SQL: the row's source text, quarantined with a NUL outside any column
    #: JSON: mapped dotted path -> contract column, for paths the first batch must hold
    required_paths: dict[str, str] | None = None


def plan_table(dataset: str, reader, mapping: dict[str, Field], file: Path) -> Plan:
    sources: dict[str, Source] = {}
    needed = []
    used = set()
    for col in contract.columns(dataset):
        field = mapping.get(col.name, Field(paths=(col.name,)))
        if field.const is not None:
            sources[col.name] = Source(literal(field.const))
            continue
        name = field.paths[0]
        used.add(name)
        if name in reader.columns:
            needed.append(name)
            typ = reader.columns[name]
            if field.default is not None:
                sources[col.name] = Source(_with_default(quote(name), field.default))
            else:
                sources[col.name] = Source(quote(name), typ, passthrough=name)
        elif field.default is not None:
            sources[col.name] = Source(literal(field.default))
        elif field.from_mapping:
            raise CustodesError(f"{file}: the mapping takes {col.name} from column {name!r}, "
                                f"which the file does not have")
        elif col.required:
            raise CustodesError(f"{file}: missing required column {col.name!r} "
                                f"(map it with --map FILE if it has another name)")
    extras = [n for n in reader.columns if n not in used and n != "_row"]
    return Plan(sources, list(dict.fromkeys(needed + extras)), "batch", getattr(reader, "row_problem", None),
                row_value=getattr(reader, "row_value", None), extra=_extra_columns(reader, extras),
                row_text=getattr(reader, "row_value", None))  # a CSV bad_row's text, shown with its NUL


def _extra_columns(reader, names: list[str]) -> str | None:
    """Unknown columns as one JSON object per row, without the missing ones (NULL, or '' in
    text); NULL when none is left. The merge patch onto ``{}`` is what drops the nulls."""
    if not names:
        return None
    members = ", ".join(f"{literal(n)}, {_present(quote(n), reader.columns[n])}" for n in names)
    return f"NULLIF(CAST(json_merge_patch('{{}}', json_object({members})) AS VARCHAR), '{{}}')"


def _present(sql: str, typ) -> str:
    return f"NULLIF({sql}, '')" if is_text(typ) else sql


def _known_tree(paths: list[str]) -> dict:
    """The JSON members the plan reads, as a merge patch that removes them (``null`` leaves)."""
    tree: dict = {}
    for dotted in paths:
        node = tree
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part, {})
            if child is None:
                break  # a parent is read whole: nothing below it is left
            node = node.setdefault(part, child)
        else:
            node[parts[-1]] = None
    return tree


def _extra_json(paths: list[str], slot) -> str:
    """``_extra`` of a JSON line: the line minus the members the plan reads. The merge patch
    costs a second parse and a serialisation, so it runs only on lines that may hold more
    members than the ones read: counting the top-level keys is half its cost, and a line whose
    key count equals the number of read members present has nothing else."""
    tree = _known_tree(paths)
    nested = _nested_patches(tree)
    if nested:  # a nested read: unread members may be below
        # Each object's patch applies only where the line has that object: merging
        # {"jwt":{"sub":null}} into a line without "jwt" would make up "jwt":{}. Whether it
        # is there comes with the values read (its text in one more slot of the same parse).
        patches = [literal(json.dumps(_top_patch(tree), separators=(",", ":")))]
        patches += [f"CASE WHEN left({slot(node)}, 1) = '{{' THEN {literal(patch)} ELSE '{{}}' END"
                    for node, patch in nested]
        return f"CASE WHEN _valid THEN NULLIF(CAST(json_merge_patch(_json, {', '.join(patches)}) AS VARCHAR), '{{}}') END"
    patch = json.dumps(tree, separators=(",", ":"))
    merged = f"NULLIF(CAST(json_merge_patch(_json, {literal(patch)}) AS VARCHAR), '{{}}')"
    if all(p in tree for p in paths):  # every read is a top-level member: count _v's non-NULLs
        present = "list_count(_v)"
    else:  # a member read whole and by a path inside it (a, a.b) counts once: its own slot
        present = " + ".join(f"CAST(_v[{paths.index(p) + 1}] IS NOT NULL AS INTEGER)" for p in paths if p in tree)
    return f"CASE WHEN _valid AND len(json_keys(_json)) > {present or '0'} THEN {merged} END"


def _top_patch(tree: dict) -> dict:
    return {k: None for k, v in tree.items() if v is None}


def _nested_patches(tree: dict, above: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(dotted path of an object the plan reads members of, the merge patch that removes those
    members and only those), depth first."""
    out = []
    for name, node in tree.items():
        if node is None:
            continue
        where = (*above, name)
        leaves = _top_patch(node)
        if leaves:
            patch: dict = leaves
            for part in reversed(where):
                patch = {part: patch}
            out.append((".".join(where), json.dumps(patch, separators=(",", ":"))))
        out += _nested_patches(node, where)
    return out


def json_pointer(dotted: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in dotted.split("."))


def plan_json(dataset: str, mapping: dict[str, Field], fmt: str) -> Plan:
    paths: list[str] = []

    def slot(p: str) -> str:
        if p not in paths:
            paths.append(p)
        return f"NULLIF(_v[{paths.index(p) + 1}], '')"

    sources: dict[str, Source] = {}
    required_paths: dict[str, str] = {}
    for col in contract.columns(dataset):
        field = mapping.get(col.name)
        if field is None:
            field = Field(paths=tuple(ocsf.candidates(dataset, col.name)) if fmt == "ocsf" else (col.name,))
        if field.const is not None:
            sources[col.name] = Source(literal(field.const))
            continue
        if field.must_exist:
            required_paths[field.paths[0]] = col.name
        values = [slot(p) for p in field.paths]
        if field.default is not None:
            values.append(literal(field.default))
        sources[col.name] = Source(values[0] if len(values) == 1 else f"coalesce({', '.join(values)})")
    row_problem = "CASE WHEN NOT _valid THEN 'bad_json' END"
    if fmt == "ocsf":
        uid = ocsf.CLASS_UID.get(dataset)
        if uid is None:
            raise CustodesError(f"OCSF input is for access (class 6003) and issuance (class 3002), not {dataset}")
        cls = slot("class_uid")
        row_problem = f"CASE WHEN NOT _valid THEN 'bad_json' WHEN {cls} IS DISTINCT FROM '{uid}' THEN 'wrong_class' END"
    extra = _extra_json(list(paths), slot)  # (may add slots: objects whose members are read)
    pointers = ", ".join(literal(json_pointer(p)) for p in paths)
    # Fast: one parse a line; a malformed line makes DuckDB fail the batch, which is then re-read
    # carefully (json_valid first) so that only that line is quarantined.
    extract = f"CASE WHEN _valid THEN json_extract_string(_json, [{pointers}]) END AS _v"
    fast = (f"(SELECT _row, _valid, _json, _nul, {extract} FROM "
            f"(SELECT _row, _json, _nul, left(_json, 1) = '{{' AS _valid FROM batch))")
    careful = (f"(SELECT _row, _valid, _json, _nul, {extract} FROM (SELECT _row, _json, _nul, "
               f"(json_valid(_json) AND left(_json, 1) = '{{') AS _valid FROM batch))")
    return Plan(sources, None, fast, row_problem, careful_from_sql=careful, extra=extra, nul=JSON_NUL,
                row_text="_json", required_paths=required_paths)


#: A JSON line holds a NUL: a raw NUL byte (the reader flags ``_nul``), or the escape ``\u0000``
#: (an odd number of backslashes before ``u0000``; ``\\u0000`` is a backslash and text). The
#: regular expression runs only on the rare lines that contain the six characters at all: in a
#: CASE branch (DuckDB evaluated both sides of an AND on every line: half the validating time).
JSON_NUL = ("(_nul OR CASE WHEN contains(_json, '\\u0000') THEN "
            "regexp_matches(_json, '(^|[^\\\\])(\\\\\\\\)*\\\\u0000') ELSE false END)")
