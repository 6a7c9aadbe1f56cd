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
    #: The batch column the value is read from (table readers; JSON values are expressions).
    column: str | None = None


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
    a NUL character anywhere (``bad_value``, before any other check: see ``_nul_problem``), and
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
    typed, problems = [], [_nul_problem(dataset, sources),
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


def _nul_problem(dataset: str, sources: dict[str, Source]) -> str:
    """One rule for NUL characters, whatever the format and wherever they are: the row is
    quarantined as ``bad_value``, naming the first contract column (in contract order) whose
    value holds one, else the row (a NUL in an unknown field, or a raw NUL byte that leaves a
    JSON line unparsable). Stored text never holds a NUL: C strings, terminals and CSV exports
    downstream would cut or hide what follows it. The quarantined value shows it as ``\\0``.

    Evaluated only for the rows flagged ``_nul`` (a CASE branch). Values read from a batch
    column (table readers) are named afterwards by ``name_nul_columns``, on the rare batches
    with a flagged row: naming them here made DuckDB carry every raw text column through the
    query for every row (+30% validating time), though the branch itself never ran."""
    column, value = [], []
    for c in contract.columns(dataset):
        src = sources.get(c.name, Source(None))
        if src.sql is None or src.column is not None or not is_text(src.source_type):
            continue
        raw = f"CAST({quote('r_' + c.name)} AS VARCHAR)"
        column.append(f"WHEN contains({raw}, chr(0)) THEN {literal(c.name)}")
        value.append(f"WHEN contains({raw}, chr(0)) THEN {_shown(raw)}")
    column_sql = f"CASE {' '.join(column)} ELSE '' END" if column else "''"
    value_sql = f"CASE {' '.join(value)} ELSE {_shown('_rowt')} END" if value else _shown("_rowt")
    return f"WHEN _nul THEN {{'column': {column_sql}, 'reason': 'bad_value', 'value': {value_sql}}}"


def _shown(text_sql: str) -> str:
    return f"left(replace({text_sql}, chr(0), '\\0'), 200)"


def name_nul_columns(result: pa.Table, batch, sources: dict[str, Source], dataset: str) -> pa.Table:
    """Name the column of each NUL that ``_nul_problem`` left unnamed (values read from a batch
    column): the first contract column whose source value holds a NUL, and that value. Costs
    nothing unless the batch has a flagged row."""
    flags = batch.column("_nul")
    if flags.null_count == len(flags) or not pc.any(flags).as_py():
        return result
    flagged = pc.filter(batch.column("_row"), pc.fill_null(flags, False))
    named: dict[int, tuple[str, str]] = {}
    for c in contract.columns(dataset):
        src = sources.get(c.name)
        if src is None or src.column is None or not is_text(src.source_type):
            continue
        rows = pc.filter(batch.column(src.column), pc.fill_null(flags, False)).cast(pa.string())
        for row, text in zip(flagged.to_pylist(), rows.to_pylist()):
            if text is not None and "\x00" in text and row not in named:
                named[row] = (c.name, text.replace("\x00", "\\0")[:200])
    if not named:
        return result
    problems = result.column("_problem").to_pylist()
    for i, row in enumerate(result.column("_row").to_pylist()):
        p = problems[i]
        if row in named and p is not None and p["reason"] == "bad_value" and not p["column"]:
            problems[i] = {"column": named[row][0], "reason": "bad_value", "value": named[row][1]}
    at = result.column_names.index("_problem")
    return result.set_column(at, "_problem", pa.array(problems, result.schema.field("_problem").type))
