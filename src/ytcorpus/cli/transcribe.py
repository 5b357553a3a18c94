"""`ytcorpus transcribe FILE|DIR|URL...`: audio to text with no queue, like whisper CLIs.

Folders are searched recursively for audio/video files; URLs and YouTube ids go through the
same Fetcher as the queue. With `-o DIR` each input becomes `DIR/<name>.<fmt>` for every
format asked (`--format txt,srt,json`), written as soon as that input is done; without it,
one input goes to stdout, or any number as one JSON array (`--format json`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..core.errors import ConfigError, UsageError, YtcorpusError
from ..output.formats import parse_formats, render, to_record, write_atomic
from ..core.device import check_device
from ..core.models import Transcript

log = logging.getLogger(__name__)

MEDIA_EXTENSIONS = {
    ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aiff",
    ".aif", ".amr", ".mka", ".webm", ".mp4", ".m4v", ".mkv", ".mov", ".avi", ".wmv", ".flv",
    ".mpg", ".mpeg", ".ts", ".3gp",
}


@dataclass
class Input:
    source: str                 # as the user gave it (path or URL)
    name: str                   # output name without extension, relative to -o DIR
    path: Path | None = None    # a local file
    video_id: str | None = None  # a URL or YouTube id: fetched first
    url: str | None = None
    seconds: float | None = None  # declared length, for the progress bar


# ---- inputs ------------------------------------------------------------------------------
def expand_inputs(items: Iterable[str]) -> tuple[list[Input], list[tuple[str, str]]]:
    """Files, folders (recursively, by extension) and URLs -> inputs; plus (item, problem)
    for items that are none of these."""
    from ..core.ids import is_youtube_id, parse_source

    inputs: list[Input] = []
    problems: list[tuple[str, str]] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
            if not found:
                problems.append((item, "folder has no audio or video files"))
            inputs += [Input(str(p), str(p.relative_to(path).with_suffix("")), path=p)
                       for p in found]
        elif path.is_file():
            inputs.append(Input(item, path.stem, path=path))
        elif re.match(r"^[a-z][a-z0-9+.-]*://", item, re.IGNORECASE) or is_youtube_id(item) \
                or item.startswith(("youtube.com/", "www.youtube.com/", "youtu.be/")):
            try:
                video_id, url = parse_source(item)
            except YtcorpusError as exc:
                problems.append((item, str(exc)))
                continue
            inputs.append(Input(item, video_id, video_id=video_id, url=url))
        else:
            problems.append((item, "no such file, folder or URL"))
    _unique_names(inputs)
    return inputs, problems


def _unique_names(inputs: list[Input]) -> None:
    """Inputs named alike never share an output file. Files that collide mirror their
    folders below the deepest folder they share (a/talk.wav, b/talk.wav -> a/talk, b/talk,
    as a folder input does); names that still collide keep their extension (talk.wav,
    talk.mp3); the same file given twice gets a counter (talk-2)."""
    for group in _collisions(inputs):
        local = [i for i in group if i.path is not None]
        if len(local) > 1:
            files = [i.path.resolve() for i in local]
            root = Path(os.path.commonpath([f.parent for f in files]))
            for inp, file in zip(local, files):
                inp.name = file.relative_to(root).with_suffix("").as_posix()
    for group in _collisions(inputs):
        for inp in group:
            if inp.path is not None:
                inp.name = f"{inp.name}{inp.path.suffix}"
    for group in _collisions(inputs):
        for n, inp in enumerate(group[1:], 2):
            inp.name = f"{inp.name}-{n}"


def _collisions(inputs: list[Input]) -> list[list[Input]]:
    """Groups of inputs whose output names are equal (case-insensitively: macOS, Windows)."""
    groups: dict[str, list[Input]] = {}
    for inp in inputs:
        groups.setdefault(inp.name.casefold(), []).append(inp)
    return [g for g in groups.values() if len(g) > 1]


def declared_seconds(path: Path) -> float | None:
    """The length a file's header declares (cheap: no decoding); None when unknown."""
    from ..core.audio import _open, declared_duration

    try:
        container = _open(str(path))
    except YtcorpusError:
        return None
    try:
        return declared_duration(container)
    finally:
        container.close()


