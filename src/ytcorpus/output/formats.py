"""A Transcript as txt, srt, vtt or a JSON record (what `transcribe` writes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.models import Transcript

FORMATS = ("txt", "srt", "vtt", "json")


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(t: Transcript) -> str:
    return "\n".join(f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text.strip()}\n"
                     for i, s in enumerate(t.segments, 1))


def to_vtt(t: Transcript) -> str:
    cues = "\n".join(f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text.strip()}\n"
                     for s in t.segments)
    return "WEBVTT\n\n" + cues


def to_txt(t: Transcript) -> str:
    return t.text.strip() + "\n"


def to_record(name: str, t: Transcript) -> dict:
    """DESIGN: file, text, segments (start, end, text), language, duration."""
    return {"file": name, "text": t.text, "segments": [s.to_dict() for s in t.segments],
            "language": t.language, "duration": round(t.duration, 3)}


def render(fmt: str, name: str, t: Transcript) -> str:
    if fmt == "json":
        return json.dumps(to_record(name, t), ensure_ascii=False, indent=2) + "\n"
    return {"txt": to_txt, "srt": to_srt, "vtt": to_vtt}[fmt](t)


def parse_formats(text: str) -> list[str]:
    """'txt,srt' -> ['txt', 'srt']; 'all' -> every format."""
    from ..core.errors import UsageError

    wanted = list(FORMATS) if text.strip() == "all" else \
        [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise UsageError(f"--format {text!r}: choose from {', '.join(FORMATS)} "
                          "(comma-separated, or all)")
    return list(dict.fromkeys(wanted))


def write_atomic(path: Path, text: str) -> None:
    """Whole file or nothing, so --skip-existing never trusts a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
