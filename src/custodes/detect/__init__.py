"""Detections as code: token provenance, credential misuse and behaviour, grouped into incidents.

Public API: :func:`custodes.detect.run.detect` (a workspace run, incremental by default),
:func:`custodes.detect.run.evaluate` (rules over an engine), :mod:`custodes.detect.store`
(``load_findings``, ``load_incidents``) and
:func:`custodes.detect.evidence.incident_requests`.
"""
