"""Test media made for real: PyAV-encoded audio in many containers, espeak-ng speech,
and a local HTTP server that serves them (plus failure modes) on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np

from ytcorpus.cli.demo import QuietServer

# name -> (container format, codec, codec sample rate)
FORMATS = {
    "webm": ("webm", "libopus", 48000),
    "m4a": ("ipod", "aac", 44100),
    "mp3": ("mp3", "libmp3lame", 44100),
    "ogg": ("ogg", "libopus", 48000),
    "wav": ("wav", "pcm_s16le", 16000),
    "flac": ("flac", "flac", 22050),
}


def tone(seconds: float, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Encode mono float32 samples into the container named by path's extension."""
    import av

    fmt, codec, codec_rate = FORMATS[path.suffix.lstrip(".")]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=codec_rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=codec_rate)
        step = rate // 10
        pts = 0
        for i in range(0, len(samples), step):
            frame = av.AudioFrame.from_ndarray(samples[None, i:i + step].astype(np.float32),
                                               format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += frame.samples
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
        for f in resampler.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def espeak(text: str, path: Path, wpm: int = 150, voice: str = "en-us") -> Path:
    """Real speech from espeak-ng, converted to 16 kHz WAV with sox (no dither)."""
    if not shutil.which("espeak-ng"):
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng sox)")
    raw = path.with_suffix(".22k.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    if shutil.which("sox"):
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", str(path)], check=True)
        raw.unlink()
    else:
        raw.rename(path)
    return path


class _Handler(SimpleHTTPRequestHandler):
    hits: Counter

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.hits[self.path] += 1
        route, _, name = self.path.lstrip("/").partition("/")
        if route == "404":
            self.send_error(404)
        elif route == "503":
            self.send_error(503)
        elif route == "flaky429" and self.hits[self.path] == 1:
            self.send_error(429, "Too Many Requests")
        elif route == "empty":
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "truncate":
            data = (Path(self.directory) / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "audio/webm")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.wfile.flush()
            self.connection.close()
        else:
            if route in ("flaky429", "files"):
                self.path = "/" + name
            super().do_GET()

    do_HEAD = do_GET


class MediaServer:
    """ThreadingHTTPServer on 127.0.0.1 serving one folder, with failure routes."""

    def __init__(self, root: Path):
        self.root = root
        handler = type("Handler", (_Handler,), {"hits": Counter()})
        self.hits = handler.hits
        self.httpd = QuietServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str, route: str = "files") -> str:
        return f"{self.base}/{route}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
