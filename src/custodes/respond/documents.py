"""The breach documents, each one template rendered to HTML, and from that same HTML to PDF
(:mod:`custodes.respond.pdf`) and Markdown (:mod:`custodes.respond.htmlmd`); ``json`` is the
template's own context, so other tools get exactly the fields the document shows.

=========  ==========================================================================  ========
document   for                                                                          language
=========  ==========================================================================  ========
pipc       the Personal Information Protection Commission (PIPA Art. 34(4))              ko
gdpr33     a supervisory authority (GDPR Art. 33, with Art. 34's duty to subjects)       en
notice     each affected customer (PIPA Art. 34(1)): a mail-merge CSV and a sample       ko
annex      the record: detections, evidence counts, timeline, containment, queries      en
=========  ==========================================================================  ========

Every value a document shows passes Jinja's autoescaping with control characters removed, and
the template holds no value in a ``style`` attribute or a URL: whatever a forger put in a token's
``sub``, a ``kid`` or a route is text in the page, never markup, CSS or a fetch.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
import markupsafe
import pyarrow as pa
import pyarrow.compute as pc

from custodes import text
from custodes.clikit import dumps, shell_command, terminal_safe
from custodes.errors import CustodesError
from custodes.respond import narrative
from custodes.respond.chart import timeline_svg
from custodes.respond.i18n import LANGUAGES, Catalogue
from custodes.respond.report import REQUIRED, Report, default_path
from custodes.respond.settings import Person, pick
from custodes.safefile import write_output
from custodes.timefmt import parse_iso
from custodes.workspace import Workspace

DOCS = ("pipc", "gdpr33", "notice", "annex")
FORMATS = ("html", "pdf", "md", "json")
DEFAULT_LANG = {"pipc": "ko", "gdpr33": "en", "notice": "ko", "annex": "en"}
#: entity values listed in the annex per kind; the rest are counted
ENTITIES_SHOWN = 50


def check(doc: str, lang: str | None, fmt: str) -> str:
    if doc not in DOCS:
        raise CustodesError(f"unknown document {doc!r}; expected one of {', '.join(DOCS)}")
    lang = lang or DEFAULT_LANG[doc]
    if lang not in LANGUAGES:
        raise CustodesError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    allowed = FORMATS + (("csv",) if doc == "notice" else ())
    if fmt not in allowed:
        raise CustodesError(f"--doc {doc} has no format {fmt!r}; expected one of {', '.join(allowed)}")
    return lang


# Context ------------------------------------------------------------------------------------
def _person(p: Person | None, lang: str) -> dict | None:
    if p is None:
        return None
    return {"name": pick(p.name, lang), "title": pick(p.title, lang), "department": pick(p.department, lang),
            "email": p.email, "phone": p.phone, "address": pick(p.address, lang), "hours": pick(p.hours, lang),
            "url": p.url}


def _duties(r: Report, t: Catalogue) -> list[dict]:
    out = []
    for d in r.assessment.duties:
        required = {True: "yes", False: "no", None: "confirm"}[d.required]
        why = "; ".join(t(f"duties.reasons.{code}", **_slots(t, params)) for code, params in d.reasons)
        out.append({"code": d.code, "regime": d.regime, "duty": t(f"duties.{d.code}"), "to": t(f"duties.to.{d.code}"),
                    "article": d.article, "required": d.required, "required_text": t(f"labels.{required}"),
                    "due": d.due, "until": d.until, "why": why})
    return out


def _slots(t: Catalogue, params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if key == "items":
            out[key] = t.items(value)
        elif isinstance(value, int):
            out[key] = t.number(value)
        else:
            out[key] = value
    return out


def _fines(r: Report, t: Catalogue) -> list[dict]:
    out = []
    for f in r.assessment.fines:
        note = None if f.configured else t("fines.pipa_unset" if f.regime == "PIPA" else "fines.gdpr_unset")
        out.append({"code": f.code, "regime": f.regime, "article": f.article, "ceiling": f.ceiling,
                    "currency": f.currency, "configured": f.configured,
                    "text": t(f"fines.{f.code}", base=t.number(f.base)), "note": note})
    return out


def _measures(r: Report, t: Catalogue) -> dict:
    taken, planned = [], []
    for action in r.containment:
        kind = action["action"]
        if kind == "offboard" and action["target"] in r.applied:
            when = parse_iso(r.applied[action["target"]], "respond audit: applied_at")
            taken.append(t("measures.offboard_done", employee=action["target"], when=t.time(when)))
        elif kind == "offboard":
            planned.append(t("measures.offboard", employee=action["target"]))
        elif kind == "block_sources":
            planned.append(t("measures.block_sources", n=t.number(action.get("count", 0))))
        else:
            planned.append(t(f"measures.{kind}"))
    taken += [pick(m, t.lang) for m in r.config.measures.taken]
    planned += [pick(m, t.lang) for m in r.config.measures.planned]
    return {"taken": taken, "planned": planned}


def advice(t: Catalogue, items: list[str]) -> list[str]:
    """What a person can do, for each item exposed, then what everyone should do."""
    return [t(f"advice.{i}") for i in items if t.has(f"advice.{i}")] + [t("advice.general")]


def _missing(r: Report, t: Catalogue) -> list[dict]:
    return [{"field": code, "text": t(f"draft.fields.{code}", provisional=t.time(r.first_detected))}
            for code in REQUIRED if code in r.missing]


def context(r: Report, doc: str, lang: str) -> dict:
    """Everything the document shows, as data: the template's context and ``--format json``."""
    t = Catalogue(lang)
    s, a = r.scope, r.assessment
    missing = _missing(r, t)
    ctx = {
        "document": doc, "lang": lang, "incident_id": r.incident_id,
        "title": t(f"documents.{doc}", incident=r.incident_id),
        "classification": pick(r.config.classification, lang) or t("classification"),
        "draft": bool(missing), "missing": missing,
        "generated_at": r.generated_at, "zone": t("zone"),
        "organization": pick(r.config.organization, lang),
        "privacy_officer": _person(r.config.privacy_officer, lang),
        "dpo": _person(r.config.dpo, lang),
        "contact": _person(r.config.damage_contact(), lang),
        "website": r.config.website,
        "subjects": s.accounts, "records": s.records, "requests": s.requests,
        "first_access": s.first_access, "last_access": s.last_access,
        "discovered_at": r.discovered_at, "discovered_provisional": not r.discovered_given,
        "notify_by": a.duty("pipa_notice").due, "report_by": a.duty("pipa_report").due,
        "narrative": narrative.breach(t, r.rule_ids, r.items, s.accounts, s.first_access, s.last_access),
        "items": [{"code": code, "label": t.item(code), "people": n} for code, n in s.fields.items()],
        "advice": advice(t, r.items),
        "measures": _measures(r, t),
        "redress": t("redress.body"), "rights": t("redress.rights"),
        "duties": _duties(r, t), "fines": _fines(r, t),
        "daily": s.daily, "notes": list(r.notes),
    }
    if doc == "gdpr33":
        ctx.update(_gdpr(r, t))
    elif doc == "notice":
        ctx["sample"] = sample(r, t)
    elif doc == "annex":
        ctx.update(_annex(r))
    return ctx


