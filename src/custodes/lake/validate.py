"""Row-level validation as one SQL query per batch: typed contract columns plus a quarantine
reason for each bad row (the first bad column in contract order).

The checks are a table (``CHECKS``: contract kind -> how to type a raw value and what its
failure is called), in the spirit of sqlglot's behaviour tables. A raw value is the source's
value after mapping; for text sources (CSV, JSON) it is VARCHAR with '' read as missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from custodes import contract
from custodes.lake import timeparse
from custodes.lake.arrays import text
from custodes.lake.timeparse import TimeWindow

IPV4 = r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_H = "[0-9a-fA-F]{1,4}"
IPV6 = (
    f"(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}|"
    f"({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}|"
    f"{_H}:((:{_H}){{1,6}})|:((:{_H}){{1,7}}|:)|"
    f"::([fF]{{4}}(:0{{1,4}})?:)?{IPV4}|({_H}:){{1,4}}:{IPV4})"
)
INTEGER = r"[+-]?\d{1,18}"

#: Columns holding an IP address (IPv4 or IPv6); anything else there is ``bad_ip``.
IP_COLUMNS = {("access", "src_ip"), ("issuance", "src_ip")}

#: Quarantine reasons, as the summary and ``custodes quarantine`` name them.
REASONS = {
    "missing": "a required value is empty",
    "bad_time": "not an RFC 3339 time with a zone (offset within ±14:00), nor an integer epoch",
    "time_out_of_range": "a time outside the window its column may hold (before 2000, or in the future)",
    "time_no_zone": "a time without a zone (ambiguous; add Z or an offset)",
    "bad_ip": "not an IPv4 or IPv6 address",
    "bad_enum": "not one of the contract's values for this column",
    "bad_int": "not an integer",
    "bad_bool": "not true or false",
    "bad_json": "not a JSON object",
    "wrong_class": "an OCSF event of another class",
    "bad_row": "a CSV record with the wrong number of fields, or a quote that never closes",
    "bad_value": "a NUL character in the row, or a negative count",
}


@dataclass(frozen=True)
class Source:
    """Where a contract column's raw value comes from in a batch: a SQL expression over the
    batch, and its Arrow type (None: text)."""

    sql: str | None
    source_type: pa.DataType | None = None
    #: The batch column whose values, once validated, are the stored ones (a text column mapped
    #: as is): ingest takes it from the batch instead of copying it out of DuckDB.
    passthrough: str | None = None


def passes_through(dataset: str, col: contract.Column, src: Source) -> bool:
    """Whether a good row stores the source text unchanged: string columns without a default,
    IP columns (lake.ips types them) and enums (a good value is one of them, unchanged)."""
    return (src.passthrough is not None and col.kind == "string" and is_text(src.source_type)
            and (dataset, col.name) not in DEFAULTS and (dataset, col.name) not in EMPTY_ALLOWED)


#: Required columns whose empty value is meaningful: a catalog route that returns no personal
#: data has empty ``fields`` (CONTRACT.md §1). Empty is stored as '' there, never "missing".
EMPTY_ALLOWED = {("catalog", "fields")}

#: Contract defaults (CONTRACT.md §1 access): applied after typing, over the typed columns.
DEFAULTS = {
    ("access", "account_id"): 'coalesce("t_account_id", CASE WHEN "t_actor_type" = \'customer\' THEN "t_actor_id" END)',
    ("access", "record_count"): 'coalesce("t_record_count", CASE WHEN "t_account_id" IS NOT NULL '
                                'OR "t_actor_type" = \'customer\' AND "t_actor_id" IS NOT NULL THEN 1 END)',
}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def is_text(t: pa.DataType | None) -> bool:
    return t is None or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _typed(dataset: str, col: contract.Column, raw: str, src: Source) -> tuple[str, str]:
    """(typed expression, reason expression when raw is set but typed is NULL)."""
    t = src.source_type
    if col.kind == "timestamp":
        return timeparse.typed_to_ts(raw, t)
    if col.kind == "int":
        if is_text(t):
            return f"CASE WHEN regexp_full_match({raw}, '{INTEGER}') THEN CAST({raw} AS BIGINT) END", "'bad_int'"
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return f"CASE WHEN {raw} = trunc({raw}) AND abs({raw}) < 9e18 THEN CAST({raw} AS BIGINT) END", "'bad_int'"
        if pa.types.is_integer(t) or pa.types.is_boolean(t):
            return f"TRY_CAST({raw} AS BIGINT)", "'bad_int'"
        return "CAST(NULL AS BIGINT)", "'bad_int'"
    if col.kind == "bool":
        if t is not None and pa.types.is_boolean(t):
            return raw, "'bad_bool'"
        text = raw if is_text(t) else f"CAST({raw} AS VARCHAR)"
        return (f"CASE WHEN lower({text}) IN ('true','t','1','yes','y') THEN true "
                f"WHEN lower({text}) IN ('false','f','0','no','n') THEN false END"), "'bad_bool'"
    text = raw if is_text(t) else f"CAST({raw} AS VARCHAR)"
    if (dataset, col.name) in IP_COLUMNS:
        return text, "'bad_ip'"  # checked on each batch's distinct values by lake.ips
    allowed = contract.ENUMS.get((dataset, col.name))
    if allowed:
        values = ", ".join(literal(v) for v in sorted(allowed))
        return f"CASE WHEN {text} IN ({values}) THEN {text} END", "'bad_enum'"
    return text, "'bad_string'"


def _raw(src: Source, empty_allowed: bool = False) -> str:
    if src.sql is None:
        return "NULL"
    if empty_allowed:
        return f"coalesce(CAST({src.sql} AS VARCHAR), '')"
    if is_text(src.source_type):
        return f"NULLIF(CAST({src.sql} AS VARCHAR), '')"
    return src.sql


def batch_sql(dataset: str, sources: dict[str, Source], from_sql: str, seq: int,
              row_problem: str | None = None, extra: str | None = None, row_value: str | None = None,
              window: TimeWindow | None = None, nul: str | None = None, row_text: str | None = None) -> str:
    """The query that turns one raw batch into typed rows with ``_problem`` (NULL when good).

    ``from_sql`` yields the batch with a ``_row`` column; ``row_problem`` is an optional
    whole-row check: NULL when the row is sound, else its reason (``bad_json``, ``wrong_class``,
    ``bad_row``), and ``row_value`` the text quarantined with it;
    ``extra`` gives ``_extra``, the JSON text of the row's unknown source fields (NULL when none);
    ``window`` bounds each time column (``time_out_of_range``); ``nul`` is true for a row holding
    a NUL character anywhere (``bad_value``, before any other check: see ``NUL_PROBLEM``), and
    ``row_text`` the row's source text, quarantined when the NUL is in no contract column.
    """
    cols = contract.columns(dataset)
    raw_select = [f"{_raw(sources.get(c.name, Source(None)), (dataset, c.name) in EMPTY_ALLOWED)} "
                  f"AS {quote('r_' + c.name)}" for c in cols]
    rowp = row_problem or "CAST(NULL AS VARCHAR)"
    inner = (f"SELECT _row, ({rowp}) AS _rowp, ({row_value or 'CAST(NULL AS VARCHAR)'}) AS _rowv, "
             f"({extra or 'CAST(NULL AS VARCHAR)'}) AS _extra, coalesce({nul or 'false'}, false) AS _nul, "
             f"({row_text or 'CAST(NULL AS VARCHAR)'}) AS _rowt, "
             f"{', '.join(raw_select)} FROM {from_sql}")
    typed, problems = [], [NUL_PROBLEM,
                           "WHEN _rowp IS NOT NULL THEN {'column': '', 'reason': _rowp, 'value': left(_rowv, 200)}"]
    for c in cols:
        raw = quote("r_" + c.name)
        t = quote("t_" + c.name)
        expr, reason = _typed(dataset, c, raw, sources.get(c.name, Source(None)))
        typed.append(f"{expr} AS {t}")
        value = f"left(CAST({raw} AS VARCHAR), 200)"
        if c.required:
            problems.append(f"WHEN {raw} IS NULL THEN {{'column': {literal(c.name)}, 'reason': 'missing', 'value': NULL}}")
        if expr in (raw, f"CAST({raw} AS VARCHAR)"):
            continue  # the value as given: it cannot fail (IP columns are checked by lake.ips)
        problems.append(f"WHEN {raw} IS NOT NULL AND {t} IS NULL THEN "
                        f"{{'column': {literal(c.name)}, 'reason': {reason}, 'value': {value}}}")
        if c.kind == "int":  # every int of the contract is a count or a code: none can be negative
            problems.append(f"WHEN {t} < 0 THEN {{'column': {literal(c.name)}, 'reason': 'bad_value', 'value': {value}}}")
        outside = window.outside_sql(dataset, c.name, t) if c.kind == "timestamp" and window else None
        if outside:
            problems.append(f"WHEN {outside} THEN {{'column': {literal(c.name)}, 'reason': 'time_out_of_range', "
                            f"'value': {value}}}")
    middle = (f"SELECT _row, _rowp, _rowv, _extra, _nul, _rowt, {', '.join(quote('r_' + c.name) for c in cols)}, "
              f"{', '.join(typed)} FROM ({inner})")
    final = {c.name: DEFAULTS.get((dataset, c.name), quote("t_" + c.name)) for c in cols}
    out = [f"{final[c.name]} AS {quote(c.name)}" for c in cols
           if not passes_through(dataset, c, sources.get(c.name, Source(None)))]
    out += [f"CAST({int(seq)} AS BIGINT) AS _seq", "CAST(_row AS BIGINT) AS _row", "_extra"]
    out.append("CASE " + " ".join(problems) + " END AS _problem")
    return f"SELECT {', '.join(out)} FROM ({middle})"


#: One rule for NUL characters, whatever the format and wherever they are: the row is
#: quarantined as ``bad_value``, naming the first contract column (in contract order) whose
#: value holds one, else the row (a NUL in an unknown field, or a raw NUL byte that leaves a JSON
#: line unparsable, whose text is then the value). Stored text never holds a NUL: C strings,
#: terminals and CSV exports downstream would cut or hide what follows it. The quarantined value
#: shows it as ``\\0``. The column is named afterwards (``nul_columns_sql``), on the rare
#: batches that have such a row: naming it here made DuckDB carry every raw column through the
#: query for every row (+44% validating time on Parquet), though the branch never ran.
NUL_PROBLEM = "WHEN _nul THEN {'column': '', 'reason': 'bad_value', 'value': left(replace(_rowt, chr(0), '\\0'), 200)}"


def nul_columns_sql(dataset: str, sources: dict[str, Source], from_sql: str, nul: str) -> str:
    """The query that names, for each row of a batch holding a NUL (``nul``), the first contract
    column whose value holds one and that value (NULLs when none does)."""
    cols = [c for c in contract.columns(dataset)
            if sources.get(c.name, Source(None)).sql is not None and is_text(sources[c.name].source_type)]
    raws = [(c.name, f"CAST({_raw(sources[c.name])} AS VARCHAR)") for c in cols]
    column = " ".join(f"WHEN contains({raw}, chr(0)) THEN {literal(name)}" for name, raw in raws)
    value = " ".join(f"WHEN contains({raw}, chr(0)) THEN left(replace({raw}, chr(0), '\\0'), 200)" for _, raw in raws)
    return (f"SELECT _row, CASE {column or 'WHEN false THEN NULL'} END AS col, "
            f"CASE {value or 'WHEN false THEN NULL'} END AS val FROM {from_sql} WHERE coalesce({nul}, false)")


def name_nul_columns(result: pa.Table, named: dict[int, tuple[str | None, str | None]]) -> pa.Table:
    """``result`` with the NUL rows (``bad_value`` with no column) named as ``named`` says
    (``_row`` -> column, value; a row whose NUL is in no contract column keeps its own)."""
    problems = result.column("_problem").to_pylist()
    for i, row in enumerate(result.column("_row").to_pylist()):
        p = problems[i]
        column, value = named.get(row, (None, None))
        if column and p is not None and p["reason"] == "bad_value" and not p["column"]:
            problems[i] = {"column": column, "reason": "bad_value", "value": value}
    at = result.column_names.index("_problem")
    return result.set_column(at, "_problem", pa.array(problems, result.schema.field("_problem").type))


def has_unnamed_nul(result: pa.Table) -> bool:
    """Whether a row of ``result`` holds a NUL whose column is not named yet (cheap: the
    problems are NULL on good rows)."""
    problem = result.column("_problem")
    if problem.null_count == len(problem):
        return False
    unnamed = pc.and_(pc.equal(pc.struct_field(problem, "reason"), text("bad_value")),
                      pc.equal(pc.struct_field(problem, "column"), text("")))
    return bool(pc.any(unnamed).as_py())
