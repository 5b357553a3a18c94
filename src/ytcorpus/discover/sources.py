"""What `add` reads: sources from the command line and --from-file, each validated on its
own. A line that is no usable source (bad bytes, a bad URL, an unusable path, control
characters, credentials in a URL...) is reported with where it came from and skipped; it
never stops the rest. Files are read as bytes and decoded line by line, so one line of
invalid UTF-8 costs only that line."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..core.errors import InvalidSourceError, YtcorpusError
from ..core.ids import parse_source
from ..core.models import Video


@dataclass(frozen=True)
class BadSource:
    where: str   # "argument 2" or "ids.txt:17"
    text: str    # the source as read (shown escaped and shortened)
    reason: str

    def line(self) -> str:
        return f"invalid: {self.where}: {shown(self.text)}: {self.reason}"


_PASSWORD = re.compile(r"(//[^/@\s]*?:)[^/@\s]*@")


def shown(text: str, limit: int = 120) -> str:
    """A source fit for one terminal line: control characters escaped, long text cut,
    a password in a URL replaced by ***."""
    cut = _PASSWORD.sub(r"\1***@", text)[:limit]
    safe = cut if cut.isprintable() else ascii(cut)[1:-1]
    return safe + (f"... ({len(text)} characters)" if len(text) > limit else "")


def _file_lines(path: str) -> Iterator[tuple[str, str | None, str]]:
    """(where, text or None, reason) per non-empty, non-comment line of a file or '-'."""
    try:
        handle = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        raise YtcorpusError(f"--from-file {path}: {exc.strerror or exc}") from exc
    name = "stdin" if path == "-" else path
    with handle:
        if path != "-" and _looks_binary(handle.peek(8192)):
            raise YtcorpusError(f"--from-file {path}: not UTF-8 text but a binary file (give "
                                "one URL, id or path per line)")
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (f"{name}:{number}", None,
                       f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                       f"{exc.start + 1})")
                continue
            text = text.strip()
            if text and not text.startswith("#"):
                yield f"{name}:{number}", text, ""


def _looks_binary(head: bytes) -> bool:
    """Mostly control bytes: a binary file, not a list with a hostile line in it."""
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13) or b == 127)
    return controls >= 8 and controls >= len(head) * 0.05


def read_sources(sources: Iterable[str], from_files: Iterable[str],
                 bad: list[BadSource]) -> Iterator[Video]:
    """Yield a Video per valid source, in order; append each invalid one to `bad`."""
    numbered = ((f"argument {n}", s, "") for n, s in enumerate(sources, 1))
    files = (line for path in from_files for line in _file_lines(path))
    for stream in (numbered, files):
        for where, text, reason in stream:
            if text is None:
                bad.append(BadSource(where, "", reason))
                continue
            try:
                video_id, url = parse_source(text)
            except InvalidSourceError as exc:
                bad.append(BadSource(where, text, str(exc)))
                continue
            yield Video(video_id=video_id, url=url)
