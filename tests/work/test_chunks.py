"""Chunk cutting, the chunk -> video timeline map, and the pool's batching rules."""

from __future__ import annotations

import threading

import numpy as np

from conftest import wait_for
from ytcorpus.models import Segment
from ytcorpus.work.chunks import Chunk, Video, cut_chunks
from ytcorpus.work.pool import ChunkPool

SR = 16000


def _regions(spans_s):
    return [({"start": int(a * SR), "end": int(b * SR)}, np.ones(int((b - a) * SR), np.float32))
            for a, b in spans_s]


def test_regions_join_into_chunks_of_at_most_30_seconds():
    got = list(cut_chunks(_regions([(0, 10), (12, 22), (25, 35), (40, 50), (60, 70)])))
    assert [round(a.size / SR) for a, _ in got] == [30, 20]
    assert got[0][1] == [(0, 10 * SR), (12 * SR, 22 * SR), (25 * SR, 35 * SR)]


def test_chunk_times_map_back_to_the_video_timeline():
    chunk = Chunk(Video("v"), 0, None, [(5 * SR, 10 * SR), (20 * SR, 25 * SR)], 10.0)
    assert chunk.to_original(0.0) == 5.0
    assert chunk.to_original(5.0, is_end=True) == 10.0   # the end of the first region
    assert chunk.to_original(5.0) == 20.0                # the start of the second
    assert chunk.to_original(7.0) == 22.0
    restored = chunk.restore([Segment(1.0, 7.5, "a b")])
    assert (restored[0].start, restored[0].end) == (6.0, 22.5)


def _chunk(seconds: float) -> Chunk:
    return Chunk(Video("v"), 0, None, [(0, int(seconds * SR))], seconds)


def test_the_pool_gives_full_batches_and_a_partial_one_only_at_the_end():
    pool = ChunkPool(1000)
    pool.expect()
    for _ in range(5):
        pool.put(_chunk(10))
    assert len(pool.take(4)) == 4
    assert pool.take(4, timeout=0.01) == []       # one ready, more may come: wait
    pool.produced()
    pool.source_idle(True)                        # nothing more is coming
    assert len(pool.take(4)) == 1
    pool.close()
    assert pool.take(4, timeout=0.01) is None


def test_the_pool_blocks_producers_at_its_bound_and_never_passes_it():
    pool = ChunkPool(50)
    pool.expect()
    done = threading.Event()

    def produce():
        for _ in range(10):
            pool.put(_chunk(20))
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    wait_for(lambda: pool._blocked_puts == 1)
    assert pool.in_flight == 40 and pool.peak == 40
    taken = pool.take(4)                          # full by seconds: a partial batch
    assert len(taken) == 2
    pool.release(taken)
    while not done.is_set():
        got = pool.take(2, timeout=0.1)
        if got:
            pool.release(got)
    assert pool.peak <= 50


def test_streaming_vad_gives_the_whole_file_regions_window_by_window(speech_clips):
    """Speech in a long stream, fed in blocks: the regions match one whole-array pass
    closely (windows restart the VAD's state), and a stream ending exactly at a window's
    end is fine."""
    from ytcorpus.work.vad import WINDOW_S, speech_regions, stream_speech

    gap = np.zeros(SR, np.float32)
    audio = np.concatenate([x for _, a, _ in speech_clips for x in (a, gap)] * 4)
    whole = speech_regions(audio)
    blocks = [audio[k:k + 7 * SR] for k in range(0, audio.size, 7 * SR)]
    streamed = [r for r, _ in stream_speech(blocks)]
    assert abs(len(streamed) - len(whole)) <= 2
    total = sum(r["end"] - r["start"] for r in whole)
    assert abs(sum(r["end"] - r["start"] for r in streamed) - total) < 0.05 * total
    assert all(a["end"] <= b["start"] for a, b in zip(streamed, streamed[1:]))
    exact = audio[:int(WINDOW_S * SR)]
    assert [r for r, _ in stream_speech([exact])] == [
        {"start": r["start"], "end": r["end"]} for r in speech_regions(exact)]
