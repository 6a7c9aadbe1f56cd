"""``alerts:`` in custodes.yaml, checked strictly (pydantic): a typo is an error that names the
sink and the field, never a sink silently left out.

Secrets stay out of custodes.yaml where the sink allows it (``secret_file``, ``password_file``,
``url_file``) and are read only when a message is sent, never logged, never stored in the outbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from custodes.errors import CustodesError
from custodes.workspace import Workspace, named

Severity = Literal["info", "low", "medium", "high", "critical"]
#: lowest first, as custodes.detect.rule.SEVERITIES (not imported: it would bring Ibis into every
#: command that reads custodes.yaml)
SEVERITIES = get_args(Severity)
DEFAULT_MIN_SEVERITY = "high"


class _Sink(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    min_severity: Severity | None = None
    timeout: float = Field(10.0, gt=0, le=120)


def _read_secret(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CustodesError(f"cannot read the {what} {path}: {exc.strerror}") from None
    data = data.rstrip(b"\r\n")
    if not data:
        raise CustodesError(f"the {what} {path} is empty")
    return data


class WebhookSink(_Sink):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret_file: Path | None = None

    def secret(self) -> bytes | None:
        return _read_secret(self.secret_file, "webhook secret file") if self.secret_file else None


class SlackSink(_Sink):
    type: Literal["slack"]
    url: str | None = Field(None, pattern=r"^https?://")
    url_file: Path | None = None

    @model_validator(mode="after")
    def _one_url(self):
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give url or url_file (the incoming-webhook URL is a secret: url_file keeps it out of custodes.yaml)")
        return self

    def webhook_url(self) -> str:
        if self.url is not None:
            return self.url
        url = _read_secret(self.url_file, "Slack URL file").decode("utf-8", "replace").strip()
        if not url.startswith(("https://", "http://")):
            raise CustodesError(f"the Slack URL file {self.url_file} does not hold an http(s) URL")
        return url


class EmailSink(_Sink):
    type: Literal["email"]
    host: str
    port: int | None = Field(None, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False  # SMTPS (implicit TLS, port 465)
    ca_file: Path | None = None  # trust this CA instead of the system's (a private mail relay)
    username: str | None = None
    password_file: Path | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self):
        if self.ssl and self.starttls:
            raise ValueError("ssl (SMTPS) and starttls exclude each other: set starttls: false with ssl: true")
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together")
        if self.username is not None and not (self.ssl or self.starttls):
            raise ValueError("authentication needs TLS: set starttls or ssl (a password is never sent in clear)")
        return self

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return _read_secret(self.password_file, "SMTP password file").decode("utf-8")

    def effective_port(self) -> int:
        return self.port or (465 if self.ssl else 587 if self.starttls else 25)


class SyslogSink(_Sink):
    type: Literal["syslog"]
    host: str = "127.0.0.1"
    port: int = Field(514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    format: Literal["rfc5424", "cef"] = "rfc5424"
    facility: int = Field(16, ge=0, le=23)  # local0
    framing: Literal["octet-counting", "newline"] = "octet-counting"  # TCP only (RFC 6587)


class FileSink(_Sink):
    type: Literal["file"]
    path: Path


SinkConfig = Annotated[WebhookSink | SlackSink | EmailSink | SyslogSink | FileSink,
                       Field(discriminator="type")]


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    base_seconds: float = Field(30.0, gt=0)
    max_seconds: float = Field(3600.0, gt=0)


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_severity: Severity = DEFAULT_MIN_SEVERITY
    update_every_seconds: float = Field(3600.0, ge=0)
    retry: Retry = Retry()
    sinks: list[SinkConfig] = Field(default_factory=list)

    def named_sinks(self) -> dict[str, _Sink]:
        """Each sink by its name: ``name`` when given, else its type, numbered when repeated."""
        return named(self.sinks, "type", "alerts.sinks")

    def threshold(self, sink: _Sink) -> str:
        return sink.min_severity or self.min_severity

    def lowest_threshold(self) -> str:
        ranks = [SEVERITIES.index(self.threshold(s)) for s in self.sinks] or [SEVERITIES.index(self.min_severity)]
        return SEVERITIES[min(ranks)]


def load(workspace: Workspace) -> AlertsConfig | None:
    """The workspace's alert configuration; None when custodes.yaml has no ``alerts:``. The
    section was checked with the whole file (custodes.config): a problem is raised there,
    one line per key."""
    raw = workspace.setting("alerts", None)
    return None if raw is None else AlertsConfig.model_validate(raw)


def console_url(workspace: Workspace) -> str | None:
    """``console.url`` (an http(s) URL, checked with the whole file), without a trailing slash."""
    url = workspace.setting("console.url", None)
    return url.rstrip("/") if url else None
