"""`ytcorpus transcribe` as people use whisper CLIs: files, folders, URLs, -o, formats."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import DEMO, run_cli
from ytcorpus.cli.transcribe import expand_inputs

ARCTIC = DEMO / "arctic_a0007.wav"
SRT_CUE = re.compile(r"^(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.+)$")


def parse_srt(text: str) -> list[tuple[int, str, str, str]]:
    cues = [c for c in text.strip().split("\n\n") if c]
    parsed = [SRT_CUE.match(c) for c in cues]
    assert all(parsed), text
    numbers = [int(m.group(1)) for m in parsed]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    return [m.groups() for m in parsed]


def test_expand_inputs_folders_recursively_by_extension(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    shutil.copy(ARCTIC, tmp_path / "a" / "one.wav")
    shutil.copy(ARCTIC, tmp_path / "a" / "deep" / "two.WAV")
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    (tmp_path / "empty").mkdir()
    inputs, problems = expand_inputs([str(tmp_path / "a"), str(tmp_path / "empty"),
                                      "dQw4w9WgXcQ", "http://127.0.0.1:9/x.mp3",
                                      str(tmp_path / "missing.wav")])
    names = [(i.name, i.path is not None, i.video_id is not None) for i in inputs]
    assert names[:2] == [("deep/two", True, False), ("one", True, False)]
    assert names[2] == ("dQw4w9WgXcQ", False, True)
    assert names[3][1:] == (False, True)
    assert [p for _, p in problems] == ["folder has no audio or video files",
                                         "no such file, folder or URL"]


@pytest.mark.slow
def test_folder_to_output_dir_in_several_formats_then_skip_existing(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(ARCTIC, src / "arctic.wav")
    shutil.copy(DEMO / "derivatives.m4a", src / "sub" / "derivatives.m4a")
    (src / "readme.txt").write_text("ignored")
    out = tmp_path / "out"
    run = run_cli("transcribe", str(src), "-o", str(out), "--format", "txt,srt,json",
                  "--model", "tiny.en", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "arctic.json", "arctic.srt", "arctic.txt",
        "sub/derivatives.json", "sub/derivatives.srt", "sub/derivatives.txt"]
    assert "superlative" in (out / "arctic.txt").read_text()
    cues = parse_srt((out / "sub" / "derivatives.srt").read_text())
    assert len(cues) >= 2 and cues[-1][2] > cues[0][1]
    record = json.loads((out / "arctic.json").read_text())
    assert set(record) == {"file", "text", "segments", "language", "duration"}
    assert record["duration"] == pytest.approx(4.0, abs=0.3)

    before = (out / "arctic.txt").stat().st_mtime_ns
    shutil.copy(ARCTIC, src / "again.wav")
    (out / "sub" / "derivatives.srt").unlink()  # incomplete outputs are redone
    run = run_cli("transcribe", str(src), "-o", str(out), "--format", "txt,srt,json",
                  "--skip-existing", "--model", "tiny.en", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert (out / "arctic.txt").stat().st_mtime_ns == before
    assert (out / "again.txt").exists() and (out / "sub" / "derivatives.srt").exists()
    assert "transcribed 2 input(s)" in run.stderr


@pytest.mark.slow
def test_json_array_on_stdout_keeps_order_and_reports_failures(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00garbage" * 100)
    run = run_cli("transcribe", str(ARCTIC), str(bad), str(ARCTIC), "--format", "json",
                  "--model", "tiny.en", "--device", "cpu")
    assert run.returncode == 1
    records = json.loads(run.stdout)
    assert [r["file"] for r in records] == [str(ARCTIC), str(bad), str(ARCTIC)]
    assert "superlative" in records[0]["text"] and records[1]["error_kind"] == "corrupt"
    assert "Traceback" not in run.stderr and "Errno" not in run.stderr
    line = next(x for x in run.stderr.splitlines() if "broken.mp3" in x)
    assert line.count("broken.mp3") == 1, line


@pytest.mark.slow
def test_url_goes_through_the_fetcher(media_server, tmp_path):
    shutil.copy(ARCTIC, media_server.root / "arctic_url.wav")
    run = run_cli("transcribe", media_server.url("arctic_url.wav"), "--format", "srt",
                  "--model", "tiny.en", "--device", "cpu", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    cues = parse_srt(run.stdout)
    assert "superlative" in " ".join(c[3] for c in cues)


def test_several_inputs_to_stdout_need_output_dir_or_json(tmp_path):
    run = run_cli("transcribe", str(ARCTIC), str(ARCTIC), "--format", "srt")
    assert run.returncode == 2 and "-o DIR" in run.stderr and "Traceback" not in run.stderr
    run = run_cli("transcribe", str(ARCTIC), "--format", "txt,srt")
    assert run.returncode == 2 and "several formats" in run.stderr
    run = run_cli("transcribe", str(ARCTIC), "--format", "docx")
    assert run.returncode == 2 and "choose from" in run.stderr


def test_cuda_on_a_cpu_machine_fails_before_loading_weights(tmp_path):
    from ytcorpus.core.device import _cuda_devices

    if _cuda_devices(None):
        pytest.skip("this machine has a CUDA device")
    cache = tmp_path / "cache"
    run = run_cli("transcribe", str(ARCTIC), "--device", "cuda", "--engine", "transformers",
                  env={"YTCORPUS_CACHE": str(cache)})
    assert run.returncode == 1 and "no CUDA GPU" in run.stderr, run.stderr
    assert not cache.exists()  # the transformers checkpoint was never converted/loaded


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    import signal
    import subprocess
    import sys

    from conftest import wait_for

    src = tmp_path / "in"
    src.mkdir()
    for i in range(24):  # enough that the first output is written long before the last
        shutil.copy(DEMO / "history.mp3", src / f"h{i}.mp3")
    out = tmp_path / "out"
    def as_from_a_shell() -> None:  # Ctrl-C reaches it whatever this process masks
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "transcribe", str(src), "-o",
                             str(out), "--model", "tiny.en", "--device", "cpu"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_shell)
    try:
        wait_for(lambda: out.exists() and any(out.glob("*.txt")), timeout=240)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "ytcorpus: interrupted" in err and "Traceback" not in err
    assert not list(out.glob(".*.part"))  # only whole files were left


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(tmp_path):
    """stderr a terminal: a bar with files, audio hours and speed; stdout stays clean."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "transcribe", str(ARCTIC),
                             str(DEMO / "history.mp3"), "-o", str(tmp_path), "--model",
                             "tiny.en", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.communicate(timeout=240)[0]
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "2/2 files" in text and "h audio" in text and "x realtime" in text
    assert stdout == b""


