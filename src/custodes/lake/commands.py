"""``custodes ingest``, ``status``, ``quarantine``, ``verify``: thin click commands over the lake."""

from __future__ import annotations

import click

from custodes import progress
from custodes.clikit import (
    dataset_argument, datasets_epilog, dumps, echo, emit_json, format_option, note, workspace_option,
)
from custodes.lake.readers import FORMATS
from custodes.lake.validate import REASONS
from custodes.text import MISSING, count, plural
from custodes.workspace import Workspace


@click.command(epilog=datasets_epilog())
@dataset_argument()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "input_format", type=click.Choice(FORMATS), default=None,
              help="input format (default: from each file's extension)")
@click.option("--map", "map_file", type=click.Path(dir_okay=False), default=None,
              help="YAML field mapping: contract_column: source_column_or_dotted.path")
@click.option("--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="report format: text for people, json for scripts (stdout holds nothing else)")
@click.option("--batch-rows", type=click.IntRange(1_000, 10_000_000), default=None,
              help="rows per batch in memory (default 262144)")
@workspace_option(create=True)
def ingest(workspace: Workspace, dataset, paths, input_format, map_file, fmt, batch_rows):
    """Load files, directories or globs into DATASET; the same file twice adds nothing."""
    from custodes.errors import CustodesError
    from custodes.lake.ingest import IngestFailed, ingest as run

    try:
        with progress.shown(f"ingest {dataset}", "files") as bar:
            report, failed = run(workspace, dataset, list(paths), fmt=input_format, mapping=map_file,
                                 batch_rows=batch_rows, progress=bar), None
    except IngestFailed as exc:
        report, failed = exc.report, exc
    for warning in report.warnings:
        note(f"warning: {warning}")
    if report.removed_orphans:
        note(f"removed {plural(report.removed_orphans, 'leftover file')} of an interrupted ingest (or planted: "
             f"files in the lake that no manifest entry committed)")
    for f in report.files:
        if f.error is None and f.seq is None and f.note:
            note(f"{f.path}: {f.note}")  # not read: vanished, or not a format custodes reads
        if f.held_back:
            note(f"{f.path}: the last {f.held_back} bytes end without a newline (a line still being written): "
                 f"held back until a later ingest of the grown file")
    if fmt == "json":
        emit_json(report.to_dict())
    elif not failed or report.committed or any(f.skipped for f in report.files):
        _print_summary(dataset, report)
    if failed:
        raise CustodesError(_failure_lines(report))


def _print_summary(dataset: str, report) -> None:
    skipped = sum(f.skipped for f in report.files)
    echo(f"{dataset}: {plural(report.rows, 'row')} loaded, {report.quarantined:,} quarantined, "
         f"{plural(report.committed, 'file')} ingested, {skipped:,} already ingested")
    for reason, n in report.reasons.items():
        echo(f"  {n:>10,}  {reason}: {REASONS.get(reason, reason)}")
    if report.quarantined:
        echo(f"see: custodes quarantine {dataset}")


def _failure_lines(report) -> str:
    """One line per failing file (the first carries the CLI's ``custodes: error:``), then, when
    the command named more than one file, how many were committed."""
    lines = [f.error for f in report.failed]
    if len(report.files) > 1:
        lines.append(f"{len(lines)} of {plural(len(report.files), 'file')} failed and left nothing behind; "
                     f"{report.committed} committed")
    return "\n".join(lines)


@click.command()
@format_option()
@workspace_option
def status(workspace: Workspace, fmt):
    """What the workspace holds: rows, quarantined rows, files, first and last event time; seals."""
    from custodes.lake.status import status as run

    result = run(workspace)
    if fmt == "json":
        emit_json(result)
        return
    if not result["datasets"]:
        echo("the workspace holds no data yet (custodes ingest DATASET PATH...)")
    else:
        for line in _status_table(result["datasets"]):
            echo(line)
    s = result["seals"]
    head = f"{s['head_seq']}:{s['head']}" if s["head"] else "-"
    echo(f"seals: {plural(s['entries'], 'entry')}, head {head} ({'signed' if s['signed'] else 'unsigned'}); "
               f"check with: custodes verify --expect-head {head if s['head'] else 'SEQ:SEAL'}")
    if s["anchor_pending"]:
        echo(f"seals: {plural(s['anchor_pending'], 'head')} waiting to be anchored (the anchor failed; retried by "
                   f"the next ingest or verify)")


STATUS_COLUMNS = (("dataset", "<"), ("rows", ">"), ("quarantined", ">"), ("files", ">"),
                  ("first event (UTC)", "<"), ("last event (UTC)", "<"))


def _status_table(datasets: dict) -> list[str]:
    """`status`'s text: one header line, then a row per dataset, counts with thousands separators
    (the JSON keeps plain integers: CONTRACT.md)."""
    rows = [[name, count(d["rows"]), count(d["quarantined"]), count(d["files"]),
             d["first_time"] or MISSING, d["last_time"] or MISSING] for name, d in datasets.items()]
    widths = [max(len(title), *(len(r[i]) for r in rows)) for i, (title, _) in enumerate(STATUS_COLUMNS)]
    return ["  ".join(f"{cell:{align}{w}}" for cell, (_, align), w in zip(line, STATUS_COLUMNS, widths)).rstrip()
            for line in [[title for title, _ in STATUS_COLUMNS], *rows]]


@click.command(epilog=datasets_epilog())
@dataset_argument(required=False)
@click.option("--limit", type=click.IntRange(0), default=1000, show_default=True, help="at most this many rows (0: all)")
@format_option()
@workspace_option
def quarantine(workspace: Workspace, dataset, limit, fmt):
    """The quarantined rows, with file, row, column and reason."""
    from custodes.lake.status import quarantined

    rows = quarantined(workspace, dataset, limit=limit or None).to_pylist()
    for r in rows:
        r.pop("_seq", None)
    if fmt == "json":
        emit_json(rows)
        return
    for r in rows:
        value = "" if r["value"] is None else f" value={dumps(r['value'], indent=None)}"
        echo(f"{r['dataset']} {r['file']}:{r['row']} {r['column'] or '-'} {r['reason']}{value}")
    if not rows:
        echo("no quarantined rows")


def _expected_head(ctx, param, values):
    heads = []
    for value in values:
        seq, _, head = value.partition(":")
        if not (seq.isdigit() and len(head) == 64 and all(c in "0123456789abcdef" for c in head)):
            raise click.BadParameter(f"{value!r} is not SEQ:SEAL (the seals.head_seq and seals.head of "
                                     f"custodes status --format json)", ctx, param)
        heads.append((int(seq), head))
    return heads


@click.command()
@click.option("--public-key", "verify_key", type=click.Path(dir_okay=False), default=None,
              help="Ed25519 public key (PEM) to check the signatures (default: seal.verify_key)")
@click.option("--expect-head", "expect_heads", multiple=True, metavar="SEQ:SEAL", callback=_expected_head,
              help="fail unless the chain holds this seal at this seq (a head recorded earlier); repeatable")
@click.option("--anchor", "anchors", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="an anchor file (seal.anchor): every lake head recorded there must be in the chain, "
                   "signed with the key recorded there; repeatable")
@click.option("--sign", is_flag=True, default=False,
              help="after everything verifies, sign the chain with seal.signing_key (to start signing "
                   "an unsigned lake, or to move to a new key; check it first)")
@format_option()
@workspace_option
def verify(workspace: Workspace, verify_key, expect_heads, anchors, sign, fmt):
    """Check every sealed partition; exit 1 on any altered, deleted or inserted one."""
    from custodes.errors import CustodesError
    from custodes.lake.verify import verify as run

    report = run(workspace, verify_key=verify_key, expect_heads=expect_heads, anchors=list(anchors), sign=sign)
    for warning in report.warnings:
        note(f"warning: {warning}")
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        echo(f"checked {plural(report.files, 'file')} ({report.bytes / 1e6:.1f} MB) in "
                   f"{plural(report.entries, 'sealed ingest')} in {report.seconds:.2f}s; signature: {report.signature}"
                   + (f"; {plural(report.anchored, 'anchored head')}" if report.anchored else ""))
        for kind in ("altered", "deleted", "inserted"):
            for rel in getattr(report, kind):
                echo(f"{kind.upper()}: {rel}")
        for label, problems in (("CHAIN", report.chain), ("SIGNATURE", report.signing),
                                ("EXPECTED HEAD", report.expected), ("ANCHOR", report.anchor)):
            for problem in problems:
                echo(f"{label}: {problem}")
        if report.signed:
            echo(f"signed: head {report.head['seq'] if report.head else '-'} and the chain, with seal.signing_key")
        echo("OK: every partition matches its seal" if report.ok else "FAILED: the lake was tampered with")
    if not report.ok:
        raise CustodesError("verification failed: the lake does not match its seals"
                            + ("; nothing was signed" if sign else ""))
