"""The systemd units under deploy/: each service runs as its own non-root user, writes only its
workspace, and systemd itself finds nothing wrong with them (``systemd-analyze verify``) and
rates their exposure low (``systemd-analyze security --offline``), where systemd-analyze exists."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = {"custodes-watch.service": ("custodes", "/var/lib/custodes", "custodes watch"),
            "custodes-console.service": ("custodes", "/var/lib/custodes", "custodes serve"),
            "custodes-guard.service": ("custodes-guard", "/var/lib/custodes-guard", "custodes guard serve")}
ANALYZE = shutil.which("systemd-analyze")


def settings(name: str) -> dict[str, list[str]]:
    """Every Key=value of [Service], repeated keys kept."""
    out: dict[str, list[str]] = {}
    section = None
    for line in (DEPLOY / name).read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_is_its_own_user_in_a_private_workspace_and_writes_nothing_else(name):
    user, workspace, command = SERVICES[name]
    s = settings(name)
    assert s["User"] == [user] and user != "root"
    assert s["StateDirectory"] == [workspace.rsplit("/", 1)[1]] and s["StateDirectoryMode"] == ["0700"]
    assert s["Environment"] == [f"CUSTODES_WORKSPACE={workspace}"]
    assert s["ReadWritePaths"] == [workspace]  # the workspace, nothing else
    for key, value in (("ProtectSystem", "strict"), ("NoNewPrivileges", "true"), ("PrivateTmp", "true"),
                       ("ProtectHome", "true"), ("CapabilityBoundingSet", ""), ("UMask", "0077")):
        assert s[key] == [value], key
    assert command in s["ExecStart"][0]


def test_the_guard_and_the_watch_do_not_share_a_user_or_a_workspace():
    guard, watch = settings("custodes-guard.service"), settings("custodes-watch.service")
    assert guard["User"] != watch["User"] and guard["ReadWritePaths"] != watch["ReadWritePaths"]
    handoff = settings("custodes-guard-handoff.service")
    assert handoff["ReadWritePaths"] == ["/var/lib/custodes-guard/guard/access /var/lib/custodes/inbox"]
    assert handoff["PrivateNetwork"] == ["true"] and handoff["NoNewPrivileges"] == ["true"]


def _installed_copies(tmp_path) -> Path:
    """The units with their executables where this machine has them (verify checks they exist)."""
    custodes = shutil.which("custodes") or str(Path(sys.executable).with_name("custodes"))
    out = tmp_path / "units"
    out.mkdir()
    for f in DEPLOY.glob("custodes-*"):
        text = f.read_text().replace("/usr/local/bin/custodes", custodes)
        text = text.replace("/usr/local/lib/custodes/guard-handoff", str(DEPLOY / "guard-handoff"))
        (out / f.name).write_text(text)
    return out


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path):
    if not shutil.which("custodes"):
        pytest.skip("the custodes entry point is not installed (pip install -e .)")
    units = sorted(_installed_copies(tmp_path).iterdir())
    r = subprocess.run([ANALYZE, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=120)
    # verify exits 0 on a misspelt key or value and only says so: any line it prints is a fault
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stderr + r.stdout


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", [*sorted(SERVICES), "custodes-guard-handoff.service"])
def test_systemd_rates_the_exposure_low(tmp_path, name):
    units = _installed_copies(tmp_path)
    r = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", str(units / name)],
                       capture_output=True, text=True, timeout=120)
    if "--offline" in r.stderr and "unrecognized" in r.stderr:
        pytest.skip("this systemd-analyze has no --offline")
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    assert level, r.stdout + r.stderr
    assert float(level.group(1)) <= 2.0  # systemd's scale: 0 (locked down) to 10; "OK" is below 4


def test_guard_handoff_moves_finished_files_whole_and_private(tmp_path):
    src, dst = tmp_path / "events", tmp_path / "inbox" / "guard"
    src.mkdir(mode=0o700)
    (src / "access-1.jsonl").write_text('{"a": 1}\n')
    (src / "access-2.jsonl").write_text('{"a": 2}\n')
    (src / ".access-3.jsonl.part").write_text('{"a": 3')  # still being written
    (src / "notes.txt").write_text("not an event file")
    user = pwd.getpwuid(os.getuid()).pw_name
    subprocess.run(["sh", str(DEPLOY / "guard-handoff"), str(src), str(dst), user], check=True, timeout=60)
    assert sorted(p.name for p in dst.iterdir()) == ["access-1.jsonl", "access-2.jsonl"]
    assert (dst / "access-2.jsonl").read_text() == '{"a": 2}\n'
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in dst.iterdir())
    assert stat.S_IMODE(dst.stat().st_mode) == 0o700
    assert sorted(p.name for p in src.iterdir()) == [".access-3.jsonl.part", "notes.txt"]
