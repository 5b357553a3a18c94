"""Discovery through the real YoutubeDL processing, offline: fixture extractors return
playlists and entries in the exact shape of yt-dlp's YouTube extractors (search, channel
videos tab in pages of 30, playlist), registered on a real YoutubeDL."""

from __future__ import annotations

from collections import Counter

import pytest
from yt_dlp import YoutubeDL
from yt_dlp.extractor.common import InfoExtractor, SearchInfoExtractor
from yt_dlp.utils import ExtractorError

from ytcorpus.cli.main import build_parser
from ytcorpus.discover.crawl import (DiscoverOptions, Discoverer, catalog_channels, catalog_queries,
                               channel_url, load_catalog)
from ytcorpus.cli.discover import discover_command
from ytcorpus.queue import open_queue

PAGE = 30  # entries per continuation page of a channel's videos tab


def entry(video_id: str, title: str, duration: float | None, channel: str = "MIT OpenCourseWare",
          live_status: str | None = None, availability: str | None = None) -> dict:
    """A flat entry as yt-dlp's YoutubeTabBaseInfoExtractor._extract_video returns it."""
    return {
        "_type": "url", "ie_key": "Youtube", "id": video_id,
        "url": f"https://www.youtube.com/watch?v={video_id}", "title": title,
        "description": None, "duration": duration, "channel_id": "UCEBb1b_L6zDS3xTUrIALZOw",
        "channel": channel, "channel_url": "https://www.youtube.com/channel/UCEBb1b_L6zDS3xTUrIALZOw",
        "uploader": channel, "uploader_id": "@mitocw", "uploader_url": "https://www.youtube.com/@mitocw",
        "thumbnails": [{"url": f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg", "height": 360,
                        "width": 480}],
        "timestamp": None, "release_timestamp": None, "availability": availability,
        "view_count": 1234, "live_status": live_status, "channel_is_verified": True,
    }


def vid(prefix: str, i: int) -> str:
    return f"{prefix}{i:09d}"[:11].ljust(11, "x")


CHANNEL = [entry(vid("ch", i), f"Lecture {i}", 3000.0 + i) for i in range(150)]
CHANNEL[3] = entry(vid("ch", 3), "Short clip", 42.0)
CHANNEL[4] = entry(vid("ch", 4), "Live now", None, live_status="is_live")
CHANNEL[5] = entry(vid("ch", 5), "10 hour stream", 36000.0)
SEARCH = [entry(vid("se", i), f"Calculus {i}", 900.0, channel="Prof") for i in range(8)] + \
    [entry(vid("ch", 10), "Lecture 10", 3010.0)]  # also on the channel: one row
PLAYLIST = [entry(vid("pl", i), f"Part {i}", 1200.0) for i in range(5)]
LICENSES = {vid("pl", 0): "Creative Commons Attribution license (reuse allowed)"}
LANGUAGES: dict[str, str] = {}


class FixtureTabIE(InfoExtractor):
    IE_NAME = "youtube:tab"
    _VALID_URL = r"https?://www\.youtube\.com/(?P<key>@[\w.-]+|playlist\?list=[\w-]+)(?:/(?P<tab>\w+))?"
    pages = Counter()
    calls = Counter()

    def _real_extract(self, url):
        key, tab = self._match_valid_url(url).group("key", "tab")
        self.calls[key] += 1
        if key == "@gone":
            raise ExtractorError("This channel does not exist.", expected=True)
        if key.startswith("@offline"):
            raise ExtractorError("Unable to download API page: <urlopen error [Errno -3] "
                                 "Temporary failure in name resolution>")
        if key == "@flaky" and self.calls[key] == 1:
            raise ExtractorError("Unable to download API page: HTTP Error 429: Too Many Requests")
        items = {"@mitocw": CHANNEL, "@flaky": CHANNEL[:3],
                 "playlist?list=PLfixture": PLAYLIST}.get(key, [])
        if tab == "shorts":
            items = [entry(vid("sh", i), f"Short {i}", 30.0) for i in range(3)]

        def pages():
            for start in range(0, len(items), PAGE):
                self.pages[key] += 1
                yield from items[start:start + PAGE]

        return self.playlist_result(pages(), "UCEBb1b_L6zDS3xTUrIALZOw",
                                    f"{key} - Videos", channel="MIT OpenCourseWare",
                                    uploader_id=key)


class FixtureSearchIE(SearchInfoExtractor):
    IE_NAME = "youtube:search"
    _SEARCH_KEY = "ytsearch"

    def _search_results(self, query):
        yield from SEARCH