def reason(exc: BaseException, inp: Input) -> str:
    """An error's text without the path repeated or errno numbers."""
    text = str(exc)
    for shown in {inp.source, str(inp.path or "")} - {""}:
        text = text.replace(f"'{shown}'", "").replace(shown, "")
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r"(:\s*)+:", ":", text)
    text = re.sub(r"\s+", " ", text).strip(" :")
    text = re.sub(r"\b(in|of|file)$", "", text).strip(" :")
    return text or getattr(exc, "kind", type(exc).__name__)


# ---- transcription, streamed ----------------------------------------------------------------
def stream_transcripts(engine, inputs: list[Input], fetch_config=None, *, diarize: bool = False,
                       ) -> Iterator[tuple[Input, Transcript | BaseException]]:
    """(input, transcript or the error) in input order, each as soon as it is done, through
    the worker's stages (work/pipeline.py: prepare threads, a bounded chunk pool, chunks of
    several files sharing engine batches). URLs are downloaded just before they are needed
    and deleted once transcribed."""
    from collections import deque

    from ..work.pipeline import transcribe_files

    with tempfile.TemporaryDirectory(prefix="ytcorpus-transcribe-") as tmp:
        fetcher = None
        entries: deque = deque()  # (input, fetched file or None, error or None), in order

        def paths() -> Iterator[str]:
            nonlocal fetcher
            for inp in inputs:
                if inp.path is not None:
                    entries.append((inp, None, None))
                    yield str(inp.path)
                    continue
                if fetcher is None:
                    from ..core.config import FetchConfig, build
                    from ..acquire.ytdlp import Fetcher

                    fetcher = Fetcher(fetch_config or build(FetchConfig, work_dir=tmp))
                try:
                    got = fetcher.fetch(inp.video_id, inp.url)
                except (YtcorpusError, OSError) as exc:
                    entries.append((inp, None, exc))
                    continue
                entries.append((inp, got, None))
                yield str(got.path)

        def failed_before() -> Iterator[tuple[Input, BaseException]]:
            while entries and entries[0][2] is not None:
                inp, _, exc = entries.popleft()
                yield inp, exc

        for _path, result in transcribe_files(engine, paths(), ordered=True,
                                              diarize=diarize):
            yield from failed_before()
            inp, got, _ = entries.popleft()
            if got is not None:
                got.cleanup()
            yield inp, result
        yield from failed_before()


