"""Language tags are languages: en, EN, en-US, en_GB, eng and English are one; an
unknown tag is refused before any work (exit 2) wherever a language is given."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_cli
from ytcorpus.core.config import WorkerConfig, build
from ytcorpus.core.errors import ConfigError
from ytcorpus.core.langtag import language_key, language_tag, same_language
from ytcorpus.output.clean import CleanFilter


@pytest.mark.parametrize("tag", ["en", "EN", "en-US", "en_GB", "eng", "English", " en "])
def test_english_in_every_spelling_is_en(tag):
    assert language_tag(tag) == "en"


@pytest.mark.parametrize("tag,code", [("de-DE", "de"), ("ger", "de"), ("deu", "de"),
                                      ("pt_BR", "pt"), ("zh-Hans-CN", "zh"), ("yue", "yue"),
                                      ("jw", "jv"), ("iw", "he"), ("und", "und")])
def test_other_languages_and_their_codes(tag, code):
    assert language_tag(tag) == code


@pytest.mark.parametrize("tag", ["xx", "xx-US", "englisch", "e", "", "42"])
def test_an_unknown_tag_is_refused(tag):
    with pytest.raises(ValueError, match="unknown language tag"):
        language_tag(tag)


def test_stored_values_compare_as_languages():
    assert language_key("EN") == "en" and language_key(None) is None
    assert language_key("xx-YY") == "xx"  # never an error on a stored value
    assert same_language("eng", "en-GB") and not same_language("en", "de")
    assert not same_language(None, "en")


def test_config_normalizes_every_source(tmp_path, monkeypatch):
    monkeypatch.setenv("YTCORPUS_LANGUAGE", "en-US")
    assert build(WorkerConfig).language == "en"
    assert build(WorkerConfig, language="ENG").language == "en"
    monkeypatch.setenv("YTCORPUS_LANGUAGE", "klingon")
    with pytest.raises(ConfigError, match="YTCORPUS_LANGUAGE.*unknown language tag") as info:
        build(WorkerConfig)
    assert info.value.exit_code == 2


def test_export_clean_filter_compares_languages():
    rows = [{"video_id": "a", "transcript": "x", "language": "en"},
            {"video_id": "b", "transcript": "x", "language": "EN-us"},
            {"video_id": "c", "transcript": "x", "language": "de"},
            {"video_id": "d", "transcript": "x", "language": "und",
             "flags": ["language_uncertain"]},
            {"video_id": "e", "transcript": "x", "language": "en",
             "flags": ["language_uncertain"]}]
    keep = CleanFilter(language="eng").keep
    assert [r["video_id"] for r in rows if keep(r)] == ["a", "b"]


@pytest.mark.parametrize("argv", [
    ["work", "--language", "xx", "--exit-when-empty"],
    ["fetch", "--stage", "STAGE", "--language", "xx-US", "--exit-when-empty"],
    ["export", "OUT.jsonl", "--language", "zz"],
    ["discover", "search", "maths", "--language", "qq", "--dry-run"],
])
def test_the_cli_refuses_an_unknown_tag_before_any_work(tmp_path, argv):
    db = tmp_path / "q.db"
    argv = [a.replace("STAGE", str(tmp_path / "s")).replace("OUT", str(tmp_path / "o"))
            for a in argv]
    done = run_cli("--db", str(db), *argv, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "unknown language tag" in done.stderr and "Traceback" not in done.stderr
    assert not db.exists() and not (tmp_path / "o.jsonl").exists()


def test_a_bad_tag_in_the_config_file_is_exit_2(tmp_path):
    (tmp_path / "ytcorpus.toml").write_text('[work]\nlanguage = "xx"\n')
    assert run_cli("--db", str(tmp_path / "q.db"), "init").returncode == 0
    done = run_cli("--db", str(tmp_path / "q.db"), "work", "--exit-when-empty",
                   "--device", "cpu", cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "unknown language tag 'xx'" in done.stderr, done.stderr


def test_config_shows_the_canonical_code(tmp_path):
    (tmp_path / "ytcorpus.toml").write_text('[work]\nlanguage = "en-GB"\n')
    done = run_cli("config", "--json", cwd=tmp_path, env={**os.environ}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"en"' in done.stdout and json.loads(done.stdout)