class FixtureVideoIE(InfoExtractor):
    IE_NAME = "youtube"
    _VALID_URL = r"https?://www\.youtube\.com/watch\?v=(?P<id>[\w-]{11})"

    def _real_extract(self, url):
        video_id = self._match_id(url)
        return {"id": video_id, "title": "x", "license": LICENSES.get(video_id),
                "language": LANGUAGES.get(video_id),
                "url": "https://example.invalid/a.webm", "ext": "webm"}


def fixture_ydl(params: dict) -> YoutubeDL:
    ydl = YoutubeDL(params, auto_init=False)
    for ie in (FixtureTabIE, FixtureSearchIE, FixtureVideoIE):
        ydl.add_info_extractor(ie())
    return ydl


@pytest.fixture
def db(tmp_path):
    FixtureTabIE.pages.clear()
    FixtureTabIE.calls.clear()
    return str(tmp_path / "data.db")


def run(db, *argv) -> tuple[int, str]:
    args = build_parser().parse_args(["--db", db, "discover", *argv])
    return discover_command(args, ydl_factory=fixture_ydl), ""


def test_channel_crawl_filters_and_queues_with_metadata(db, capsys):
    code, _ = run(db, "channel", "@mitocw", "--priority", "4")
    assert code == 0
    out = capsys.readouterr().out
    assert "found 150, new 147, already known 0, filtered 3" in out
    with open_queue(db) as q:
        assert q.stats().pending == 147
        row = q.get(vid("ch", 0))
        assert (row["title"], row["channel"], row["duration_seconds"], row["priority"],
                row["source"]) == ("Lecture 0", "MIT OpenCourseWare", 3000.0, 4, "channel:@mitocw")
        assert row["url"] == f"https://www.youtube.com/watch?v={vid('ch', 0)}"
        assert not q.known([vid("ch", 3), vid("ch", 4), vid("ch", 5)])  # short, live, 10 h
    assert FixtureTabIE.pages["@mitocw"] == 5


def test_recrawl_is_incremental_one_page(db, capsys):
    run(db, "channel", "@mitocw")
    FixtureTabIE.pages.clear()
    run(db, "channel", "https://www.youtube.com/@mitocw")
    assert FixtureTabIE.pages["@mitocw"] == 1  # stopped at the first run of known ids
    assert "new 0" in capsys.readouterr().out.splitlines()[-1]
    FixtureTabIE.pages.clear()
    run(db, "channel", "@mitocw", "--full")
    assert FixtureTabIE.pages["@mitocw"] == 5


def test_dedup_across_sources(db, capsys):
    run(db, "channel", "@mitocw")
    run(db, "search", "calculus lecture", "--limit", "20")
    last = capsys.readouterr().out.splitlines()[-1]
    assert "found 9, new 8, already known 1" in last
    with open_queue(db) as q:
        assert q.stats().total == 147 + 8
        assert q.get(vid("se", 0))["source"] == "search:calculus lecture"


def test_dry_run_queues_nothing(db, capsys):
    run(db, "search", "calculus", "--dry-run")
    assert "dry run, nothing queued" in capsys.readouterr().out
    with open_queue(db) as q:
        assert q.stats().total == 0


def test_duration_filters(db, capsys):
    run(db, "search", "calculus", "--min-duration", "1000")
    out = capsys.readouterr().out
    assert "new 1" in out and "too_short 8" in out


def test_cc_only_keeps_creative_commons(db, capsys):
    run(db, "playlist", "https://www.youtube.com/playlist?list=PLfixture", "--cc-only")
    assert "new 1" in capsys.readouterr().out
    with open_queue(db) as q:
        assert q.known([vid("pl", i) for i in range(5)]) == {vid("pl", 0)}
        assert "Creative Commons" in q.get(vid("pl", 0))["license"]


def test_cc_only_never_stamps_search_results(db, capsys):
    """The search filter is not the video's licence: only the video page counts."""
    run(db, "search", "calculus", "--cc-only")
    assert "new 0" in capsys.readouterr().out  # no result's page says Creative Commons
    run(db, "playlist", "https://www.youtube.com/playlist?list=PLfixture", "--cc-only")
    with open_queue(db) as q:
        assert q.get(vid("pl", 0))["license_source"] == "page"


def test_language_filter_reads_metadata(db, capsys, monkeypatch):
    monkeypatch.setitem(LANGUAGES, vid("pl", 1), "de")
    monkeypatch.setitem(LANGUAGES, vid("pl", 2), "en-US")
    run(db, "playlist", "https://www.youtube.com/playlist?list=PLfixture", "--language", "en")
    assert "other_language 1" in capsys.readouterr().out
    with open_queue(db) as q:  # English and unknown kept: the worker decides those
        assert q.known([vid("pl", i) for i in range(5)]) == {vid("pl", i) for i in (0, 2, 3, 4)}
        row = q.get(vid("pl", 0))  # its page was read: the licence on it is the truth
        assert (row["license"] is not None, row["license_source"]) == (True, "page")


