"""The notification list: contacts joined only at export, file 0600, export audited."""

from __future__ import annotations

import csv
import hashlib
import stat

from custodes.respond import Selector, scope
from custodes.respond.audit import read_audit
from custodes.respond.notify import HEADER, export_notification_list


def test_notification_list(world, tmp_path):
    ws = world.workspace
    result = scope(world, ws, Selector("employee", "e-cs"))
    out = tmp_path / "notify.csv"
    entry = export_notification_list(world, ws, result, out, by="dpo")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(out.open()))
    assert tuple(rows[0]) == HEADER
    assert rows[1] == ["c20", "Customer 20", "c20@example.com", "010-0000-0020", "name;email;phone;address",
                       "2025-04-14T10:00:00Z", "2025-04-14T15:00:00Z"]
    assert [r[0] for r in rows[1:]] == ["c20", "c21"]
    audit = read_audit(ws)[-1]
    assert audit == entry and audit["by"] == "dpo" and audit["rows"] == 2
    assert audit["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "c20" not in str(audit) and "Customer" not in str(audit)  # the trail holds no personal data
    assert stat.S_IMODE((ws.respond / "audit.jsonl").stat().st_mode) == 0o600


def test_accounts_missing_from_directory_stay_on_the_list(world, tmp_path):
    from .conftest import CUSTOMERS, with_keys

    world.register("customers", with_keys("customers", [c for c in CUSTOMERS if c["account_id"] != "c21"]))
    result = scope(world, world.workspace, Selector("actor", "e-cs"))
    entry = export_notification_list(world, world.workspace, result, tmp_path / "n.csv")
    rows = list(csv.reader((tmp_path / "n.csv").open()))
    assert [r[0] for r in rows[1:]] == ["c20", "c21"] and rows[2][1:4] == ["", "", ""]
    assert entry["without_contact"] == 1


def test_names_with_commas_and_quotes_are_quoted(world, tmp_path):
    from .conftest import CUSTOMERS, with_keys

    odd = [dict(c, name='Kim, "Minji"') if c["account_id"] == "c20" else c for c in CUSTOMERS]
    world.register("customers", with_keys("customers", odd))
    result = scope(world, world.workspace, Selector("actor", "e-cs"))
    export_notification_list(world, world.workspace, result, tmp_path / "n.csv")
    rows = list(csv.reader((tmp_path / "n.csv").open()))
    assert rows[1][:2] == ["c20", 'Kim, "Minji"'] and len(rows[1]) == len(HEADER)
    assert (tmp_path / "n.csv").read_text().startswith(",".join(HEADER) + "\n")