def test_same_named_files_mirror_their_folders(tmp_path):
    for folder in ("a", "b", "b/deep"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for rel in ("a/talk.wav", "b/talk.wav", "b/talk.mp3", "b/deep/talk.wav", "solo.wav"):
        shutil.copy(ARCTIC, tmp_path / rel)
    inputs, _ = expand_inputs([str(tmp_path / r) for r in
                               ("a/talk.wav", "b/talk.wav", "b/talk.mp3", "b/deep/talk.wav",
                                "solo.wav", "a/talk.wav")])
    names = [i.name for i in inputs]
    assert names == ["a/talk.wav", "b/talk.wav", "b/talk.mp3", "b/deep/talk", "solo",
                     "a/talk.wav-2"]
    folders, _ = expand_inputs([str(tmp_path / "a"), str(tmp_path / "b" / "deep")])
    assert [i.name for i in folders] == ["a/talk", "b/deep/talk"]


def test_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("keep me")
    for out in ("taken", "out.txt"):
        run = run_cli("transcribe", str(ARCTIC), "-o", str(tmp_path / out), "--device", "cpu")
        assert run.returncode == 1, run.stderr
        assert "-o takes a folder" in run.stderr, run.stderr
    assert (tmp_path / "taken").read_text() == "keep me"
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.slow
def test_same_named_inputs_from_two_folders_keep_both_transcripts(tmp_path):
    from media import espeak

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(ARCTIC, tmp_path / "a" / "talk.wav")
    espeak("The committee approved the budget for the new library.", tmp_path / "b" / "talk.wav")
    out = tmp_path / "out"
    run = run_cli("transcribe", str(tmp_path / "a" / "talk.wav"), str(tmp_path / "b" / "talk.wav"),
                  "-o", str(out), "--model", "tiny.en", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt")) == [
        "a/talk.txt", "b/talk.txt"]
    assert "superlative" in (out / "a" / "talk.txt").read_text()
    assert "library" in (out / "b" / "talk.txt").read_text()
