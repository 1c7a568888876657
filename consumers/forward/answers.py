"""What an agent service's answer means for the event: done, retried (when), or dead-lettered.

As the Standard Webhooks specification ("Delivery success and failure") and HTTP have it: a 2xx is a success;
408 (the server timed out), 429 (rate limited) and any 5xx are worth another try, after the answer's
`Retry-After` where it gives one (seconds, or an HTTP date), else after the worker's backoff; any other answer
(a 3xx: redirects are not followed; a 4xx: the request itself is refused) will not change by retrying, so the
event goes to the DLQ, from where `webhooks replay` sends it again once the agent service is fixed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from consumers.errors import HandlerError, PermanentError, RetryLater

# Answers that a later try may turn into a success.
RETRIED_STATUSES = frozenset({408, 429})


def answer_error(status: int, retry_after: str | None, *, now: datetime) -> HandlerError | None:
    """None for a success, else the error that retries or dead-letters the event (its message names the status).

    Args:
        status: the answer's HTTP status.
        retry_after: its `Retry-After` header, if any.
        now: the current time, to turn an HTTP date into a delay.
    """
    if 200 <= status < 300:
        return None
    reason = f"agent service answered {_status_text(status)}"
    if status in RETRIED_STATUSES or status >= 500:
        delay_s = retry_after_s(retry_after, now=now)
        if delay_s is None:
            return HandlerError(reason)
        return RetryLater(f"{reason}, Retry-After {delay_s:g}s", delay_s=delay_s)
    if 300 <= status < 400:
        reason += " (a redirect, not followed: set FORWARD_URL to where it points)"
    return PermanentError(reason)


def retry_after_s(value: str | None, *, now: datetime) -> float | None:
    """The seconds a `Retry-After` header asks to wait: `120`, or an HTTP date (0 once it has passed).

    None where there is no header or it is neither (the worker's backoff applies then). A wait longer than the
    worker allows is cut by it (`RetryLater`).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; `-0000` parses as naive
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
