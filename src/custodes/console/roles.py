"""Who may do what in the console: behaviour as a table, checked in one place.

A viewer sees aggregates (how many accounts, which data items, when); an analyst also sees and
exports the affected account ids (personal data, audited) and downloads the breach documents; an
admin also exports the notification list and the customer notice with customers' contact details
(audited here and in respond's export log) and reads the audit trail.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")

#: permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"viewer", "analyst", "admin"}),          # incidents, findings, posture, lake
    "view_accounts": frozenset({"analyst", "admin"}),           # account ids of a blast radius
    "export_accounts": frozenset({"analyst", "admin"}),         # accounts CSV download
    "export_contacts": frozenset({"admin"}),                    # notification list: names, e-mails, phones
    "export_documents": frozenset({"analyst", "admin"}),        # breach documents (PIPC, GDPR, annex)
    "view_audit": frozenset({"admin"}),                         # the console's own audit trail
    "triage": frozenset({"analyst", "admin"}),                  # acknowledge, assign, resolve, note, suppress
}


def can(role: str | None, permission: str) -> bool:
    """True when ``role`` holds ``permission``; unknown roles and permissions hold nothing."""
    return role in PERMISSIONS.get(permission, frozenset())
