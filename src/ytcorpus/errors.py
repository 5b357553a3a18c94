"""Typed errors. Every failure a video can meet is one `kind`; the kind says whether
a retry can help. `classify` is the one place that maps yt-dlp, HTTP and network
failures (by exception type and message) to these."""

from __future__ import annotations

import re

# kind -> retryable. One table, used by the queue and the fetcher.
KINDS: dict[str, bool] = {
    # permanent: retrying cannot help
    "private": False,
    "unavailable": False,
    "members_only": False,
    "age_restricted": False,
    "geo_blocked": False,
    "live": False,
    "too_long": False,
    "no_audio": False,
    "not_found": False,
    "corrupt": False,
    "wrong_language": False,
    "invalid": False,
    "unsupported": False,
    "engine": False,
    # retryable: the next try may work
    "network": True,
    "timeout": True,
    "rate_limited": True,
    "server_error": True,
    "bot_check": True,
    "interrupted": True,
    "disk_full": True,
}


class YtcorpusError(Exception):
    """Base of every error ytcorpus raises on purpose."""

    kind = "error"

    def __init__(self, message: str, *, kind: str | None = None, video_id: str | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.video_id = video_id

    @property
    def retryable(self) -> bool:
        return KINDS.get(self.kind, False)

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(YtcorpusError):
    kind = "config"


class InvalidSourceError(YtcorpusError):
    """An `add` input that is no video id, URL or existing file."""

    kind = "invalid"


class QueueError(YtcorpusError):
    kind = "queue"


class VideoError(YtcorpusError):
    """A failure of one video; the queue stores it and the worker goes on."""


class PermanentError(VideoError):
    kind = "unavailable"


class RetryableError(VideoError):
    kind = "network"


class DecodeError(PermanentError):
    kind = "corrupt"


class EngineError(PermanentError):
    kind = "engine"


def video_error(kind: str, message: str, video_id: str | None = None) -> VideoError:
    """Build the right subclass for a kind from the KINDS table."""
    cls = RetryableError if KINDS.get(kind, False) else PermanentError
    return cls(message, kind=kind, video_id=video_id)


# (pattern in the error text, kind). First match wins; order matters.
ERROR_PATTERNS: list[tuple[str, str]] = [
    (r"No space left on device|Disk quota exceeded", "disk_full"),
    (r"confirm you.re not a bot|captcha", "bot_check"),
    (r"HTTP Error 429|Too Many Requests|try again later|rate.?limit", "rate_limited"),
    (r"Private video|This video is private", "private"),
    (r"members.only|Join this channel|available to this channel.s members", "members_only"),
    (r"confirm your age|age.restricted|inappropriate for some users", "age_restricted"),
    (r"not (?:made this video )?available in your country|geo.?restrict|"
     r"blocked it in your country", "geo_blocked"),
    (r"live event will begin|Premieres? in|is_upcoming|This live stream|"
     r"live stream recording is not available|Cannot download live", "live"),
    (r"HTTP Error 404|404: Not Found|Not Found", "not_found"),
    (r"HTTP Error 5\d\d|Internal Server Error|Service Unavailable|Bad Gateway", "server_error"),
    (r"HTTP Error 403|Forbidden", "rate_limited"),
    (r"Video unavailable|removed by the uploader|has been removed|account associated with "
     r"this video has been terminated|no longer available|does not exist|"
     r"This video has been removed", "unavailable"),
    (r"Unsupported URL", "unsupported"),
    # the server answered, with nothing in it (DESIGN: permanent)
    (r"Requested format is not available|No video formats found|no audio|"
     r"Did not get any data blocks", "no_audio"),
    (r"timed out|timeout", "timeout"),
    (r"Connection reset|Connection refused|Connection aborted|Remote end closed|"
     r"IncompleteRead|Name or service not known|Temporary failure in name resolution|"
     r"Failed to resolve|Unable to download|urlopen error|Network is unreachable|"
     r"bytes, expected|Content-Length|EOF occurred", "network"),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), kind) for p, kind in ERROR_PATTERNS]


def classify(exc: BaseException | str, video_id: str | None = None) -> VideoError:
    """Map any download failure to a typed VideoError (permanent or retryable)."""
    if isinstance(exc, VideoError):
        return exc
    if isinstance(exc, YtcorpusError) and exc.kind in KINDS:
        return video_error(exc.kind, str(exc), video_id)
    text = str(exc)
    if not isinstance(exc, str):
        name = type(exc).__name__
        if name == "GeoRestrictedError":
            return video_error("geo_blocked", text, video_id)
        if isinstance(exc, TimeoutError) or "timeout" in name.lower():
            return video_error("timeout", text, video_id)
        if isinstance(exc, ConnectionError):
            return video_error("network", text, video_id)
    text = re.sub(r"^ERROR:\s*", "", text.strip())
    for pattern, kind in _COMPILED:
        if pattern.search(text):
            return video_error(kind, text, video_id)
    return video_error("network", text or type(exc).__name__, video_id)
