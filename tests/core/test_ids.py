"""URL normalization: one YouTube video is one id whatever form names it."""

from __future__ import annotations

import pytest

from ytcorpus.core.errors import InvalidSourceError
from ytcorpus.core.ids import parse_source

VID = "dQw4w9WgXcQ"
YOUTUBE_FORMS = [
    VID,
    f"https://www.youtube.com/watch?v={VID}",
    f"http://www.youtube.com/watch?v={VID}",
    f"https://youtube.com/watch?v={VID}",
    f"youtube.com/watch?v={VID}",
    f"www.youtube.com/watch?v={VID}",
    f"https://m.youtube.com/watch?v={VID}",
    f"https://music.youtube.com/watch?v={VID}&feature=share",
    f"https://www.youtube.com/watch?v={VID}&t=42s",
    f"https://www.youtube.com/watch?v={VID}&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=3",
    f"https://www.youtube.com/watch?feature=youtu.be&v={VID}",
    f"https://www.youtube.com/watch?v={VID}&si=AbCdEf123",
    f"https://youtu.be/{VID}",
    f"https://youtu.be/{VID}?t=10",
    f"https://youtu.be/{VID}?si=xyz&t=3",
    f"youtu.be/{VID}",
    f"https://www.youtube.com/shorts/{VID}",
    f"https://youtube.com/shorts/{VID}?feature=share",
    f"https://www.youtube.com/embed/{VID}",
    f"https://www.youtube.com/embed/{VID}?start=30&autoplay=1",
    f"https://www.youtube-nocookie.com/embed/{VID}",
    f"youtube-nocookie.com/embed/{VID}",
    f"https://www.youtube.com/live/{VID}",
    f"https://www.youtube.com/live/{VID}?feature=share",
    f"https://www.youtube.com/v/{VID}",
    f"  https://WWW.YOUTUBE.COM/watch?v={VID}  ",
    f"https://www.youtube.com/watch?v={VID}#comments",
]


@pytest.mark.parametrize("form", YOUTUBE_FORMS)
def test_youtube_forms_map_to_one_id(form):
    assert parse_source(form) == (VID, f"https://www.youtube.com/watch?v={VID}")


@pytest.mark.parametrize("bad", [
    "", "   ", "hello", "dQw4w9WgXc", "dQw4w9WgXcQQ", "dQw4w9WgX!Q",
    "https://www.youtube.com/watch?v=short", "https://www.youtube.com/watch",
    "https://www.youtube.com/@mitocw", "https://www.youtube.com/playlist?list=PL123",
    "https://youtu.be/", "ftp://example.com/a.mp3", "/no/such/file.mp3", "https://",
])
def test_invalid_sources_raise_typed_error(bad):
    with pytest.raises(InvalidSourceError) as info:
        parse_source(bad)
    assert str(info.value)


def test_generic_urls_get_stable_ids():
    a = parse_source("HTTPS://Example.COM/talks/a.mp3#t=3")
    b = parse_source("https://example.com/talks/a.mp3")
    c = parse_source("https://example.com/talks/b.mp3")
    assert a == b
    assert a[0].startswith("url-") and a[0] != c[0]
    assert a[1] == "https://example.com/talks/a.mp3"


def test_local_files_get_stable_ids(tmp_path, monkeypatch):
    f = tmp_path / "lecture.wav"
    f.write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path)
    by_abs, by_rel, by_uri = (parse_source(str(f)), parse_source("lecture.wav"),
                              parse_source(f.as_uri()))
    assert by_abs == by_rel == by_uri
    assert by_abs[0].startswith("file-") and by_abs[1] == f.as_uri()
