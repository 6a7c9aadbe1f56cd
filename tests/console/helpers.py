"""Helpers for the console tests: users of each role, hand-made sources, logging in."""

from __future__ import annotations

import re

from custodes.console.sources import Outcome, Sources

from . import world

PASSWORDS = {"vera": "viewer-pass-1234", "anna": "analyst-pass-1234", "adam": "admin-pass-12345"}
ROLES = {"vera": "viewer", "anna": "analyst", "adam": "admin"}


class HandMadeSources(Sources):
    """Real scope, posture and lake reads over the world's lake; incidents and findings from the
    hand-made CONTRACT.md §3 dicts, and each incident's requests named by an indicator selector
    (what detect.evidence gives once detection has run)."""

    def __init__(self, workspace, incidents=None, findings=None):
        super().__init__(workspace)
        self._incidents = world.INCIDENTS if incidents is None else incidents
        self._findings = world.FINDINGS if findings is None else findings

    def incidents(self) -> Outcome:
        return Outcome(list(self._incidents))

    def findings(self) -> Outcome:
        return Outcome(list(self._findings))

    def scope_incident(self, incident_id: str, with_accounts: bool = False) -> Outcome:
        kind, value = world.INCIDENT_SELECTORS[incident_id]
        return self.scope(kind, value, with_accounts)

    def export_accounts(self, kind: str, value: str, path) -> Outcome:
        if kind == "incident":
            kind, value = world.INCIDENT_SELECTORS[value]
        return super().export_accounts(kind, value, path)

    def export_notification(self, kind: str, value: str, path, by: str) -> Outcome:
        if kind == "incident":
            kind, value = world.INCIDENT_SELECTORS[value]
        return super().export_notification(kind, value, path, by)


def login_token(html: str) -> str:
    return re.search(r'name="login_token" value="([^"]+)"', html).group(1)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, name: str, password: str | None = None, next_path: str = "/incidents"):
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                       "login_token": login_token(page.text), "next": next_path})
