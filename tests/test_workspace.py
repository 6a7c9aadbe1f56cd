"""Private directories: what custodes creates, and what it finds already there, is 0700 and ours."""

from __future__ import annotations

import os
import stat

import pytest

from custodes.cli import main
from custodes.errors import CustodesError
from custodes.workspace import Workspace, private_dir, private_open

NOBODY = 65534


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_directories_and_their_parents_are_0700(tmp_path):
    private_dir(tmp_path / "ws" / "respond" / "reports")
    assert [mode(tmp_path / p) for p in ("ws", "ws/respond", "ws/respond/reports")] == [0o700] * 3


def test_a_looser_directory_found_there_is_tightened(tmp_path):
    loose = tmp_path / "ws"
    loose.mkdir(mode=0o755)
    (loose / "respond").mkdir()
    os.chmod(loose / "respond", 0o777)
    private_dir(loose / "respond")
    Workspace.open(loose)
    assert mode(loose) == 0o700 and mode(loose / "respond") == 0o700


def test_a_directory_another_user_owns_is_refused(tmp_path, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root to create a directory as another user")
    theirs = tmp_path / "ws"
    theirs.mkdir()
    os.chmod(theirs, 0o777)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(CustodesError, match="belongs to uid 65534"):
        private_dir(theirs)
    with pytest.raises(SystemExit) as exit_info:  # on the command line: one line, exit 1
        main(["status", "--workspace", str(theirs)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "belongs to uid 65534" in err and "Traceback" not in err
    assert mode(theirs) == 0o777  # left as it was: not ours to change


def test_private_open_never_follows_a_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "audit.jsonl").symlink_to(victim)
    with pytest.raises(CustodesError, match="symbolic link"):
        private_open(tmp_path / "audit.jsonl", "a")
    assert victim.read_text() == "keep\n"
