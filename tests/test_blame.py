"""Right blame, end to end through `ytcorpus work` and `ytcorpus fetch` against real HTTP
servers and proxies on 127.0.0.1 that count requests: one video's 403/404/410 is the
video's, a 429 host and a dead or 407 proxy rest only themselves and are never charged to
a video, a SIGKILLed worker's rows come back, a claim blocked past shutdown is given back,
and no password reaches a log line, an error or `config`."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, run_cli, wait_for
from media import tone, write_audio
from ytcorpus.cli.demo import QuietServer
from ytcorpus.queue import open_queue

pytestmark = pytest.mark.slow
FAST = {  # short backoffs: the same behaviour in seconds instead of minutes
    "YTCORPUS_RETRY_BASE_S": "0.3", "YTCORPUS_NODE_BACKOFF_S": "1",
    "YTCORPUS_HOST_REST_S": "1", "YTCORPUS_HOST_REST_MAX_S": "4",
    "YTCORPUS_PROXY_COOLDOWN_S": "30", "YTCORPUS_RETRIES": "0",
    "YTCORPUS_POLL_INTERVAL": "0.3", "YTCORPUS_SOCKET_TIMEOUT": "5",
}


def _env(**extra: str) -> dict:
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT / "tests")) if p)
    return {**os.environ, **FAST, "PYTHONPATH": path, **extra}


class _Counting(SimpleHTTPRequestHandler):
    """/ok/NAME serves NAME; /403/, /404/, /410/, /429/ answer that status. Counts hits."""

    hits: Counter

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.hits[self.path] += 1
        route, _, name = self.path.lstrip("/").partition("/")
        if route in ("403", "404", "410", "429"):
            self.send_error(int(route))
            return
        self.path = "/" + name
        super().do_GET()

    do_HEAD = do_GET


class Server:
    def __init__(self, root: Path):
        handler = type("H", (_Counting,), {"hits": Counter()})
        self.hits = handler.hits
        self.httpd = QuietServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, route: str, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{route}/{name}"

    def count(self, route: str) -> int:
        return sum(n for path, n in self.hits.items() if path.startswith(f"/{route}/"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    """A tiny HTTP proxy: forwards GETs for absolute URLs, or answers 407 to all."""

    answer_407 = False
    requests: list

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.requests.append(self.path)
        if self.answer_407:
            self.send_response(407, "Proxy Authentication Required")
            self.send_header("Proxy-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = urlsplit(self.path)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection")}
        conn.request(self.command, target.path or "/", headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        self.send_response(answer.status, answer.reason)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


class Proxy:
    def __init__(self, answer_407: bool = False):
        handler = type("P", (_ProxyHandler,), {"answer_407": answer_407, "requests": []})
        self.requests = handler.requests
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed: connection refused from now on


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    for i in range(8):
        write_audio(root / f"c{i}.wav", tone(1.0 + 0.1 * i))
    servers = [Server(root), Server(root)]
    yield servers
    for s in servers:
        s.close()


def _rows(db: str) -> dict[str, dict]:
    with open_queue(db) as q:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT url, status, attempts, crashes, error_kind, error, worker "
                         "FROM videos ORDER BY id")
            return {r["url"]: dict(r) for r in cur.fetchall()}


def _work(db: str, *extra: str, engine: str = "free_engine:FreeEngine", env=None, wd=None):
    return run_cli("-v", "--db", db, "work", "--device", "cpu", "--engine", engine,
                   "--prepare-threads", "1", "--work-dir", str(wd or Path(db).parent / "w"),
                   *extra, env=env or _env(), timeout=240)


def _popen(args: list[str], log: Path, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ytcorpus", "-v", *args],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env or _env())


def test_one_403_among_healthy_ones_is_the_videos_and_404_410_are_permanent(tmp_path,
                                                                              served):
    """A 403 queued first never blocks the others: it backs off, then ends `forbidden`;
    404 and 410 end at once as not_found, one request each."""
    server = served[0]
    server.hits.clear()
    db = str(tmp_path / "q.db")
    urls = [server.url("403", "a.wav"), server.url("ok", "c0.wav"), server.url("404", "b.wav"),
            server.url("ok", "c1.wav"), server.url("410", "d.wav"), server.url("ok", "c2.wav"),
            server.url("ok", "c3.wav")]
    assert run_cli("--db", db, "add", *urls).returncode == 0
    log = tmp_path / "work.log"
    worker = _popen(["--db", db, "work", "--device", "cpu", "--engine", "free_engine:FreeEngine",
                     "--prepare-threads", "1", "--download-threads", "1",
                     "--work-dir", str(tmp_path / "w")], log)
    try:
        wait_for(lambda: _rows(db)[urls[0]]["status"] == "error", timeout=120, interval=0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    rows = _rows(db)
    assert [rows[u]["status"] for u in urls[1::2] + urls[-1:]] == ["completed"] * 4
    assert (rows[urls[0]]["error_kind"], rows[urls[0]]["attempts"]) == ("forbidden", 5)
    for gone in (urls[2], urls[4]):
        assert (rows[gone]["status"], rows[gone]["error_kind"], rows[gone]["attempts"]) == \
            ("error", "not_found", 1)
    assert server.count("403") <= 2 * 5 and server.count("404") <= 2
    assert server.count("410") <= 2


def test_a_429_host_rests_alone_with_bounded_requests_and_exits_75(tmp_path, served):
    """A 429 on a host that is not paced: `fetch` sends a few requests a minute to it (not
    ~100 a second), stages the other host's videos, keeps the reason in `error`, and with
    --exit-when-empty `fetch` and `work` both exit 75."""
    limited, healthy = served
    limited.hits.clear()
    db = str(tmp_path / "q.db")
    bad = limited.url("429", "x.wav")
    good = [healthy.url("ok", f"c{i}.wav") for i in range(3)]
    assert run_cli("--db", db, "add", bad, *good).returncode == 0
    log = tmp_path / "fetch.log"
    fetcher = _popen(["--db", db, "fetch", "--stage", str(tmp_path / "stage"),
                      "--work-dir", str(tmp_path / "w")], log)
    time.sleep(12)
    fetcher.send_signal(signal.SIGTERM)
    assert fetcher.wait(timeout=60) == 0, log.read_text()[-3000:]
    # rests of 1, 2, 4, 4 s: about 5 requests in 12 s (it was ~1,200)
    assert 1 <= limited.count("429") <= 8, limited.hits
    rows = _rows(db)
    assert all(rows[u]["status"] == "pending" and rows[u]["attempts"] == 0 for u in rows)
    assert rows[bad]["error_kind"] == "rate_limited" and "429" in rows[bad]["error"]
    staged = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert staged["pending"] == 4
    with open_queue(db) as q:  # the healthy host's audio is staged
        assert len(q.claim("t", 10, staged=True)) == 3
        with q._write_tx() as cur:
            q._exec(cur, "DELETE FROM videos WHERE url <> ?", (bad,))
    for _ in range(2):  # the storm exits 75 every time, never 0
        again = run_cli("--db", db, "fetch", "--stage", str(tmp_path / "stage"),
                        "--exit-when-empty", "--work-dir", str(tmp_path / "w"), env=_env())
        assert again.returncode == 75, again.stderr[-2000:]
        work = _work(db, "--exit-when-empty")
        assert work.returncode == 75, work.stderr[-2000:]
        time.sleep(1.5)
    assert _rows(db)[bad]["attempts"] == 0


@pytest.mark.parametrize("case", ["dead", "407", "dead_among_live"])
def test_a_proxy_is_a_route(tmp_path, served, case):
    """A refused or 407 proxy rests that route, charges no video, and with every route
    resting --exit-when-empty exits 75; beside two live proxies the work goes on."""
    server = served[0]
    db = str(tmp_path / "q.db")
    urls = [server.url("ok", f"c{i}.wav") for i in range(4)]
    assert run_cli("--db", db, "add", *urls).returncode == 0
    dead = f"http://127.0.0.1:{_dead_port()}"
    proxies = {"dead": [], "407": [Proxy(answer_407=True)],
               "dead_among_live": [Proxy(), Proxy()]}[case]
    routes = ([] if case == "407" else [dead]) + [p.url for p in proxies]
    try:
        done = _work(db, "--exit-when-empty", env=_env(YTCORPUS_PROXIES=",".join(routes)))
    finally:
        for p in proxies:
            p.close()
    rows = _rows(db).values()
    assert all(r["attempts"] == 0 for r in rows), rows  # never charged to a video
    if case == "dead_among_live":
        assert done.returncode == 0, done.stderr[-3000:]
        assert all(r["status"] == "completed" for r in rows), rows
        assert sum(len(p.requests) for p in proxies) >= len(urls)
        return
    assert done.returncode == 75, done.stderr[-3000:]
    assert all(r["status"] == "pending" for r in rows), rows
    kinds = Counter(r["error_kind"] for r in rows)
    assert kinds["proxy"] >= 1 and set(kinds) <= {"proxy", None}, kinds
    if case == "407":
        assert len(proxies[0].requests) <= 2


def test_a_killed_workers_rows_come_back(tmp_path, served):
    """kill -9: stats shows the worker dead, `requeue --stale` sees its rows at once, and
    a new --exit-when-empty worker takes them back and finishes (it used to exit at once
    leaving them leased)."""
    server = served[0]
    db = str(tmp_path / "q.db")
    urls = [server.url("ok", f"c{i}.wav") for i in range(8)]
    assert run_cli("--db", db, "add", *urls).returncode == 0
    log = tmp_path / "w1.log"
    first = _popen(["--db", db, "work", "--device", "cpu", "--engine", "fault_engines:SlowEngine",
                    "--model", "1.0", "--batch-size", "1", "--prepare-threads", "1",
                    "--lease", "300", "--work-dir", str(tmp_path / "w1")], log)
    try:
        wait_for(lambda: sum(r["status"] == "processing" for r in _rows(db).values()) >= 3,
                 timeout=120, interval=0.3)
    finally:
        first.kill()
        first.wait()
    leased = sum(r["status"] == "processing" for r in _rows(db).values())
    assert leased >= 3
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert [w["dead"] for w in stats["workers"]] == [True] and stats["active_workers"] == 0
    dry = run_cli("--db", db, "requeue", "--stale", "--dry-run").stdout
    assert f"would return stale leases to pending: {leased}" in dry
    second = _work(db, "--exit-when-empty")
    assert second.returncode == 0, second.stderr[-3000:]
    rows = _rows(db).values()
    assert all(r["status"] == "completed" for r in rows), rows


def test_a_claim_blocked_past_shutdown_is_given_back(tmp_path):
    """The claim waits on a lock held past the 5 s stop timeout, then commits: the worker
    gives those rows back before it exits (they used to stay leased)."""
    from ytcorpus.models import Video
    from ytcorpus.queue.base import Queue

    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "init").returncode == 0
    log = tmp_path / "w.log"
    worker = _popen(["--db", db, "work", "--device", "cpu", "--engine", "free_engine:FreeEngine",
                     "--prepare-threads", "1", "--work-dir", str(tmp_path / "w")], log)
    try:
        wait_for(lambda: "ready" in log.read_text(), timeout=120, interval=0.2)
        time.sleep(1.0)
        with open_queue(db) as q:
            with q._write_tx() as cur:  # the claim now waits on this lock
                q._insert_new(cur, [Queue._row(Video(video_id=f"v{i}", url=f"file:///x{i}.wav"),
                                               None, None) for i in range(3)])
                time.sleep(1.0)
                worker.send_signal(signal.SIGTERM)
                time.sleep(7.0)  # past the worker's 5 s stop timeout
        code = worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, log.read_text()[-3000:]
    rows = _rows(db).values()
    assert [r["status"] for r in rows] == ["pending"] * 3, (rows, log.read_text()[-2000:])


def test_every_password_form_is_redacted(tmp_path, pg_server):
    secrets = [f"SECRET{i}x" for i in range(6)]
    env = _env(YTCORPUS_DB=f"postgresql://u:{secrets[0]}@127.0.0.1:1/db?password={secrets[1]}",
               YTCORPUS_PROXIES=f"http://user-s1:{secrets[2]}@gw:8000")
    shown = run_cli("config", env=env)
    assert shown.returncode == 0, shown.stderr
    out = [run_cli("stats", env={**env, "YTCORPUS_DB": f"host=127.0.0.1 password={secrets[3]}"}),
           run_cli("stats", env=env)]
    url = pg_server.new_database().replace("ytcorpus@", f"ytcorpus:{secrets[4]}@")
    url += f"?password={secrets[5]}"
    out.append(run_cli("--db", url, "init", env=_env()))
    out.append(_work(url, "--exit-when-empty", env=_env()))
    assert out[-1].returncode == 0 and "queue postgresql://" in out[-1].stderr
    text = shown.stdout + shown.stderr + "".join(o.stdout + o.stderr for o in out)
    assert "***" in shown.stdout
    assert not [s for s in secrets if s in text], text[-3000:]


def test_an_unreadable_file_is_the_nodes_fault_and_ffmpeg_speaks_words(tmp_path):
    import shutil

    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"\x00junk" * 200)
    locked = tmp_path / "locked.wav"
    write_audio(locked, tone(1.0))
    locked.chmod(0)
    code = ("import sys; from ytcorpus.core.audio import decode_to_mono16k\n"
            "from ytcorpus.core.errors import fault_of\n"
            "for p in sys.argv[1:]:\n"
            "    try: decode_to_mono16k(p)\n"
            "    except Exception as e: print(fault_of(e), e.kind, str(e))\n")
    out = subprocess.run([*prefix, sys.executable, "-c", code, str(locked), str(junk)],
                         capture_output=True, text=True, env=_env(), timeout=120)
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stderr[-2000:]
    assert lines[0].startswith("node node ") and "permission denied" in lines[0]
    assert lines[1].startswith("video corrupt ") and "Invalid data found" in lines[1]
    assert "Errno" not in lines[1]


def test_no_name_for_any_host_is_offline_not_the_videos(tmp_path):
    """One host that does not resolve is that video's (unreachable, retried); different
    hosts failing in a row with no success between is this node's: offline."""
    from ytcorpus.acquire.ytdlp import Fetcher
    from ytcorpus.core.config import FetchConfig
    from ytcorpus.core.errors import NodeFault, fault_of

    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path), retries=0, socket_timeout=5))
    kinds = []
    for i in range(3):
        with pytest.raises(Exception) as info:
            fetcher.fetch(f"v{i}", f"http://no-such-host-{i}.invalid/a.wav")
        kinds.append((info.value.kind, fault_of(info.value)))
    assert kinds[:2] == [("unreachable", "video")] * 2, kinds
    assert kinds[2] == ("offline", "node") and isinstance(info.value, NodeFault)