def _gdpr(r: Report, t: Catalogue) -> dict:
    from custodes.respond.regulation import HIGH_RISK_ITEMS

    high = [i for i in r.items if i in HIGH_RISK_ITEMS]
    consequences = [t(f"consequences.{i}") if t.has(f"consequences.{i}") else t("consequences.other", item=t.item(i))
                    for i in r.items]
    return {"consequences": consequences,
            "risk": t("consequences.risk_high", items=t.items(high)) if high else t("consequences.risk_normal"),
            "supervisory_authority": pick(r.config.gdpr.supervisory_authority, t.lang),
            "gdpr_applies": r.config.gdpr.applies}


def _annex(r: Report) -> dict:
    ent = r.incident.get("entities") or {}
    entities = {kind: {"shown": list(values[:ENTITIES_SHOWN]), "more": max(0, len(values) - ENTITIES_SHOWN)}
                for kind, values in ent.items() if values}
    queries = [shell_command("custodes", "scope", "--incident", r.incident_id),
               shell_command("custodes", "scope", "--incident", r.incident_id, "--accounts-out", "accounts.csv")]
    for kind, option in (("kid", "--kid"), ("credential_id", "--credential"), ("employee_id", "--employee")):
        queries += [shell_command("custodes", "scope", option, v) for v in (ent.get(kind) or [])[:5]]
    return {
        "severity": r.incident.get("severity"), "incident_title": r.incident.get("title"),
        "rule_ids": r.rule_ids, "attack": sorted({x for f in r.findings for x in f.get("attack") or []}),
        "findings": [{k: f.get(k) for k in ("finding_id", "rule_id", "title", "severity", "first_seen", "last_seen",
                                            "detected_at", "evidence")} for f in r.findings],
        "entities": entities, "containment": r.containment,
        "offboarding": [p.to_json() for p in r.offboarding], "queries": queries,
        "first_detected": r.first_detected,
    }


