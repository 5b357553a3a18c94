"""Find speech: the Silero VAD that faster-whisper ships (ONNX, about 400x realtime per
core), over a whole array or over a stream of decoded blocks with bounded memory.

Regions are {"start", "end"} in samples at 16 kHz, at most `max_chunk_s` long, with the
options faster-whisper's BatchedInferencePipeline uses (min silence 160 ms).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

SAMPLE_RATE = 16_000
WINDOW_S = 120.0        # streaming: audio run through the VAD at once
TAIL_S = 1.0            # a region ending this close to a window's end may go on


def speech_regions(audio: np.ndarray, max_chunk_s: float = 30.0) -> list[dict]:
    """Speech spans in samples ({"start", "end"}), from the Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size < SAMPLE_RATE // 10:
        return []
    options = VadOptions(max_speech_duration_s=max_chunk_s, min_silence_duration_ms=160)
    return get_speech_timestamps(audio, options)


def speech_seconds(regions: Iterable[dict]) -> float:
    return sum(r["end"] - r["start"] for r in regions) / SAMPLE_RATE


def stream_speech(blocks: Iterable[np.ndarray], *, max_chunk_s: float = 30.0,
                  window_s: float = WINDOW_S) -> Iterator[tuple[dict, np.ndarray]]:
    """(region, its samples) in order over a stream of blocks, regions in absolute
    samples. Holds at most one window plus the unfinished region carried into the next
    window (a region may continue past a window's end: it is decided next time)."""
    window = int(window_s * SAMPLE_RATE)
    tail = int(TAIL_S * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    held = 0
    base = 0          # absolute sample index of the buffer's first sample
    emitted_end = 0   # regions never overlap what was already emitted (speech padding)
    blocks = iter(blocks)
    final = False
    while not final:
        block = next(blocks, None)
        if block is None:
            final = True
        else:
            parts.append(block)
            held += block.size
            if held < window:
                continue
        if not parts:
            return  # the stream ended right at a window's end
        buffer = np.concatenate(parts) if len(parts) != 1 else parts[0]
        parts, held = [], 0
        regions = speech_regions(buffer, max_chunk_s)
        keep_from = buffer.size
        if not final and regions and regions[-1]["end"] > buffer.size - tail:
            keep_from = regions.pop()["start"]  # may continue: decide it with more audio
        for r in regions:
            start, end = max(base + r["start"], emitted_end), base + r["end"]
            if end > start:
                emitted_end = end
                yield {"start": start, "end": end}, buffer[start - base:end - base]
        if not final and keep_from < buffer.size:
            parts, held = [buffer[keep_from:].copy()], buffer.size - keep_from
        base += keep_from
