"""One posture: the findings, the console's posture page and offboarding judge a workspace alike.

The console's hand-made world, plus the rows on which the three copies used to disagree: a key
whose storage is not recorded, a credential created after data-time now, a custodian with two
grants on one key, and the rotation age set under the console's old name only.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from custodes.console.sources import Sources
from custodes.detect.run import detect
from custodes.detect.store import load_findings
from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.respond.offboard import plan
from custodes.workspace import Workspace

from ..console import world

EXTRA = {
    "keys": [  # young and live, storage never recorded: not known to be in an HSM/KMS
        {"kid": "k-unknown", "alg": "ES256", "purpose": "customer_access_token", "created_at": world.t("2025-03-01T00:00:00")},
    ],
    "key_custody": [  # e-101's second, ended grant on the key they left with
        {"kid": "k-2019", "employee_id": "e-101", "granted_at": world.t("2019-02-01T00:00:00"),
         "revoked_at": world.t("2020-01-01T00:00:00")},
    ],
    "credentials": [  # created after the data's now: it does not exist yet in data time
        {"credential_id": "ak-5", "credential_type": "api_key", "owner_id": "e-103", "created_at": world.t("2025-06-01T00:00:00")},
    ],
}


def _workspace(root, config: dict | None = None) -> Workspace:
    ws = Workspace.open(root)
    seq = 1
    for dataset, rows in world.REFERENCE.items():
        world._write(ws, dataset, rows + EXTRA.get(dataset, []), seq)
        seq += 1
    for day, rows in sorted(world.access_rows().items()):
        world._write(ws, "access", rows, seq, part=f"date={day}")
        seq += 1
    if config:
        (ws.root / "custodes.yaml").write_text(yaml.safe_dump(config))
    return ws


def _entities(findings, rule_id: str, *columns: str) -> set[tuple]:
    return {tuple(f["entities"][c][0] for c in columns) for f in findings if f["rule_id"] == rule_id}


def _judged(ws):
    """(findings' data-time now, findings, the posture page's data)."""
    summary = detect(ws, full=True)
    page = Sources(ws).posture()
    assert page.ok, page.missing
    return dt.datetime.fromisoformat(summary.now.replace("Z", "+00:00")), load_findings(ws), page.data


def test_the_page_the_findings_and_offboarding_agree(tmp_path):
    ws = _workspace(tmp_path / "ws", {"posture": {"key_max_age_days": 30}})  # the old name only
    now, findings, page = _judged(ws)

    custodians = _entities(findings, "key.departed_custodian", "kid", "employee_id")
    assert custodians == {(r["kid"], r["employee_id"]) for r in page["departed_custodians"]} == {("k-2019", "e-101")}
    assert len(page["departed_custodians"]) == 1  # one row per key and custodian, however many grants

    credentials = _entities(findings, "credential.departed_still_valid", "credential_id")
    assert credentials == {(r["credential_id"],) for r in page["departed_credentials"]} == {("ak-1",)}

    stale = _entities(findings, "key.posture", "kid")
    # k-2025 (105 days) is past the 30 days set under the deprecated name: both read it
    assert stale == {(r["kid"],) for r in page["stale_keys"]} == {("k-2019",), ("k-2025",), ("k-unknown",)}
    assert page["key_max_age_days"] == 30

    with connect(ws) as engine:
        for employee in {e for _, e in custodians} | {"e-103"}:
            p = plan(engine, ws, employee)
            assert p.as_of == page["now"] == now
            assert {k for k, e in custodians if e == employee} <= {k["kid"] for k in p.keys}
            flagged = {c for (c,) in credentials} & {r["credential_id"] for r in page["departed_credentials"]
                                                      if r["owner_id"] == employee}
            assert flagged <= {c["credential_id"] for c in p.credentials}
            if employee == "e-103":  # created after now: not flagged yet, but offboarding revokes it
                assert {c["credential_id"] for c in p.credentials} == {"ak-1", "ak-5"}


def test_a_key_of_unrecorded_storage_is_flagged_low_as_such(tmp_path):
    _, findings, _ = _judged(_workspace(tmp_path / "ws"))
    (finding,) = [f for f in findings if f["rule_id"] == "key.posture" and f["entities"]["kid"] == ["k-unknown"]]
    assert finding["severity"] == "low"
    assert finding["title"] == "Signing key k-unknown is of unrecorded storage (not known to be in an HSM/KMS)"


def test_the_rotation_age_set_twice_differently_is_an_error_not_a_choice(tmp_path):
    ws = _workspace(tmp_path / "ws", {"detect": {"key_max_age_days": 365}, "posture": {"key_max_age_days": 30}})
    with pytest.raises(CustodesError, match="detect.key_max_age_days .* posture.key_max_age_days .* differ"):
        detect(ws, full=True)
    assert "differ" in Sources(ws).posture().missing


@pytest.mark.parametrize("value", ["365", 0, -1, True, 1.5])
def test_a_rotation_age_that_is_not_a_whole_number_of_days_is_refused(tmp_path, value):
    ws = _workspace(tmp_path / "ws", {"detect": {"key_max_age_days": value}})
    with pytest.raises(CustodesError, match=r"detect\.key_max_age_days(:| must)"):
        detect(ws, full=True)
