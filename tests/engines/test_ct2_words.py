"""The CTranslate2 engine decodes each chunk whole (no timestamp tokens, as faster-whisper's
batched pipeline does: with them a batch dropped words the model left unfinished) and
cuts segments at sentence ends: from word times (cross-attention alignment) when asked
(--diarize), else sharing the chunk's time by length."""

from __future__ import annotations

import pytest

from conftest import DEMO
from ytcorpus.core.audio import decode_to_mono16k
from ytcorpus.engines import load_engine
from ytcorpus.engines.ct2 import sentences
from ytcorpus.work.pipeline import transcribe_arrays


def test_sentences_cut_at_sentence_ends_pauses_and_length():
    words = [(0.0, 0.4, " Hello"), (0.5, 0.9, " there."), (1.0, 1.3, " Yes"),
             (2.5, 2.9, " okay")] + [(3.0 + i, 3.5 + i, " word") for i in range(14)]
    cut = sentences(words)
    assert [len(s) for s in cut] == [2, 1, 13, 2]
    assert cut[2][0][2] == " okay"


@pytest.mark.slow
def test_segments_carry_word_times_that_spell_their_text():
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=2)
    audio = decode_to_mono16k(DEMO / "derivatives.m4a")
    (plain,) = transcribe_arrays(engine, [audio])  # sentences sharing the chunk's time
    engine.word_timestamps = True  # what --diarize asks for
    (t,) = transcribe_arrays(engine, [audio])
    assert t.text == plain.text and len(t.segments) > 3
    assert [s.text for s in t.segments] == [s.text for s in plain.segments]
    for s in t.segments:
        assert s.words and " ".join(w[2] for w in s.words) == " ".join(s.text.split())
        assert s.start <= s.words[0][0] <= s.words[-1][1] <= s.end + 1e-6
    assert all(s.words is None for s in plain.segments)
    assert t.segments[-1].text.endswith("Thursday.")
    for a, b in zip(plain.segments, t.segments):  # by length is close to aligned
        assert abs(a.start - b.start) < 3.0
