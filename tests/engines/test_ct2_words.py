"""The CTranslate2 engine decodes each chunk whole (no timestamp tokens, as faster-whisper's
batched pipeline does: with them a batch dropped words the model left unfinished) and
cuts segments at sentence ends; words take their times from the alignment when asked
(--diarize), else share the chunk's time by length. Word probabilities come from the
decoding's own logits on CPU: the same as the alignment's."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DEMO
from ytcorpus.core.audio import decode_to_mono16k
from ytcorpus.engines import load_engine
from ytcorpus.engines.ct2 import sentences
from ytcorpus.work.pipeline import transcribe_arrays


def test_sentences_cut_at_sentence_ends_and_length():
    words = [(0.0, 0.4, " Hello"), (0.5, 0.9, " there."), (1.0, 1.3, " Yes"),
             (2.5, 2.9, " okay")] + [(3.0 + i, 3.5 + i, " word") for i in range(14)]
    cut = sentences(words)
    assert [len(s) for s in cut] == [2, 13, 3]  # "Yes" .. the word ending 12.5 s later
    assert cut[1][0][2] == " Yes" and cut[2][0][0] == 14.0


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


@pytest.mark.slow
def test_word_probabilities_from_the_decoding_match_the_alignment():
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=2)
    audio = decode_to_mono16k(DEMO / "derivatives.m4a")[:16000 * 28]
    feats = [engine.prepare(audio)]
    tokenizer = engine._tokenizer(None)
    options = engine._run_options(detect=False)
    encoded, outputs = engine._first(np.stack([f.mel for f in feats]), tokenizer, options)
    assert len(outputs[0]["probs"]) == len(outputs[0]["tokens"]) > 20
    ids = [t for t in outputs[0]["tokens"] if t < tokenizer.eot]
    (al,) = engine.model.model.align(encoded, tokenizer.sot_sequence, [ids], [2800],
                                     median_filter_width=7)
    diff = np.abs(np.array(outputs[0]["probs"][:len(ids)]) - al.text_token_probs)
    assert diff.mean() < 0.01 and (diff < 0.05).mean() > 0.95  # int8: not bit for bit
    (decoded,) = engine._worded(encoded, outputs, tokenizer, options, [feats[0].seconds])
    bare = [{k: v for k, v in o.items() if k != "probs"} for o in outputs]
    (aligned,) = engine._worded(encoded, bare, tokenizer, options, [feats[0].seconds])
    assert [s.text for s in decoded] == [s.text for s in aligned]
    close = [abs(a.mean_word_prob - b.mean_word_prob) < 0.01 for a, b in zip(decoded, aligned)]
    assert sum(close) >= len(close) - 1
