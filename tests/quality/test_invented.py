"""Invented segments cut and counted from per-segment evidence (word probabilities,
a second decoding's agreement), as engines and plugins give it; rows that were mostly
invented, or that looped and kept unsure text, are flagged `hallucination` and left out
of `export --clean`."""

from __future__ import annotations

from ytcorpus.models import Segment
from ytcorpus.quality import build_transcript
from ytcorpus.output.clean import CleanFilter

LECTURE = ["Today we look at how rivers shape valleys over thousands of years.",
           "Water carries sand and stones downhill, and every flood cuts deeper.",
           "Where the ground is soft the valley grows wide and flat.",
           "Where it is hard the river cuts a narrow gorge with steep walls."]


def heard(i: int, text: str) -> dict:
    return {"start": 4.0 * i, "end": 4.0 * i + 3.5, "text": text, "avg_logprob": -0.2,
            "no_speech_prob": 0.01, "word_probs": [0.9, 0.95, 0.85] + [0.92] * 8}


def invented(i: int, text: str, agreement: float | None = 0.1) -> dict:
    seg = {"start": 4.0 * i, "end": 4.0 * i + 3.5, "text": text, "avg_logprob": -0.6,
           "no_speech_prob": 0.2, "mean_word_prob": 0.55, "min_word_prob": 0.2}
    if agreement is not None:
        seg["agreement"] = agreement
    return seg


def build(dicts: list[dict]):
    segments = [Segment.coerce(d) for d in dicts]
    return build_transcript(segments, 4.0 * len(dicts) + 1, "en", 3.5 * len(dicts))


def test_plugin_dict_scores_reach_the_segment():
    seg = Segment.coerce(heard(0, LECTURE[0]))
    assert seg.mean_word_prob is not None and abs(seg.mean_word_prob - (2.7 + 8 * 0.92) / 11) < 1e-9
    assert seg.min_word_prob == 0.85 and seg.agreement is None
    assert Segment.coerce({"start": 0, "end": 1, "text": "x"}).mean_word_prob is None


def test_invented_tail_is_cut_and_counted_real_segments_kept():
    tail = [invented(4 + k, text) for k, text in enumerate(
        ["We are now on the way to the water.", "I'm going to be doing this video.",
         "Thank you."])]
    t = build([heard(i, s) for i, s in enumerate(LECTURE)] + tail)
    assert [s.text for s in t.segments] == LECTURE
    assert t.quality["hallucination_cut"] == 3 and "hallucination_cut" in t.flags
    assert "hallucination" not in t.flags  # mostly real speech: the row stays
    assert CleanFilter().keep(_row(t))


def test_a_row_of_invented_text_has_no_text_left():
    t = build([invented(k, f"We are now on the way to the water number {k}.")
               for k in range(5)])
    assert t.text == "" and t.quality["hallucination_cut"] == 5
    assert not CleanFilter().keep(_row(t))


def test_confident_agreeing_segments_stay_without_evidence_nothing_is_cut():
    # unsure words that a second decoding wrote again are kept
    t = build([dict(invented(i, s, agreement=1.0), mean_word_prob=0.75)
               for i, s in enumerate(LECTURE)])
    assert [s.text for s in t.segments] == LECTURE and "hallucination_cut" not in t.flags
    # segments without any evidence (older plugins) are never cut
    t = build([{"start": 4.0 * i, "end": 4.0 * i + 3.5, "text": s}
               for i, s in enumerate(LECTURE)])
    assert len(t.segments) == 4 and not {"hallucination", "hallucination_cut"} & set(t.flags)


def test_loop_rows_stay_only_when_what_remains_was_heard():
    loop = "We are now on the way to the water."
    sure = [heard(i, s) for i, s in enumerate(LECTURE)] + [
        dict(heard(4 + k, loop), word_probs=[0.9] * 9) for k in range(6)]
    t = build(sure)
    assert "segment_loop_cut" in t.flags and "hallucination" not in t.flags
    assert CleanFilter().keep(_row(t))
    unsure = [dict(heard(i, s), word_probs=[0.7] * 11) for i, s in enumerate(LECTURE)] + [
        dict(heard(4 + k, loop), word_probs=[0.7] * 9) for k in range(6)]
    t = build(unsure)
    assert "segment_loop_cut" in t.flags and "hallucination" in t.flags
    clean = CleanFilter()
    assert not clean.keep(_row(t))
    assert clean.report()["clean"]["removed"]["hallucination"]["rows"] == 1
    assert "hallucination" in clean.report()["clean"]["thresholds"]


def _row(t) -> dict:
    return {"video_id": "v", "transcript": t.text, "flags": t.flags,
            "duration_seconds": t.duration, "language": t.language}


def test_a_second_decoding_that_skipped_a_stretch_is_no_evidence_against_it():
    from ytcorpus.quality.evidence import agree, skips

    segs = [Segment(0.0, 3.0, "A press with movable metal type."),
            Segment(3.0, 8.0, "Suddenly a workshop could produce hundreds of copies."),
            Segment(8.0, 12.0, "His famous rival printed about a hundred copies."),
            Segment(12.0, 16.0, "Within fifty years there were print shops everywhere.")]
    # beam search started at the third sentence: the first two were not compared
    skipped = agree(segs, "His famous rival printed about a hundred copies. Within fifty "
                          "years there were print shops everywhere.")
    assert [s.agreement for s in skipped] == [None, None, 1.0, 1.0]
    assert skips(segs, "His famous rival printed about a hundred copies.")
    # a decoding that wrote other words throughout disagrees with every segment
    other = agree(segs, "We are now on the way to the water. We are now on the way.")
    assert all(s.agreement is not None and s.agreement < 0.35 for s in other)
    # the same words with a few changed: compared, segment by segment
    close = agree(segs, "A press with movable type. Suddenly a workshop could make "
                        "hundreds of copies. His famous rival printed about a hundred "
                        "copies. Within fifty years there were print shops everywhere.")
    assert all(s.agreement is not None and s.agreement > 0.7 for s in close)
    assert not skips(segs, "A press with movable type. Suddenly a workshop could make "
                           "hundreds of copies. His famous rival printed about a hundred "
                           "copies. Within fifty years there were print shops everywhere.")