def test_failing_sources_are_reported_and_the_rest_continue(db, capsys, monkeypatch):
    monkeypatch.setattr(DiscoverOptions, "__init__", _fast_retry(DiscoverOptions.__init__))
    code, _ = run(db, "channel", "@gone", "@flaky", "@mitocw")
    out = capsys.readouterr().out
    assert code == 0
    assert "failed sources 1" in out and "failed: channel:@gone" in out
    assert FixtureTabIE.calls["@flaky"] == 2  # the 429 was retried after a backoff
    with open_queue(db) as q:
        assert q.known([vid("ch", 0)]) and q.stats().pending == 147


def test_repeated_network_failures_stop_the_run(db, capsys, monkeypatch):
    """Offline: one source spends its retries, the next ones get one try each, and the
    run stops after three in a row with the cause, keeping what was found."""
    from ytcorpus.discover.crawl import NetworkDown

    monkeypatch.setattr(DiscoverOptions, "__init__", _fast_retry(DiscoverOptions.__init__))
    with pytest.raises(NetworkDown, match="3 sources in a row failed on the network"):
        run(db, "channel", "@mitocw", "@offline1", "@offline2", "@offline3", "@offline4")
    out = capsys.readouterr().out
    assert "sources 4/5" in out and "new 147" in out
    assert FixtureTabIE.calls["@offline1"] == 4  # its retries
    assert FixtureTabIE.calls["@offline2"] == FixtureTabIE.calls["@offline3"] == 1
    assert FixtureTabIE.calls["@offline4"] == 0
    with open_queue(db) as q:
        assert q.stats().pending == 147


@pytest.mark.slow
def test_discover_offline_through_the_cli_is_one_line(tmp_path):
    """The first source spends its retries (5 + 10 + 20 s), the next two one try each."""
    from conftest import run_cli

    db = str(tmp_path / "d.db")
    assert run_cli("--db", db, "init").returncode == 0
    urls = [f"http://127.0.0.1:9/{name}" for name in "abcd"]
    out = run_cli("--db", db, "discover", "playlist", *urls, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "sources 3/4" in out.stdout
    assert "ytcorpus: error: stopped: 3 sources in a row failed" in out.stderr


def _fast_retry(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        object.__setattr__(self, "retry_base_s", 0.01)
    return patched


def test_shorts_only_when_asked(db, capsys):
    run(db, "channel", "@mitocw", "--include-shorts", "--min-duration", "0")
    with open_queue(db) as q:
        assert q.known([vid("sh", 0)])


def test_catalog_is_large_and_well_formed():
    catalog = load_catalog()
    channels = catalog_channels(catalog)
    assert len(channels) >= 140
    assert all(c["handle"].startswith("@") and isinstance(c["priority"], int) for c in channels)
    queries = catalog_queries(catalog)
    assert len(queries) > 1000 and ("calculus lecture", 5) in queries
    assert catalog_queries(catalog, ["physics"]) and all(
        p == 5 for _, p in catalog_queries(catalog, ["physics"]))


def test_catalog_runs_channels_then_queries(db, tmp_path, capsys):
    import json

    custom = tmp_path / "catalog.json"
    custom.write_text(json.dumps({
        "modifiers": ["lecture"], "subjects": {"math": {"priority": 2, "topics": ["calculus"]}},
        "channels": [{"handle": "@mitocw", "priority": 9, "subjects": ["math"]}]}))
    run(db, "catalog", "--catalog-file", str(custom))
    with open_queue(db) as q:
        assert q.get(vid("ch", 0))["priority"] == 9
        assert q.get(vid("se", 0))["priority"] == 2
    code, _ = run(db, "catalog", "--catalog-file", str(custom), "--list")
    assert "search\t2\tcalculus lecture" in capsys.readouterr().out


def test_channel_urls():
    assert channel_url("@mitocw") == "https://www.youtube.com/@mitocw/videos"
    assert channel_url("https://www.youtube.com/@mitocw/featured") == \
        "https://www.youtube.com/@mitocw/videos"
    assert channel_url("UCEBb1b_L6zDS3xTUrIALZOw", "streams") == \
        "https://www.youtube.com/channel/UCEBb1b_L6zDS3xTUrIALZOw/streams"
    assert channel_url("mitocw") == "https://www.youtube.com/@mitocw/videos"


def test_discoverer_api_directly(db):
    with open_queue(db) as q:
        d = Discoverer(q, DiscoverOptions(limit=3), fixture_ydl)
        d.search(["anything"])
        assert d.summary.found == 3 and q.stats().total == 3
