"""A video whose page states another language than the target one fails as
wrong_language before any audio byte is downloaded (fetch.Fetcher with
FetchConfig.language, set from `work --language` / `fetch --language`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ytcorpus.core.config import FetchConfig
from ytcorpus.core.errors import PermanentError
from ytcorpus.acquire.ytdlp import Fetcher, _metadata

# shapes of yt-dlp YouTube info dicts: `language` set by the uploader, or only the
# original automatic-caption track ("<lang>-orig") beside its translations
GERMAN_BY_UPLOADER = {"id": "abcdefghijk", "language": "de-DE", "duration": 60,
                      "live_status": "not_live"}
FRENCH_BY_CAPTIONS = {"id": "abcdefghijk", "language": None, "duration": 60,
                      "automatic_captions": {"fr-orig": [{"ext": "json3"}],
                                             "en": [{"ext": "json3"}], "de": []}}
ENGLISH = {"id": "abcdefghijk", "language": "en-US", "duration": 60}
UNSTATED = {"id": "abcdefghijk", "duration": 60, "automatic_captions": {"en": []}}


def _fetcher(tmp_path, language):
    return Fetcher(FetchConfig(work_dir=str(tmp_path / "work"), language=language))


@pytest.mark.parametrize("info, stated", [(GERMAN_BY_UPLOADER, "de"),
                                          (FRENCH_BY_CAPTIONS, "fr")])
def test_a_page_in_another_language_fails_before_download(tmp_path, info, stated):
    with pytest.raises(PermanentError) as err:
        _fetcher(tmp_path, "en")._check_before_download(info, "abcdefghijk")
    assert err.value.kind == "wrong_language"
    assert repr(stated) in str(err.value) and "'en'" in str(err.value)


@pytest.mark.parametrize("info", [ENGLISH, UNSTATED])
def test_the_target_language_or_none_stated_goes_on(tmp_path, info):
    _fetcher(tmp_path, "en")._check_before_download(info, "abcdefghijk")
    _fetcher(tmp_path, "en-US")._check_before_download(info, "abcdefghijk")


def test_no_target_language_checks_nothing(tmp_path):
    _fetcher(tmp_path, None)._check_before_download(GERMAN_BY_UPLOADER, "abcdefghijk")


def test_metadata_carries_the_stated_language_as_a_short_code():
    assert _metadata(GERMAN_BY_UPLOADER)["language"] == "de"
    assert _metadata(FRENCH_BY_CAPTIONS)["language"] == "fr"
    assert _metadata(UNSTATED)["language"] is None


PLUGIN = '''
from yt_dlp.extractor.common import InfoExtractor


class LangTestIE(InfoExtractor):
    _VALID_URL = r"langtest:(?P<lang>[a-z]+):(?P<url>.+)"

    def _real_extract(self, url):
        m = self._match_valid_url(url)
        return {"id": "langvid", "title": "stated " + m.group("lang"), "url": m.group("url"),
                "language": m.group("lang"), "ext": "webm", "vcodec": "none",
                "acodec": "opus", "abr": 64}
'''

SCRIPT = '''
import sys
from ytcorpus.core.config import FetchConfig, build
from ytcorpus.core.errors import PermanentError
from ytcorpus.acquire.ytdlp import Fetcher

f = Fetcher(build(FetchConfig, work_dir=sys.argv[1], language="en"))
for lang, url in (("de", sys.argv[2]), ("en", sys.argv[3])):
    try:
        got = f.fetch("langvid", f"langtest:{lang}:{url}")
        print(lang, "fetched", got.info["language"], got.path.stat().st_size)
        got.cleanup()
    except PermanentError as exc:
        print(lang, "failed", exc.kind)
'''


def test_a_real_extractor_stating_german_downloads_nothing(tmp_path, media_server):
    """Through yt-dlp (an extractor plugin that states the page's language, as YouTube's
    does): German fails as wrong_language and its audio URL is never requested; English
    downloads. Plugins are process-wide in yt-dlp, so this runs in its own process."""
    folder = tmp_path / "plugins" / "langpkg" / "yt_dlp_plugins" / "extractor"
    folder.mkdir(parents=True)
    (folder / "lang_test.py").write_text(PLUGIN)
    german = media_server.url("tone3.webm") + "?german-page"
    english = media_server.url("tone3.webm") + "?english-page"
    env = {**os.environ, "YTCORPUS_PLUGIN_DIRS": str(tmp_path / "plugins")}
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "w"), german, english],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0] == "de failed wrong_language"
    assert lines[1].startswith("en fetched en ") and int(lines[1].split()[-1]) > 0
    assert media_server.hits["/files/tone3.webm?german-page"] == 0
    assert media_server.hits["/files/tone3.webm?english-page"] >= 1


WORKER_PLUGIN = r'''
from yt_dlp.extractor.common import InfoExtractor


class LangPageIE(InfoExtractor):
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/files/[^?]+\?lang=(?P<lang>[a-z]+)"

    def _real_extract(self, url):
        lang = self._match_valid_url(url).group("lang")
        return {"id": "langpage", "title": "a page in " + lang, "url": url,
                "language": lang, "ext": "webm", "vcodec": "none", "acodec": "opus"}
'''


@pytest.mark.slow
@pytest.mark.parametrize("command", [["work", "--device", "cpu"], ["fetch", "--stage", "st"]])
def test_language_ends_a_german_page_as_wrong_language_unfetched(tmp_path, media_server,
                                                                   command):
    """`ytcorpus work --language en` and `ytcorpus fetch --language en` (their Fetcher gets
    the target language): the row ends error/wrong_language, its audio never requested."""
    import sqlite3

    from conftest import run_cli

    folder = tmp_path / "plugins" / "langpkg" / "yt_dlp_plugins" / "extractor"
    folder.mkdir(parents=True)
    (folder / "lang_page.py").write_text(WORKER_PLUGIN)
    db = str(tmp_path / "q.db")
    url = media_server.url("tone3.webm") + f"?lang=de&{command[0]}"
    assert run_cli("--db", db, "init").returncode == 0
    assert run_cli("--db", db, "add", url).returncode == 0
    env = {"YTCORPUS_PLUGIN_DIRS": str(tmp_path / "plugins")}
    done = run_cli("--db", db, *command, "--language", "en", "--work-dir", str(tmp_path / "w"),
                   "--exit-when-empty", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT status, error_kind FROM videos").fetchall()
    assert rows == [("error", "wrong_language")]
    assert media_server.hits[f"/files/tone3.webm?lang=de&{command[0]}"] == 0
