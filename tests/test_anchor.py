"""custodes.anchor: heads written outside the workspace (an append-only file, syslog, HTTP),
never lost when a sink fails, and read back to catch a rolled-back chain."""

from __future__ import annotations

import json
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from custodes import anchor
from custodes.errors import CustodesError


def configure(ws, text: str) -> None:
    ws.config_path.write_text(text)


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    return d


def test_file_sink_appends_one_private_line_per_head(workspace, outside):
    path = outside / "anchor.jsonl"
    configure(workspace, f"seal:\n  anchor: {path}\n")
    assert anchor.record(workspace, "lake", 1, "a" * 64, "f" * 64) == []
    assert anchor.record(workspace, "audit", 7, "b" * 64) == []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["kind"], r["seq"], r["head"], r["key"]) for r in lines] == [("lake", 1, "a" * 64, "f" * 64),
                                                                          ("audit", 7, "b" * 64, None)]
    assert lines[0]["workspace"] == str(workspace.root.resolve()) and lines[0]["time"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["seals/anchor.jsonl", "link"])
def test_an_anchor_inside_the_workspace_is_refused(workspace, outside, where):
    target = workspace.root / "seals" / "anchor.jsonl"
    given = target
    if where == "link":  # a path outside that leads back in
        given = outside / "anchor.jsonl"
        given.symlink_to(target)
    configure(workspace, f"seal:\n  anchor: {given}\n")
    with pytest.raises(CustodesError, match="inside the workspace"):
        anchor.record(workspace, "lake", 1, "a" * 64)


@pytest.mark.parametrize("text, message", [
    ("seal:\n  anchor: relative.jsonl\n", "absolute path"),
    ("seal:\n  anchor: {ftp: x}\n", "seal.anchor.ftp: unknown key"),
    ("seal:\n  anchor: {syslog: 'udp://host'}\n", "udp://HOST:PORT"),
    ("seal:\n  anchor: {http: 'file:///etc/passwd'}\n", "not an http"),
])
def test_bad_anchor_settings_are_one_clear_error(workspace, text, message):
    configure(workspace, text)
    with pytest.raises(CustodesError, match=message):
        anchor.sinks(workspace)


def test_a_failing_sink_queues_the_record_and_the_next_call_sends_it(workspace, outside):
    path = outside / "missing-dir" / "anchor.jsonl"  # the directory is not there yet: writes fail
    configure(workspace, f"seal:\n  anchor: {path}\n")
    warnings = anchor.record(workspace, "lake", 1, "a" * 64)
    assert len(warnings) == 1 and "not anchored to file" in warnings[0] and "queued" in warnings[0]
    assert anchor.pending(workspace) == 1
    assert anchor.flush(workspace)  # still failing: still queued, said again
    assert anchor.pending(workspace) == 1
    path.parent.mkdir()
    assert anchor.record(workspace, "lake", 2, "b" * 64) == []
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [1, 2]  # in order
    assert anchor.pending(workspace) == 0 and not anchor.pending_path(workspace).exists()


def _udp_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def test_syslog_over_udp_is_rfc5424(workspace):
    server = _udp_server()
    try:
        configure(workspace, f"seal:\n  anchor: {{syslog: 'udp://127.0.0.1:{server.getsockname()[1]}'}}\n")
        assert anchor.record(workspace, "lake", 3, "c" * 64, "d" * 64) == []
        message = server.recv(65536).decode()
    finally:
        server.close()
    header, _, rest = message.partition(" [")
    pri_version, timestamp, host, app, procid, msgid = header.split(" ")
    assert pri_version == "<109>1" and timestamp.endswith("Z") and app == "custodes" and msgid == "anchor"
    sd, _, msg = rest.partition("] ")
    assert sd.startswith("custodes-anchor@32473 ") and 'seq="3"' in sd and f'head="{"c" * 64}"' in sd
    assert json.loads(msg)["head"] == "c" * 64