def register(sub) -> None:
    import argparse

    from .args import positive_int

    s = sub.add_parser("transcribe", help="transcribe files, folders or URLs (no queue)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Transcribe audio/video files, folders (searched "
                       "recursively) and URLs or YouTube ids (downloaded like queued videos). "
                       "With -o DIR, each input becomes DIR/NAME.FMT for every format, "
                       "written as soon as it is done; without it, one input is printed, "
                       "or any number as one JSON array (--format json). Exits 1 if any "
                       "input failed (the others are still written).",
                       epilog="examples:\n"
                              "  ytcorpus transcribe talk.mp3\n"
                              "  ytcorpus transcribe lectures/ -o transcripts/ "
                              "--format txt,srt,json --skip-existing\n"
                              "  ytcorpus transcribe https://youtu.be/VIDEOID --format srt "
                              "> a.srt\n"
                              "  ytcorpus transcribe a.wav b.mp4 --format json | jq '.[].text'")
    s.add_argument("inputs", nargs="+", metavar="FILE|DIR|URL")
    s.add_argument("-o", "--output-dir", metavar="DIR",
                   help="write DIR/NAME.FMT per input (default: stdout); inputs named alike "
                   "from different folders mirror their folders under DIR")
    s.add_argument("--format", metavar="FMT[,FMT]",
                   help="txt, srt, vtt, json, comma-separated, or all (default txt)")
    s.add_argument("--skip-existing", action="store_true",
                   help="with -o: skip inputs whose output files all exist")
    s.add_argument("--engine", choices=["transformers", "ctranslate2"],
                   help="default: transformers on CUDA, ctranslate2 on CPU")
    s.add_argument("--model", help="hub id, local directory, or tiny.en (packaged)")
    s.add_argument("--device", help="auto|cpu|cuda|cuda:N (default auto)")
    s.add_argument("--batch-size", type=positive_int, help="audio chunks per batch (default 8)")
    s.add_argument("--diarize", action="store_true", default=None,
                   help="who spoke when: segments get speaker S1, S2, ...; SRT [S1], VTT "
                        "<v S1>, txt one paragraph per turn (pip install 'ytcorpus[diarize]')")
    s.add_argument("--second-decoding", action=argparse.BooleanOptionalAction, default=None,
                   help="decode doubtful chunks (a segment's mean word probability under "
                        "0.6) a second time, beam search: invented text changes between "
                        "decodings, heard words do not (default on; docs/quality.md)")
    s.set_defaults(func=transcribe_command)

# ---- the command ------------------------------------------------------------------------------
def transcribe_command(args) -> int:
    from ..core.config import TranscribeConfig, build
    from ..engines import load_engine

    cfg = build(TranscribeConfig, device=args.device, engine=args.engine, model=args.model,
                batch_size=args.batch_size, format=args.format,
                diarize=getattr(args, "diarize", None),
                second_decoding=getattr(args, "second_decoding", None))
    formats = parse_formats(cfg.format)
    inputs, problems = expand_inputs(args.inputs)
    for item, problem in problems:
        print(f"ytcorpus: error: {item}: {problem}", file=sys.stderr)
    out_dir = Path(args.output_dir) if args.output_dir else None
    _check_outputs(out_dir, formats, inputs, args.skip_existing)
    if out_dir is not None and args.skip_existing:
        kept = [i for i in inputs if not all((out_dir / f"{i.name}.{f}").exists()
                                             for f in formats)]
        if len(kept) < len(inputs):
            log.info("skipping %d input(s) whose outputs exist", len(inputs) - len(kept))
        inputs = kept
    if not inputs:
        return 1 if problems else 0
    if cfg.diarize:
        from ..speakers import require_diarize

        require_diarize()
    device = check_device(cfg.device, cfg.engine)
    engine = load_engine(cfg.engine, cfg.model, device, batch_size=cfg.batch_size)
    if hasattr(engine, "second_decoding"):
        engine.second_decoding = cfg.second_decoding
    if {"srt", "vtt"} & set(formats):  # subtitles: each cue's time from its words'
        from ..work.pipeline import want_word_times

        want_word_times(engine)
    sink = Sink(out_dir, formats)
    failed = len(problems)
    with TranscribeProgress(inputs) as progress:
        for inp, got in stream_transcripts(engine, inputs, diarize=cfg.diarize):
            if isinstance(got, BaseException):
                failed += 1
                progress.print(f"ytcorpus: error: {inp.source}: {reason(got, inp)}")
                sink.failure(inp, got)
            else:
                sink.write(inp, got)
            progress.advance(inp, got)
    sink.close()
    return 1 if failed else 0


