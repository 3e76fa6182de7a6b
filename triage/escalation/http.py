"""What the HTTP-based targets share: classifying a response into delivered, retry or dead."""

from __future__ import annotations

from datetime import datetime

import httpx

from triage.escalation.base import (
    RETRYABLE_STATUSES,
    DeliveryReceipt,
    PermanentDeliveryError,
    RetryableDeliveryError,
    parse_retry_after,
    shorten,
)


def post(
    client: httpx.Client, url: str, *, what: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST, turning transport failures into retryable errors that never name the URL (it may be a secret)."""
    try:
        return client.post(url, content=content, headers=headers)
    except httpx.TimeoutException as error:
        raise RetryableDeliveryError(f"{what} timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise RetryableDeliveryError(f"{what} unreachable ({type(error).__name__}: {error})") from None


def receipt_or_raise(response: httpx.Response, *, what: str, now: datetime) -> DeliveryReceipt:
    """2xx delivered; 408/409/425/429/5xx retry (honouring Retry-After); any other status is final."""
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryReceipt(status, shorten(response.text, 200))
    body = shorten(response.text.strip(), 500)
    message = f"{what} answered {status}: {body}" if body else f"{what} answered {status}"
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        raise RetryableDeliveryError(message, status, retry_after)
    raise PermanentDeliveryError(message, status)
