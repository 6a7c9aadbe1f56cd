"""The respond commands end to end through `custodes` (lake files on disk, as the lake stores them)."""

from __future__ import annotations

import csv
import json
import stat

import pytest

from custodes.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_scope_json_and_accounts_out(lake_ws, capsys, tmp_path):
    out_csv = tmp_path / "acc.csv"
    code, out, err = run(capsys, "scope", "--workspace", str(lake_ws.root), "--kid", "k-old",
                         "--accounts-out", str(out_csv), "--format", "json")
    assert code == 0, err
    data = json.loads(out)  # stdout holds the JSON and nothing else
    assert (data["accounts"], data["records"], data["requests"]) == (4, 6, 6)
    assert set(data) >= {"accounts", "records", "requests", "first_access", "last_access", "fields", "daily"}
    assert stat.S_IMODE(out_csv.stat().st_mode) == 0o600
    assert next(csv.reader(out_csv.open())) == ["account_id", "first_access", "last_access", "requests", "fields"]
    assert "wrote 4 accounts" in err


def test_scope_text_and_workspace_before_command(lake_ws, capsys):
    code, out, _ = run(capsys, "--workspace", str(lake_ws.root), "scope", "--src-ip", "203.0.113.0/24",
                       "--since", "2025-04-15", "--until", "2025-04-16T00:00:00Z")
    assert code == 0
    assert "accounts  1" in out and "2025-04-15" in out and "entrance_code (1)" in out


@pytest.mark.parametrize("argv, code, message", [
    (["scope", "--kid", "k-none"], 1, "--kid k-none matches no access request"),
    (["scope", "--kid", "k-old", "--since", "2025-05-01T00:00:00Z"], 1, "6 outside it"),
    (["scope", "--kid", "k-old", "--since", "2025-04-15", "--until", "2025-04-14"], 1, "empty window"),
    (["scope"], 2, "give exactly one of"),
    (["scope", "--kid", "a", "--actor", "b"], 2, "give exactly one of"),
    (["scope", "--src-ip", "not-an-ip"], 2, "neither an IP address nor a CIDR"),
    (["scope", "--kid", "k-old", "--since", "yesterday"], 2, "not an RFC 3339 time"),
    (["offboard", "e-ghost"], 1, "unknown employee 'e-ghost'"),
    (["offboard", "e-ex", "--revoke-keys"], 2, "only make sense with --apply"),
    (["report", "--incident", "i-x"], 1, "unknown incident 'i-x'"),
    (["scope", "--incident", "i-x"], 1, "unknown incident 'i-x'"),
    (["scope", "--src-ip", "192.0.2.0/24"], 1, "--src-ip 192.0.2.0/24 matches no access request"),
    (["scope", "--credential", "t-nobody"], 1, "--credential t-nobody matches no access request"),
    (["scope", "--kid", "k-old", "--since", "2025-04-15", "--until", "2025-04-15T00:00:00Z"], 1, "empty window"),
    (["scope", "--incident", "i-forgery", "--until", "2025-04-01"], 1, "(5 outside it)"),
])
def test_bad_input_is_one_clear_line(lake_ws, capsys, fake_detect, argv, code, message):
    got, out, err = run(capsys, *argv, "--workspace", str(lake_ws.root))
    assert got == code and message in err
    assert "Traceback" not in err and out == ""


def test_empty_workspace(workspace, capsys):
    code, _, err = run(capsys, "scope", "--kid", "k", "--workspace", str(workspace.root))
    assert code == 1 and "holds no access data" in err


def test_report_command_writes_each_format(lake_ws, capsys, fake_detect, tmp_path):
    """CONTRACT.md §2's `report --incident ID --format md|html|pdf` still works: without --doc it
    writes the PIPC report, in Korean."""
    for fmt in ("md", "html", "pdf"):
        target = tmp_path / f"r.{fmt}"
        code, out, err = run(capsys, "report", "--incident", "i-forgery", "--format", fmt, "--out", str(target),
                             "--workspace", str(lake_ws.root))
        assert code == 0, err
        assert out.strip() == str(target) and stat.S_IMODE(target.stat().st_mode) == 0o600
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("# 개인정보 유출 등 신고서") and "개인정보보호위원회 또는 한국인터넷진흥원" in md


def test_report_json_goes_to_stdout(lake_ws, capsys, fake_detect):
    code, out, err = run(capsys, "report", "--incident", "i-forgery", "--doc", "gdpr33", "--format", "json",
                         "--discovered-at", "2025-04-15T09:00:00Z", "--workspace", str(lake_ws.root))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["document"] == "gdpr33" and doc["lang"] == "en" and doc["subjects"] == 3
    assert doc["missing"][0]["field"] == "organization" and "a draft until respond.organization" in err


def test_report_usage_errors(lake_ws, capsys, fake_detect):
    code, _, err = run(capsys, "report", "--workspace", str(lake_ws.root))
    assert code == 2 and "--incident is required" in err
    code, _, err = run(capsys, "report", "--incident", "i-forgery", "--format", "csv", "--workspace", str(lake_ws.root))
    assert code == 1 and "--doc pipc has no format 'csv'" in err
    code, _, err = run(capsys, "report", "--incident", "i-forgery", "--discovered-at", "yesterday",
                       "--workspace", str(lake_ws.root))
    assert code == 2 and "Traceback" not in err


def test_notify_command(lake_ws, capsys, tmp_path):
    target = tmp_path / "n.csv"
    code, out, err = run(capsys, "notify", "--actor", "e-cs", "--out", str(target), "--by", "dpo",
                         "--format", "json", "--workspace", str(lake_ws.root))
    assert code == 0, err
    assert json.loads(out)["rows"] == 2 and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_offboard_plan_then_apply_to_a_ledger(lake_ws, capsys, tmp_path):
    code, out, _ = run(capsys, "offboard", "e-ex", "--workspace", str(lake_ws.root))
    assert code == 0 and "k-old" in out and "ak-3" in out and "--apply" in out
    assert not (lake_ws.respond / "offboard").exists()  # a plan changes nothing
    pytest.importorskip("custodes.guard.ledger")
    url = f"sqlite:///{tmp_path}/ledger.db"
    from custodes.guard.ledger import open_ledger

    typo = f"sqlite:///{tmp_path}/ledgr.db"
    code, _, err = run(capsys, "offboard", "e-ex", "--apply", "--ledger", typo, "--workspace", str(lake_ws.root))
    assert code == 1 and "ledgr.db" in err and not (tmp_path / "ledgr.db").exists()  # no empty ledger "took" them
    open_ledger(url).close()  # the guard's ledger, made by `guard ledger load`
    code, out, err = run(capsys, "offboard", "e-ex", "--apply", "--ledger", url, "--format", "json",
                         "--workspace", str(lake_ws.root))
    assert code == 0, err
    applied = json.loads(out)["applied"]
    assert applied["pushed"] == [{"sub": "e-ex"}, {"jti": "ak-3"}]
    led = open_ledger(url)
    assert led.is_revoked(jti="ak-3")
    led.close()
