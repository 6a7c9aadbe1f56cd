"""Triage follows an incident whose id changes (an earlier finding joins, two incidents merge)
and survives detection re-runs, including a real `custodes detect --full`."""

from __future__ import annotations

import datetime as dt

import pytest

from custodes import triage
from custodes.detect import store
from custodes.errors import CustodesError

from ..alerts.conftest import NOW, finding, save


def _only(ws):
    (inc,) = store.load_incidents(ws)
    return inc


def test_an_earlier_finding_changes_the_id_and_the_triage_follows(workspace):
    (old,) = save(workspace, [finding("f-2", day=15)])
    triage.act(workspace, old["incident_id"], "ack", by="anna", now=NOW)
    triage.act(workspace, old["incident_id"], "assign", by="anna", assignee="bob", now=NOW)
    triage.act(workspace, old["incident_id"], "note", by="anna", note="k-2019 again", now=NOW)
    (new,) = save(workspace, [finding("f-1", day=14), finding("f-2", day=15)])
    assert new["incident_id"] != old["incident_id"]  # detection's id hashes the earliest finding
    inc = _only(workspace)
    assert (inc["state"], inc["assignee"], inc["previous_incident_ids"]) == ("acknowledged", "bob", [old["incident_id"]])
    # the old id still works on the command line and in history
    done = triage.act(workspace, old["incident_id"], "resolve", by="anna", now=NOW)
    assert done == {"incident_id": new["incident_id"], "state": "resolved", "assignee": "bob",
                    "followed_from": old["incident_id"]}
    actions = [h["action"] for h in triage.history(workspace, new["incident_id"])]
    assert actions == ["ack", "assign", "note", "carried", "merged", "resolve"]


def test_two_triaged_incidents_merge_the_survivor_keeps_its_state_the_other_lives_on_as_it(workspace):
    a, b = save(workspace, [finding("f-a", day=10, kid="k-1", src_ip="192.0.2.1"),
                            finding("f-b", day=14, kid="k-2", src_ip="192.0.2.2")])
    first, second = sorted((a, b), key=lambda i: i["first_seen"])
    triage.act(workspace, first["incident_id"], "ack", by="anna", now=NOW)
    triage.act(workspace, second["incident_id"], "note", by="omar", note="same actor?", now=NOW)
    # a finding bridging both (shares k-1 with the first and 192.0.2.2 with the second, days apart within 3)
    (merged,) = save(workspace, [finding("f-a", day=10, kid="k-1", src_ip="192.0.2.1"),
                                 finding("f-x", day=12, kid="k-1", src_ip="192.0.2.2"),
                                 finding("f-b", day=14, kid="k-2", src_ip="192.0.2.2")])
    assert merged["incident_id"] == first["incident_id"]
    inc = _only(workspace)
    assert inc["state"] == "acknowledged" and inc["previous_incident_ids"] == [second["incident_id"]]
    notes = [h.get("note") for h in triage.history(workspace, first["incident_id"])]
    assert "same actor?" in notes


def test_unknown_incident_is_a_clear_error(workspace):
    save(workspace, [finding("f-1")])
    with pytest.raises(CustodesError, match="unknown incident 'i-nope'; see `custodes incidents`"):
        triage.act(workspace, "i-nope", "ack", by="anna")


def test_triage_survives_a_real_detect_full_rerun(tmp_path):
    """The detection tests' world: detect, close the forgery, re-run with --full: still closed."""
    from custodes.detect.run import detect
    from custodes.workspace import Workspace

    from ..detect import lakefiles, world

    ws = Workspace.open(tmp_path / "ws")
    tables = world.build()
    for seq, (name, table) in enumerate(sorted(tables.items()), start=1):
        lakefiles.store(ws, name, table, seq)
    detect(ws)
    incidents = store.load_incidents(ws)
    target = next(i for i in incidents if i["severity"] == "critical")
    triage.act(ws, target["incident_id"], "resolve", by="anna", note="contained")
    triage.act(ws, incidents[-1]["incident_id"], "assign", by="anna", assignee="bob")
    before = {i["incident_id"]: (i["state"], i["assignee"]) for i in store.load_incidents(ws)}
    detect(ws, full=True)
    assert triage.sync(ws)[1] == []  # nothing new: nothing reopens
    after = {i["incident_id"]: (i["state"], i["assignee"]) for i in store.load_incidents(ws)}
    assert after == before and after[target["incident_id"]] == ("resolved", None)


def test_a_suppression_must_end_and_must_say_why(workspace):
    from custodes.errors import UsageError

    save(workspace, [finding("f-1")])
    with pytest.raises(UsageError, match="at most 90 days"):
        triage.suppress(workspace, rule="token.unissued", reason="x", expires_at=NOW + dt.timedelta(days=91), now=NOW)
    with pytest.raises(UsageError, match="needs a reason"):
        triage.suppress(workspace, rule="token.unissued", reason=" ", expires_at=NOW + dt.timedelta(days=1), now=NOW)
    with pytest.raises(UsageError, match="entity 'route'"):
        triage.suppress(workspace, entity=("route", "/x"), reason="x", expires_at=NOW + dt.timedelta(days=1), now=NOW)