# The notice: one letter, and the mail-merge file ---------------------------------------------
def _item_counts(fields: pa.Array) -> pa.Array:
    nonempty = pc.cast(pc.not_equal(fields, ""), pa.int64())
    return pc.add(pc.count_substring(fields, ";"), nonempty)


def _people(r: Report) -> pa.Table:
    if r.people is None:
        raise CustodesError("the customer notice needs the affected people: report.build(..., people=True)")
    return r.people


def sample(r: Report, t: Catalogue) -> dict | None:
    """The letter to the affected person with the most items exposed (the fullest letter)."""
    people = _people(r)
    if people.num_rows == 0:
        return None
    fields = pc.fill_null(people.column("fields").combine_chunks(), "")
    row = people.slice(pc.index(_item_counts(fields), pc.max(_item_counts(fields))).as_py(), 1).to_pylist()[0]
    items = [i for i in (row["fields"] or "").split(";") if i]
    return {"account_id": row["account_id"], "name": row["name"], "items": [t.item(i) for i in items],
            "advice": advice(t, items),
            "first_access": row["first_access"], "last_access": row["last_access"],
            "narrative": narrative.for_subject(t, r.rule_ids, items, row["first_access"], row["last_access"])}


MERGE_HEADER = ("account_id", "name", "email", "phone", "items", "first_access", "last_access", "exposure")


def merge_columns(r: Report, lang: str) -> list[pa.Array]:
    """The mail-merge columns, one row per affected person: contacts, the items exposed in the
    notice's language, when (in its time zone), and the sentence that tells them. The sentence
    is written once per distinct (first day, last day, items), never once per person."""
    t = Catalogue(lang)
    people = _people(r)
    fields = pc.fill_null(people.column("fields").combine_chunks(), "")
    shift = dt.timedelta(hours=9) if lang == "ko" else dt.timedelta(0)
    local = [pc.add(pc.cast(people.column(c).combine_chunks(), pa.timestamp("s", tz="UTC"), safe=False), pa.scalar(shift))
             for c in ("first_access", "last_access")]
    times = [pc.strftime(c, format=f"%Y-%m-%d %H:%M {t('zone')}") for c in local]
    days = [pc.strftime(c, format="%Y-%m-%d") for c in local]
    key = pc.binary_join_element_wise(days[0], days[1], fields, "|")
    encoded = pc.dictionary_encode(key)
    sentences, labels = [], []
    for value in encoded.dictionary.to_pylist():
        first, last, items = value.split("|", 2)
        codes = [i for i in items.split(";") if i]
        noon = lambda d: parse_iso(d, date_ok=True).replace(hour=12, tzinfo=t.zone)  # noqa: E731
        sentences.append(narrative.for_subject(t, r.rule_ids, codes, noon(first), noon(last)))
        labels.append(t.items(codes))
    take = lambda values: pc.take(pa.array(values, pa.string()), encoded.indices)  # noqa: E731
    return [people.column("account_id"), people.column("name"), people.column("email"), people.column("phone"),
            take(labels), times[0], times[1], take(sentences)]


