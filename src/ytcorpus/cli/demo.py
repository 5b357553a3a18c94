"""`make demo`: the whole pipeline offline on bundled speech, in a few minutes on 2 cores.

A fresh SQLite database in ./demo, the bundled clips served by a local HTTP server so
the real yt-dlp path runs (plus one local file), one CPU worker with the packaged
tiny.en model until the queue is empty, then stats and the first exported lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "demo_data"
SERVED = ["photosynthesis.webm", "derivatives.m4a", "history.mp3"]
LOCAL = "arctic_a0007.wav"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # yt-dlp probes a URL and hangs up: a broken pipe here is normal
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(folder: Path) -> ThreadingHTTPServer:
    httpd = QuietServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default="demo", help="demo folder (recreated; default ./demo)")
    p.add_argument("--engine", default="ctranslate2", choices=["ctranslate2", "transformers"])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("faster_whisper", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from .main import main as cli

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    db = str(root / "data.db")
    httpd = serve(DATA)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        print(f"\n== 1. queue {len(SERVED)} clips from a local HTTP server and one local file")
        sources = [f"{base}/{name}" for name in SERVED] + [str(DATA / LOCAL)]
        cli(["--db", db, "add", *sources, "--source", "demo"])
        print("\n== 2. one CPU worker, packaged Whisper tiny.en, until the queue is empty")
        code = cli(["--db", db, "work", "--device", "cpu", "--engine", args.engine,
                    "--model", "tiny.en", "--exit-when-empty", "--work-dir",
                    str(root / "work")])
        if code:
            return code
    finally:
        httpd.shutdown()
    print("\n== 3. stats")
    cli(["--db", db, "stats"])
    out = root / "corpus.jsonl"
    print(f"\n== 4. export to {out}; the first lines:")
    cli(["--db", db, "export", str(out)])
    with out.open(encoding="utf-8") as f:
        for line in list(f)[:2]:
            record = json.loads(line)
            record["transcript"] = record["transcript"][:120] + "..."
            record["segments"] = record["segments"][:1]
            print(json.dumps(record, ensure_ascii=False))
    print(f"\nDone. Database: {db}  (try: ytcorpus --db {db} monitor --once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
