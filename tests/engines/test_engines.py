"""Both engines with real weights (the packaged Whisper tiny.en) on real speech, on CPU.

WER threshold 0.25 per clip: tiny.en measured 0.0-0.15 on these clips with either
engine (espeak-ng speech at 150 wpm, one real speaker); a broken conversion, wrong
features or lost chunks give 0.5 and more, so 0.25 separates working from broken
while leaving room for int8 and thread-count variation.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wer
from ytcorpus.work.pipeline import transcribe_arrays
from ytcorpus.engines import load_engine

WER_MAX = 0.25
SR = 16000
ENGINES = [("ctranslate2", {}), ("transformers", {})]


@pytest.fixture(scope="module", params=ENGINES, ids=lambda p: p[0])
def engine(request):
    name, options = request.param
    return load_engine(name, "tiny.en", "cpu", batch_size=4, **options)


@pytest.mark.slow
def test_transcribes_real_speech_in_one_batch_like_one_at_a_time(engine, speech_clips):
    audios = [a for _, a, _ in speech_clips]
    together = transcribe_arrays(engine, audios)
    assert len(together) == len(audios)
    for (name, audio, reference), t in zip(speech_clips, together):
        assert wer(reference, t.text) <= WER_MAX, (name, t.text)
        assert t.language == "en" and not t.no_speech
        assert t.duration == pytest.approx(audio.size / SR)
        assert t.segments
        starts = [s.start for s in t.segments]
        assert starts == sorted(starts)
        for s in t.segments:
            assert 0.0 <= s.start <= s.end <= t.duration + 0.05, (name, s)
    # three clips of different lengths together == each alone
    for i in (0, 1, 2):
        alone = transcribe_arrays(engine, [audios[i]])[0]
        assert alone.text == together[i].text


@pytest.mark.slow
def test_silence_noise_and_tones_give_no_text(engine):
    t = np.arange(SR * 20) / SR
    music = (sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
             * (0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 2 * t))))
    inputs = [np.zeros(SR * 20, np.float32), music.astype(np.float32),
              (0.02 * np.random.default_rng(0).standard_normal(SR * 20)).astype(np.float32),
              np.zeros(0, np.float32)]
    for result in transcribe_arrays(engine, inputs):
        assert result.text == "" and result.segments == [] and result.no_speech
        assert "no_speech" in result.flags


def test_unknown_engine_and_device_are_config_errors():
    from ytcorpus.core.errors import ConfigError

    with pytest.raises(ConfigError):
        load_engine("whisper.cpp", "tiny.en", "cpu")
    with pytest.raises(ConfigError):
        load_engine("ctranslate2", "tiny.en", "tpu")


def test_missing_model_is_an_engine_error(tmp_path):
    from ytcorpus.core.errors import EngineError

    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(EngineError):
        load_engine("ctranslate2", str(empty), "cpu")
    with pytest.raises(EngineError):
        load_engine("transformers", str(empty), "cpu")
