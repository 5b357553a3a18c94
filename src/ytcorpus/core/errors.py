"""Typed errors. Every failure a video can meet is one `kind`; the kind says whether
a retry can help. `classify` is the one place that maps yt-dlp, HTTP and network
failures (by exception type and message) to these.

Whose fault (`fault_of`): a failure is the video's (charged to its row: an attempt and
a backoff, or a permanent error), the node's (NODE_KINDS: rate limit, bot check, no
network, full disk, a broken device or database; never charged, the row goes back as it
was and the worker backs off), or unknown (kind "unknown": charged, at most
UNKNOWN_MAX_ATTEMPTS tries, the exception's last line stored)."""

from __future__ import annotations

import errno
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
    "engine_rejected": False,  # the engine rejects this input; a known-good one still works
    "worker_crash": False,  # the row's worker died with it 3 times (queue reaping)
    # retryable: the next try may work
    "network": True,
    "timeout": True,
    "rate_limited": True,
    "server_error": True,
    "bot_check": True,
    "interrupted": True,
    "disk_full": True,
    "offline": True,  # this node has no network (unreachable, no DNS)
    "device": True,  # the GPU / engine failed, not tied to one input
    "database": True,  # the queue's database is unreachable or failing
    "node": True,  # any other fault of the node
    "unknown": True,  # an exception nobody classified: at most UNKNOWN_MAX_ATTEMPTS tries
}

# Kinds that are the node's fault: never charged to a row, no backoff on the row.
NODE_KINDS: frozenset[str] = frozenset(
    {"rate_limited", "bot_check", "offline", "disk_full", "device", "database", "node"})
UNKNOWN_MAX_ATTEMPTS = 2


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


class UsageError(ConfigError):
    """The command line asks for something that cannot be: exit 2, as argparse does."""

    exit_code = 2


class InvalidSourceError(YtcorpusError):
    """An `add` input that is no video id, URL or existing file."""

    kind = "invalid"


class QueueError(YtcorpusError):
    kind = "queue"


class NodeFault(YtcorpusError):
    """A failure of this node, not of the row it was working on: never charged."""

    kind = "node"


class DatabaseUnavailableError(QueueError, NodeFault):
    """The queue's database cannot be reached or written now (connection lost, server
    restarting, disk full, I/O error). Pause and retry; nothing is charged."""

    kind = "database"


class DeviceBrokenError(NodeFault):
    """The device keeps failing on different inputs with no success between: exit 70 so
    the supervisor restarts the process (a fresh CUDA context)."""

    kind = "device"


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
    (r"No space left on device|Disk quota exceeded|File too large", "disk_full"),
    (r"HTTP Error 414|URI Too Long|Request-URI Too Large", "invalid"),
    (r"unsafe file extension|extension .* is unusual", "unsupported"),
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
    (r"Network is unreachable|Temporary failure in name resolution|No route to host",
     "offline"),
    (r"Connection reset|Connection refused|Connection aborted|Remote end closed|"
     r"IncompleteRead|Name or service not known|Temporary failure in name resolution|"
     r"Failed to resolve|Unable to download|urlopen error|"
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
    return video_error("unknown", last_line(exc), video_id)


def last_line(exc: BaseException | str) -> str:
    """The exception's last non-empty line (where tracebacks and tools put the cause)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    name = type(exc).__name__ if not isinstance(exc, str) else ""
    line = lines[-1] if lines else ""
    return (f"{name}: {line}" if name and line else name or line)[:500]


_NODE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.ENETUNREACH,
                errno.ENETDOWN, errno.EROFS, errno.ENOMEM}
_DEVICE_TEXT = re.compile(
    r"CUDA error|CUDA failed|CUBLAS_STATUS|CUDNN_STATUS|cuDNN error|illegal memory access|"
    r"uncorrectable ECC|out of memory|bad_alloc|NCCL error|no CUDA-capable device|"
    r"CUDA driver", re.IGNORECASE)


def fault_of(exc: BaseException | str) -> str:
    """Whose fault: "video" (charge the row), "node" (never charge; back off the node) or
    "unknown" (charge, at most UNKNOWN_MAX_ATTEMPTS tries)."""
    if isinstance(exc, NodeFault):
        return "node"
    kind = exc.kind if isinstance(exc, YtcorpusError) else exc if exc in KINDS else None
    if kind is not None:  # a typed error, or a kind name ("disk_full")
        if kind in NODE_KINDS:
            return "node"
        return "unknown" if kind == "unknown" else "video"
    if isinstance(exc, (MemoryError,)) or type(exc).__name__ == "OutOfMemoryError":
        return "node"
    if isinstance(exc, OSError) and exc.errno in _NODE_ERRNOS:
        return "node"
    if not isinstance(exc, str) and _DEVICE_TEXT.search(str(exc)) and \
            type(exc).__name__ in ("RuntimeError", "AcceleratorError", "CudaError"):
        return "node"
    kind = classify(exc).kind
    if kind in NODE_KINDS:
        return "node"
    return "unknown" if kind == "unknown" else "video"
