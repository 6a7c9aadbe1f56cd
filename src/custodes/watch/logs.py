"""Log lines on stderr for a service: text for people, or one JSON object a line
(python-json-logger) for a log pipeline.

Messages carry text from outside (file names, errors quoting a log line): in text form every
control character is escaped, so a file named ``x\\nERROR forged`` cannot start a line of its
own; in JSON form the encoding does the same.
"""

from __future__ import annotations

import logging
import sys
import time

from pythonjsonlogger.json import JsonFormatter

from custodes.alerts.text import printable

FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DATE = "%Y-%m-%dT%H:%M:%SZ"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def json_formatter() -> logging.Formatter:
    # Every field given with extra= is kept; timestamp is RFC 3339 in UTC.
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         timestamp=False, datefmt=_DATE, json_ensure_ascii=False)


def configure(fmt: str = "text", level: int = logging.INFO, stream=None) -> logging.Handler:
    """Send the ``custodes`` loggers to stderr in ``fmt``; returns the handler (tests remove it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = json_formatter() if fmt == "json" else TextFormatter(_TEXT, _DATE)
    formatter.converter = time.gmtime  # times in UTC, as everywhere in custodes
    handler.setFormatter(formatter)
    root = logging.getLogger("custodes")
    for old in [h for h in root.handlers if getattr(h, "_custodes_watch", False)]:
        root.removeHandler(old)
    handler._custodes_watch = True
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler
