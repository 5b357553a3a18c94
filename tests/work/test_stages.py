"""The staged worker with a plugin engine that costs nothing (tests/free_engine.py):
plugins by module:Class, typed errors for broken plugins, batches filled across a
2-hour input and forty short ones, the pool's audio-seconds bound with a long input."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import PLUGIN_ENV, DEMO, run_cli, wait_for
from ytcorpus.core.audio import decode_to_mono16k
from ytcorpus.core.config import FetchConfig, WorkerConfig
from ytcorpus.engines import load_engine
from ytcorpus.engines.base import EngineContractError
from ytcorpus.core.errors import ConfigError, EngineError, YtcorpusError
from ytcorpus.acquire.ytdlp import Fetcher
from ytcorpus.models import Transcript
from ytcorpus.queue import open_queue
from ytcorpus.work.pipeline import transcribe_files
from ytcorpus.work.worker import Worker

SR = 16000
FREE = "free_engine:FreeEngine"


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    audio = decode_to_mono16k(DEMO / "arctic_a0007.wav")
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


@pytest.fixture(scope="module")
def long_file(tmp_path_factory, clip) -> Path:
    """Two hours: real speech, then 1.5 s of silence, over and over (written as WAV:
    nothing to encode, so it costs a second)."""
    unit = np.concatenate([clip, np.zeros(int(1.5 * SR), np.int16)])
    audio = np.tile(unit, int(7200 * SR / unit.size) + 1)[:7200 * SR]
    return write_wav(tmp_path_factory.mktemp("long") / "lecture.wav", audio)


@pytest.fixture(scope="module")
def short_files(tmp_path_factory, clip) -> list[str]:
    folder = tmp_path_factory.mktemp("short")
    silence = np.zeros(SR // 2, np.int16)
    return [str(write_wav(folder / f"clip{i:02d}.wav",
                          np.concatenate([silence] * (i % 3 + 1) + [clip] * (i % 4 + 1))))
            for i in range(40)]


def test_a_plugin_is_loaded_by_module_and_class():
    engine = load_engine(FREE, "my-model", "cpu", batch_size=3)
    assert (engine.name, engine.model_name, engine.device, engine.batch_size) == \
        ("free", "my-model", "cpu", 3)


@pytest.mark.parametrize("spec", ["no_such_module_xyz:Engine", "free_engine:Missing",
                                  "free_engine:NotAnEngine", "free_engine:"])
def test_a_plugin_that_cannot_be_used_is_a_config_error(spec):
    with pytest.raises(ConfigError) as err:
        load_engine(spec, None, "cpu")
    assert spec in str(err.value)


def test_a_plugin_that_fails_on_one_input_charges_that_input_alone(tmp_path, short_files,
                                                                  clip):
    """The guard splits the failed batch: the poison input gets a typed EngineError, its
    batch-mates complete."""
    loud = clip.astype(np.float32) / np.abs(clip).max() * 32767
    poison = str(write_wav(tmp_path / "poison.wav", loud))
    engine = load_engine(FREE, "poison", "cpu", batch_size=4)
    got = dict(transcribe_files(engine, [poison, *short_files[:3]], prepare_threads=1))
    assert isinstance(got[poison], EngineError) and got[poison].kind == "engine_rejected"
    assert "full-scale input" in str(got[poison])
    assert all(isinstance(got[f], Transcript) for f in short_files[:3])


def test_a_plugin_that_always_raises_is_a_typed_error_not_a_traceback(short_files):
    engine = load_engine(FREE, "raise", "cpu", batch_size=4)
    with pytest.raises(YtcorpusError, match="the plugin's model failed"):
        for _, result in transcribe_files(engine, short_files[:4], prepare_threads=1):
            if isinstance(result, Exception):  # released, not charged: no success yet
                assert isinstance(result, YtcorpusError)


def test_a_plugin_returning_the_wrong_count_stops_with_a_contract_error(short_files):
    engine = load_engine(FREE, "wrong_count", "cpu", batch_size=4)
    with pytest.raises(EngineContractError, match="returned 2 results for 3 inputs"):
        list(transcribe_files(engine, short_files[:3], prepare_threads=1))


def test_another_language_than_the_target_fails_as_wrong_language(short_files):
    engine = load_engine(FREE, None, "cpu", batch_size=4)  # says "en"
    got = dict(transcribe_files(engine, short_files[:2], prepare_threads=1, language="de"))
    for result in got.values():
        assert getattr(result, "kind", None) == "wrong_language", result
    fine = dict(transcribe_files(engine, short_files[:2], prepare_threads=1, language="en"))
    assert all(isinstance(r, Transcript) and r.language == "en" for r in fine.values())


def test_work_takes_a_plugin_engine_on_the_command_line(tmp_path, short_files):
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "add", *short_files[:5]).returncode == 0
    log = tmp_path / "batches.txt"
    env = {**os.environ, **PLUGIN_ENV, "YTCORPUS_TEST_BATCH_LOG": str(log)}
    done = run_cli("--db", db, "work", "--device", "cpu", "--engine", FREE, "--batch-size", "2",
                   "--prepare-threads", "1", "--exit-when-empty", "--work-dir",
                   str(tmp_path / "work"), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [int(n) for n in log.read_text().split()] == [2, 2, 1]
    with open_queue(db) as q:
        assert q.stats().completed == 5
        assert q.get(_id_of(q, Path(short_files[0])))["model"] == "free"


def test_language_is_detected_once_per_video_in_batches(tmp_path, short_files, clip):
    """Multilingual engines: one detection window per video, batched; every chunk is
    then transcribed in its video's language."""
    gap = np.zeros(SR, np.int16)
    lecture = str(write_wav(tmp_path / "lecture.wav", np.tile(np.concatenate([clip, gap]), 30)))
    engine = load_engine("free_engine:MultilingualEngine", None, "cpu", batch_size=4)
    files = [lecture, *short_files[:5]]
    got = dict(transcribe_files(engine, files, prepare_threads=1))
    assert all(isinstance(r, Transcript) for r in got.values())
    assert sum(engine.detect_calls) == len(files)       # one window per video
    assert len(engine.detect_calls) < len(files)        # batched, not one call each
    assert len(engine.languages_seen) == sum(engine.batches) > len(files)
    assert set(engine.languages_seen) == {"de"}


