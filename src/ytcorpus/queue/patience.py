"""What every queue operation shares: patience with a database that is briefly away,
timestamps as the original stored them, and statements in pages of bounded width."""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timezone
from typing import Iterator

from ..core.errors import DatabaseUnavailableError, YtcorpusError

log = logging.getLogger(__name__)


def patient(method):
    """Repeat a write that is safe to repeat while the database is unavailable (each is
    guarded by who holds the row, so a second try after a lost commit changes nothing),
    up to the queue's outage_wait_s; then raise DatabaseUnavailableError. Claims are not
    repeated: a claim whose commit was lost would hold rows nobody works on."""

    @functools.wraps(method)
    def patient(self, *args, **kwargs):
        deadline = time.monotonic() + self.outage_wait_s
        delay = 0.25
        while True:
            try:
                return method(self, *args, **kwargs)
            except DatabaseUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: database unavailable, trying again in %.1f s: %s",
                            method.__name__, delay, exc)
            time.sleep(delay)
            delay = min(5.0, delay * 2)

    return patient


def utc_text(ts: float | None = None) -> str:
    """Timestamps as the original stored them: 'YYYY-MM-DD HH:MM:SS' in UTC."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_since(value: str) -> str:
    """Accept ISO dates/times or a unix timestamp; return the stored text form."""
    value = value.strip()
    try:
        return utc_text(float(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise YtcorpusError(f"--since: not a date/time: {value!r}") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def pages(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