def write_mail_merge(workspace: Workspace, r: Report, lang: str, out: Path | None = None, force: bool = False) -> Path:
    """The notice's mail-merge CSV (0600, through safefile, every cell formula-neutralised)."""
    from custodes.respond.audit import audit
    from custodes.respond.scope import write_csv_rows
    from custodes.safefile import output_file

    if out is None:
        out, force = default_path(workspace, r, "notice", lang, "csv"), True
    out = Path(out)
    with output_file(out, force=force) as fh:
        fh.write(",".join(MERGE_HEADER) + "\n")
        write_csv_rows(fh, merge_columns(r, lang))
    audit(workspace, "report", incident_id=r.incident_id, document="notice", lang=lang, format="csv",
          path=str(out.resolve()), rows=_people(r).num_rows, sha256=fh.sha256)
    return out


def merge_csv(r: Report, lang: str) -> bytes:
    """The mail-merge CSV in memory (the console's download); the CLI streams it to a file."""
    import io

    from custodes.respond.scope import write_csv_rows

    buffer = io.StringIO(newline="")
    buffer.write(",".join(MERGE_HEADER) + "\n")
    write_csv_rows(buffer, merge_columns(r, lang))
    return buffer.getvalue().encode("utf-8")


# Rendering ----------------------------------------------------------------------------------
def _plain(value):
    """Control characters out of every value (autoescaping then does the rest)."""
    return value if isinstance(value, markupsafe.Markup) else terminal_safe(str(value))


def environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader or jinja2.PackageLoader("custodes.respond", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_plain,
    )
    env.filters["num"] = text.count
    env.filters["shown"] = text.shown  # evidence values: 82% for a share, yes/no, an em dash
    return env


def render_html(r: Report, doc: str, lang: str, env: jinja2.Environment | None = None) -> str:
    t = Catalogue(lang)
    ctx = context(r, doc, lang)
    template = (env or environment()).get_template(f"{doc}.html.j2")
    return template.render(d=ctx, t=t, time=t.time, chart=markupsafe.Markup(timeline_svg(r.scope.daily)))


def render(r: Report, doc: str, lang: str, fmt: str, env: jinja2.Environment | None = None) -> bytes:
    lang = check(doc, lang, fmt)
    if fmt == "json":
        return (dumps(context(r, doc, lang)) + "\n").encode("utf-8")
    if fmt == "csv":
        return merge_csv(r, lang)
    html = render_html(r, doc, lang, env)
    if fmt == "html":
        return html.encode("utf-8")
    if fmt == "md":
        from custodes.respond.htmlmd import to_markdown

        return to_markdown(html).encode("utf-8")
    from custodes.respond.pdf import render_pdf

    return render_pdf(html)


def write(workspace: Workspace, r: Report, doc: str, lang: str | None, fmt: str, out: Path | None = None,
          force: bool = False) -> Path:
    """Write one document (mode 0600, as :func:`custodes.safefile.output_file` does: an existing
    ``out`` only with ``force``) and record the export in the audit trail. The default place,
    custodes's own (WORKSPACE/respond/reports/ID-DOC-LANG.FORMAT), is rewritten each time."""
    from custodes.respond.audit import audit

    lang = check(doc, lang, fmt)
    if fmt == "csv":
        return write_mail_merge(workspace, r, lang, out, force)
    data = render(r, doc, lang, fmt)
    if out is None:
        out, force = default_path(workspace, r, doc, lang, fmt), True
    out = Path(out)
    write_output(out, data, force=force)
    audit(workspace, "report", incident_id=r.incident_id, document=doc, lang=lang, format=fmt,
          path=str(out.resolve()), accounts=r.scope.accounts, draft=bool(r.missing))
    return out
