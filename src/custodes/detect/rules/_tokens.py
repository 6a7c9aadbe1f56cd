"""Shared pieces of the token-provenance rules: which token requests the ledger cannot explain."""

from __future__ import annotations

import weakref

import ibis

from custodes.detect.rule import SKEW, Context, day_expr, successful


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
    allowing clock skew: a ledger row written later cannot change an earlier day's verdict)."""
    a = token_requests(ctx)
    i = ctx.table("issuance")
    return a.anti_join(i, [a.credential_id_key == i.token_id_key, i.time <= a.time + SKEW])


def corroborated_tokens(ctx: Context, rows: ibis.Table) -> ibis.Table:
    """jti keys of unissued tokens that look like a lost ledger row, not a forgery: their
    session is in the ledger, or their subject was issued tokens from the same device or
    address before. A forger has neither the victim's session nor their device or address."""
    i = ctx.table("issuance")
    same_session = rows.semi_join(i, [rows.session_id_key == i.session_id_key,
                                      i.time <= rows.time + SKEW])
    same_device = rows.semi_join(i, [rows.actor_id_key == i.subject_key,
                                     rows.device_id_key == i.device_id_key,
                                     i.time <= rows.time + SKEW])
    same_address = rows.semi_join(i, [rows.actor_id_key == i.subject_key,
                                      rows.src_ip_key == i.src_ip_key,
                                      i.time <= rows.time + SKEW])
    keys = [t.select("credential_id_key") for t in (same_session, same_device, same_address)]
    return keys[0].union(keys[1]).union(keys[2]).distinct()


#: engine -> {(since, now): registered table}: token.unissued and issuance.ledger_gap share
#: one computation of the unissued-token rows per run (the anti-join over every token request).
_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def unissued_marked(ctx: Context) -> ibis.Table:
    """Unissued-token requests with ``day``, ``kid`` and ``corroborated``, computed once per
    engine and window, then served from a small registered table."""
    per_engine = _SHARED.setdefault(ctx.engine, {})
    key = (ctx.since, ctx.now)
    if key not in per_engine:
        rows = unissued(ctx)
        rows = rows.mutate(kid=rows.token_kid.fill_null("(none)"), day=day_expr(rows.time))
        good = corroborated_tokens(ctx, rows).mutate(corroborated=ibis.literal(True))
        marked = rows.left_join(good, "credential_id_key")
        marked = marked.mutate(corroborated=marked.corroborated.fill_null(False))
        data = ctx.engine.to_arrow(marked)
        per_engine.clear()
        per_engine[key] = ctx.engine.register("detect_unissued", data)
    return per_engine[key]


def split_unissued(ctx: Context) -> tuple[ibis.Table, ibis.Table]:
    """(uncorroborated, corroborated) unissued-token requests, each with ``day`` and ``kid``."""
    rows = unissued_marked(ctx)
    return rows.filter(~rows.corroborated), rows.filter(rows.corroborated)
