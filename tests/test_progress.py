"""Progress on long steps, for a person at a terminal only (custodes.progress): drawn on stderr
when it is a terminal (or CUSTODES_PROGRESS=always: a pty, ``script``), never into a pipe, a
log or stdout; what it shows of a file's name is plain text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.lake.conftest import access_row, write_csv

ESC = "\x1b"


def custodes(*argv, progress=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "CUSTODES_PROGRESS"}
    if progress:
        env["CUSTODES_PROGRESS"] = progress
    return subprocess.run([sys.executable, "-m", "custodes", *argv], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


@pytest.fixture
def two_files(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    write_csv(folder / "a.csv", [access_row(i) for i in range(1, 3001)])
    write_csv(folder / "b.csv", [access_row(i) for i in range(3001, 4001)])
    return folder


def test_ingest_at_a_terminal_shows_files_and_rows_per_second_and_stdout_stays_json(tmp_path, two_files):
    r = custodes("ingest", "access", str(two_files), "--output", "json", "--workspace", str(tmp_path / "ws"),
                 progress="always")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == 4000  # the bar never reaches stdout
    assert "ingest access" in r.stderr and "2/2" in r.stderr and "files" in r.stderr
    assert "4,000 rows" in r.stderr and "rows/s" in r.stderr


def test_detect_at_a_terminal_shows_each_rule(tmp_path, two_files):
    ws = str(tmp_path / "ws")
    assert custodes("ingest", "access", str(two_files), "--workspace", ws).returncode == 0
    r = custodes("detect", "--workspace", ws, "--format", "json", progress="always")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    rules = summary["rules_run"] + len(summary["rules_skipped"])
    assert "detect" in r.stderr and f"{rules}/{rules}" in r.stderr and "rules" in r.stderr
    assert "token.unissued" in r.stderr


def test_piped_output_has_no_progress(tmp_path, two_files):
    ws = str(tmp_path / "ws")
    for r in (custodes("ingest", "access", str(two_files), "--workspace", ws),
              custodes("detect", "--workspace", ws)):
        assert r.returncode == 0, r.stderr
        assert ESC not in r.stderr + r.stdout and "rows/s" not in r.stderr and "━" not in r.stderr


def test_never_turns_it_off_even_when_forced_elsewhere(tmp_path, two_files):
    r = custodes("ingest", "access", str(two_files), "--workspace", str(tmp_path / "ws"), progress="never")
    assert r.returncode == 0 and "rows/s" not in r.stderr and ESC not in r.stderr


def test_a_file_name_is_shown_as_plain_text_never_as_markup_or_an_escape(tmp_path):
    """W or L names a log file: Rich markup in it is shown as typed, and a terminal escape in it
    (here one that retitles the window) is defused."""
    folder = tmp_path / "logs"
    folder.mkdir()
    name = "x[bold red]y[blink]\x1b]0;owned\x07z.csv"
    write_csv(folder / name, [access_row(1)])
    r = custodes("ingest", "access", str(folder), "--workspace", str(tmp_path / "ws"), progress="always")
    assert r.returncode == 0, r.stderr
    assert "x[bold red]y[blink]" in r.stderr and "\x1b]0;owned" not in r.stderr


def test_the_demo_replay_reports_the_hours_of_data_time_fed_cycle_by_cycle(tmp_path):
    from custodes.progress import Bar
    from custodes.simulate import simulate
    from custodes.watch.replay import replay
    from custodes.workspace import Workspace

    simulate(tmp_path / "world", customers=200, days=14, seed=1)
    cycles = []

    def cycle(ws):
        cycles.append(1)
        return SimpleNamespace(detect={}, seconds=0.0, ok=True, alerts={})

    class Recorder(Bar):
        total, at = None, []

        def start(self, total):
            self.total = total

        def to(self, completed, name=None):
            self.at.append(completed)

    bar = Recorder()
    replay(Workspace.open(tmp_path / "ws"), tmp_path / "world", tmp_path / "feed", cycle=cycle, progress=bar)
    assert bar.total == 14 * 24 and bar.at[-1] == bar.total
    assert bar.at == sorted(bar.at) and len(bar.at) == 2 * len(cycles)  # before and after each cycle
