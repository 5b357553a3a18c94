"""`ytcorpus transcribe FILE...`: local files to text, no queue. Formats: txt, json, srt, vtt."""

from __future__ import annotations

import json
import sys

from .audio import decode_to_mono16k
from .errors import YtcorpusError
from .models import Transcript


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(t: Transcript) -> str:
    return "\n".join(f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text}\n"
                     for i, s in enumerate(t.segments, 1))


def to_vtt(t: Transcript) -> str:
    cues = "\n".join(f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text}\n"
                     for s in t.segments)
    return "WEBVTT\n\n" + cues


def to_record(path: str, t: Transcript) -> dict:
    return {"file": path, "text": t.text, "segments": [s.to_dict() for s in t.segments],
            "language": t.language, "duration": round(t.duration, 3)}


def transcribe_command(args) -> int:
    from .engines import load_engine

    audios, failed = [], {}
    for path in args.files:
        try:
            audios.append(decode_to_mono16k(path))
        except YtcorpusError as exc:
            failed[path] = exc
            audios.append(None)
            print(f"{path}: {exc.kind}: {exc}", file=sys.stderr)
    ready = [a for a in audios if a is not None]
    engine = load_engine(args.engine, args.model, args.device, batch_size=args.batch_size) \
        if ready else None
    transcripts = iter(engine.transcribe(ready)) if engine else iter(())
    records = []
    for path, audio in zip(args.files, audios):
        if audio is None:
            exc = failed[path]
            records.append({"file": path, "error": str(exc), "error_kind": exc.kind})
            continue
        t = next(transcripts)
        if args.format == "json":
            records.append(to_record(path, t))
        elif args.format == "srt":
            print(to_srt(t))
        elif args.format == "vtt":
            print(to_vtt(t))
        else:
            print(t.text)
    if args.format == "json":
        print(json.dumps(records, ensure_ascii=False, indent=2))
    return 1 if failed else 0
