"""Turn whatever a user gives `add` into one stable video id and URL.

A YouTube video is one row whatever URL form names it; any other http(s) URL or a
local file gets an id derived from its normalized URL or absolute path.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from .errors import InvalidSourceError

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
YOUTUBE_HOSTS = {
    "youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com",
    "youtube-nocookie.com", "www.youtube-nocookie.com", "youtu.be", "www.youtu.be",
}
_PATH_ID = re.compile(r"^/(?:shorts|embed|live|v|e)/([^/?#&]+)")


def is_youtube_id(value: str) -> bool:
    return bool(YOUTUBE_ID.match(value))


def youtube_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def _youtube_id_from_url(parts) -> str:
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    if host in ("youtu.be", "www.youtu.be"):
        candidate = path.lstrip("/").split("/")[0]
    elif path in ("/watch", "/watch/") or path.startswith("/watch"):
        candidate = (parse_qs(parts.query).get("v") or [""])[0]
    elif m := _PATH_ID.match(path):
        candidate = m.group(1)
    else:
        raise InvalidSourceError(
            "not a YouTube video URL (channels and playlists go through `discover`)"
        )
    if not is_youtube_id(candidate):
        raise InvalidSourceError(f"malformed YouTube video id {candidate!r}")
    return candidate


def _stable_id(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment; the query is kept as given.
    Credentials never get here (parse_source refuses them)."""
    parts = urlsplit(url)
    netloc = (parts.hostname or "").lower()
    if ":" in netloc:  # an IPv6 literal keeps its brackets
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


MAX_SOURCE_CHARS = 4096  # PATH_MAX; longer is no path, and no URL a server accepts
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_source(source: str) -> tuple[str, str]:
    """Return (video_id, url) for a YouTube id/URL, an http(s) URL or a local file.

    Raises InvalidSourceError for anything else, whatever the text: control characters,
    over-long text, bad ports or hosts, URLs carrying credentials (user:password@ is
    refused, never stored or exported), unusable paths.
    """
    text = (source or "").strip()
    if not text:
        raise InvalidSourceError("empty source")
    if len(text) > MAX_SOURCE_CHARS:
        raise InvalidSourceError(f"longer than {MAX_SOURCE_CHARS} characters")
    if _CONTROL.search(text):
        raise InvalidSourceError("contains a control character (NUL, newline, escape...)")
    try:
        return _parse(text)
    except InvalidSourceError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # bad port, [::1, ~user, ENAMETOOLONG
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidSourceError(f"unusable source: {reason}") from None


def _parse(text: str) -> tuple[str, str]:
    if is_youtube_id(text) and not os.path.exists(text):
        return text, youtube_url(text)
    lowered = text.lower()
    if lowered.startswith(("youtube.com/", "www.youtube.com/", "m.youtube.com/",
                           "music.youtube.com/", "youtu.be/", "youtube-nocookie.com/",
                           "www.youtube-nocookie.com/")):
        text = "https://" + text
        lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        parts = urlsplit(text)
        if not parts.hostname:
            raise InvalidSourceError("URL has no host")
        if parts.username is not None or parts.password is not None:
            raise InvalidSourceError("URL carries credentials (user:password@): refused, "
                                     "they would be stored and exported")
        parts.port  # noqa: B018 - raises ValueError on a port out of range
        if parts.hostname.lower() in YOUTUBE_HOSTS:
            vid = _youtube_id_from_url(parts)
            return vid, youtube_url(vid)
        url = normalize_url(text)
        return _stable_id("url", url), url
    if lowered.startswith("file://"):
        text = urlsplit(text).path
    path = Path(text).expanduser()
    if path.is_file():
        absolute = path.resolve()
        return _stable_id("file", str(absolute)), absolute.as_uri()
    if "://" in text:
        raise InvalidSourceError("unsupported URL scheme (use http, https or a local file)")
    raise InvalidSourceError("not a YouTube id or URL, an http(s) URL, or an existing file")

