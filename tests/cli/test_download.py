"""`ytcorpus download`: name templates, bytes, no colour codes, --skip-existing."""

from __future__ import annotations

import pytest

from conftest import run_cli
from ytcorpus.cli.download import render_name, split_output
from ytcorpus.core.errors import ConfigError


def test_split_output_and_render_name():
    assert split_output("audio") == (__import__("pathlib").Path("audio"), "%(id)s.%(ext)s")
    folder, template = split_output("out/%(channel)s/%(title)s [%(id)s]")
    assert str(folder) == "out" and template == "%(channel)s/%(title)s [%(id)s].%(ext)s"
    assert render_name(template, {"id": "abc", "title": "a/b: c", "ext": "m4a"}) == \
        "NA/a_b: c [abc].m4a"
    with pytest.raises(ConfigError, match="name template"):
        render_name("%(id)d", {"id": "x"})


def test_template_names_files_and_skip_existing_uses_the_archive(tmp_path, media_server):
    out = tmp_path / "saved"
    template = str(out / "%(title)s [%(id)s].%(ext)s")
    r = run_cli("download", media_server.url("tone3.m4a"), media_server.url("x.mp3", "404"),
                "-o", template, env={"FORCE_COLOR": "1"})
    assert r.returncode == 1
    saved = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and saved[0].name.startswith("tone3 [") and saved[0].suffix == ".m4a"
    assert f"-> {saved[0]}" in r.stdout and " KB)" in r.stdout
    assert "not_found" in r.stderr and "\x1b[" not in r.stderr + r.stdout
    assert not (out / ".ytcorpus-partial").exists()
    r = run_cli("download", media_server.url("tone3.m4a"), "-o", template, "--skip-existing")
    assert r.returncode == 0 and "skip" in r.stdout, r.stderr
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 1


def test_no_colour_codes_from_yt_dlp_on_a_terminal(tmp_path, media_server):
    """On a terminal yt-dlp colours 'ERROR:' unless told not to; the message must not."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "download",
                             media_server.url("x.mp3", "404"), "-o", str(tmp_path)],
                            stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 1 and "not_found" in text
    assert "\x1b[0;31m" not in text and "\x1b[0m [generic]" not in text