def test_syslog_over_tcp_uses_octet_counting(workspace):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    received = []

    def accept():
        conn, _ = server.accept()
        with conn:
            received.append(conn.makefile("rb").read())

    t = threading.Thread(target=accept)
    t.start()
    try:
        configure(workspace, f"seal:\n  anchor: {{syslog: 'tcp://127.0.0.1:{server.getsockname()[1]}'}}\n")
        assert anchor.record(workspace, "lake", 4, "e" * 64) == []
        t.join(5)
    finally:
        server.close()
    length, _, message = received[0].partition(b" ")
    assert int(length) == len(message) and message.startswith(b"<109>1 ")


def test_http_sink_posts_the_record_and_a_refusal_is_retried(workspace):
    bodies, statuses = [], [503, 200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            bodies.append((self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(statuses.pop(0))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        configure(workspace, f"seal:\n  anchor: {{http: 'http://127.0.0.1:{server.server_port}/heads'}}\n")
        warnings = anchor.record(workspace, "lake", 5, "f" * 64)
        assert "HTTP 503" in warnings[0] and anchor.pending(workspace) == 1
        assert anchor.flush(workspace) == [] and anchor.pending(workspace) == 0
    finally:
        server.shutdown()
    assert [json.loads(b)["seq"] for _, b in bodies] == [5, 5]
    assert bodies[0][0] == "application/json"


def test_check_finds_a_head_the_chain_no_longer_holds(tmp_path):
    path = tmp_path / "anchor.jsonl"
    for seq, head, kind in [(1, "a", "lake"), (2, "b", "lake"), (9, "z", "audit"), (3, "c", "lake")]:
        anchor.append(path, {"v": 1, "kind": kind, "workspace": "/w", "seq": seq, "head": head * 64,
                             "key": None, "time": "t"})
    chain = {1: "a" * 64, 2: "b" * 64}  # rolled back to seq 2
    result = anchor.check(path, "lake", chain.get, "/w")
    assert result.records == 3 and len(result.problems) == 1 and "head 3" in result.problems[0]
    audit = anchor.check(path, "audit", {9: "y" * 64}.get, "/w")  # rewritten at 9
    assert audit.records == 1 and "holds another seal" in audit.problems[0]
    assert "records no lake head" in anchor.check(path, "lake", chain.get, "/other").problems[0]


def test_last_reads_the_newest_record_from_the_end(tmp_path):
    path = tmp_path / "anchor.jsonl"
    path.write_text("".join(json.dumps({"v": 1, "kind": "lake", "workspace": f"/w{seq % 2}", "seq": seq,
                                        "head": "a" * 64, "key": None, "time": "t"}) + "\n" for seq in range(1, 3000)))
    assert anchor.last(path, "lake", "/w0")["seq"] == 2998  # across many 64 KiB blocks
    assert anchor.last(path, "lake", "/w1")["seq"] == 2999
    assert anchor.last(path, "audit", "/w1") is None
    assert anchor.last(tmp_path / "none.jsonl", "lake", "/w1") is None


def test_a_torn_line_in_the_anchor_is_reported(tmp_path):
    path = tmp_path / "anchor.jsonl"
    anchor.append(path, {"v": 1, "kind": "lake", "workspace": "/w", "seq": 1, "head": "a" * 64, "key": None, "time": "t"})
    with open(path, "ab") as fh:
        fh.write(b'{"v":1,"kind":"la')
    result = anchor.check(path, "lake", {1: "a" * 64}.get, "/w")
    assert result.records == 1 and result.problems == [f"{path}:2: not an anchor record"]


def test_a_garbled_retry_queue_is_reported_not_fatal(workspace, outside):
    path = outside / "anchor.jsonl"
    configure(workspace, f"seal:\n  anchor: {path}\n")
    anchor.pending_path(workspace).parent.mkdir(parents=True)
    anchor.pending_path(workspace).write_text('{"sink": "file", "rec\nnot json\n')
    warnings = anchor.record(workspace, "lake", 1, "a" * 64)
    assert len(warnings) == 2 and all("not a queued anchor record; dropped" in w for w in warnings)
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [1]
    assert anchor.pending(workspace) == 0
