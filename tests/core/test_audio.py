"""Decoding to 16 kHz mono float32 with PyAV: every container, and every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from ytcorpus.core.audio import SAMPLE_RATE, decode_to_mono16k
from ytcorpus.core.errors import DecodeError, PermanentError


@pytest.mark.parametrize("ext", ["webm", "m4a", "mp3", "ogg", "wav", "flac"])
def test_every_container_round_trips_to_the_right_duration(media_dir, ext):
    samples = decode_to_mono16k(media_dir / f"tone3.{ext}")
    assert samples.dtype == np.float32 and samples.ndim == 1
    # codecs add priming/padding: within 0.1 s of 3 s
    assert abs(samples.size / SAMPLE_RATE - 3.0) < 0.1
    assert 0.15 < float(np.sqrt(np.mean(samples[4000:-4000] ** 2))) < 0.26  # the 0.3 sine


def test_matches_faster_whisper_decode_audio(media_dir):
    from faster_whisper import decode_audio

    ours = decode_to_mono16k(media_dir / "tone10.webm")
    theirs = decode_audio(str(media_dir / "tone10.webm"))
    assert ours.size == theirs.size
    assert float(np.max(np.abs(ours - theirs))) < 1e-3


@pytest.mark.parametrize("name,kind", [
    ("empty.mp3", "no_audio"), ("notes.txt", "corrupt"), ("page.html", "corrupt"),
    ("missing.wav", "not_found"),
])
def test_bad_files_raise_typed_decode_errors(media_dir, name, kind):
    with pytest.raises(DecodeError) as info:
        decode_to_mono16k(media_dir / name)
    assert info.value.kind == kind and not info.value.retryable


def test_truncated_file_is_a_decode_error(media_dir, tmp_path):
    data = (media_dir / "tone10.webm").read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 4])
    with pytest.raises(DecodeError, match="truncated|decod"):
        decode_to_mono16k(cut)


def test_random_bytes_are_a_decode_error(tmp_path):
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(np.random.default_rng(1).bytes(20000))
    with pytest.raises(DecodeError):
        decode_to_mono16k(junk)


def test_max_duration_guard(media_dir):
    with pytest.raises(PermanentError) as info:
        decode_to_mono16k(media_dir / "tone10.webm", max_duration=5)
    assert info.value.kind == "too_long"
    assert decode_to_mono16k(media_dir / "tone10.webm", max_duration=60).size > 0


def test_a_video_container_with_audio_decodes(tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height = 64, 48
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        for _ in range(20):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            for p in video.encode(frame):
                out.mux(p)
        for i in range(int(2.0 * 44100 / 1024)):
            frame = av.AudioFrame.from_ndarray(np.full((1, 1024), 0.1, np.float32),
                                               format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = i * 1024
            for p in audio.encode(frame):
                out.mux(p)
        for stream in (video, audio):
            for p in stream.encode(None):
                out.mux(p)
    assert abs(decode_to_mono16k(path).size / SAMPLE_RATE - 2.0) < 0.15
