"""Real yt-dlp downloads from a real HTTP server on 127.0.0.1, and the error mapping."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import run_cli
from ytcorpus.core.config import FetchConfig
from ytcorpus.core.errors import PermanentError, RetryableError, VideoError
from ytcorpus.acquire.ytdlp import DEFAULT_AUDIO_FORMAT, Fetcher, classify
from ytcorpus.core.ids import parse_source
from ytcorpus.acquire.pacing import RoutePool, parse_routes
from ytcorpus.acquire.prefetch import Prefetcher


@pytest.fixture
def fetcher(tmp_path):
    return Fetcher(FetchConfig(work_dir=str(tmp_path / "work"), retries=0, socket_timeout=5))


def _fetch(fetcher, url):
    video_id, norm = parse_source(url)
    return fetcher.fetch(video_id, norm)


@pytest.mark.parametrize("ext", ["webm", "m4a", "mp3", "ogg", "wav"])
def test_downloads_each_container_through_the_generic_extractor(fetcher, media_server,
                                                                 media_dir, ext):
    got = _fetch(fetcher, media_server.url(f"tone3.{ext}"))
    assert got.owned and got.path.parent == fetcher.work_dir
    assert got.path.name.startswith(got.video_id)  # named by id, never by title
    assert got.path.read_bytes() == (media_dir / f"tone3.{ext}").read_bytes()
    assert got.info["title"] == "tone3"
    got.cleanup()
    assert not list(fetcher.work_dir.iterdir())


def test_local_file_is_used_in_place_and_never_deleted(fetcher, media_dir):
    got = _fetch(fetcher, str(media_dir / "tone3.flac"))
    assert not got.owned and got.path == media_dir / "tone3.flac"
    got.cleanup()
    assert (media_dir / "tone3.flac").exists()


def test_html_page_with_two_audio_tags_takes_the_first(fetcher, media_server, media_dir):
    got = _fetch(fetcher, media_server.url("two.html"))
    assert got.path.read_bytes() == (media_dir / "tone3.mp3").read_bytes()


@pytest.mark.parametrize("route,name,error,kind", [
    ("404", "tone3.webm", PermanentError, "not_found"),
    ("503", "tone3.webm", RetryableError, "server_error"),
    ("truncate", "tone10.webm", RetryableError, "network"),
    ("files", "page.html", PermanentError, "unsupported"),
    ("empty", "x.mp3", PermanentError, "no_audio"),
])
def test_failures_are_typed(fetcher, media_server, route, name, error, kind):
    with pytest.raises(error) as info:
        _fetch(fetcher, media_server.url(name, route))
    assert info.value.kind == kind
    assert not [p for p in fetcher.work_dir.glob("*") if p.is_file()]  # no partial files


def test_429_then_200_succeeds_on_retry(fetcher, media_server):
    url = media_server.url("tone3.ogg", "flaky429")
    with pytest.raises(RetryableError) as info:
        _fetch(fetcher, url)
    assert info.value.kind == "rate_limited"
    assert _fetch(fetcher, url).path.stat().st_size > 0


def test_dead_server_is_retryable(fetcher):
    with pytest.raises(RetryableError):
        _fetch(fetcher, "http://127.0.0.1:9/nothing.mp3")


def test_unsafe_ids_are_refused(fetcher, media_server):
    with pytest.raises(PermanentError):
        fetcher.fetch("../../etc/passwd", media_server.url("tone3.mp3"))


# Messages as yt-dlp raises them for YouTube (reasons from the player response).
YTDLP_MESSAGES = [
    ("ERROR: [youtube] abcdefghijk: Private video. Sign in if you've been granted access "
     "to this video. Use --cookies-from-browser or --cookies for the authentication.", "private"),
    ("ERROR: [youtube] abcdefghijk: Video unavailable", "unavailable"),
    ("ERROR: [youtube] abcdefghijk: Video unavailable. This video has been removed by the "
     "uploader", "unavailable"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm you're not a bot. Use "
     "--cookies-from-browser or --cookies for the authentication.", "bot_check"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm you\u2019re not a bot", "bot_check"),
    ("ERROR: [youtube] abcdefghijk: Join this channel to get access to members-only content "
     "like this video, and other exclusive perks.", "members_only"),
    ("ERROR: [youtube] abcdefghijk: This video is available to this channel's members on "
     "level: Tier 1", "members_only"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm your age. This video may be "
     "inappropriate for some users.", "age_restricted"),
    ("ERROR: [youtube] abcdefghijk: This live event will begin in a few moments.", "live"),
    ("ERROR: [youtube] abcdefghijk: Premieres in 5 hours", "live"),
    ("ERROR: [youtube] abcdefghijk: The uploader has not made this video available in your "
     "country", "geo_blocked"),
    ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate_limited"),
    ("ERROR: [youtube] abcdefghijk: This content isn't available, try again later.",
     "rate_limited"),
    ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable",
     "server_error"),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "rate_limited"),
    ("ERROR: [generic] Unable to download webpage: <urlopen error [Errno 111] Connection "
     "refused>", "network"),
    ("ERROR: [youtube] abcdefghijk: Requested format is not available", "no_audio"),
    ("ERROR: Unsupported URL: https://example.com/", "unsupported"),
    ("ERROR: [download] Got error: The read operation timed out", "timeout"),
    ("ERROR: [youtube] abcdefghijk: This video has been removed for violating YouTube's "
     "Terms of Service", "unavailable"),
]


@pytest.mark.parametrize("message,kind", YTDLP_MESSAGES)
def test_error_mapping_on_real_ytdlp_messages(message, kind):
    from yt_dlp.utils import DownloadError

    err = classify(DownloadError(message))
    assert isinstance(err, VideoError) and err.kind == kind
    retryable = kind in ("bot_check", "rate_limited", "server_error", "network", "timeout")
    assert err.retryable == retryable


def test_geo_restricted_error_class_maps_to_geo_blocked():
    from yt_dlp.utils import GeoRestrictedError

    assert classify(GeoRestrictedError("blocked")).kind == "geo_blocked"


def test_route_pool_takes_turns_and_skips_a_resting_route():
    pool = RoutePool(parse_routes(["http://a:1", "http://b:2|/b.txt", "http://c:3"], None),
                     per_hour=0)
    assert [pool.acquire().proxy for _ in range(4)] == ["http://a:1", "http://b:2",
                                                       "http://c:3", "http://a:1"]
    b = pool.routes[1]
    assert b.cookies == "/b.txt"
    pool.report(b, "rate_limited")
    assert [pool.acquire().proxy for _ in range(4)] == ["http://c:3", "http://a:1",
                                                       "http://c:3", "http://a:1"]
    assert RoutePool(parse_routes([], "/c.txt")).routes[0].name == "direct"


def test_options_carry_user_settings(tmp_path):
    f = Fetcher(FetchConfig(work_dir=str(tmp_path), cookies="/c.txt", rate_limit="2M",
                            player_client="web,android", sleep_interval=2, proxies=("http://p",)))
    opts = f.options("abcdefghijk", "http://p")
    assert opts["cookiefile"] == "/c.txt" and opts["proxy"] == "http://p"
    assert opts["ratelimit"] == 2 * 1024 * 1024
    assert opts["extractor_args"] == {"youtube": {"player_client": ["web", "android"]}}
    assert opts["sleep_interval"] == 2 and opts["postprocessors"] == []
    assert opts["format"] == DEFAULT_AUDIO_FORMAT and opts["format_sort"]
    own = Fetcher(FetchConfig(work_dir=str(tmp_path), audio_format="bestaudio")).options("x")
    assert own["format"] == "bestaudio" and "format_sort" not in own


def test_prefetcher_bounds_files_on_disk_and_returns_failures_as_values(fetcher, media_server):
    names = ["tone3.webm", "tone3.m4a", "tone3.mp3", "tone3.ogg", "tone3.wav", "tone10.webm"]
    urls = [media_server.url(n) for n in names] + [media_server.url("x.mp3", "404")]
    peak = 0
    lock = threading.Lock()

    def work(url):
        nonlocal peak
        got = _fetch(fetcher, url)
        with lock:
            peak = max(peak, len(list(fetcher.work_dir.glob("*.*"))))
        return got

    pf = Prefetcher(urls, work, threads=3, max_ahead=2, cleanup=lambda g: g.cleanup())
    ok, failed = 0, []
    for item in pf:
        time.sleep(0.05)  # a slow consumer: producers must wait for slots
        assert len(list(fetcher.work_dir.glob("*.*"))) <= 2
        if item.ok:
            ok += 1
        else:
            failed.append(item.error.kind)
        pf.done(item)
    assert ok == 6 and failed == ["not_found"]
    assert peak <= 2
    assert not list(fetcher.work_dir.glob("*.*"))


def test_download_command_saves_files_and_skips_existing(tmp_path, media_server):
    out = tmp_path / "out"
    r = run_cli("download", media_server.url("tone3.mp3"), media_server.url("x.mp3", "404"),
                "-o", str(out))
    assert r.returncode == 1
    assert "not_found" in r.stderr
    files = [f for f in out.iterdir() if not f.name.startswith(".")]
    assert len(files) == 1 and files[0].suffix == ".mp3"
    r = run_cli("download", media_server.url("tone3.mp3"), "-o", str(out), "--skip-existing")
    assert r.returncode == 0 and "skip" in r.stdout


PLUGIN = '''
from yt_dlp.extractor.common import InfoExtractor


class CorpusTestIE(InfoExtractor):
    _VALID_URL = r"corpustest:(?P<id>[a-z0-9]+):(?P<url>.+)"

    def _real_extract(self, url):
        m = self._match_valid_url(url)
        return {"id": m.group("id"), "title": "from the plugin", "url": m.group("url"),
                "ext": "webm", "vcodec": "none", "acodec": "opus", "abr": 64}
'''


def test_plugin_dirs_pass_through_to_ytdlp(tmp_path, media_server):
    """yt-dlp plugins (PO-token providers, extractors) load from YTCORPUS_PLUGIN_DIRS;
    plugins are process-wide in yt-dlp, so this runs in its own process."""
    import subprocess
    import sys

    folder = tmp_path / "plugins" / "corpuspkg" / "yt_dlp_plugins" / "extractor"
    folder.mkdir(parents=True)
    (folder / "corpus_test.py").write_text(PLUGIN)
    script = ("from ytcorpus.acquire.ytdlp import Fetcher\n"
              "from ytcorpus.core.config import FetchConfig, build\n"
              f"f = Fetcher(build(FetchConfig, work_dir={str(tmp_path / 'w')!r}))\n"
              f"got = f.fetch('plugvid', 'corpustest:abc:{media_server.url('tone3.webm')}')\n"
              "print(got.info['title'], got.path.stat().st_size)")
    env = {**__import__("os").environ, "YTCORPUS_PLUGIN_DIRS": str(tmp_path / "plugins")}
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("from the plugin ")
