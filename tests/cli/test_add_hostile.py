"""Hostile `add` input through the real command line: every bad line is reported with
where it came from and skipped, every valid line is added, exit 2, never a traceback."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import run_cli

GOOD = ["dQw4w9WgXcQ", "https://youtu.be/aaaaaaaaaa1", "http://127.0.0.1:8000/talk.mp3",
        "http://[::1]:8080/a.webm", "youtube.com/shorts/bbbbbbbbbb1"]

# (bytes of one line, words its reason must contain)
HOSTILE = [
    (b"~nosuchuser/lecture.mp3", "home directory"),
    (b"/" + b"a" * 300 + b"/x.mp3", "too long"),
    (b"/" + b"ab/" * 2000, "longer than 4096"),
    (b"http://h:99999/x.mp3", "port"),
    (b"http://[::1", "ipv6"),
    (b"http://user:secret@example.com/x.mp3", "credentials"),
    (b"https://user@example.com/x.mp3", "credentials"),
    (b"http://example.com/a\x00b.mp3", "control character"),
    (b"http://example.com/\x1b[31mred", "control character"),
    (b"\xff\xfe not utf-8 \xc3\x28", "utf-8"),
    (b"caf\xe9.mp3", "utf-8"),
    (b"ftp://example.com/x.mp3", "scheme"),
    (b"http://", "no host"),
    (b"https://www.youtube.com/watch?v=short", "malformed"),
    (b"https://www.youtube.com/@channel", "discover"),
    (b"not a video at all", "not a youtube id"),
    (b"file:///nonexistent/x.mp3", "existing file"),
]


def _rows(db):
    with sqlite3.connect(db) as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT video_id, url FROM videos")}


@pytest.mark.parametrize("line,reason", HOSTILE, ids=[repr(h[0][:24]) for h in HOSTILE])
def test_each_hostile_line_is_skipped_alone(tmp_path, line, reason):
    db = str(tmp_path / "q.db")
    listing = tmp_path / "ids.txt"
    listing.write_bytes(b"\n".join([GOOD[0].encode(), line, GOOD[1].encode()]) + b"\n")
    out = run_cli("--db", db, "add", "--from-file", str(listing))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    [report] = [x for x in out.stderr.splitlines() if x.startswith("invalid:")]
    assert f"{listing}:2:" in report and reason in report.lower()
    assert "secret" not in out.stderr + out.stdout
    assert set(_rows(db)) == {"dQw4w9WgXcQ", "aaaaaaaaaa1"}
    assert "added 2, already queued 0, invalid 1" in out.stdout


def test_all_of_them_at_once_with_arguments_and_stdin(tmp_path):
    db = str(tmp_path / "q.db")
    listing = tmp_path / "ids.txt"
    lines = [b"# a comment", b""]
    for k, (bad, _) in enumerate(HOSTILE):
        lines += [bad, GOOD[k % len(GOOD)].encode()]
    listing.write_bytes(b"\r\n".join(lines))
    extra = tmp_path / "more.txt"
    extra.write_bytes(b"\xef\xbb\xbfcccccccccc1\n")  # a byte order mark first
    out = run_cli("--db", db, "add", "aaaaaaaaaa2", "http://h:70000/", "--from-file",
                  str(listing), "--from-file", str(extra))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    reports = [x for x in out.stderr.splitlines() if x.startswith("invalid:")]
    assert len(reports) == len(HOSTILE) + 1
    assert reports[0].startswith("invalid: argument 2: http://h:70000/")
    assert f"invalid: {listing}:3:" in reports[1]  # line numbers count comments and blanks
    rows = _rows(db)
    assert set(rows) >= {"dQw4w9WgXcQ", "aaaaaaaaaa1", "aaaaaaaaaa2", "bbbbbbbbbb1",
                         "cccccccccc1"}
    assert len(rows) == 7  # 5 good forms + aaaaaaaaaa2 + cccccccccc1
    assert not any("@" in url or "\x00" in url for url in rows.values())
    assert "http://[::1]:8080/a.webm" in rows.values()


def test_a_valid_line_after_thousands_is_not_dropped(tmp_path):
    db = str(tmp_path / "q.db")
    listing = tmp_path / "ids.txt"
    body = [f"{i:011d}".encode() for i in range(6000)]
    body.insert(5000, b"~nobody-here/x")
    listing.write_bytes(b"\n".join(body) + b"\n")
    out = run_cli("--db", db, "add", "--from-file", str(listing))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "added 6000, already queued 0, invalid 1" in out.stdout
    assert f"{listing}:5001:" in out.stderr


def test_missing_list_file_is_one_line(tmp_path):
    out = run_cli("--db", str(tmp_path / "q.db"), "add", "--from-file",
                  str(tmp_path / "nope.txt"))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "nope.txt" in out.stderr and "Traceback" not in out.stderr
