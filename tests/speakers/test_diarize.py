"""--diarize end to end with the real speaker encoder and tiny.en: `transcribe` into every
format, `work` into the queue (SQLite and PostgreSQL), export JSONL and Parquet; without
the extra, a typed one-line error naming the pip command."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import DEMO, ROOT, run_cli
from conversations import make_conversation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    """Two voices (espeak-ng), four turns and a back-channel, about 28 s."""
    folder = tmp_path_factory.mktemp("dialogue")
    return make_conversation(folder / "dialogue.wav", 2, seed=3, seconds=20)


def test_transcribe_diarize_writes_speakers_in_every_format(dialogue, tmp_path):
    solo = tmp_path / "solo.wav"
    shutil.copy(DEMO / "arctic_a0007.wav", solo)
    out = tmp_path / "out"
    run = run_cli("transcribe", str(dialogue.path), str(solo), "--diarize", "-o", str(out),
                  "--format", "all", "--model", "tiny.en", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "dialogue.json").read_text())
    assert record["speakers"] == 2
    speakers = [s["speaker"] for s in record["segments"]]
    assert speakers[0] == "S1" and set(speakers) == {"S1", "S2"}
    first_voice = dialogue.turns[0][2]
    # every segment's speaker is the voice that talks most during it, up to naming
    names: dict[str, str] = {}
    for seg in record["segments"]:
        voice = _voice_at(dialogue.turns, (seg["start"] + seg["end"]) / 2)
        assert names.setdefault(seg["speaker"], voice) == voice, (seg, names)
    assert names["S1"] == first_voice
    txt = (out / "dialogue.txt").read_text()
    assert re.match(r"^S1: \S", txt) and "\n\nS2: " in txt
    assert "\n[S1] " in (out / "dialogue.srt").read_text()
    vtt = (out / "dialogue.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "<v S2>" in vtt
    solo_record = json.loads((out / "solo.json").read_text())
    assert solo_record["speakers"] == 1
    assert {s["speaker"] for s in solo_record["segments"]} == {"S1"}
    solo_txt = (out / "solo.txt").read_text()
    assert solo_txt.startswith("S1: ") and "superlative" in solo_txt


def _voice_at(turns, t: float) -> str:
    return min(turns, key=lambda tr: 0 if tr[0] <= t <= tr[1] else
               min(abs(tr[0] - t), abs(tr[1] - t)))[2]


def test_work_diarize_stores_speakers_and_export_carries_them(dialogue, db_url, tmp_path):
    from ytcorpus.queue import open_queue

    assert run_cli("--db", db_url, "init").returncode == 0
    assert run_cli("--db", db_url, "add", str(dialogue.path)).returncode == 0
    config = tmp_path / "ytcorpus.toml"
    config.write_text("[work]\ndiarize = true\n")  # the config file turns it on
    run = run_cli("--db", db_url, "work", "--device", "cpu", "--model", "tiny.en",
                  "--exit-when-empty", "--work-dir", str(tmp_path / "work"),
                  env={"YTCORPUS_CONFIG": str(config)})
    assert run.returncode == 0, run.stderr
    with open_queue(db_url) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT speakers, segments FROM videos")
        row = cur.fetchone()
    assert row["speakers"] == 2
    assert {s["speaker"] for s in json.loads(row["segments"])} == {"S1", "S2"}
    out = tmp_path / "corpus.jsonl"
    assert run_cli("--db", db_url, "export", str(out)).returncode == 0
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["speakers"] == 2 and rec["segments"][0]["speaker"] == "S1"
    parquet = tmp_path / "corpus.parquet"
    assert run_cli("--db", db_url, "export", str(parquet)).returncode == 0
    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    assert table[0]["speakers"] == 2
    assert {s["speaker"] for s in table[0]["segments"]} == {"S1", "S2"}


def test_diarize_without_the_extra_names_the_pip_command(tmp_path):
    fake = tmp_path / "site" / "resemblyzer"  # a package without its weights
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT / 'src'}"}
    run = run_cli("transcribe", str(DEMO / "arctic_a0007.wav"), "--diarize", env=env)
    assert run.returncode == 1
    assert "pip install 'ytcorpus[diarize]'" in run.stderr and "Traceback" not in run.stderr
