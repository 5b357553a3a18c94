"""Decode any container/codec to 16 kHz mono float32 with PyAV.

A chain of small generators: packets -> frames -> resampled blocks -> one array.
Memory is the output array plus one block; `max_duration` stops a huge file early.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from .errors import DecodeError, PermanentError

SAMPLE_RATE = 16_000
TRUNCATED_FRACTION = 0.5  # decoded less than this share of the declared length: truncated
GROUP_SAMPLES = 500_000  # input samples per resampler call


def _open(path: str):
    import av

    if not os.path.exists(path):
        raise DecodeError(f"no such file: {path}", kind="not_found")
    if os.path.getsize(path) == 0:
        raise DecodeError(f"empty file: {path}", kind="no_audio")
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise DecodeError(f"not a readable audio/video file: {path}: {exc}") from exc
    if not container.streams.audio:
        # ffmpeg's tty demuxer reads any text file as an "ansi art" video
        has_video = bool(container.streams.video) and container.format.name != "tty"
        container.close()
        if has_video:
            raise DecodeError(f"no audio stream in {path}", kind="no_audio")
        raise DecodeError(f"not an audio or video file: {path}")
    return container


def declared_duration(container) -> float | None:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _grouped(frames, samples: int = GROUP_SAMPLES):
    """Many small decoded frames -> few large ones: one resampler call per group is
    much cheaper than one per 20 ms frame."""
    import av

    fifo = av.AudioFifo()
    for frame in frames:
        frame.pts = None  # the fifo checks timestamps; we only need the samples
        try:
            fifo.write(frame)
        except ValueError:  # the format changed mid-stream: flush and start over
            if fifo.samples:
                yield fifo.read()
            fifo = av.AudioFifo()
            fifo.write(frame)
        if fifo.samples >= samples:
            yield fifo.read()
    if fifo.samples:
        yield fifo.read()


def iter_mono16k(path: str, *, max_duration: float | None = None) -> Iterator[np.ndarray]:
    """Yield float32 blocks of 16 kHz mono audio."""
    import av

    container = _open(path)
    try:
        declared = declared_duration(container)
        if max_duration and declared and declared > max_duration:
            raise PermanentError(f"audio is {declared:.0f} s, over the {max_duration:.0f} s "
                                 "limit", kind="too_long")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        limit = int(max_duration * SAMPLE_RATE) if max_duration else None
        produced = 0
        try:
            for frame in _grouped(container.decode(stream)):
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1)
                    produced += block.size
                    if limit is not None and produced > limit:
                        raise PermanentError(f"audio longer than the {max_duration:.0f} s "
                                             "limit", kind="too_long")
                    yield block
            for out in resampler.resample(None):
                block = out.to_ndarray().reshape(-1)
                produced += block.size
                yield block
        except av.error.FFmpegError as exc:
            if produced == 0:
                raise DecodeError(f"cannot decode {path}: {exc}") from exc
            raise DecodeError(f"decoding stopped after {produced / SAMPLE_RATE:.1f} s "
                              f"(truncated or corrupt): {exc}") from exc
        if produced == 0:
            raise DecodeError(f"no audio samples in {path}", kind="no_audio")
        if declared and declared > 2.0 and produced / SAMPLE_RATE < declared * TRUNCATED_FRACTION:
            raise DecodeError(f"truncated: decoded {produced / SAMPLE_RATE:.1f} s of a declared "
                              f"{declared:.1f} s")
    finally:
        container.close()


def decode_to_mono16k(path: str | os.PathLike, *, max_duration: float | None = None) -> np.ndarray:
    """The whole file as one float32 array at 16 kHz mono. Raises DecodeError.

    Fills one preallocated buffer (sized from the declared duration, grown if needed),
    so the peak is the output plus one block, not twice the output.
    """
    path = str(path)
    with _open(path) as container:
        declared = declared_duration(container) or 60.0
    capacity = int(min(declared, max_duration or declared) * SAMPLE_RATE * 1.02) + SAMPLE_RATE
    out = np.empty(capacity, dtype=np.float32)
    n = 0
    for block in iter_mono16k(path, max_duration=max_duration):
        if n + block.size > out.size:
            out = np.resize(out, max(out.size * 2, n + block.size))
        out[n:n + block.size] = block
        n += block.size
    return out[:n] if n > out.size * 0.9 else out[:n].copy()

