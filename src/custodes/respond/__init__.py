"""Scope and response: the exact blast radius of an incident or indicator, the notification list,
the PIPA / GDPR reports with their deadlines, and the containment (offboarding) plan."""

from custodes.respond.scope import Scope, Selector, scope

__all__ = ["Scope", "Selector", "scope"]
