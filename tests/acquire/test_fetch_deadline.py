"""Download deadlines against a real server that trickles one byte at a time: the video
fails as retryable `timeout`, the thread is freed, and nothing is left on disk."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ytcorpus.core.config import FetchConfig
from ytcorpus.core.errors import RetryableError
from ytcorpus.acquire.ytdlp import Fetcher, FetchStopped


class TrickleServer:
    """Answers any GET with audio headers, then one byte every `every_s` seconds."""

    def __init__(self, every_s: float = 1.0, length: int = 100_000):
        self.every_s, self.length = every_s, length
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.open = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow.webm"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        self.open += 1
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: audio/webm\r\n"
                         b"Content-Length: %d\r\n\r\n" % self.length)
            for _ in range(self.length):
                if self._stop.wait(self.every_s):
                    return
                conn.sendall(b"\x1a")
        except OSError:
            pass  # the client hung up: what the deadline is for
        finally:
            self.open -= 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


@pytest.fixture
def trickle():
    server = TrickleServer()
    yield server
    server.close()


def _in_thread(fn):
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_trickling_server_fails_as_timeout_and_frees_the_thread(tmp_path, trickle):
    work = tmp_path / "work"
    fetcher = Fetcher(FetchConfig(work_dir=str(work), retries=2, socket_timeout=30,
                                  min_throughput="1K", throughput_window_s=2,
                                  download_grace_s=1, max_download_s=600))
    t, box = _in_thread(lambda: fetcher.fetch("slow1", trickle.url))
    t.join(60)  # a bound on liveness, not a timing claim: without a deadline it is ~28 h
    assert not t.is_alive(), "the download thread was never freed"
    err = box.get("error")
    assert isinstance(err, RetryableError) and err.kind == "timeout", box
    assert "minimum" in str(err)
    assert not list(work.iterdir())  # no partial file left


def test_overall_cap_stops_a_download_that_still_moves(tmp_path):
    server = TrickleServer(every_s=0.01)  # ~100 B/s
    try:
        fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path), retries=0,
                                      min_throughput="0", max_download_s=3))
        t, box = _in_thread(lambda: fetcher.fetch("slow2", server.url))
        t.join(60)
        assert not t.is_alive()
        assert box["error"].kind == "timeout" and "took over 3 s" in str(box["error"])
        assert not list(tmp_path.iterdir())
    finally:
        server.close()


def test_close_stops_downloads_in_flight_and_nothing_is_written_after(tmp_path, trickle):
    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path), retries=3, min_throughput="0",
                                  max_download_s=0))
    t, box = _in_thread(lambda: fetcher.fetch("slow3", trickle.url))
    deadline = time.monotonic() + 30
    while trickle.open == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    fetcher.close()
    t.join(60)
    assert not t.is_alive()
    assert box["error"].kind == "interrupted"
    assert not list(tmp_path.iterdir())
    with pytest.raises(FetchStopped) as later:  # a node fault: the row goes back uncharged
        fetcher.fetch("slow4", trickle.url)
    assert later.value.kind == "interrupted"


def test_worker_carries_on_past_trickling_servers(tmp_path, trickle, media_server):
    """Issue 12: two trickling URLs among healthy rows: `work --exit-when-empty` exits, the
    healthy rows complete, the trickling ones wait out a retry as `timeout`."""
    import json

    from conftest import run_cli
    from ytcorpus.queue import open_queue

    db = str(tmp_path / "q.db")
    slow = [trickle.url + "?a", trickle.url.replace("slow.webm", "slow2.webm")]
    healthy = [media_server.url(n) for n in ("tone3.webm", "tone3.m4a", "tone3.ogg")]
    assert run_cli("--db", db, "add", *slow, *healthy).returncode == 0
    env = {"YTCORPUS_MIN_THROUGHPUT": "1K", "YTCORPUS_THROUGHPUT_WINDOW_S": "2",
           "YTCORPUS_DOWNLOAD_GRACE_S": "1"}
    done = run_cli("--db", db, "work", "--device", "cpu", "--model", "tiny.en",
                   "--exit-when-empty", "--download-threads", "2", "--work-dir",
                   str(tmp_path / "work"), env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open_queue(db) as q:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT url, status, error_kind, attempts FROM videos")
            rows = [dict(r) for r in cur.fetchall()]
    by_url = {r["url"]: r for r in rows}
    for url in healthy:
        assert by_url[url]["status"] == "completed", by_url[url]
    for url in slow:
        row = next(r for u, r in by_url.items() if u.startswith(url.split("?")[0]))
        assert (row["status"], row["error_kind"], row["attempts"]) == ("pending", "timeout", 1)
    assert not list((tmp_path / "work").iterdir())
    assert json.loads(run_cli("--db", db, "stats", "--json").stdout)["completed"] == 3


@pytest.fixture
def dribble():
    server = TrickleServer(every_s=0.004)  # ~250 B/s: a .part file appears in seconds
    yield server
    server.close()


def test_sigterm_stops_a_stuck_download_and_leaves_no_file(tmp_path, dribble):
    """Issue 12: stop without leftovers. A worker stuck on a trickling download (no
    deadline set) stops promptly on SIGTERM, releases the row uncharged, and no file
    appears in the work dir afterwards."""
    import signal
    import subprocess
    import sys

    from conftest import run_cli
    from ytcorpus.queue import open_queue

    db, work = str(tmp_path / "q.db"), tmp_path / "work"
    assert run_cli("--db", db, "add", dribble.url).returncode == 0
    env = {**__import__("os").environ, "YTCORPUS_MIN_THROUGHPUT": "0",
           "YTCORPUS_MAX_DOWNLOAD_S": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "--db", db, "work", "--device",
                             "cpu", "--model", "tiny.en", "--work-dir", str(work)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (work.exists() and list(work.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(p.name.endswith(".part") for p in work.iterdir())  # mid-download
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    time.sleep(2)  # a download thread still running would write now
    assert not work.exists() or not list(work.iterdir())
    with open_queue(db) as q:
        s = q.stats()
        with q._read_tx() as cur:
            q._exec(cur, "SELECT attempts FROM videos")
            attempts = [r["attempts"] for r in cur.fetchall()]
    assert (s.pending, s.processing, attempts) == (1, 0, [0])  # released, uncharged


def test_waiting_for_a_pace_slot_is_not_a_slow_download(tmp_path, media_server):
    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path / "w"), retries=0, sleep_requests=0,
                                  pace_hosts=("127.0.0.1",), downloads_per_hour=3600 / 5,
                                  pace_jitter=0, pace_dir=str(tmp_path / "pace"),
                                  min_throughput="1K", throughput_window_s=2,
                                  download_grace_s=1))
    fetcher.fetch("first", media_server.url("tone3.webm")).cleanup()
    got = fetcher.fetch("second", media_server.url("tone3.m4a"))  # waits ~5 s for its slot
    assert got.path.stat().st_size > 0
