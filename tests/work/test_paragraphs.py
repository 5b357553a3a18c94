"""The staged pipeline carries each video's VAD speech regions from the prepare stage to
the writer: a transcript breaks into paragraphs ("\\n\\n") at a long pause only."""

from __future__ import annotations

import numpy as np
import pytest

from media import espeak, write_audio
from speech_texts import ENGLISH_PRESS_A, ENGLISH_PRESS_B

pytestmark = pytest.mark.slow

SR = 16000


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """lecture A alone, and lecture A, a 2 s pause, lecture B (espeak-ng)."""
    from ytcorpus.core.audio import decode_to_mono16k

    root = tmp_path_factory.mktemp("paragraphs")
    a = decode_to_mono16k(espeak(ENGLISH_PRESS_A, root / "a.wav", wpm=150))
    b = decode_to_mono16k(espeak(ENGLISH_PRESS_B, root / "b.wav", wpm=150))
    two = write_audio(root / "two.webm",
                      np.concatenate([a, np.zeros(2 * SR, np.float32), b]))
    return {"one": root / "a.wav", "two": two}


@pytest.fixture(scope="module")
def engine():
    from ytcorpus.engines import load_engine

    return load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)


def _check(texts: dict[str, str]) -> None:
    assert "\n\n" not in texts["one"], texts["one"]
    first, second = texts["two"].split("\n\n")  # exactly one break
    assert "newspapers" in first and second.startswith("Today we study"), texts["two"]


def test_streamed_files_break_at_the_long_pause_only(clips, engine):
    from ytcorpus.work.pipeline import transcribe_files

    got = dict(transcribe_files(engine, [str(p) for p in clips.values()], prepare_threads=1))
    texts = {}
    for name, path in clips.items():
        t = got[str(path)]
        assert not isinstance(t, Exception), t
        texts[name] = t.text
    _check(texts)


def test_whole_arrays_break_at_the_long_pause_only(clips, engine):
    from ytcorpus.core.audio import decode_to_mono16k

    names = list(clips)
    from ytcorpus.work.pipeline import transcribe_arrays

    got = transcribe_arrays(engine, [decode_to_mono16k(str(clips[n])) for n in names])
    _check({n: t.text for n, t in zip(names, got)})
