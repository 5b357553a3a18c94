"""Plain data types passed between stages. No behaviour beyond small conversions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


class Status(str, enum.Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


@dataclass(frozen=True)
class Video:
    """A row to queue. `video_id` is already normalized (see ytcorpus.ids)."""

    video_id: str
    url: str
    title: str | None = None
    course: str | None = None
    university: str | None = None
    duration_seconds: float | None = None
    priority: int = 0
    source: str | None = None
    channel: str | None = None
    license: str | None = None
    license_source: str | None = None  # "page" when read from the video's own page


@dataclass(frozen=True)
class Claim:
    """A row a worker holds under a lease."""

    video_id: str
    url: str
    title: str | None = None
    duration_seconds: float | None = None
    attempts: int = 0
    priority: int = 0
    crashes: int = 0  # times a lease of this row was reaped from a dead worker
    staged_path: str | None = None  # audio staged by `ytcorpus fetch` (relative to the store)


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    compression_ratio: float | None = None
    no_speech_prob: float | None = None

    @classmethod
    def coerce(cls, value: Segment | Mapping[str, Any]) -> Segment:
        if isinstance(value, Segment):
            return value
        try:
            return cls(
                start=float(value["start"]),
                end=float(value["end"]),
                text=str(value["text"]),
                avg_logprob=value.get("avg_logprob"),
                compression_ratio=value.get("compression_ratio"),
                no_speech_prob=value.get("no_speech_prob"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a segment needs start, end and text: {value!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}


def coerce_segments(values: Iterable[Segment | Mapping[str, Any]] | None) -> list[Segment]:
    return [Segment.coerce(v) for v in (values or [])]


@dataclass
class Transcript:
    """What an engine returns for one input."""

    text: str
    segments: list[Segment]
    language: str | None
    duration: float
    no_speech: bool = False
    flags: list[str] = field(default_factory=list)
    quality: dict | None = None          # signals (ytcorpus.quality.signals.measure)
    language_source: str | None = None   # model | metadata | signals


@dataclass
class Result:
    """What a worker stores for a completed video (Queue.complete)."""

    transcript: str
    segments: list[Segment] = field(default_factory=list)
    duration_seconds: float = 0.0
    processing_time_seconds: float = 0.0
    language: str | None = None
    model: str | None = None
    tokens: int | None = None
    title: str | None = None
    channel: str | None = None
    license: str | None = None
    flags: list[str] = field(default_factory=list)
    quality: dict | None = None          # Transcript.quality
    language_source: str | None = None   # Transcript.language_source
    license_source: str | None = None    # where `license` was read: download | page
    audio_bytes: int | None = None       # FetchedAudio.audio_bytes
    audio_format: dict | None = None     # FetchedAudio.audio_format (format_id, ext, abr, acodec)

    def __post_init__(self) -> None:
        self.segments = coerce_segments(self.segments)
        if self.transcript is None:
            self.transcript = ""

    @property
    def speed_ratio(self) -> float | None:
        """Audio seconds per processing second, as the original computed it."""
        if not self.processing_time_seconds or self.processing_time_seconds <= 0:
            return None
        return self.duration_seconds / self.processing_time_seconds


@dataclass(frozen=True)
class InvalidSource:
    source: str
    reason: str


class InvalidList(list):
    """The invalid sources of an `add`; compares with a number by its count, so both
    `len(r.invalid) == 2` and `r.invalid == 2` read naturally."""

    def _count(self, other):
        return (len(self), other) if isinstance(other, int) and not isinstance(other, bool) \
            else (self, other)

    def __eq__(self, other):
        a, b = self._count(other)
        return list.__eq__(a, b) if isinstance(a, list) else a == b

    def __ne__(self, other):
        return not self == other

    def __lt__(self, other):
        a, b = self._count(other)
        return a < b

    def __gt__(self, other):
        a, b = self._count(other)
        return a > b

    __hash__ = None  # type: ignore[assignment]


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0
    invalid: list[InvalidSource] = field(default_factory=InvalidList)

    def merge(self, other: AddResult) -> None:
        self.added += other.added
        self.duplicates += other.duplicates
        self.invalid.extend(other.invalid)


@dataclass
class Stats:
    total: int = 0
    pending: int = 0
    processing: int = 0
    completed: int = 0
    error: int = 0
    audio_seconds_completed: float = 0.0
    tokens_completed: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    active_workers: int = 0
    waiting_retry: int = 0