def test_a_source_of_paths_that_breaks_is_raised_to_the_caller(short_files):
    def paths():
        yield short_files[0]
        raise OSError("the folder vanished")

    engine = load_engine(FREE, None, "cpu", batch_size=4)
    with pytest.raises(OSError, match="vanished"):
        list(transcribe_files(engine, paths(), prepare_threads=1))


def _worker(q, engine, tmp_path, **config) -> Worker:
    config = WorkerConfig(lease=60, exit_when_empty=True, download_threads=2, **config)
    return Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp_path / "work"))), config,
                  name="stages-test")


def test_a_broken_plugin_stops_the_worker_and_its_rows_are_not_charged(tmp_path, short_files):
    engine = load_engine(FREE, "wrong_count", "cpu", batch_size=4)
    with open_queue(str(tmp_path / "q.db")) as q:
        q.add(short_files[:3])
        with pytest.raises(EngineContractError):
            _worker(q, engine, tmp_path, prepare_threads=1).run()
        s = q.stats()
        assert (s.pending, s.processing, s.error, s.completed) == (3, 0, 0, 0)


def test_a_row_that_crashed_a_worker_is_processed_alone(tmp_path, short_files):
    engine = load_engine(FREE, None, "cpu", batch_size=8)
    with open_queue(str(tmp_path / "q.db")) as q:
        q.add(short_files[:3])
        with q._write_tx() as cur:
            q._exec(cur, "UPDATE videos SET crashes = 1 WHERE url = ?",
                    (Path(short_files[0]).as_uri(),))
        assert _worker(q, engine, tmp_path, prepare_threads=1).run() == 0
        assert q.stats().completed == 3
    assert engine.batches == [1, 2]  # alone, then the other two together


@pytest.mark.slow
def test_a_two_hour_input_and_forty_short_ones_fill_every_batch(tmp_path, long_file,
                                                                 short_files):
    engine = load_engine(FREE, None, "cpu", batch_size=8)
    with open_queue(str(tmp_path / "q.db")) as q:
        q.add([str(long_file)] + short_files)
        worker = _worker(q, engine, tmp_path, prepare_threads=2)
        assert worker.run() == 0
        assert q.stats().completed == 41 and q.stats().error == 0
        long_row = q.get(_id_of(q, long_file))
    sizes = engine.batches
    assert sum(sizes) > 150  # speech is ~2/3 of the long input: about 170 chunks of 30 s
    assert all(n == 8 for n in sizes[:-1]) and 1 <= sizes[-1] <= 8, sizes
    assert long_row["duration_seconds"] == pytest.approx(7200, abs=1)
    assert worker.pool.peak <= worker.pool.max_seconds


def _id_of(q, path: Path) -> str:
    with q._read_tx() as cur:
        q._exec(cur, "SELECT video_id FROM videos WHERE url = ?", (path.as_uri(),))
        return cur.fetchone()["video_id"]


@pytest.mark.slow
def test_audio_in_flight_stays_under_the_bound_with_a_long_input(long_file):
    """The engine holds its first batch until the prepare thread is blocked by the full
    pool, so the bound is reached for sure; the pool's own peak never passes it."""
    engine = load_engine(FREE, None, "cpu", batch_size=4)
    stats: dict = {}
    engine.gate = lambda: wait_for(lambda: stats["pool"]._blocked_puts > 0, timeout=300)
    got = list(transcribe_files(engine, [str(long_file)], prepare_threads=1, max_seconds=300,
                                stats=stats))
    assert isinstance(got[0][1], Transcript), got[0][1]
    assert stats["max_seconds"] == 300
    assert 300 - 30 < stats["peak_seconds"] <= 300
    assert got[0][1].duration == pytest.approx(7200, abs=1)
