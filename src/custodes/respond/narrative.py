"""The plain-language account of a breach, from the scope and the incident's detections:

    From 16 April to 15 May 2025, requests carrying login tokens that our authorization server
    never issued, signed with a key held by a former employee, read the name, email address,
    phone number and delivery address of 2,453 customers.

The sentence is a hand-written template per language (the ``narrative`` section of the
catalogues); what fills it is chosen here from the rule ids, which themselves never appear in it.
"""

from __future__ import annotations

import datetime as dt

from custodes.respond.i18n import Catalogue

#: which detection explains "how", strongest first (the rest of the incident corroborates it)
METHODS = ("token.unissued", "token.claims_mismatch", "token.retired_key", "token.expired_use",
           "credential.after_termination", "credential.departed_still_valid", "credential.after_revocation",
           "employee.many_customers", "export.bulk_volume", "source.many_accounts", "source.low_and_slow",
           "account.new_origin")
#: methods a forged or stale token carries, which a departed custodian's key explains
TOKEN_METHODS = frozenset(m for m in METHODS if m.startswith("token."))


def method(rule_ids) -> str:
    rules = set(rule_ids)
    return next((m for m in METHODS if m in rules), "other")


def parts(t: Catalogue, rule_ids) -> dict:
    how = method(rule_ids)
    departed_key = how in TOKEN_METHODS and "key.departed_custodian" in set(rule_ids)
    return {"method": t(f"narrative.methods.{how}"), "key": t("narrative.key_departed") if departed_key else ""}


def breach(t: Catalogue, rule_ids, items: list[str], subjects: int, first: dt.datetime, last: dt.datetime) -> str:
    """The account for a regulator: what happened to how many people."""
    slots = dict(parts(t, rule_ids), period=t.period(first, last), subjects=t.subjects(subjects))
    if not items:
        return t("narrative.body_no_items", **slots)
    return t("narrative.body", items=t.items(items), **slots)


def for_subject(t: Catalogue, rule_ids, items: list[str], first: dt.datetime, last: dt.datetime) -> str:
    """The same account told to one person about their own data."""
    slots = dict(parts(t, rule_ids), period=t.period(first, last))
    if not items:
        return t("narrative.you_no_items", **slots)
    return t("narrative.you", items=t.items(items), **slots)
