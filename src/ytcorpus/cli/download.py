"""`ytcorpus download`: save audio files (no queue), with byte progress and name templates.

`-o DIR` saves `DIR/<id>.<ext>`; `-o` with yt-dlp-style fields names each file, e.g.
`-o "audio/%(channel)s/%(title)s [%(id)s].%(ext)s"`. Fields: id, title, channel, ext,
duration, upload_date, license; an unknown one is `NA`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..core.config import FetchConfig, build
from ..core.errors import ConfigError, YtcorpusError
from ..acquire.ytdlp import Fetcher

DEFAULT_TEMPLATE = "%(id)s.%(ext)s"
ARCHIVE = ".ytcorpus-downloaded"  # ids saved in this folder, for --skip-existing


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "NA"


def _safe(value) -> str:
    text = re.sub(r"[/\\\x00-\x1f]", "_", str(value)).strip().strip(".")
    return text[:180] or "NA"


def render_name(template: str, fields: dict) -> str:
    """'%(title)s [%(id)s].%(ext)s' with each value made safe for a file name."""
    try:
        return template % _Fields({k: _safe(v) for k, v in fields.items() if v is not None})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"-o {template!r}: not a usable name template ({exc})") from None


def split_output(output: str) -> tuple[Path, str]:
    """-o DIR or -o TEMPLATE -> (folder, template relative to it)."""
    if "%(" not in output:
        return Path(output), DEFAULT_TEMPLATE
    head, tail = os.path.split(output)
    while "%(" in head:
        head, part = os.path.split(head)
        tail = os.path.join(part, tail)
    if not tail.endswith("%(ext)s"):
        tail += ".%(ext)s"
    return Path(head or "."), tail


class ByteProgress:
    """A rich bar in bytes for the current file and a count of files (terminal only);
    plain `ok`/`fail` lines on stderr otherwise."""

    def __init__(self, total_files: int):
        self.total_files, self.done = total_files, 0
        self.bar = None
        if sys.stderr.isatty():
            from ..observe.progress import log_console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(),
                                console=log_console())
            self.bar.start()
            self.task = self.bar.add_task(self._label(""), total=None)

    def _label(self, name: str) -> str:
        return f"[{self.done + 1}/{self.total_files}] {name[:40]}"

    def hook(self, d: dict) -> None:
        """yt-dlp progress hook: bytes of the file in flight."""
        if self.bar is None or d.get("status") not in ("downloading", "finished"):
            return
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        self.bar.update(self.task, completed=d.get("downloaded_bytes") or 0, total=total,
                        description=self._label(Path(d.get("filename") or "").name))

    def line(self, text: str, *, error: bool = False) -> None:
        """A result: saved/skipped files on stdout (for scripts), failures on stderr."""
        if error and self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr if error else sys.stdout, flush=True)

    def next_file(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.reset(self.task, total=None, description=self._label(""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _HookedFetcher(Fetcher):
    def __init__(self, config: FetchConfig, hook):
        super().__init__(config)
        self._hook = hook

    def options(self, *args, **kwargs):
        opts = super().options(*args, **kwargs)
        opts["progress_hooks"] = [*opts.get("progress_hooks", []), self._hook]
        return opts


def _size(path: Path) -> str:
    n = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _archive(folder: Path) -> set[str]:
    try:
        return set((folder / ARCHIVE).read_text().split())
    except OSError:
        return set()


def register(sub) -> None:
    import argparse

    s = sub.add_parser("download", help="save audio files (no queue)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Download the audio of videos (YouTube URLs or ids, any "
                       "http(s) URL) like the worker does, with a progress bar in bytes. "
                       "Exits 1 if any download failed.",
                       epilog="examples:\n  ytcorpus download dQw4w9WgXcQ -o audio/\n"
                              "  ytcorpus download https://youtu.be/VIDEOID "
                              "-o 'audio/%(channel)s/%(title)s [%(id)s].%(ext)s'\n"
                              "  ytcorpus download $(cat ids.txt) -o audio/ --skip-existing")
    s.add_argument("sources", nargs="+", metavar="URL_OR_ID")
    s.add_argument("-o", "--output", default=".", metavar="DIR|TEMPLATE",
                   help="folder (default .), or a name template with %%(id)s, %%(title)s, "
                        "%%(channel)s, %%(ext)s fields")
    s.add_argument("--skip-existing", action="store_true",
                   help="skip ids already downloaded into the folder")
    s.set_defaults(func=download_command)

def download_command(args) -> int:
    from ..core.ids import parse_source

    folder, template = split_output(args.output)
    render_name(template, {"id": "x", "ext": "m4a"})  # a bad template fails before any work
    staging = folder / ".ytcorpus-partial"
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise YtcorpusError(f"cannot create {folder}: {exc.strerror}") from None
    progress = ByteProgress(len(args.sources))
    fetcher = _HookedFetcher(build(FetchConfig, work_dir=str(staging)), progress.hook)
    done, failed = _archive(folder), 0
    try:
        for source in args.sources:
            try:
                video_id, url = parse_source(source)
                if args.skip_existing and (video_id in done or any(
                        p.suffix != ".part" for p in folder.glob(f"{video_id}.*"))):
                    progress.line(f"skip {source}: already in {folder}")
                else:
                    dest = _save(fetcher, video_id, url, folder, template)
                    done.add(video_id)
                    with open(folder / ARCHIVE, "a", encoding="utf-8") as handle:
                        handle.write(video_id + "\n")
                    progress.line(f"ok   {source} -> {dest} ({_size(dest)})")
            except YtcorpusError as exc:
                failed += 1
                progress.line(f"fail {source}: {exc.kind}: {exc}", error=True)
            progress.next_file()
    finally:
        progress.close()
        fetcher.close()
        shutil.rmtree(staging, ignore_errors=True)
    if failed:
        print(f"ytcorpus: error: {failed} of {len(args.sources)} downloads failed",
              file=sys.stderr)
    return 1 if failed else 0


def _save(fetcher: Fetcher, video_id: str, url: str, folder: Path, template: str) -> Path:
    """Download (or copy a local file) and move it to its templated name."""
    if url.startswith("file://"):
        src = Path(unquote(urlsplit(url).path))
        fields = {"id": video_id, "title": src.stem, "ext": src.suffix.lstrip(".")}
        dest = folder / render_name(template, fields)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest
    got = fetcher.fetch(video_id, url)
    fields = {**got.info, "id": video_id, "ext": got.path.suffix.lstrip(".")}
    dest = folder / render_name(template, fields)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(got.path, dest)
    return dest
