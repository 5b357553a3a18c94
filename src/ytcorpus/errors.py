"""Typed errors. Every failure a video can meet is one `kind`; the kind says whether
a retry can help. yt-dlp and network errors are mapped to these in fetch.classify."""

from __future__ import annotations

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
