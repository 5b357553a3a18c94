"""Hallucination guards: repetition loops, no-speech segments, non-speech markers."""

from ytcorpus.models import Segment
from ytcorpus.quality import build_transcript, clean_segments, cut_repetitions


def test_repetition_loops_are_cut():
    loop = "so what we do is " + "thank you very much " * 30 + "and then we stop"
    cut = cut_repetitions(loop)
    assert cut.count("thank you very much") == 2
    assert cut.startswith("so what we do is") and cut.endswith("and then we stop")
    assert cut_repetitions("a b a b c") == "a b a b c"
    assert cut_repetitions("no no no no no") == "no no"


def test_no_speech_segments_and_markers_are_dropped():
    segs = [Segment(0, 2, "you", avg_logprob=-1.5, no_speech_prob=0.9),
            Segment(2, 5, "[Music] Hello class ♪", avg_logprob=-0.2, no_speech_prob=0.1),
            Segment(5, 7, "(applause)", avg_logprob=-0.3, no_speech_prob=0.2)]
    kept, flags = clean_segments(segs, duration=6.0)
    assert [s.text for s in kept] == ["Hello class"]
    assert kept[0].end == 5 and "dropped_no_speech" in flags


def test_too_little_speech_is_no_speech():
    t = build_transcript([Segment(0, 1, "you")], duration=20.0, language="en", speech_s=0.1)
    assert t.no_speech and t.text == "" and t.segments == []
