"""Loopback receivers for the sinks' tests: a webhook server that checks signatures and can be
taken down, syslog over UDP and TCP, and an SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    """POSTs land in ``received`` (headers, body) when up; a down receiver answers ``status``
    (or refuses connections with ``refuse=True``). With ``secret`` set, it checks the signature
    the way a receiver should, and counts bad ones."""

    def __init__(self, secret: bytes | None = None):
        self.secret = secret
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.delay:
                    threading.Event().wait(outer.delay)
                ok = outer.status // 100 == 2
                if ok and outer.secret is not None:
                    want = "sha256=" + hmac.new(outer.secret, body, hashlib.sha256).hexdigest()
                    if not hmac.compare_digest(want, self.headers.get("X-Custodes-Signature", "")):
                        with outer._lock:
                            outer.bad_signatures += 1
                        ok = False
                if ok:
                    with outer._lock:
                        outer.received.append({"headers": dict(self.headers), "body": body,
                                               "json": json.loads(body)})
                self.send_response(outer.status if ok else (outer.status if outer.status // 100 != 2 else 401))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def ids(self) -> list[str]:
        return [r["json"]["alert_id"] for r in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SyslogUDP:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def receive(self) -> bytes:
        return self.sock.recvfrom(65535)[0]

    def close(self):
        self.sock.close()


class SyslogTCP:
    """Collects what TCP clients send; ``records()`` splits it by RFC 6587 octet counting."""

    def __init__(self):
        self.data = b""
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                while chunk := self.request.recv(65536):
                    with outer._lock:
                        outer.data += chunk

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[bytes]:
        out, data = [], self.data
        while data:
            length, _, rest = data.partition(b" ")
            n = int(length)
            out.append(rest[:n])
            data = rest[n:]
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
