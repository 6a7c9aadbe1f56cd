"""``email``: one message per alert over SMTP: STARTTLS (default, port 587) or SMTPS (``ssl``,
port 465), certificates verified (against ``ca_file`` when given), and authentication only ever
over TLS. Plain SMTP without TLS is allowed only with no credentials (a local relay on port 25).

The subject is the one-line headline (control characters escaped, so a crafted title cannot add
a header); the body is the summary, then the alert object as JSON.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from custodes.alerts import text
from custodes.alerts.sinks import DeliveryError, network_error


def message(config, alert: dict) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = text.headline(alert)[:250]
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=alert["alert_id"], domain="custodes")
    msg["X-Custodes-Alert-Id"] = alert["alert_id"]
    msg.set_content("\n".join(text.body_lines(alert)) + "\n\n"
                    + json.dumps(alert, indent=2, ensure_ascii=False) + "\n")
    return msg


def _context(config) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"cannot load the CA file {config.ca_file} ({type(exc).__name__})") from None


def send(config, alert: dict, body: bytes) -> None:
    port = config.effective_port()
    context = _context(config) if (config.ssl or config.starttls) else None
    try:
        if config.ssl:
            smtp = smtplib.SMTP_SSL(config.host, port, timeout=config.timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, port, timeout=config.timeout)
        with smtp:
            if config.starttls:
                smtp.starttls(context=context)
            if config.username is not None:
                smtp.login(config.username, config.password())
            refused = smtp.send_message(message(config, alert))
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("the server does not offer STARTTLS (nothing sent in clear)") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP authentication refused ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP refused all {len(exc.recipients)} recipients") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP failed ({type(exc).__name__})") from None
    except (OSError, ssl.SSLError) as exc:
        raise network_error(exc, config.timeout) from None
    if refused:
        # retried: those who took it get it again, with the same X-Custodes-Alert-Id
        raise DeliveryError(f"SMTP refused {len(refused)} of {len(config.to)} recipients")
