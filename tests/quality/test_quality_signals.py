"""Quality signals, loops across segments, stock phrases, flags, language decisions and
paragraphs, on hand-built segments (the real-speech checks are in test_quality_speech)."""

from ytcorpus.models import Segment
from ytcorpus.quality import build_transcript
from ytcorpus.quality.flags import flags_for
from ytcorpus.quality.hallucination import is_stock_phrase
from ytcorpus.quality.language import decide, metadata_language
from ytcorpus.quality.loops import cut_segment_loops
from ytcorpus.quality.paragraphs import join_paragraphs
from ytcorpus.quality.signals import duplicate_ngram_share, measure, top_ngram_share

LECTURE = ("Today we look at how rivers shape valleys over thousands of years. Water carries "
           "sand and stones downhill, and every flood cuts a little deeper into the rock. Where "
           "the ground is soft the valley grows wide, and where it is hard the river cuts a "
           "narrow gorge with steep walls. Next week we will visit one near the city.").split(". ")


def lecture_segments(start: float = 0.0, step: float = 4.0) -> list[Segment]:
    return [Segment(start + i * step, start + i * step + step - 0.2, s.strip() + ".",
                    avg_logprob=-0.3) for i, s in enumerate(LECTURE)]


def test_a_loop_across_segments_is_flagged_and_cut():
    segs = lecture_segments()
    loop = [Segment(16 + i * 2, 17.5 + i * 2, "I'll see you in the next video.", -0.4)
            for i in range(12)]
    t = build_transcript(segs + loop, duration=60.0, language="en", speech_s=40.0)
    assert t.text.count("see you in the next video") == 1
    assert t.text.startswith("Today we look at how rivers")
    assert "segment_loop_cut" in t.flags and t.quality["loops_cut"] == 11
    assert "gopher_repetition" not in t.flags  # what is left is the lecture


def test_cycles_of_segments_and_word_loops_split_over_segments():
    a, b = Segment(0, 1, "So this is it."), Segment(1, 2, "And that is that.")
    kept, dropped = cut_segment_loops([a, b] * 6)
    assert [s.text for s in kept] == ["So this is it.", "And that is that."] and dropped == 10
    two = [a, b, a, b]  # twice in a row is not a loop
    assert cut_segment_loops(two) == (two, 0)
    same = [Segment(i, i + 1, "The The") for i in range(20)]
    t = build_transcript(lecture_segments() + [Segment(20 + s.start, 21 + s.start, s.text)
                                               for s in same], 60.0, "en", 40.0)
    assert t.text.count("The The") == 1 and "segment_loop_cut" in t.flags


def test_gopher_repetition_fractions():
    words = "a b c d e".split() * 10
    assert duplicate_ngram_share(words, 5) == 1.0
    assert top_ngram_share(words, 2) > 0.2
    fresh = " ".join(LECTURE).split()
    assert duplicate_ngram_share(fresh, 5) == 0.0 and top_ngram_share(fresh, 2) < 0.2
    q = measure([Segment(i, i + 1, "we will see the same thing again and again now")
                 for i in range(8)] + lecture_segments(8), 60.0, 40.0)
    assert "gopher_repetition" in flags_for(q)
    assert "gopher_repetition" not in flags_for(measure(lecture_segments(), 20.0, 18.0))


def test_stock_phrases():
    assert is_stock_phrase("Thanks for watching!")
    assert is_stock_phrase("Subtitles by the Amara.org community")
    assert not is_stock_phrase("Thanks to the watchmaker, the clock ran again.")
    segs = [Segment(0, 10, "Thanks for watching!"), Segment(10, 20, "Please subscribe.")]
    t = build_transcript(segs, 30.0, "en", 20.0)
    assert "stock_phrases" in t.flags and t.language == "und"


def test_language_decisions():
    english = {"speech_s": 40.0, "wpm": 140.0, "stock_phrase_share": 0.0}
    garbled = {"speech_s": 40.0, "wpm": 20.0, "stock_phrase_share": 0.0}
    assert decide("en", english) == ("en", "signals")
    assert decide("en", garbled) == ("und", "signals")
    assert decide("en", garbled, metadata="de") == ("de", "metadata")
    assert decide("de", garbled, multilingual=True) == ("de", "model")
    assert decide("en", garbled, multilingual=True) == ("en", "model")
    assert decide("en", {"speech_s": 3.0, "wpm": 20.0}) == ("en", "model")


def test_metadata_language():
    assert metadata_language({"language": "de-DE"}) == "de"
    assert metadata_language({"automatic_captions": {"fr": [], "es-orig": [], "en": []}}) == "es"
    assert metadata_language({"title": "x"}) is None and metadata_language(None) is None


def test_paragraphs_at_long_pauses():
    segs = [Segment(0, 3, "One."), Segment(3.2, 6, "Two."), Segment(9, 11, "Three.")]
    assert join_paragraphs(segs) == "One. Two. Three."  # segment gaps alone: only very long
    assert join_paragraphs(segs, silences=[(6.3, 8.7)]) == "One. Two.\n\nThree."
    assert join_paragraphs(segs, silences=[(6.3, 7.0)]) == "One. Two. Three."  # a breath
    late = segs + [Segment(20, 22, "Four.")]
    assert join_paragraphs(late) == "One. Two. Three.\n\nFour."
    regions = [{"start": 0, "end": int(6.3 * 16000)},
               {"start": int(8.7 * 16000), "end": 11 * 16000}]
    t = build_transcript(segs, 12.0, "en", 10.0, regions=regions)
    assert t.text == "One. Two.\n\nThree." and t.quality["words"] == 3


def test_multilingual_model_without_a_language_reads_the_words():
    german = [Segment(i * 5, i * 5 + 4.5, s) for i, s in enumerate((
        "Die Druckerpresse hat die Geschichte der Welt verändert.",
        "Bevor sie erfunden wurde, wurden Bücher mit der Hand abgeschrieben.",
        "Plötzlich konnte eine Werkstatt Hunderte von Kopien herstellen.",
        "Ideen verbreiteten sich schneller als je zuvor."))]
    t = build_transcript(german, 20.0, None, 18.0, multilingual=True)
    assert (t.language, t.language_source) == ("und", "signals")
    t = build_transcript(german, 20.0, None, 18.0, multilingual=True, metadata_language="de")
    assert (t.language, t.language_source) == ("de", "metadata")
    t = build_transcript(lecture_segments(), 20.0, None, 18.0, multilingual=True)
    assert (t.language, t.language_source) == ("en", "signals")
