"""Speaker turns onto transcript segments: each segment gets the speaker who talks most
during it; a segment that spans a change of speaker is split there, at word boundaries.

Words come with times when the engine gives them (Segment.words); otherwise a segment's
time is shared out among its words by their length in characters (the plugin contract
asks nothing more of engines)."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from ..core.models import Segment, Transcript

MIN_SPLIT_S = 0.6   # a change of speaker inside a segment shorter than this is not split


class Turn(NamedTuple):
    start: float
    end: float
    speaker: str


def label(index: int) -> str:
    return f"S{index + 1}"


def speaker_turns(times: Sequence[tuple[float, float]], labels: Sequence[int]) -> list[Turn]:
    """Overlapping windows -> non-overlapping turns: where two windows overlap, the
    boundary is halfway between their centres; runs of one speaker are merged."""
    centres = [(a + b) / 2 for a, b in times]
    turns: list[Turn] = []
    for i, ((start, end), lab) in enumerate(zip(times, labels)):
        if i > 0 and times[i - 1][1] > start:
            start = (centres[i - 1] + centres[i]) / 2
        if i + 1 < len(times) and times[i + 1][0] < end:
            end = (centres[i] + centres[i + 1]) / 2
        speaker = label(int(lab))
        if turns and turns[-1].speaker == speaker and start - turns[-1].end < 1e-6:
            turns[-1] = Turn(turns[-1].start, max(turns[-1].end, end), speaker)
        elif end > start:
            turns.append(Turn(start, end, speaker))
    return turns


def _speaker_at(turns: list[Turn], starts: np.ndarray, t: float) -> str:
    """The turn at time t, else the nearest one (a word in a gap between turns)."""
    i = int(np.searchsorted(starts, t, side="right")) - 1
    if i >= 0 and turns[i].start <= t <= turns[i].end:
        return turns[i].speaker
    near = [j for j in (i, i + 1) if 0 <= j < len(turns)]
    return min((turns[j] for j in near),
               key=lambda tr: min(abs(tr.start - t), abs(tr.end - t))).speaker


def _overlaps(turns: list[Turn], start: float, end: float) -> dict[str, float]:
    got: dict[str, float] = {}
    for tr in turns:
        if tr.end > start and tr.start < end:
            got[tr.speaker] = got.get(tr.speaker, 0.0) + min(end, tr.end) - max(start, tr.start)
    return got


def _words(seg: Segment) -> list[tuple[float, float, str]]:
    """(start, end, word): the engine's word times, or the segment's shared by length."""
    if seg.words:
        return [(float(w[0]), float(w[1]), str(w[2])) for w in seg.words]
    words = seg.text.split()
    sizes = np.array([len(w) + 1 for w in words], float)
    edges = seg.start + (seg.end - seg.start) * np.concatenate([[0], np.cumsum(sizes)]) \
        / max(1.0, sizes.sum())
    return [(float(a), float(b), w) for a, b, w in zip(edges[:-1], edges[1:], words)]


def assign_speakers(segments: Iterable[Segment], turns: list[Turn]) -> list[Segment]:
    """Segments with `speaker` set; those spanning a change of speaker split in two or
    more at word boundaries (each piece keeps the segment's decoding scores)."""
    out: list[Segment] = []
    starts = np.array([t.start for t in turns])
    for seg in segments:
        if not turns:
            out.append(seg)
            continue
        talk = _overlaps(turns, seg.start, seg.end)
        major = {s for s, d in talk.items() if d >= MIN_SPLIT_S}
        if len(major) < 2:
            who = max(talk, key=talk.get) if talk else \
                _speaker_at(turns, starts, (seg.start + seg.end) / 2)
            out.append(replace(seg, speaker=who))
            continue
        out += _split(seg, turns, starts, major)
    return out


def _split(seg: Segment, turns: list[Turn], starts: np.ndarray, major: set[str]
           ) -> list[Segment]:
    pieces: list[tuple[str, list[tuple[float, float, str]]]] = []
    for word in _words(seg):
        who = _speaker_at(turns, starts, (word[0] + word[1]) / 2)
        if who not in major and pieces:
            who = pieces[-1][0]
        if pieces and pieces[-1][0] == who:
            pieces[-1][1].append(word)
        else:
            pieces.append((who, [word]))
    return [replace(seg, start=ws[0][0], end=ws[-1][1], text=" ".join(w[2] for w in ws),
                    speaker=who, words=tuple(ws) if seg.words else None)
            for who, ws in pieces]


def apply_speakers(transcript: Transcript, turns: list[Turn]) -> Transcript:
    """The transcript with speakers on its segments, "S1", "S2", ... renumbered by first
    appearance in the segments, and `speakers` set (0 when nothing was said)."""
    segments = assign_speakers(transcript.segments, turns)
    names: dict[str, str] = {}
    for s in segments:
        if s.speaker is not None:
            names.setdefault(s.speaker, label(len(names)))
    transcript.segments = [replace(s, speaker=names.get(s.speaker)) if s.speaker else s
                           for s in segments]
    transcript.speakers = len(names)
    return transcript
