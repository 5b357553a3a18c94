"""Speaker turns onto segments, and the formats that show them (no model needed)."""

from __future__ import annotations

import json

import numpy as np

from ytcorpus.output.formats import render
from ytcorpus.core.models import Segment, Transcript
from ytcorpus.speakers.assign import Turn, apply_speakers, assign_speakers, speaker_turns
from ytcorpus.speakers.cluster import cluster_speakers


def test_overlapping_windows_become_turns_cut_halfway_between_centres():
    times = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (5.0, 5.4)]
    turns = speaker_turns(times, [0, 0, 1, 0])
    assert turns == [Turn(0.0, 1.875, "S1"), Turn(1.875, 3.0, "S2"), Turn(5.0, 5.4, "S1")]


def test_a_segment_spanning_a_change_of_speaker_is_split_at_a_word_boundary():
    turns = [Turn(0.0, 4.0, "S2"), Turn(4.0, 8.0, "S1")]
    seg = Segment(0.0, 8.0, "one two three four five six seven eight", -0.2, 1.1, 0.01)
    first, second = assign_speakers([seg], turns)
    assert (first.speaker, second.speaker) == ("S2", "S1")
    assert first.text.split() + second.text.split() == seg.text.split()
    assert first.end == second.start and 3.0 < first.end < 5.0
    assert first.avg_logprob == -0.2  # decoding scores kept on each piece


def test_engine_word_times_decide_the_split_when_given():
    words = ((0.0, 0.5, "yes"), (0.6, 3.9, "absolutely"), (4.1, 4.5, "right"),
             (4.6, 7.9, "thanks"))
    seg = Segment(0.0, 8.0, "yes absolutely right thanks", words=words)
    pieces = assign_speakers([seg], [Turn(0.0, 4.0, "S1"), Turn(4.0, 8.0, "S2")])
    assert [(p.text, p.speaker, p.start, p.end) for p in pieces] == [
        ("yes absolutely", "S1", 0.0, 3.9), ("right thanks", "S2", 4.1, 7.9)]


def test_short_overlap_goes_to_the_majority_and_labels_follow_first_appearance():
    turns = [Turn(0.0, 3.0, "S2"), Turn(3.0, 3.3, "S1"), Turn(3.3, 9.0, "S2"),
             Turn(9.5, 12.0, "S1")]
    t = Transcript("a b", [Segment(0.5, 8.0, "hello there friends"),
                           Segment(9.6, 11.0, "okay")], "en", 12.0)
    apply_speakers(t, turns)
    assert [(s.text, s.speaker) for s in t.segments] == [("hello there friends", "S1"),
                                                         ("okay", "S2")]
    assert t.speakers == 2


def test_every_format_shows_the_speaker():
    t = Transcript("Hello there. Yes. Fine.", [
        Segment(0.0, 1.0, "Hello there.", speaker="S1"), Segment(1.2, 1.6, "Yes.", speaker="S2"),
        Segment(1.8, 2.5, "Fine.", speaker="S2")], "en", 3.0, speakers=2)
    assert render("txt", "a.wav", t) == "S1: Hello there.\n\nS2: Yes. Fine.\n"
    assert "\n[S2] Yes.\n" in render("srt", "a.wav", t)
    vtt = render("vtt", "a.wav", t)
    assert vtt.startswith("WEBVTT\n") and "\n<v S1>Hello there.\n" in vtt
    record = json.loads(render("json", "a.wav", t))
    assert record["speakers"] == 2
    assert [s["speaker"] for s in record["segments"]] == ["S1", "S2", "S2"]
    plain = Transcript("Hello.", [Segment(0.0, 1.0, "Hello.")], "en", 1.0)
    assert render("txt", "a.wav", plain) == "Hello.\n" and "speakers" not in json.loads(
        render("json", "a.wav", plain))
    assert "[" not in render("srt", "a.wav", plain) and "<v" not in render("vtt", "a.wav", plain)


def test_clusters_found_without_knowing_how_many():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 64))
    points = np.concatenate([c + 0.15 * rng.normal(size=(20, 64)) for c in centres[[1, 0, 2]]])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    labels = cluster_speakers(points)
    assert labels.tolist() == [0] * 20 + [1] * 20 + [2] * 20
    one = centres[0] + 0.15 * rng.normal(size=(30, 64))
    assert set(cluster_speakers(one / np.linalg.norm(one, axis=1, keepdims=True))) == {0}
