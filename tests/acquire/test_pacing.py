"""Per-route pacing and rests, with real yt-dlp downloads through two real HTTP proxies on
127.0.0.1 that log when each request arrives."""

from __future__ import annotations

import http.client
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from ytcorpus.core.config import FetchConfig
from ytcorpus.cli.demo import QuietServer
from ytcorpus.core.errors import RetryableError
from ytcorpus.acquire.ytdlp import Fetcher
from ytcorpus.acquire.pacing import AllRoutesResting, RoutePool, parse_routes

# the pace holds between the moments requests leave; a loaded 2-core machine adds up to
# a few hundred ms between leaving yt-dlp and arriving at the proxy
TOLERANCE_S = 0.4
NAMES = ["tone3.webm", "tone3.m4a", "tone3.mp3", "tone3.ogg", "tone3.wav", "tone10.webm"]


class _ProxyHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        proxy = self.server.owner
        proxy.arrivals.append((time.monotonic(), urlsplit(self.path).path))
        if proxy.answer_429:
            self.send_error(429, "Too Many Requests")
            return
        target = urlsplit(self.path)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        conn.request("GET", target.path, headers={k: v for k, v in self.headers.items()
                                                  if k.lower() not in ("proxy-connection",)})
        resp = conn.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection"):
                self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        conn.close()


class LoggingProxy:
    """A forwarding HTTP proxy that records (arrival time, path) of every request."""

    def __init__(self):
        self.arrivals: list[tuple[float, str]] = []
        self.answer_429 = False
        self.httpd = QuietServer(("127.0.0.1", 0), partial(_ProxyHandler))
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxies():
    pair = [LoggingProxy(), LoggingProxy()]
    yield pair
    for p in pair:
        p.close()


def _fetcher(tmp_path, proxies, **settings):
    config = FetchConfig(work_dir=str(tmp_path), retries=0, sleep_requests=0,
                         proxies=tuple(p.url for p in proxies), pace_hosts=("127.0.0.1",),
                         **settings)
    return Fetcher(config)


def _first_arrivals(proxy) -> list[float]:
    """When each video's first request reached this proxy."""
    seen, times = set(), []
    for t, path in proxy.arrivals:
        if path not in seen:
            seen.add(path)
            times.append(t)
    return times


def test_each_route_keeps_its_configured_pace(tmp_path, proxies, media_server):
    interval = 2.0
    fetcher = _fetcher(tmp_path, proxies, downloads_per_hour=3600 / interval, pace_jitter=0)
    for name in NAMES:
        fetcher.fetch(name.replace(".", "_"), media_server.url(name)).cleanup()
    for proxy in proxies:
        times = _first_arrivals(proxy)
        assert len(times) == len(NAMES) // 2  # the two routes took turns
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) >= interval - TOLERANCE_S, gaps  # a bound, not a race
    assert [r["success"] for r in fetcher.routes.snapshot()] == [3, 3]


def test_a_429_rests_only_that_route(tmp_path, proxies, media_server):
    blocked, healthy = proxies
    blocked.answer_429 = True
    fetcher = _fetcher(tmp_path, proxies, downloads_per_hour=0, proxy_cooldown_s=300)
    with pytest.raises(RetryableError) as first:
        fetcher.fetch("v0", media_server.url(NAMES[0]))
    assert first.value.kind == "rate_limited"
    requests_blocked = len(blocked.arrivals)
    for i, name in enumerate(NAMES[1:4], 1):
        fetcher.fetch(f"v{i}", media_server.url(name)).cleanup()
    assert len(blocked.arrivals) == requests_blocked  # never handed out while resting
    assert len(_first_arrivals(healthy)) == 3
    state = {r["route"]: r for r in fetcher.routes.snapshot()}
    assert state[blocked.url]["state"] == "resting" and state[blocked.url]["rate_limited"] == 1
    assert state[healthy.url]["state"] == "ready" and state[healthy.url]["success"] == 3

    healthy.answer_429 = True
    with pytest.raises(RetryableError):
        fetcher.fetch("v5", media_server.url(NAMES[4]))
    before = [len(p.arrivals) for p in proxies]
    with pytest.raises(AllRoutesResting) as resting:  # a node fault: nothing goes out
        fetcher.fetch("v6", media_server.url(NAMES[5]))
    assert resting.value.kind == "rate_limited" and resting.value.retryable
    assert [len(p.arrivals) for p in proxies] == before


def test_rest_grows_while_429s_continue_and_a_success_resets_it():
    pool = RoutePool(parse_routes(["http://a:1"], None), per_hour=0, rest_s=10,
                     rest_max_s=35)
    route = pool.routes[0]
    rests = []
    for _ in range(4):
        pool.report(route, "bot_check")
        rests.append(route.rest_s)
        route.rest_until = 0  # as if the rest had passed
    assert rests == [10, 20, 35, 35] and route.bot_check == 4
    pool.report(pool.acquire(), "ok")
    pool.report(route, "rate_limited")
    assert route.rest_s == 10


def test_proxy_cookie_pairs_and_unpaced_hosts(tmp_path):
    f = Fetcher(FetchConfig(work_dir=str(tmp_path), cookies="/all.txt",
                            proxies=("http://u:secret@p1:8080|/p1.txt", "http://p2:8080")))
    first, second = f.routes.routes
    assert first.name == "http://p1:8080"  # no password in what the monitor shows
    assert (first.cookies, second.cookies) == ("/p1.txt", "/all.txt")
    assert f.options("x", first.proxy, route=first)["cookiefile"] == "/p1.txt"
    assert f.paced("https://www.youtube.com/watch?v=abc") and f.paced("https://youtu.be/x")
    assert not f.paced("http://127.0.0.1:8000/a.mp3")
    assert f.options("x", paced=True)["sleep_interval_requests"] == 0.75
    assert "sleep_interval_requests" not in f.options("x", paced=False)


def test_processes_on_one_host_share_a_route_pace(tmp_path, proxies, media_server):
    """Two processes through one route (same host, same IP) keep one pace between them."""
    import os
    import subprocess
    import sys

    proxy, interval = proxies[0], 2.0
    procs = []
    for k in range(2):
        urls = [media_server.url(n) for n in NAMES[3 * k:3 * k + 3]]
        script = ("import sys\nfrom ytcorpus.core.config import FetchConfig\n"
                  "from ytcorpus.acquire.ytdlp import Fetcher\n"
                  f"f = Fetcher(FetchConfig(work_dir={str(tmp_path / str(k))!r}, retries=0, "
                  f"proxies=({proxy.url!r},), pace_hosts=('127.0.0.1',), sleep_requests=0, "
                  f"downloads_per_hour={3600 / interval}, pace_jitter=0))\n"
                  f"for i, url in enumerate({urls!r}):\n"
                  f"    f.fetch('p{k}v%d' % i, url).cleanup()\n")
        procs.append(subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy(),
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()[-2000:]
    times = sorted(_first_arrivals(proxy))
    assert len(times) == len(NAMES)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= interval - TOLERANCE_S, gaps


def test_a_rest_seen_by_one_process_holds_for_the_others(tmp_path):
    from ytcorpus.acquire.pacing import MachinePace

    shared = tmp_path / "pace"
    a = RoutePool(parse_routes(["http://p:1"], None), per_hour=0, machine=MachinePace(shared))
    b = RoutePool(parse_routes(["http://p:1"], None), per_hour=0, machine=MachinePace(shared))
    a.report(a.acquire(), "bot_check")
    with pytest.raises(AllRoutesResting):
        b.reserve()
    assert b.routes[0].rest_s == 300
