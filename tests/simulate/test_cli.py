"""`custodes simulate` from the command line: output, summary JSON, and bad input."""

from __future__ import annotations

import json

import pytest

from custodes.cli import main
from custodes.simulate import load_truth, simulate


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_json_summary_on_stdout_and_nothing_else(tmp_path, capsys):
    code, out, err = run(capsys, "--out", str(tmp_path / "w"), "--customers", "200", "--days", "4",
                         "--seed", "2", "--scenario", "curious_insider", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert list(summary["scenarios"]) == ["curious_insider"]
    assert summary["counts"]["access"] > 1000 and summary["counts"]["customers"] == 200
    assert (tmp_path / "w" / "truth" / "curious_insider.accounts").is_file()
    assert not (tmp_path / "w" / "truth" / "key_forgery.accounts").exists()


def test_text_summary(tmp_path, capsys):
    code, out, _ = run(capsys, "--out", str(tmp_path / "w"), "--customers", "100", "--days", "3", "--no-scenarios")
    assert code == 0 and "access" in out and "scenario" not in out
    assert load_truth(tmp_path / "w")["scenarios"] == []


@pytest.mark.parametrize("args, code, words", [
    (["--customers", "-5"], 2, "--customers"),
    (["--customers", "10"], 2, "at least 50"),
    (["--days", "0"], 2, "--days"),
    (["--days", "2"], 2, "at least 3 days"),
    (["--scenario", "nosuch"], 2, "nosuch"),
    (["--seed", "-1"], 2, "--seed"),
    (["--start", "yesterday"], 2, "--start"),
    (["--scenario", "key_forgery", "--no-scenarios"], 2, "cannot be combined"),
])
def test_bad_options_exit_2_with_one_clear_message(tmp_path, capsys, args, code, words):
    got, out, err = run(capsys, "--out", str(tmp_path / "w"), *args)
    assert got == code and out == ""
    assert words in err and "Traceback" not in err


def test_output_that_is_a_file_exits_1(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    code, out, err = run(capsys, "--out", str(target), "--customers", "100", "--days", "3")
    assert code == 1 and "not a directory" in err and "Traceback" not in err
    assert target.read_text() == "x"


def test_a_foreign_non_empty_directory_is_left_alone(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = run(capsys, "--out", str(tmp_path / "mine"), "--customers", "100", "--days", "3")
    assert code == 1 and "not empty" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_library_rejects_bad_values_with_usage_errors(tmp_path):
    from custodes.errors import UsageError

    with pytest.raises(UsageError, match="unknown scenario"):
        simulate(tmp_path / "w", scenarios=["key_forgery", "bogus"])
    with pytest.raises(UsageError, match="--customers"):
        simulate(tmp_path / "w", customers=-1)


def test_summary_reads_well_and_serialises(tmp_path):
    summary = simulate(tmp_path / "w", customers=100, days=3, seed=4, scenarios=["key_forgery"])
    text = str(summary)
    assert "100 customers, 3 days" in text and "key_forgery" in text and str(tmp_path / "w") in text
    document = json.loads(json.dumps(summary.to_dict()))
    assert document["paths"]["access"].endswith("access/YYYY-MM-DD.parquet")
    assert document["scenarios"]["key_forgery"]["accounts"] == "truth/key_forgery.accounts"
