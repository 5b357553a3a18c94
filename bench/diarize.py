"""Diarization (`--diarize`) on a multi-speaker set built here, against the issue's targets.

    python bench/diarize.py [--per-count 5] [--seconds 60] [--lectures 2] [--minutes 5]
                            [--hops 0.75,1.5]

The set (tests/conversations.py): per_count files each of 1, 2, 3 and 4 speakers, espeak-ng
voices and a real recorded speaker (CMU ARCTIC), turns of 1-30 s and back-channels
("Yes.", "Okay."). Scored with pyannote.metrics' DER (collar 0.25 s, overlap skipped).
Targets (issue 21): DER <= 0.10, the right number of speakers on >= 90% of files,
single-speaker lectures (tests/lectures.py) stay one speaker, and diarization at most 25%
of tiny.en's transcription time on CPU, measured side by side on the same files (CPU
seconds of this process and wall seconds; the machine is shared, so read ratios). The
transcripts' own speaker labels are scored too (segments split at changes of speaker,
words' times shared by length as --diarize does, and aligned).
Memory: embeddings kept per second of speech and the peak RSS on the longest input.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from conversations import conversation_set  # noqa: E402
from lectures import make_lecture  # noqa: E402
from ytcorpus.core.audio import iter_mono16k  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402
from ytcorpus.speakers.assign import speaker_turns  # noqa: E402
from ytcorpus.speakers.cluster import cluster_speakers  # noqa: E402
from ytcorpus.speakers.embed import HOP_S, WindowEmbedder  # noqa: E402
from ytcorpus.work.vad import stream_speech  # noqa: E402
from ytcorpus.work.pipeline import transcribe_files  # noqa: E402
from ytcorpus.work.prepare import one_blas_thread  # noqa: E402


class Clock:
    """CPU seconds of this process and wall seconds, summed over `with` blocks."""

    def __init__(self):
        self.cpu = self.wall = 0.0

    def __enter__(self):
        self._c, self._w = time.process_time(), time.perf_counter()

    def __exit__(self, *exc):
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


def diarize_file(path: Path, clock: Clock, hop: float = HOP_S) -> tuple[list, int, int, float]:
    """(turns, speakers, windows, speech seconds) — VAD outside the clock: the prepare stage
    runs it for transcription anyway; embedding and clustering inside."""
    embedder = None
    with clock:
        embedder = WindowEmbedder(hop_s=hop)
    samples = 0  # speech samples
    for region, audio in stream_speech(iter_mono16k(str(path))):
        samples += audio.size
        with clock:
            embedder.add(int(region["start"]), audio)
    with clock:
        labels = cluster_speakers(embedder.out.matrix())
        turns = speaker_turns(embedder.out.times, labels)
    return turns, len(set(labels.tolist())), len(embedder.out), samples / 16000


def annotation(turns):
    from pyannote.core import Annotation, Segment

    a = Annotation()
    for start, end, who in turns:
        a[Segment(start, end)] = who
    return a


def transcribe_time(engine, paths: list[Path], clock: Clock) -> None:
    with clock:
        for _, got in transcribe_files(engine, [str(p) for p in paths], prepare_threads=1):
            if isinstance(got, BaseException):
                raise got


def main() -> None:
    from pyannote.metrics.diarization import DiarizationErrorRate

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--per-count", type=int, default=5, help="files per number of speakers")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each conversation")
    p.add_argument("--lectures", type=int, default=2, help="single-speaker lectures")
    p.add_argument("--minutes", type=float, default=5.0, help="length of each lecture")
    p.add_argument("--hops", type=lambda v: [float(x) for x in v.split(",")],
                   default=[HOP_S], help="seconds between embedding windows, comma-separated "
                   f"to compare (default {HOP_S:g})")
    p.add_argument("--memory-minutes", type=float, default=0.0,
                   help="also stream one lecture this long: the process's peak RSS before "
                        "and after (streamed: it should not grow with the length)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.gettempdir()) / "ytcorpus-bench-diarize"
    convs = conversation_set(folder, per_count=args.per_count, seconds=args.seconds)
    lectures = [make_lecture(folder / f"lecture-{args.minutes:g}min-{i}.webm",
                             args.minutes * 60, offset=i)[0] for i in range(args.lectures)]
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    WindowEmbedder()  # the encoder's one-time load stays out of the timings
    asr = Clock()
    runs = {}
    blas = one_blas_thread()  # as the prepare stage runs them
    blas.__enter__()
    for hop in args.hops:
        diar = Clock()
        right, windows, speech = 0, 0, 0.0
        der = DiarizationErrorRate(collar=0.25, skip_overlap=True)
        print(f"\nwindows every {hop:g} s\n{'file':<18} {'speakers':>8} {'found':>5} {'DER':>6}")
        for c in convs:
            turns, found, n, _ = diarize_file(c.path, diar, hop)
            value = der(annotation(c.turns), annotation(turns))
            right += found == c.speakers
            print(f"{c.path.stem:<18} {c.speakers:>8} {found:>5} {value:>6.3f}")
        single = 0
        for path in lectures:
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            _, found, n, seconds = diarize_file(path, diar, hop)
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            single += found == 1
            windows, speech = windows + n, speech + seconds
            print(f"{path.stem:<18} {1:>8} {found:>5}      -   ({n} windows, peak RSS "
                  f"+{(rss1 - rss0) / 1024:.0f} MB)")
        runs[hop] = (abs(der), right, single, diar, windows, speech)
    if args.memory_minutes:
        long = make_lecture(folder / f"lecture-{args.memory_minutes:g}min.webm",
                            args.memory_minutes * 60)[0]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        _, found, n, seconds = diarize_file(long, Clock())
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{long.stem:<18} {1:>8} {found:>5}      -   ({n} windows over {seconds / 60:.0f} "
              f"min of speech; the process's peak RSS {before:.0f} MB before, "
              f"{after:.0f} MB after)")
    if not convs:
        return
    transcribe_time(engine, [c.path for c in convs] + lectures, asr)
    # what aligned word times would add (subtitles ask for them; --diarize does not)
    worded = Clock()
    engine.word_timestamps = True
    transcribe_time(engine, [c.path for c in convs] + lectures, worded)
    engine.word_timestamps = False
    # the transcript's own speaker labels (segments split at changes of speaker) against
    # the reference turns: words' times shared by length (what --diarize uses) and aligned
    # (what subtitles ask for); confusion alone is the share of speech given the wrong voice
    seg_der = {}
    for mode in ("by length", "aligned"):
        der = DiarizationErrorRate(collar=0.25, skip_overlap=True)
        engine.word_timestamps = mode == "aligned"
        confusion = total = 0.0
        try:
            for c, (_, t) in zip(convs, transcribe_files(
                    engine, [str(c.path) for c in convs], prepare_threads=1, diarize=True)):
                parts = der(annotation(c.turns), annotation(
                    [(s.start, s.end, s.speaker) for s in t.segments if s.end > s.start]),
                    detailed=True)
                confusion, total = confusion + parts["confusion"], total + parts["total"]
        finally:
            engine.word_timestamps = False
        seg_der[mode] = (abs(der), confusion / max(total, 1e-9))
    print("\nDER of the transcripts' segments (a speaker per segment, split at changes): " +
          "; ".join(f"word times {m}: {v:.3f} (confusion {c:.3f})"
                    for m, (v, c) in seg_der.items()))
    for hop, (value, right, single, diar, windows, speech) in runs.items():
        extra = worded.cpu - asr.cpu
        print(f"\nwindows every {hop:g} s: DER {value:.3f} (collar 0.25, overlap skipped) over "
              f"{len(convs)} files; right number of speakers {right}/{len(convs)} "
              f"({right / len(convs):.0%}); single-speaker lectures kept as one: "
              f"{single}/{len(lectures)}")
        print(f"time: diarization {diar.cpu:.1f} CPU s / {diar.wall:.1f} wall s, tiny.en "
              f"transcription {asr.cpu:.1f} CPU s / {asr.wall:.1f} wall s: "
              f"{diar.cpu / asr.cpu:.0%} (CPU), {diar.wall / asr.wall:.0%} (wall)")
        print(f"(aligning every chunk for word times, as subtitles do and --diarize does not: "
              f"{worded.cpu:.1f} CPU s / {worded.wall:.1f} wall s, {extra:+.1f} CPU s)")
        if windows:
            per_hour = windows / max(speech, 1e-9) * 3600 * 256 * 4 / 2 ** 20
            print(f"memory: {windows / max(speech, 1e-9):.2f} windows per second of speech = "
                  f"{per_hour:.1f} MB of embeddings per hour (3 h: {3 * per_hour:.0f} MB); "
                  "clustering holds at most 2000 windows")


if __name__ == "__main__":
    main()
