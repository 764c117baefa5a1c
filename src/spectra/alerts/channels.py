"""What each channel sends, and sending it: mail over SMTP (aiosmtplib), Slack's incoming
webhook (`text` + Block Kit `blocks`), a Microsoft Teams incoming webhook (a message carrying one
Adaptive Card, the format Teams workflows accept) and the generic webhook, signed exactly as the
low-balance webhook is (`ledger.webhooks.sign`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiohttp
import aiosmtplib

from spectra.alerts.models import Alert, AlertDelivery
from spectra.kit.clock import utc_now
from spectra.ledger.webhooks import SIGNATURE_HEADER, sign


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool


class DeliveryFailedError(Exception):
    """One attempt failed; the message (no secrets) is kept on the delivery."""


def alert_json(delivery: AlertDelivery, alert: Alert | None) -> dict[str, Any]:
    """The generic webhook's body."""
    body: dict[str, Any] = {
        "id": str(delivery.id),
        "event": f"alert.{alert.event}" if alert else "mail",
        "title": delivery.subject,
        "message": delivery.body,
        "at": (alert.created_at if alert else delivery.created_at).isoformat(),
    }
    if alert is not None:
        body.update(
            alert_id=str(alert.id),
            subject_kind=alert.subject_kind,
            subject_id=alert.subject_id,
            threshold_percent=alert.threshold_percent,
            data=alert.data,
        )
    return body


def slack_payload(delivery: AlertDelivery) -> dict[str, Any]:
    """Slack incoming webhook: `text` (notifications, fallback) and Block Kit blocks."""
    return {
        "text": f"{delivery.subject}: {delivery.body}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": delivery.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": delivery.body[:3000]}},
        ],
    }


def teams_payload(delivery: AlertDelivery) -> dict[str, Any]:
    """Teams incoming webhook (workflows): one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": delivery.subject,
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": delivery.body, "wrap": True},
                    ],
                },
            }
        ],
    }


async def post_json(
    http: aiohttp.ClientSession, url: str, body_obj: dict[str, Any], headers: dict[str, str]
) -> None:
    body = json.dumps(body_obj, separators=(",", ":"), sort_keys=True).encode()
    try:
        async with http.post(
            url, data=body, headers={"content-type": "application/json", **headers}
        ) as response:
            if not 200 <= response.status < 300:
                raise DeliveryFailedError(f"HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryFailedError(f"{type(exc).__name__}: {exc}"[:300]) from None


async def send_webhook(
    http: aiohttp.ClientSession,
    url: str,
    key: bytes,
    delivery: AlertDelivery,
    alert: Alert | None,
) -> None:
    body_obj = alert_json(delivery, alert)
    body = json.dumps(body_obj, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        SIGNATURE_HEADER: sign(key, body, int(utc_now().timestamp())),
        "X-Spectra-Event": body_obj["event"],
        "X-Spectra-Delivery": str(delivery.id),
    }
    await post_json(http, url, body_obj, headers)


async def send_email(smtp: SmtpConfig | None, to: str, subject: str, text: str) -> None:
    if smtp is None:
        raise DeliveryFailedError("SMTP is not configured (set smtp_host and smtp_from).")
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            start_tls=smtp.starttls,
            timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailedError(f"{type(exc).__name__}: {exc}"[:300]) from None
