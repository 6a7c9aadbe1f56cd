"""Shared pieces of the token-provenance rules: which token requests the ledger cannot explain."""

from __future__ import annotations

import itertools

import ibis

from custodes.detect.rule import SKEW, SKEW_MICROS, Context, account_key, day_expr, successful
from custodes.detect.rules._origins import new_pairs
from custodes.detect.shared import RunCache
from custodes.detect.timecols import unix_micros


class CountsTokens:
    """Mixin for rules over token requests: count the distinct tokens behind each finding."""

    def extra_counts(self, rows: ibis.Table) -> dict:
        return {"tokens": rows.credential_id_key.nunique()}


def token_requests(ctx: Context, lookback_days: int = 0) -> ibis.Table:
    """Successful requests that carried an access token with a jti."""
    a = successful(ctx.events("access", lookback_days))
    return a.filter((a.credential_type == "access_token") & a.credential_id_key.notnull())


def unissued(ctx: Context) -> ibis.Table:
    """Token requests whose jti the authorization server never recorded (by the time of use,
    allowing clock skew: a ledger row written later cannot change an earlier day's verdict).
    Not requests waiting for the ledger (Context.pending): their issuance may still be on its way."""
    a = ctx.settled(token_requests(ctx))
    i = ctx.table("issuance")
    return a.anti_join(i, [a.credential_id_key == i.token_id_key,
                           unix_micros(i.time) <= unix_micros(a.time) + SKEW_MICROS])


def corroborated_tokens(ctx: Context, rows: ibis.Table, hindsight: bool = False) -> ibis.Table:
    """jti keys of unissued tokens that look like a lost ledger row, not a forgery: their
    session is in the ledger, or their subject was issued tokens from the same device or
    address before. A forger has neither the victim's session nor their device or address.

    ``hindsight``: count issuance recorded at any time, also after the use. Detection never
    does (a later ledger row must not change an earlier day's verdict: incremental == full);
    scope does, to judge the evidence with everything known now (a customer whose login rows
    were lost, whose device shows up in the ledger days later, is not a victim)."""
    i = _ledger_of(ctx, rows)

    def known(*pairs):
        on = [rows[a] == i[b] for a, b in pairs]
        if not hindsight:
            on.append(i.time <= rows.time + SKEW)
        return rows.semi_join(i, on).select("credential_id_key")

    same_session = known(("session_id_key", "session_id_key"))
    same_device = known(("actor_id_key", "subject_key"), ("device_id_key", "device_id_key"))
    same_address = known(("actor_id_key", "subject_key"), ("src_ip_key", "src_ip_key"))
    return same_session.union(same_device).union(same_address).distinct()


_LEDGER_NAMES = itertools.count()


def _ledger_of(ctx: Context, rows: ibis.Table) -> ibis.Table:
    """The ledger rows of ``rows``' subjects and sessions, fetched once and registered (under a
    name of their own: an earlier result may still be read): the three corroboration joins then
    each read a few rows instead of hashing the whole ledger."""
    i = ctx.table("issuance")
    subjects = rows.select(k="actor_id_key").distinct()
    sessions = rows.select(k="session_id_key").distinct()
    mine = i.filter(i.subject_key.isin(subjects.k) | i.session_id_key.isin(sessions.k)).select(
        "subject_key", "session_id_key", "device_id_key", "src_ip_key", "time")
    return ctx.engine.register(f"detect_ledger_{next(_LEDGER_NAMES)}", ctx.engine.to_arrow(mine))


def uncorroborated_in_hindsight(ctx: Context, rows: ibis.Table) -> ibis.Table:
    """``rows`` (unissued-token requests) minus the tokens that issuance known now ties to their
    subject: the exact evidence of a forgery, for scope (see :func:`corroborated_tokens`)."""
    good = corroborated_tokens(ctx, rows, hindsight=True)
    return rows.anti_join(good, "credential_id_key")


#: token.unissued and issuance.ledger_gap share one computation of the unissued-token rows per
#: run (the anti-join over every token request).
_SHARED = RunCache(("access", "issuance"))


def unissued_marked(ctx: Context) -> ibis.Table:
    """Unissued-token requests with ``day``, ``kid``, ``corroborated`` and ``novel`` (used from
    a network new to the account: see _origins.triples), computed once per engine and window,
    then served from a small registered table.

    The anti-join over every token request runs once: its few rows are fetched and registered
    first, and the corroboration joins run on that small copy (compiled as one query, the
    engine would evaluate the anti-join once per branch)."""
    return _SHARED.get(ctx, lambda: _build_unissued_marked(ctx))


#: What the token rules, their counts and their entities read of an unissued-token request:
#: detection fetches only these; scope reads the whole request again (unissued_rows).
UNISSUED_COLUMNS = ("time", "day", "kid", "credential_id_key", "actor_type", "actor_id_key",
                    "account_id_key", "src_ip_key", "src_ip", "geo_country", "asn",
                    "session_id_key", "device_id_key")


def unissued_rows(ctx: Context) -> ibis.Table:
    """Every column of the unissued-token requests, with ``kid`` and ``day``."""
    rows = unissued(ctx)
    return rows.mutate(kid=rows.token_kid.fill_null("(none)"), day=day_expr(rows.time))


def _build_unissued_marked(ctx: Context) -> ibis.Table:
    rows = unissued_rows(ctx).select(*UNISSUED_COLUMNS)
    rows = ctx.engine.register("detect_unissued_raw", ctx.engine.to_arrow(rows))
    good = corroborated_tokens(ctx, rows).mutate(corroborated=ibis.literal(True))
    marked = rows.left_join(good, "credential_id_key").drop("credential_id_key_right")
    marked = marked.mutate(corroborated=marked.corroborated.fill_null(False), acct=account_key(marked))
    novel = new_pairs(ctx).mutate(novel=ibis.literal(True))
    marked = marked.left_join(novel, ["acct", "asn", "day"]).select(
        *UNISSUED_COLUMNS, "corroborated", novel=novel.novel.fill_null(False))
    return ctx.engine.register("detect_unissued", ctx.engine.to_arrow(marked))


def split_unissued(ctx: Context) -> tuple[ibis.Table, ibis.Table]:
    """(uncorroborated, corroborated) unissued-token requests, each with ``day`` and ``kid``."""
    rows = unissued_marked(ctx)
    return rows.filter(~rows.corroborated), rows.filter(rows.corroborated)
