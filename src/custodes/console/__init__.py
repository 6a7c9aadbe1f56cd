"""The web console (`custodes serve`): incidents, blast radius, findings, credential posture and
lake state for analysts, behind its own login, roles and hash-chained audit trail.

Library entry point: :func:`custodes.console.app.create_app`.
"""
