"""``slack``: a Slack incoming-webhook message, a readable summary and, when ``console.url``
is set, a link to the incident's page.

Slack reads ``<...>`` as links and mentions (``<!channel>``) and ``&`` as an entity: text from
the logs has those three escaped, so a crafted title cannot page a whole channel or hide a link.
"""

from __future__ import annotations

import json

from custodes.alerts import text
from custodes.alerts.sinks.webhook import post


def escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(alert: dict) -> dict:
    head = escape(text.headline(alert))
    lines = [escape(line) for line in text.body_lines(alert) if not line.startswith("console: ")]
    if alert.get("url"):
        lines.append(f"<{alert['url']}|Open incident {alert['incident_id']} in the console>")
    return {
        "text": head,  # notifications and clients without blocks
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
    }


def send(config, alert: dict, body: bytes) -> None:
    data = json.dumps(payload(alert), ensure_ascii=False).encode("utf-8")
    post(config.webhook_url(), data, {}, config.timeout)
