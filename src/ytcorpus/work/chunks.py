"""Speech chunks: what flows from the prepare stage through the pool to the engine.

A chunk is up to 30 s of one video's speech, regions joined without the silence between
them (as faster-whisper's collect_chunks does), plus the map from its own timeline back
to the video's. `Video` is the per-video state the stages share.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from ..core.models import Segment
from .vad import SAMPLE_RATE

MAX_CHUNK_S = 30.0


@dataclass(eq=False)
class Video:
    """One input on its way through the stages. `key` is the video id (or the path)."""

    key: str
    source: Any = None            # the Claim, or the local path
    path: str | None = None       # the audio file to decode
    fetched: Any = None           # FetchedAudio once downloaded
    language: str | None = None   # detected on the engine (multilingual) or constant
    engine_s: float = 0.0         # this video's share of engine time (engine thread)
    failed: bool = False          # set once: its remaining chunks are skipped
    settled: bool = False         # the writer has delivered it (writer thread only)
    solo: bool = False            # crashed a worker before: processed alone
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(eq=False)
class Chunk:
    video: Video
    index: int                    # 0, 1, ... in the video's order
    item: Any                     # what the engine gets: the audio, or prepare()'s output
    regions: list[tuple[int, int]]  # speech spans in the video, samples, in order
    seconds: float                # speech seconds in the chunk

    def to_original(self, t: float, is_end: bool = False) -> float:
        """A time on the chunk's own timeline -> seconds on the video's timeline."""
        done = 0.0
        for start, end in self.regions:
            length = (end - start) / SAMPLE_RATE
            if t < done + length or (is_end and t <= done + length):
                return start / SAMPLE_RATE + max(0.0, t - done)
            done += length
        return self.regions[-1][1] / SAMPLE_RATE if self.regions else 0.0

    def restore(self, segments: Iterable[Segment]) -> list[Segment]:
        out = []
        for s in segments:
            start = self.to_original(s.start)
            end = max(start, self.to_original(s.end, is_end=True))
            out.append(Segment(start, end, s.text, s.avg_logprob, s.compression_ratio,
                               s.no_speech_prob))
        return out


def cut_chunks(regions: Iterable[tuple[dict, np.ndarray]],
               max_chunk_s: float = MAX_CHUNK_S) -> Iterator[tuple[np.ndarray, list]]:
    """(region, samples) in order -> (chunk audio, its regions): regions joined until the
    next would pass max_chunk_s. Holds one chunk's audio at most."""
    limit = int(max_chunk_s * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    size = 0
    for region, samples in regions:
        if parts and size + samples.size > limit:
            yield np.concatenate(parts), spans
            parts, spans, size = [], [], 0
        parts.append(np.array(samples[:limit], dtype=np.float32))
        spans.append((region["start"], region["start"] + min(samples.size, limit)))
        size += parts[-1].size
    if parts:
        yield np.concatenate(parts), spans
