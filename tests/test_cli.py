"""The CLI's promises from CONTRACT.md §2: exit codes, --workspace anywhere, clean stdout."""

from __future__ import annotations

import subprocess
import sys

from custodes import __version__


def run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "custodes", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and __version__ in r.stdout
    r = run("--help")
    assert r.returncode == 0 and "simulate" in r.stdout and "demo" in r.stdout


def test_unknown_command_is_usage_error():
    r = run("exfiltrate")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
