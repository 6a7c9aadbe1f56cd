"""Output files an operator names (--out, --accounts-out, report --out) hold names, e-mails and
phones. A local user who can create files and links where they land (a shared /tmp) must get
none of it: no write through a symlink, no reuse of a file they created, no predictable
temporary name, and an existing file replaced only with --force."""

from __future__ import annotations

import os
import stat

import pytest

from custodes.cli import main

NOBODY = 65534


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


#: each command with a user-named output, as (argv before the file, option naming the file)
WRITERS = {
    "notify": (["notify", "--actor", "e-cs"], "--out"),
    "scope": (["scope", "--kid", "k-old"], "--accounts-out"),
    "report": (["report", "--incident", "i-forgery", "--format", "md"], "--out"),
}


def write(capsys, ws, which, target, *extra):
    argv, option = WRITERS[which]
    return run(capsys, *argv, option, str(target), *extra, "--workspace", str(ws.root))


@pytest.fixture
def shared(tmp_path):
    """A world-writable sticky directory, like /tmp."""
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o1777)
    return d


def one_line_error(code, out, err):
    return code == 1 and out == "" and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("which", sorted(WRITERS))
@pytest.mark.parametrize("force", [False, True])
def test_a_symlink_at_the_output_is_never_written_through(lake_ws, fake_detect, capsys, shared, tmp_path,
                                                          which, force):
    victim = tmp_path / "victim"
    victim.write_text("the operator's own file\n")
    link = shared / "out.csv"
    link.symlink_to(victim)
    code, out, err = write(capsys, lake_ws, which, link, *(["--force"] if force else []))
    assert one_line_error(code, out, err) and "symbolic link" in err, err
    assert victim.read_text() == "the operator's own file\n" and link.is_symlink()
    assert [p.name for p in shared.iterdir()] == ["out.csv"]  # no temporary file left behind


@pytest.mark.parametrize("which", sorted(WRITERS))
def test_a_file_another_user_created_is_not_reused(lake_ws, fake_detect, capsys, shared, which):
    if os.geteuid() != 0:
        pytest.skip("needs root to create a file as another user")
    planted = shared / "out.csv"
    planted.write_text("")
    os.chown(planted, NOBODY, NOBODY)
    planted.chmod(0o644)
    with open(planted) as theirs:  # the other user keeps it open, waiting for the data
        code, out, err = write(capsys, lake_ws, which, planted)
        assert one_line_error(code, out, err) and "exists; pass --force" in err
        assert planted.stat().st_uid == NOBODY and planted.stat().st_size == 0
        code, _, err = write(capsys, lake_ws, which, planted, "--force")
        assert code == 0, err
        st = planted.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (os.geteuid(), 0o600)  # a new file of ours
        assert theirs.read() == ""  # nothing reached the file they hold
    assert planted.read_text().strip()


def test_an_existing_output_is_replaced_only_with_force(lake_ws, capsys, tmp_path):
    target = tmp_path / "accounts.csv"
    target.write_text("yesterday's export\n")
    code, out, err = write(capsys, lake_ws, "scope", target)
    assert one_line_error(code, out, err) and "--force" in err
    assert target.read_text() == "yesterday's export\n"
    code, _, err = write(capsys, lake_ws, "scope", target, "--force")
    assert code == 0, err
    assert target.read_text().startswith("account_id,") and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_report_uses_no_predictable_temporary_name(lake_ws, fake_detect, capsys, shared, tmp_path):
    """custodes used to write `.NAME.tmp-PID` and rename it: a link planted under that name sent the
    report into the link's target."""
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    target = shared / "r.md"
    for pid in {os.getpid(), os.getppid()}:
        (shared / f".r.md.tmp-{pid}").symlink_to(victim)
    code, out, err = write(capsys, lake_ws, "report", target)
    assert code == 0, err
    assert victim.read_text() == "keep me\n"
    assert "개인정보 유출 등 신고서" in target.read_text() and not target.is_symlink()


@pytest.mark.parametrize("force", [False, True])
def test_an_output_that_cannot_be_a_file_is_one_line(lake_ws, capsys, force):
    code, out, err = run(capsys, "notify", "--actor", "e-cs", "--out", "/proc/version", *(["--force"] if force else []),
                         "--workspace", str(lake_ws.root))
    assert one_line_error(code, out, err) and "/proc/version" in err, err
