"""The e-mail sink against a real SMTP server on loopback (aiosmtpd): STARTTLS with a verified
certificate, authentication only over TLS, a wrong password retried, a server without
STARTTLS never given the password, and a crafted title that cannot add a header."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from custodes.alerts import process

from . import tls
from .conftest import NOW, configure, finding, save
from .receivers import free_port

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (pip install -e '.[test]')")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

PASSWORD = "smtp-pass-never-logged"


class Inbox:
    def __init__(self):
        self.messages = []
        self.auth_attempts = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        self.auth_attempts.append((auth_data.login, session.ssl is not None))
        ok = auth_data.login == b"alerts" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp(tmp_path):
    ca_file, context = tls.make(tmp_path)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=inbox.authenticator, auth_required=True, auth_require_tls=True)
    controller.start()
    yield inbox, port, ca_file
    controller.stop()


def _sink(port, ca_file, password_file, **extra):
    return {"type": "email", "host": "127.0.0.1", "port": port, "ca_file": str(ca_file), "username": "alerts",
            "password_file": str(password_file), "from": "custodes@example.org", "to": ["soc@example.org"], **extra}


def test_alert_mail_over_starttls_with_authentication(workspace, smtp, tmp_path):
    inbox, port, ca_file = smtp
    pw = tmp_path / "smtp.pass"
    pw.write_text(PASSWORD + "\n")
    (inc,) = save(workspace, [finding("f-1", title="Forged tokens\r\nBcc: attacker@evil.example")])
    configure(workspace, [_sink(port, ca_file, pw)])
    report = process(workspace, NOW)
    assert report.ok, report.failed
    (sender, rcpts, msg), = inbox.messages
    assert (sender, rcpts) == ("custodes@example.org", ["soc@example.org"])
    assert inbox.auth_attempts == [(b"alerts", True)]  # authenticated, and only inside TLS
    assert msg["X-Custodes-Alert-Id"] == report.enqueued[0]["alert_id"]
    assert "CRITICAL incident opened" in msg["Subject"]
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]  # the crafted title added no header
    body = msg.get_content()
    assert inc["incident_id"] in body
    alert = json.loads(body[body.index("{"):])
    assert alert["alert_id"] == report.enqueued[0]["alert_id"]


def test_wrong_password_fails_is_retried_and_the_password_is_nowhere(workspace, smtp, tmp_path, capsys):
    inbox, port, ca_file = smtp
    pw = tmp_path / "smtp.pass"
    pw.write_text("wrong-" + PASSWORD)
    save(workspace, [finding("f-1")])
    configure(workspace, [_sink(port, ca_file, pw)])
    report = process(workspace, NOW)
    assert inbox.messages == [] and report.failed[0]["error"].startswith("SMTP authentication refused (535")
    assert report.pending == {"email": 1}
    pw.write_text(PASSWORD)
    import datetime as dt

    assert process(workspace, NOW + dt.timedelta(hours=2)).delivered
    assert len(inbox.messages) == 1
    stored = b"".join(p.read_bytes() for p in (workspace.root / "alerts").iterdir() if p.is_file())
    assert PASSWORD.encode() not in stored
    assert PASSWORD not in capsys.readouterr().err


def test_an_untrusted_certificate_is_refused(workspace, smtp, tmp_path):
    inbox, port, _ca = smtp
    (tmp_path / "other").mkdir()
    other_ca, _ = tls.make(tmp_path / "other")
    pw = tmp_path / "smtp.pass"
    pw.write_text(PASSWORD)
    save(workspace, [finding("f-1")])
    configure(workspace, [_sink(port, other_ca, pw)])
    report = process(workspace, NOW)
    assert report.failed[0]["error"].startswith("TLS failed") and inbox.auth_attempts == []


def test_a_server_without_starttls_never_gets_the_password(workspace, tmp_path):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)  # no TLS offered
    controller.start()
    try:
        pw = tmp_path / "smtp.pass"
        pw.write_text(PASSWORD)
        save(workspace, [finding("f-1")])
        ca_file, _ = tls.make(tmp_path)
        configure(workspace, [_sink(port, ca_file, pw)])
        report = process(workspace, NOW)
        assert report.failed[0]["error"] == "the server does not offer STARTTLS (nothing sent in clear)"
        assert inbox.messages == [] and inbox.auth_attempts == []
    finally:
        controller.stop()


def test_authentication_without_tls_is_a_configuration_error(workspace, tmp_path):
    from custodes.errors import CustodesError

    save(workspace, [finding("f-1")])
    configure(workspace, [_sink(25, tmp_path / "ca.pem", tmp_path / "pw", starttls=False)])
    with pytest.raises(CustodesError, match=r"alerts.sinks\[0\].*authentication needs TLS"):
        process(workspace, NOW)