def _check_outputs(out_dir: Path | None, formats: list[str], inputs: list[Input],
                   skip_existing: bool) -> None:
    if out_dir is None:
        if skip_existing:
            raise UsageError("--skip-existing needs -o DIR")
        if formats != ["json"] and len(formats) > 1:
            raise UsageError("several formats need -o DIR (one file per input and format)")
        if formats != ["json"] and len(inputs) > 1:
            raise UsageError(f"{len(inputs)} inputs: give -o DIR for one file per input, "
                              "or --format json for one JSON array on stdout")
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"-o {out_dir}: is an existing file; -o takes a folder "
                          "(each input becomes DIR/NAME.FMT)")
    if not out_dir.exists() and out_dir.suffix:
        raise ConfigError(f"-o {out_dir}: looks like a file name; -o takes a folder (each "
                          "input becomes DIR/NAME.FMT); to print one transcript into a "
                          f"file, leave -o out and redirect: > {out_dir}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"-o {out_dir}: {exc.strerror}") from None


class Sink:
    """Where results go: one file per input and format, or stdout."""

    def __init__(self, out_dir: Path | None, formats: list[str]):
        self.out_dir, self.formats = out_dir, formats
        self.json_open = False

    def write(self, inp: Input, t: Transcript) -> None:
        if self.out_dir is not None:
            for fmt in self.formats:
                write_atomic(self.out_dir / f"{inp.name}.{fmt}", render(fmt, inp.source, t))
        elif self.formats == ["json"]:
            self._json_item(to_record(inp.source, t))
        else:
            sys.stdout.write(render(self.formats[0], inp.source, t))
            sys.stdout.flush()

    def failure(self, inp: Input, exc: BaseException) -> None:
        if self.out_dir is None and self.formats == ["json"]:
            self._json_item({"file": inp.source, "error": reason(exc, inp),
                             "error_kind": getattr(exc, "kind", "error")})

    def _json_item(self, record: dict) -> None:
        import json

        text = json.dumps(record, ensure_ascii=False, indent=2)
        sys.stdout.write(("[\n" if not self.json_open else ",\n") + text)
        sys.stdout.flush()
        self.json_open = True

    def close(self) -> None:
        if self.out_dir is None and self.formats == ["json"]:
            sys.stdout.write("\n]\n" if self.json_open else "[]\n")
            sys.stdout.flush()


class TranscribeProgress:
    """A progress bar on stderr (terminal only): files, audio hours, speed, ETA."""

    def __init__(self, inputs: list[Input]):
        self.inputs = inputs
        self.started = time.monotonic()
        self.audio_done = 0.0
        self.done = 0
        self.bar = None

    def __enter__(self):
        if sys.stderr.isatty():
            from ..observe.progress import log_console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            for inp in self.inputs:
                if inp.path is not None:
                    inp.seconds = declared_seconds(inp.path)
            total = sum(i.seconds or 0.0 for i in self.inputs) or None
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.fields[files]}"), TextColumn("{task.fields[hours]}"),
                TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
                console=log_console(), transient=False)
            self.bar.start()
            self.task = self.bar.add_task("transcribing", total=total, files=self._files(),
                                          hours=self._hours(total), speed="")
        return self

    def _files(self) -> str:
        return f"{self.done}/{len(self.inputs)} files"

    def _hours(self, total: float | None) -> str:
        of = f" of {total / 3600:.2f}" if total else ""
        return f"{self.audio_done / 3600:.2f}{of} h audio"

    def print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr)

    def advance(self, inp: Input, got) -> None:
        self.done += 1
        seconds = got.duration if isinstance(got, Transcript) else 0.0
        self.audio_done += seconds
        if self.bar is not None:
            step = inp.seconds if inp.seconds is not None else seconds
            total = self.bar.tasks[0].total
            speed = self.audio_done / max(1e-6, time.monotonic() - self.started)
            self.bar.update(self.task, advance=step, files=self._files(),
                            hours=self._hours(total), speed=f"{speed:.1f}x realtime")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
        wall = time.monotonic() - self.started
        audio = (f"{self.audio_done / 3600:.2f} h" if self.audio_done >= 3600
                 else f"{self.audio_done / 60:.1f} min")
        log.info("transcribed %d input(s), %s of audio in %.0f s (%.1fx realtime)", self.done,
                 audio, wall, self.audio_done / wall if wall else 0.0)
